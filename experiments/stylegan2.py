"""StyleGAN2 (Karras et al. 2020) with adaptive discriminator augmentation (ADA; Karras et al.
2020, "Training Generative Adversarial Networks with Limited Data"), in the settings of the ADA
paper's code: non-saturating logistic loss, lazy R1 every 16 steps, path length regularisation
every 4 steps (weight 2, batch halved), style mixing with probability 0.9, Adam lr 0.0025 with
betas (0, 0.99), a generator EMA with a half-life in thousands of images and a ramp-up, and the
"bgc" ADA pipeline towards r_t = 0.6. Pick a variant with `--config experiments/stylegan2.py:VARIANT`.

mnist5k: a small StyleGAN2 (64 channels at 4 and 8 pixels, 32 at 16, 16 at 32, where the ADA
  code's "auto" rule has 512; w of 128, 2 mapping layers) on the embedded 5,000 MNIST digits
  padded to 32x32, with ADA, trained as that rule does for 32x32 on one GPU (batch 32, R1 gamma
  0.0064, EMA half-life 10 kimg with ramp-up 0.05), scored with FID, KID and mode coverage in the
  features of genzoo's own digit classifier.
    genzoo train --config experiments/stylegan2.py:mnist5k --workdir runs/stylegan2_mnist5k
  Measured (2 CPU cores, 2,500 steps = 80 kimg in 21 min with two evaluations and the feature
  classifier's first training): the generator collapses to a few digits (FID 1,823, 4 of 10
  classes; 2,512 and 4 classes at step 1,250) while SN-GAN covers all ten in 5 minutes; see the
  README for the comparison and what is known of the cause.
mnist5k_noaug: the same without augmentation (the baseline ADA is measured against); measured
  FID 3,391 with 1 class covered at 2,500 steps (18 min).
mnist5k_conditional: the same, class-conditional (label embedding in the mapping network,
  projection discriminator).
cifar10: the ADA paper's CIFAR-10 setting ("cifar" in its code: batch 64, full widths up to 512,
  2 mapping layers, minibatch-stddev groups of 32, R1 gamma 0.01, EMA half-life 500 kimg with
  ramp-up 0.05, no path length regularisation, no style mixing, discriminator without residual
  shortcuts, 100,000 kimg). The paper reports FID 2.92 with ADA (table 3 of the ADA paper's
  arXiv v2; 50,000 samples against the training set).
cifar10_conditional: the same, class-conditional; reported FID 2.42.
celeb_a: CelebA at 64x64 with the code's "auto" rule for 64x64 on one GPU (batch 32, widths from
  channel base 16,384, R1 gamma 0.0256, EMA 10 kimg with ramp-up 0.05, 25,000 kimg).
celeb_a_hq256: CelebA-HQ at 256x256 (TFDS `celeb_a_hq/256`, manual download) in the "paper256"
  setting the ADA paper uses for FFHQ at 256 (batch 64, channel base 16,384, 8 mapping layers,
  minibatch-stddev groups of 8, R1 gamma 1, EMA 20 kimg without ramp-up, 25,000 kimg).
smoke: a tiny model and a handful of steps on `digits` (8x8), for tests.
"""

import ml_collections

from genzoo import checks
from genzoo.tasks.gan import experiment_config

VARIANTS = ("mnist5k", "mnist5k_noaug", "mnist5k_conditional", "cifar10", "cifar10_conditional", "celeb_a",
            "celeb_a_hq256", "smoke")


def get_config(variant: str = "mnist5k"):
  checks.check_variant(variant, "stylegan2", VARIANTS)
  base = {"mnist5k_noaug": "mnist5k", "mnist5k_conditional": "mnist5k", "cifar10_conditional": "cifar10",
          "celeb_a_hq256": "celeb_a"}.get(variant, variant)
  config = experiment_config(base, "stylegan2", loss="non_saturating", d_norm="none", learning_rate=0.0025,
                             betas=(0.0, 0.99))
  config.model = ml_collections.ConfigDict(dict(
      name="stylegan2", latent_dim=512, latent_std=1.0, w_dim=512, mapping_layers=2, channel_base=32768,
      channel_max=512, num_classes=0, d_architecture="resnet", mbstd_group_size=4, truncation_psi=1.0,
      noise_mode="random", modconv="auto", compute_dtype=config.model.compute_dtype))
  config.loss.update(r1_interval=16, pl_weight=2.0, style_mixing_prob=0.9, ema_rampup=0.05, augment="ada")
  if base == "mnist5k":
    config.data.pad = 2
    config.model.update(latent_dim=128, w_dim=128, channel_base=512, channel_max=64)
    config.data.batch_size = 32
    # ada_kimg 100 (the code's value for short fine-tuning runs): p can move 0.8 in this run's 80 kimg.
    config.loss.update(r1_weight=0.0002 * 32**2 / 32, ema_kimg=10.0, ada_kimg=100.0)
    config.train.steps = 2500
    config.train.eval_every, config.train.sample_every = 1250, 500
    if variant == "mnist5k_noaug":
      config.loss.augment = "none"
  elif base == "cifar10":
    config.model.update(mbstd_group_size=32, d_architecture="orig")
    config.loss.update(r1_weight=0.01, ema_kimg=500.0, pl_weight=0.0, style_mixing_prob=0.0)
    config.train.steps = 100_000_000 // 64
  elif variant == "celeb_a":
    config.model.channel_base = 16384
    config.data.batch_size = 32
    config.loss.update(r1_weight=0.0002 * 64**2 / 32, ema_kimg=10.0)
    config.train.steps = 25_000_000 // 32
  elif variant == "celeb_a_hq256":
    config.data.name, config.data.image_size = "celeb_a_hq/256", None
    config.model.update(channel_base=16384, mapping_layers=8, mbstd_group_size=8)
    config.loss.update(r1_weight=1.0, ema_kimg=20.0, ema_rampup=0.0)
    config.train.steps = 25_000_000 // 64
  elif variant == "smoke":
    config.model.update(latent_dim=8, w_dim=8, channel_base=64, channel_max=8)
    config.loss.update(ema_kimg=0.1)
  if variant.endswith("_conditional"):
    config.model.num_classes = 10
  return config
