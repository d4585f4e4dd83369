"""BigGAN (Brock et al. 2019): class-conditional batch norm from a shared class embedding and
hierarchical latents, spectral norm in both players, a projection discriminator, the hinge loss
with several discriminator steps per generator step, Adam with b1 = 0, a generator average with
standing statistics, orthogonal regularisation and the truncation trick at sampling. Pick a
variant with `--config experiments/biggan.py:VARIANT`.

mnist5k: a small class-conditional BigGAN (blocks of 32 channels, as wide as `sngan.py:mnist5k`;
  128 latents in 4 chunks of 32, a 32-d shared embedding, 2 discriminator steps of 32 images per
  generator step, orthogonal regularisation 1e-4 as in the paper) on the embedded 5,000 MNIST
  digits padded to 32x32, scored with FID, KID, mode coverage and class consistency in the
  features of genzoo's digit classifier.
    genzoo train --config experiments/biggan.py:mnist5k --workdir runs/biggan_mnist5k
    genzoo sample --workdir runs/biggan_mnist5k --class all --num 10 [--truncation 1.0]
cifar10: the CIFAR-10 setting of the paper's reference code (its launch_cifar_ema script: widths
  4 x 64 = 256, no attention, batch 50, 4 discriminator steps per generator step, Adam lr 2e-4
  for both players with betas (0, 0.999), no orthogonal regularisation, generator average 0.9999,
  500 epochs = 125,000 generator steps), with hierarchical latents, the shared embedding and
  orthogonal initialisation as in the paper's architecture (the script uses N(0, 0.02) weights). The paper reports IS 9.22 and FID 14.73 on CIFAR-10 (appendix,
  Inception features, 50,000 samples).
smoke: a tiny model and a handful of steps on `digits` (8x8 padded to 32x32), for tests.
"""

import ml_collections

from genzoo import checks
from genzoo.tasks.gan import experiment_config

VARIANTS = ("mnist5k", "cifar10", "smoke")


def get_config(variant: str = "mnist5k"):
  checks.check_variant(variant, "biggan", VARIANTS)
  d_steps = 2 if variant == "mnist5k" else 4
  config = experiment_config(variant, "biggan", loss="hinge", d_norm="spectral", learning_rate=2e-4,
                             betas=(0.0, 0.999), d_steps=d_steps, batch_size=50, paper_steps=125_000)
  config.model = ml_collections.ConfigDict(dict(
      name="biggan", latent_dim=128, latent_std=1.0, width=64, num_classes=10, attention_resolution=0,
      shared_dim=128, truncation=0.0, compute_dtype=config.model.compute_dtype))
  config.loss.update(ema_decay=0.9999, ortho_weight=0.0)
  if variant == "mnist5k":
    config.data.pad = 2
    config.data.batch_size = 32 * d_steps
    config.model.update(width=8, shared_dim=32)
    config.loss.update(ema_decay=0.999, ortho_weight=1e-4)
    config.train.steps = 3000
    config.train.eval_every, config.train.sample_every = 1500, 500
    config.eval.sample_metrics = "fid,kid,modes,class_consistency"
  elif variant == "smoke":
    config.data.pad = 12  # 8x8 -> 32x32 (resizing needs 8-bit images; digits have 17 levels)
    config.model.update(latent_dim=16, width=2, shared_dim=8)
    config.loss.ortho_weight = 1e-4
  return config
