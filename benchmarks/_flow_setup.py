"""The Glow benchmark setting shared by the flow benchmarks: MNIST-sized 1x32x32 images."""

import numpy as np

from genzoo.data import image_spec
from genzoo.tasks import make_task
from genzoo.tasks.flow import family_config

IMAGE = image_spec((32, 32, 1), 256, num_classes=10)


def glow_task(num_steps: int, num_levels: int = 3, hidden: int = 128, batch_size: int = 64,
              remat: bool = True, compute_dtype: str = "float32"):
  config = family_config(dict(name="glow", num_levels=num_levels, num_steps=num_steps, hidden=hidden,
                              learn_split_prior=True, remat=remat, compute_dtype=compute_dtype))
  config.data.batch_size = batch_size
  config.train.cpu_devices = 0  # as the Glow experiments
  return make_task(config, IMAGE)


def random_batch(batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  return {
      "image": rng.integers(0, 256, (batch_size,) + IMAGE.x.shape, dtype=np.uint8),
      "label": np.zeros((batch_size,), np.int32),
      "mask": np.ones((batch_size,), np.float32),
  }
