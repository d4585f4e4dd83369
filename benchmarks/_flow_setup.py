"""The Glow benchmark setting shared by the flow benchmarks: MNIST-sized 1x32x32 images."""

import numpy as np

from genzoo.data import image_spec
from genzoo.tasks import make_task
from genzoo.tasks.flow import family_config

IMAGE = image_spec((32, 32, 1), 256, num_classes=10)


def glow_task(num_steps: int, num_levels: int = 3, hidden: int = 128, batch_size: int = 64,
              remat: bool = True):
  config = family_config(dict(name="glow", num_levels=num_levels, num_steps=num_steps, hidden=hidden,
                              learn_split_prior=True, remat=remat))
  config.data.batch_size = batch_size
  return make_task(config, IMAGE)


def random_batch(batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  return {
      "image": rng.integers(0, 256, (batch_size,) + IMAGE.x.shape, dtype=np.uint8),
      "label": np.zeros((batch_size,), np.int32),
      "mask": np.ones((batch_size,), np.float32),
  }


def glow_forward_flops(num_steps: int, num_levels: int = 3, hidden: int = 128) -> float:
  """Matmul FLOPs (2 per multiply-add) of one image's forward pass through Glow.

  Counted by hand because XLA's cost analysis counts a scanned loop body once, not K times.
  Per step at H x W with C channels: the 1x1 convolution (C x C), and the coupling's conditioner
  on C/2 channels: 3x3 conv to `hidden`, 1x1 `hidden` x `hidden`, 3x3 zero conv to C outputs
  (shift and raw for C/2 channels each). Per split: the prior's 3x3 zero conv from C/2 to C.
  Element-wise work (ActNorm, exp, sums) is left out.
  """
  height, width, depth = IMAGE.x.shape
  total = 0.0
  for level in range(num_levels):
    height, width, depth = height // 2, width // 2, depth * 4
    pixels = height * width
    half = depth // 2
    per_step = depth * depth + 9 * half * hidden + hidden * hidden + 9 * hidden * depth
    total += 2 * pixels * per_step * num_steps
    if level < num_levels - 1:
      total += 2 * pixels * 9 * half * depth
      depth = half
  return total
