"""VAE experiments. Pick a variant with `--config experiments/vae.py:VARIANT`.

mnist5k (the quick-start default): MLP VAE, 32 latents, discretised-logistic likelihood on the
  embedded 5,000-digit MNIST (4,000 train / 1,000 test), trains in a few minutes on 2 CPU cores.
    genzoo train --config experiments/vae.py:mnist5k --workdir runs/vae_mnist5k
  Measured (2 CPU cores, 71 s): test ELBO -917.7 nats = 1.689 bits/dim, IWAE-100 1.640 bits/dim,
  and `genzoo eval --workdir runs/vae_mnist5k --iwae-k 5000`: -882.6 nats = 1.624 bits/dim;
  32/32 active units.

binarized_mnist: the benchmark setting of Burda et al. 2016 (IWAE paper), one stochastic layer:
  784-200-200-50 encoder and mirrored decoder with tanh units, Bernoulli likelihood, Adam
  (b2 = 0.999, lr 1e-3) and batch 20 on the fixed binarisation of Larochelle & Murray.
    genzoo train --config experiments/vae.py:binarized_mnist --workdir runs/vae_bmnist
  Published: test log-likelihood -86.76 nats (IWAE-5000 estimate of a VAE trained with k = 1,
  Burda et al. 2016, table 1). The paper trains for 3,280 passes with a decaying learning rate;
  `train.steps` here covers 1,200 epochs of the 50,000 training images (2,500 steps per epoch
  at batch 20) at a constant rate. Evaluate with `genzoo eval --iwae-k 5000`.

cifar10: convolutional VAE (3 stride-2 stages, 128 latents), discretised-logistic likelihood,
  reported in bits/dim.
    genzoo train --config experiments/vae.py:cifar10 --workdir runs/vae_cifar10
  No published number for this exact model; factorised-likelihood VAEs of this size land well
  above the 3.11 bits/dim of the much larger IAF-VAE (Kingma et al. 2016).

mnist5k_conditional: the mnist5k VAE conditioned on the digit's class (label into encoder and
  decoder), without the KL warm-up, scored by class consistency (the feature classifier's accuracy
  on samples of each requested class) and FID at every evaluation.
    genzoo train --config experiments/vae.py:mnist5k_conditional --workdir runs/cvae_mnist5k
    genzoo sample --workdir runs/cvae_mnist5k --class all --num 10
  Measured (2 CPU cores, 4 min 25 s): test ELBO 1.696 bits/dim, IWAE-100 1.653, FID 352, class
  consistency 0.726. With the mnist5k warm-up of the KL term it scores 0.554 (FID 448, ELBO
  1.685): while the KL weight is low the encoder writes the digit's class into z, and the decoder
  then follows z rather than the label (decoding test digits' posterior means with the next
  class's label gives that class 23% of the time and the digit's own 47%; 52% and 16% without
  the warm-up).

digits: a small MLP VAE on scikit-learn's 8x8 digits (17 grey levels); trains in a minute.

smoke: a tiny model and a handful of steps on `digits`, for tests.
"""

import ml_collections

from genzoo import checks
from genzoo.config import base_config

VARIANTS = ("mnist5k", "mnist5k_conditional", "binarized_mnist", "cifar10", "digits", "smoke")


def get_config(variant: str = "mnist5k") -> ml_collections.ConfigDict:
  checks.check_variant(variant, "vae", VARIANTS)
  config = base_config()
  config.task = "vae"
  config.model = ml_collections.ConfigDict(
      dict(
          architecture="mlp",  # "mlp" | "conv"
          hidden=(512, 256),  # mlp widths (decoder mirrored)
          channels=(32, 64),  # conv: channels per stride-2 stage (decoder mirrored)
          activation="relu",
          latent_dim=32,
          likelihood="logistic",  # "bernoulli" | "logistic" | "gaussian"
          num_classes=0,  # > 0: conditioned on the data's labels
      )
  )
  config.loss = ml_collections.ConfigDict(dict(beta=1.0, kl_warmup_steps=0))
  config.eval.iwae_k = 100
  config.eval.iwae_chunk_size = 250
  config.data.batch_size = 64
  config.data.eval_batch_size = 200

  if variant in ("mnist5k", "mnist5k_conditional"):
    config.data.name = "mnist5k"
    # 40 epochs of the 4,000 training digits; the test ELBO is best here and worsens after
    # (overfitting): 4,000 steps reach 1.72 test ELBO bits/dim against 1.69 at 2,500.
    config.train.steps = 2500
    config.train.log_every = 250
    config.train.checkpoint_every = 500
    config.train.eval_every = 500
    config.loss.kl_warmup_steps = 500
    if variant == "mnist5k_conditional":
      config.model.num_classes = 10
      config.loss.kl_warmup_steps = 0  # with a warm-up the encoder writes the class into z (see above)
      config.eval.sample_metrics = "fid,class_consistency"
  elif variant == "binarized_mnist":
    config.data.name = "binarized_mnist"
    config.data.batch_size = 20
    config.data.eval_batch_size = 500
    config.model.hidden = (200, 200)
    config.model.activation = "tanh"
    config.model.latent_dim = 50
    config.model.likelihood = "bernoulli"
    config.optim.b2 = 0.999
    config.train.steps = 3_000_000
    config.train.log_every = 1000
    config.train.checkpoint_every = 50_000
    config.train.eval_every = 100_000
    config.train.sample_every = 100_000
  elif variant == "cifar10":
    config.data.name = "cifar10"
    config.data.batch_size = 128
    config.data.eval_batch_size = 500
    config.model.architecture = "conv"
    config.model.channels = (64, 128, 256)
    config.model.latent_dim = 128
    config.optim.learning_rate = 5e-4
    config.optim.schedule = "cosine"
    config.optim.warmup_steps = 1000
    config.optim.grad_clip_norm = 100.0
    config.train.steps = 200_000
    config.train.log_every = 500
    config.train.checkpoint_every = 10_000
    config.train.eval_every = 20_000
    config.train.sample_every = 10_000
  elif variant == "digits":
    config.data.name = "digits"
    config.model.hidden = (256, 128)
    config.model.latent_dim = 8
    config.train.steps = 2000
    config.train.log_every = 200
    config.train.checkpoint_every = 1000
  else:  # smoke
    config.data.name = "digits"
    config.data.batch_size = 16
    config.data.eval_batch_size = 40
    config.model.hidden = (32,)
    config.model.latent_dim = 4
    config.eval.iwae_k = 8
    config.eval.iwae_chunk_size = 4
    config.train.steps = 6
    config.train.log_every = 2
    config.train.checkpoint_every = 3
    config.train.num_samples = 16
  return config
