"""A vector flow on the 2-D toy densities. Pick a variant with `--config experiments/toy2d.py:VARIANT`.

two_moons / eight_gaussians / checkerboard / pinwheel: RealNVP on 2-D vectors (8 affine couplings,
  alternating which coordinate conditions the other, with MLP conditioners of two 64-unit hidden
  layers), Adam at 1e-3 with 200 warm-up steps and cosine decay, batch 256, 5,000 steps, on the
  dataset's 10,000 training points; the test log-likelihood (nats per point) is over its 2,000
  test points. The sample PNG shows a histogram of 4,096 samples next to the model's density.
    genzoo train --config experiments/toy2d.py:two_moons --workdir runs/two_moons

smoke: a tiny flow and a handful of steps on `two_moons`, for tests.
"""

from genzoo import checks
from genzoo.config import smoke_schedule
from genzoo.data import TOY_DENSITIES
from genzoo.tasks.flow import family_config

VARIANTS = (*TOY_DENSITIES, "smoke")


def get_config(variant: str = "two_moons"):
  checks.check_variant(variant, "toy2d", VARIANTS)
  config = family_config(dict(name="vector_realnvp", num_couplings=8, hidden=(64, 64)))
  config.data.name = variant
  config.data.batch_size = 256
  config.data.eval_batch_size = 500
  config.optim.learning_rate = 1e-3
  config.optim.warmup_steps = 200
  config.optim.schedule = "cosine"
  config.train.steps = 5000
  config.train.log_every = 500
  config.train.checkpoint_every = 1000
  config.train.num_samples = 4096
  if variant == "smoke":
    config.data.name = "two_moons"
    config.model.num_couplings = 2
    config.model.hidden = (8,)
    config.data.batch_size = 32
    smoke_schedule(config, num_samples=256)
  return config
