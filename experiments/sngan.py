"""SN-GAN (Miyato et al. 2018): hinge loss and a spectrally normalised discriminator, on the
DCGAN-style networks; Adam lr 2e-4, b1 = 0.5, b2 = 0.999, one discriminator step per generator
step (setting C of the paper's table 1), batch 64. Pick a variant with
`--config experiments/sngan.py:VARIANT`.

mnist5k: a small SN-GAN (64 latents, widths 32) on the embedded 5,000 MNIST digits, scored with
  FID, KID and mode coverage in the features of genzoo's own digit classifier.
    genzoo train --config experiments/sngan.py:mnist5k --workdir runs/sngan_mnist5k
  Measured (2 CPU cores, 3 min 54 s for 2,000 steps with two evaluations): test-split FID 346
  (439 at step 1,000), KID 2,670, 10/10 classes covered, mode KL 0.18 nats; rough but mostly
  recognisable digits. (Classifier-feature scores: comparable between genzoo runs only.)
mnist5k_collapsed: the same with the latent noise switched off (one image for every latent),
  the reference case for the mode-collapse metrics. Measured after 300 steps: FID 7,442, 1 class
  covered, mode KL 2.30 = log 10.
cifar10 and celeb_a (64x64). For context, Miyato et al. 2018 (table 2) report CIFAR-10 Inception
  FIDs (10,000 samples) of 25.5 for the standard CNN with the hinge loss (29.3 with the standard
  loss).
cifar10_resnet: the paper's ResNet pair (generator 256 channels, discriminator 128) with its
  optimiser, Adam lr 2e-4, b1 = 0, b2 = 0.9, 5 discriminator steps per generator step, 50,000
  generator steps. Published CIFAR-10 FID: 21.7 (table 2).
smoke: a tiny model and a handful of steps on `digits`, for tests.
"""

from genzoo.tasks.gan import GAN_VARIANTS, experiment_config

VARIANTS = GAN_VARIANTS + ("cifar10_resnet",)


def get_config(variant: str = "mnist5k"):
  if variant == "cifar10_resnet":
    config = experiment_config("cifar10", "sngan", loss="hinge", d_norm="spectral", learning_rate=2e-4,
                               betas=(0.0, 0.9), d_steps=5, paper_steps=50_000)
    config.model.update(name="resnet", g_width=256, d_width=128)
    return config
  return experiment_config(variant, "sngan", loss="hinge", d_norm="spectral", learning_rate=2e-4,
                           betas=(0.5, 0.999), known_variants=VARIANTS)
