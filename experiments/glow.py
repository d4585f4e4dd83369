"""Glow experiments (Kingma & Dhariwal 2018). Pick a variant with `--config experiments/glow.py:VARIANT`.

mnist5k: L=2 levels x K=8 steps, 128 hidden channels, learned per-position top and split
  priors, parameter EMA 0.999, 6,000 steps on the embedded 5,000 MNIST digits (28x28 squeezes
  twice).
    genzoo train --config experiments/glow.py:mnist5k --workdir runs/glow_mnist5k
    genzoo sample --workdir runs/glow_mnist5k --temperature 0.7
  Measured (2 CPU cores, 3.0 steps/s, about 34 minutes): test bits/dim over the whole test split
  2.299 at step 1,000, 2.040 at 2,000, 1.936 at 3,000, 1.873 at 4,000, 1.831 at 5,000 and 1.786
  at 6,000. Without the average the curve had spikes (2.61 and 35,811 bits/dim at steps 4,000 and
  5,000, when a few test digits got near-zero density between evaluations, with the old priors);
  the averaged parameters fell at every evaluation. Samples at temperature 0.7: about half are
  recognisable digits, the rest digit-like strokes.
  Against normflows' Glow with one recipe (no EMA), see `benchmarks/flow_vs_peer.py` and the README.

mnist5k_conditional: the mnist5k Glow conditioned on the digit's class: the paper's y-conditioning
  (label-dependent top and split priors, with its class-prediction loss on the top latents at
  weight 0.01 as in the paper's code) and the label in every coupling's conditioner
  (`model.condition_couplings`), scored by class consistency and FID of samples at temperature
  0.7 at every evaluation.
    genzoo train --config experiments/glow.py:mnist5k_conditional --workdir runs/cglow_mnist5k
    genzoo sample --workdir runs/cglow_mnist5k --class all --num 10 --temperature 0.7
  Measured (2 CPU cores, 48 minutes, part of it shared with other jobs): test 1.733 bits/dim,
  class consistency 0.166, 0.298, 0.406, 0.492, 0.598 and 0.698 at steps 1,000 to 6,000 (FID
  2,747 down to 356); at temperature 1, 0.513 (FID 259).

digits: L=2, K=4, 32 hidden channels on the 8x8 digits (17 levels); trains in about 30 seconds.
  Measured: test 2.488 bits/dim after 1,500 steps (2.501 with the old priors; a uniform model scores
  log2(17) = 4.09).

mnist: the paper's MNIST setting, L=3, K=32, 512 hidden channels on MNIST zero-padded to 32x32,
  Adam lr 1e-3 with linear warm-up, batch 64. Published: 1.05 bits/dim (table 2 of the paper).

cifar10: L=3, K=32, 512 hidden channels, affine couplings, learned split priors, Adam lr 1e-3
  with warm-up, batch 64. Published: 3.35 bits/dim (table 2).

downsampled_imagenet_32 / downsampled_imagenet_64: L=3 / L=4, K=48, 512 hidden channels.
  Published: 4.09 / 3.81 bits/dim (table 2).

smoke: a tiny Glow and a handful of steps on `digits`, for tests.
"""

from genzoo.tasks.flow import experiment_config, paper_schedule

VARIANTS = ("mnist5k", "mnist5k_conditional", "digits", "mnist", "cifar10", "downsampled_imagenet_32",
            "downsampled_imagenet_64", "smoke")


def paper_setting(config, dataset, levels, steps_per_level, train_steps, train_examples):
  """The paper's model and schedule: its split priors (conditioned on the kept half only) and its
  learned top prior (`--learntop` in the paper's code, here per position); the parameters
  evaluated and sampled are their average over about one epoch, as the paper's code does
  (Polyak averaging with 1 - 1/(steps per epoch))."""
  paper_schedule(config, dataset, train_steps)
  config.model.num_levels = levels
  config.model.num_steps = steps_per_level
  config.model.hidden = 512
  config.model.split_prior_per_position = False
  config.optim.warmup_steps = 5000
  config.optim.ema_decay = 1.0 - config.data.batch_size / train_examples


def get_config(variant: str = "mnist5k"):
  config = experiment_config(
      variant, "glow", VARIANTS, grad_clip_norm=50.0,
      model=dict(name="glow", num_levels=2, num_steps=8, hidden=64, learn_split_prior=True, learn_top_prior=True,
                 split_prior_per_position=True, coupling_shift_first=False, condition_couplings=False,
                 remat=True))
  if variant in ("mnist5k", "mnist5k_conditional"):
    config.model.hidden = 128
    config.train.steps = 6000
    config.optim.ema_decay = 0.999
    if variant == "mnist5k_conditional":
      config.model.num_classes = 10
      config.model.condition_couplings = True
      config.loss.class_weight = 0.01
      config.eval.sample_metrics = "fid,class_consistency"
      config.eval.sample_temperature = 0.7
  elif variant == "digits":
    config.model.num_steps = 4
    config.model.hidden = 32
  elif variant == "mnist":
    paper_setting(config, "mnist", 3, 32, 200_000, train_examples=60_000)
    config.data.pad = 2
  elif variant == "cifar10":
    paper_setting(config, "cifar10", 3, 32, 400_000, train_examples=50_000)
  elif variant == "downsampled_imagenet_32":
    paper_setting(config, "downsampled_imagenet/32x32", 3, 48, 600_000, train_examples=1_281_149)
  elif variant == "downsampled_imagenet_64":
    paper_setting(config, "downsampled_imagenet/64x64", 4, 48, 600_000, train_examples=1_281_149)
  elif variant == "smoke":
    config.model.num_steps = 2
    config.model.hidden = 8
  return config
