"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with gradient penalty lambda = 10,
5 critic steps per generator step, Adam lr 1e-4, b1 = 0, b2 = 0.9 (the paper's defaults,
algorithm 1), batch 64 per critic step. Pick a variant with `--config experiments/wgan_gp.py:VARIANT`.

mnist5k: a small WGAN-GP (64 latents, widths 32) on the embedded 5,000 MNIST digits, scored with
  FID, KID and mode coverage in the features of genzoo's own digit classifier.
    genzoo train --config experiments/wgan_gp.py:mnist5k --workdir runs/wgan_gp_mnist5k
mnist5k_collapsed: the same with the latent noise switched off (one image for every latent).
cifar10 and celeb_a (64x64). For context: the paper reports a CIFAR-10 Inception score of 7.86
  for its ResNet (table 3), and Heusel et al. 2017 (table 1) an Inception FID of 29.3 for WGAN-GP
  on CIFAR-10 with one learning rate (24.8 with TTUR).
smoke: a tiny model and a handful of steps on `digits`, for tests.
"""

from genzoo.tasks.gan import experiment_config


def get_config(variant: str = "mnist5k"):
  return experiment_config(variant, "wgan_gp", loss="wasserstein", d_norm="none", learning_rate=1e-4,
                           betas=(0.0, 0.9), d_steps=5, gp_weight=10.0)
