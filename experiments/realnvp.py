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

from genzoo.tasks.flow import experiment_config, paper_schedule

VARIANTS = ("mnist5k", "digits", "cifar10", "downsampled_imagenet_32", "downsampled_imagenet_64", "smoke")


def paper_setting(config, dataset, scales, blocks, train_steps):
  paper_schedule(config, dataset, train_steps)
  config.model.num_scales = scales
  config.model.num_blocks = blocks
  config.model.hidden = 64
  config.optim.name = "adamw"
  config.optim.weight_decay = 5e-5


def get_config(variant: str = "mnist5k"):
  config = experiment_config(
      variant, "realnvp", VARIANTS, grad_clip_norm=100.0,
      model=dict(name="realnvp", num_scales=2, hidden=32, num_blocks=2, logit_alpha=0.05))
  if variant == "digits":
    config.model.hidden = 16
    config.model.num_blocks = 1
  elif variant == "cifar10":
    paper_setting(config, "cifar10", 2, 8, 400_000)
  elif variant == "downsampled_imagenet_32":
    paper_setting(config, "downsampled_imagenet/32x32", 3, 4, 600_000)
  elif variant == "downsampled_imagenet_64":
    paper_setting(config, "downsampled_imagenet/64x64", 4, 2, 600_000)
  elif variant == "smoke":
    config.model.hidden = 8
    config.model.num_blocks = 0
  return config
