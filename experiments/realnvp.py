"""RealNVP experiments (Dinh et al. 2017). Pick a variant with `--config experiments/realnvp.py:VARIANT`.

mnist5k: 2 scales, ResNet conditioners with 2 blocks of 32 channels, on the embedded MNIST digits.
    genzoo train --config experiments/realnvp.py:mnist5k --workdir runs/realnvp_mnist5k

digits: 2 scales, 1 block of 16 channels on the 8x8 digits.

cifar10: the paper's CIFAR-10 architecture: 8 residual blocks of 64 feature maps, one downscale
  (2 scales), Adam lr 1e-3, batch 64, L2 weight decay 5e-5. Published: 3.49 bits/dim (table 1).

downsampled_imagenet_32 / downsampled_imagenet_64: genzoo's scaling of the CIFAR-10 setting to
  3 / 4 scales with 4 / 2 residual blocks of 64 feature maps (not the paper's exact models, which
  reach 4.28 / 3.98 bits/dim, table 1).

smoke: a tiny RealNVP and a handful of steps on `digits`, for tests.
"""

import ml_collections

from genzoo.runner.config import base_config

VARIANTS = ("mnist5k", "digits", "cifar10", "downsampled_imagenet_32", "downsampled_imagenet_64", "smoke")


def paper_setting(config, dataset, scales, blocks, train_steps):
  config.data.name = dataset
  config.model.num_scales = scales
  config.model.num_blocks = blocks
  config.model.hidden = 64
  config.optim.name = "adamw"
  config.optim.weight_decay = 5e-5
  config.train.steps = train_steps
  config.train.log_every = 500
  config.train.checkpoint_every = 5000
  config.train.eval_every = 20_000
  config.train.sample_every = 5000


def get_config(variant: str = "mnist5k") -> ml_collections.ConfigDict:
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r} of experiments/realnvp.py; known: {list(VARIANTS)}")
  config = base_config()
  config.task = "flow"
  config.model = ml_collections.ConfigDict(
      dict(name="realnvp", num_scales=2, hidden=32, num_blocks=2, logit_alpha=0.05))
  config.data.batch_size = 64
  config.data.eval_batch_size = 200
  config.optim.learning_rate = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip_norm = 100.0

  if variant == "mnist5k":
    config.data.name = "mnist5k"
    config.train.steps = 3000
    config.train.log_every = 100
    config.train.checkpoint_every = 500
    config.train.eval_every = 1000
  elif variant == "digits":
    config.data.name = "digits"
    config.model.hidden = 16
    config.model.num_blocks = 1
    config.train.steps = 1500
    config.train.log_every = 100
    config.train.checkpoint_every = 500
  elif variant == "cifar10":
    paper_setting(config, "cifar10", 2, 8, 400_000)
  elif variant == "downsampled_imagenet_32":
    paper_setting(config, "downsampled_imagenet/32x32", 3, 4, 600_000)
  elif variant == "downsampled_imagenet_64":
    paper_setting(config, "downsampled_imagenet/64x64", 4, 2, 600_000)
  else:  # smoke
    config.data.name = "digits"
    config.data.batch_size = 16
    config.data.eval_batch_size = 40
    config.model.hidden = 8
    config.model.num_blocks = 0
    config.optim.warmup_steps = 0
    config.train.steps = 4
    config.train.log_every = 2
    config.train.checkpoint_every = 2
    config.train.num_samples = 16
  return config
