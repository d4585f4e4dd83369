"""Anomaly and out-of-distribution detection protocols. Pick a variant with
`--config experiments/anomaly.py:VARIANT`; score the runs with `genzoo ood` (README: Anomaly and
out-of-distribution detection).

vae_one_class / glow_one_class: the one-class protocol on `mnist5k`: the mnist5k VAE or Glow trained
  on the digits of one class (`data.classes`, digit 0 unless overridden) with a tenth of the
  schedule (250 and 600 steps) for its tenth of the training digits; the test digits of that class are the in-distribution set and the other
  nine classes' are the anomalies.
    genzoo train --config experiments/anomaly.py:vae_one_class --config.data.classes='(3,)' \\
        --workdir runs/one_class/vae_3
    genzoo ood --workdir runs/one_class/vae_3 --in test --out mnist5k:test@0,1,2,4,5,6,7,8,9
  `benchmarks/one_class.py` runs all ten digits of both families and prints the table.

vae / glow: the mnist5k VAE and Glow (Glow on a shorter schedule, 3,000 steps), the models whose
  scores the detectors correct.
vae_background / glow_background: the same models trained on mutated inputs, every pixel replaced
  by a uniform level with probability 0.2 (`data.mutation_rate`), with L2 weight decay: the
  background models of the likelihood ratio (Ren et al. 2019, sec. 3.2, mutation rates 0.1-0.2
  and L2 regularisation for their Fashion-MNIST background model). A step whose loss is not
  finite is skipped (`train.on_nonfinite=skip`).
    genzoo train --config experiments/anomaly.py:glow --workdir runs/ood/glow
    genzoo train --config experiments/anomaly.py:glow_background --workdir runs/ood/glow_background
    genzoo ood --workdir runs/ood/glow --background runs/ood/glow_background --in test \\
        --out constant --out noise --out digits:test --out test+invert --out test+vflip
"""

import os

from genzoo import checks
from genzoo.config import load_experiment_file

VARIANTS = ("vae_one_class", "glow_one_class", "vae", "glow", "vae_background", "glow_background")
ONE_CLASS_DIGIT = 0
MUTATION_RATE = 0.2
BACKGROUND_WEIGHT_DECAY = 1e-4


def model_config(family: str):
  """The mnist5k config of experiments/vae.py or experiments/glow.py."""
  return load_experiment_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{family}.py"), "mnist5k")


def get_config(variant: str = "vae_one_class"):
  checks.check_variant(variant, "anomaly", VARIANTS)
  family, _, protocol = variant.partition("_")
  config = model_config(family)
  if protocol == "one_class":
    config.data.classes = (ONE_CLASS_DIGIT,)
    # A tenth of the digits: a tenth of the steps keeps the number of epochs (the VAE's test ELBO
    # gets worse beyond them: 2.13 bits/dim at 500 steps against 1.92 at 250 for digit 1).
    config.train.steps = config.train.steps // 10
    config.train.eval_every = config.train.checkpoint_every = config.train.steps // 2
    if family == "vae":
      config.loss.kl_warmup_steps //= 10
  else:
    if family == "glow":
      config.train.steps = 3000
    if protocol == "background":
      config.data.mutation_rate = MUTATION_RATE
      config.optim.name = "adamw"
      config.optim.weight_decay = BACKGROUND_WEIGHT_DECAY
      # A mutated batch now and then gives a non-finite loss (glow_background at step 2,515 of
      # 3,000): that step is skipped and counted, not the end of the run.
      config.train.on_nonfinite = "skip"
  return config
