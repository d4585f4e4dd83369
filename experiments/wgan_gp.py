"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with gradient penalty lambda = 10,
5 critic steps per generator step, Adam lr 1e-4, b1 = 0, b2 = 0.9 (the paper's defaults,
algorithm 1), batch 64 per critic step. Pick a variant with `--config experiments/wgan_gp.py:VARIANT`.

mnist5k: a small WGAN-GP (64 latents, widths 32) on the embedded 5,000 MNIST digits, scored with
  FID, KID and mode coverage in the features of genzoo's own digit classifier.
    genzoo train --config experiments/wgan_gp.py:mnist5k --workdir runs/wgan_gp_mnist5k
  Measured (2 CPU cores, 11 min 24 s for 2,000 generator steps, about 3 steps/s, next to a
  lower-priority run): test-split FID 402 at step 1,000 and 278 at 2,000, KID 2,313, 10/10 classes
  covered, mode KL 0.12 nats; digit shapes with speckle. (Classifier-feature scores: comparable
  between genzoo runs only.)
mnist5k_collapsed: the same with the latent noise switched off (one image for every latent).
cifar10 and celeb_a (64x64). For context, Heusel et al. 2017 (table 1) report an Inception FID
  of 29.3 for WGAN-GP on CIFAR-10 with one learning rate (24.8 with TTUR).
cifar10_resnet: the paper's CIFAR-10 ResNet (128 channels in generator and critic), Adam lr 2e-4
  decaying linearly to zero over 100,000 generator steps, b1 = 0, b2 = 0.9, 5 critic steps. The
  paper reports an Inception score of 7.86 for it (table 3).
smoke: a tiny model and a handful of steps on `digits`, for tests.
"""

from genzoo.tasks.gan import GAN_VARIANTS, experiment_config

VARIANTS = GAN_VARIANTS + ("cifar10_resnet",)


def get_config(variant: str = "mnist5k"):
  if variant == "cifar10_resnet":
    config = experiment_config("cifar10", "wgan_gp", loss="wasserstein", d_norm="none", learning_rate=2e-4,
                               betas=(0.0, 0.9), d_steps=5, gp_weight=10.0, paper_steps=100_000)
    config.model.update(name="resnet", g_width=128, d_width=128)
    config.optim.schedule = config.d_optim.schedule = "linear"
    return config
  return experiment_config(variant, "wgan_gp", loss="wasserstein", d_norm="none", learning_rate=1e-4,
                           betas=(0.0, 0.9), d_steps=5, gp_weight=10.0,
                           known_variants=VARIANTS)
