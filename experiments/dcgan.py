"""DCGAN (Radford et al. 2016): non-saturating loss, no discriminator normalisation, Adam
lr 2e-4, b1 = 0.5, batch 128. Pick a variant with `--config experiments/dcgan.py:VARIANT`.

mnist5k: a small DCGAN (64 latents, widths 32) on the embedded 5,000 MNIST digits, scored with
  FID, KID and mode coverage in the features of genzoo's own digit classifier.
    genzoo train --config experiments/dcgan.py:mnist5k --workdir runs/dcgan_mnist5k
  Measured (2 CPU cores, 6 min 05 s for 2,000 steps of batch 128, next to a lower-priority run):
  test-split FID 446 at step 1,000 and 451 at 2,000, KID 4,315, 10/10 classes covered, mode KL
  0.26 nats; digit-like shapes, rougher than SN-GAN's. (Classifier-feature scores: comparable
  between genzoo runs only.)
mnist5k_collapsed: the same with the latent noise switched off (one image for every latent),
  the reference case for the mode-collapse metrics.
cifar10 (32x32) and celeb_a (64x64, generator seed 4x4x1024 as in the paper).
  For context, Heusel et al. 2017 (table 1) report Inception FIDs of DCGAN (50,000 samples against
  the training set): CelebA 21.4 (one learning rate) and 12.5 (TTUR); CIFAR-10 37.7 and 36.9.
smoke: a tiny model and a handful of steps on `digits`, for tests.
"""

from genzoo.tasks.gan import GAN_VARIANTS, experiment_config

VARIANTS = GAN_VARIANTS


def get_config(variant: str = "mnist5k"):
  return experiment_config(variant, "dcgan", loss="non_saturating", d_norm="none", learning_rate=2e-4,
                           betas=(0.5, 0.999), batch_size=128)
