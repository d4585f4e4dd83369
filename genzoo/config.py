"""The part of every experiment config that the runner reads, with its defaults and range rules.

Experiment files start from `base_config()` and add the family's `task`, `model`, `loss`, ...;
each family checks its own keys (`Task.check_config`). This layer imports nothing from the runner,
so tasks and experiment files depend on it and not the other way round.
"""

import importlib.util
import os

import ml_collections
from ml_collections import config_dict

from genzoo import checks, metrics

NONFINITE_POLICIES = ("stop", "skip")
RUNNER_RULES = {
    "seed": checks.at_least(0),
    "data.batch_size": checks.at_least(1),
    "data.eval_batch_size": checks.at_least(1),
    "data.n_bits": checks.optional(checks.whole_number_between(1, 8)),
    "data.binarize": checks.one_of(("none", "static", "dynamic")),
    "data.image_size": checks.optional(checks.at_least(1)),
    "data.pad": checks.at_least(0),
    "data.segment_length": checks.optional(checks.at_least(1)),
    "data.mutation_rate": checks.fraction(upper_inclusive=False),
    "data.workers": checks.at_least(0),
    "data.prefetch": checks.at_least(1),
    "train.steps": checks.at_least(1),
    "train.log_every": checks.at_least(1),
    "train.eval_every": checks.at_least(0),
    "train.checkpoint_every": checks.at_least(1),
    "train.sample_every": checks.at_least(0),
    "train.num_samples": checks.at_least(1),
    "train.max_to_keep": checks.at_least(1),
    "train.on_nonfinite": checks.one_of(NONFINITE_POLICIES),
    "train.cpu_devices": checks.at_least(0),
    "eval.metric_samples": checks.at_least(1),
    "eval.sample_temperature": checks.NON_NEGATIVE,
    "eval.feature_extractor": checks.one_of(metrics.FEATURE_EXTRACTORS),
}


# Runner keys added after runs were stored, with the value such runs used (see
# `tasks.backfilled_keys`): they resume, evaluate and take overrides as they were.
BACKFILLED_KEYS = {"eval.sample_temperature": 1.0, "data.classes": [], "data.mutation_rate": 0.0,
                   "data.segment_length": None, "data.stream": False, "data.workers": 0, "data.prefetch": 2,
                   "train.cpu_devices": 1}


def base_config() -> ml_collections.ConfigDict:
  """Runner settings shared by every experiment; experiment files add `task`, `model`, ...."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(
          name="mnist5k",
          data_dir=config_dict.placeholder(str),
          batch_size=64,  # global, over all devices and processes
          eval_batch_size=200,
          n_bits=config_dict.placeholder(int),
          binarize="none",  # "none" | "static" | "dynamic"
          image_size=config_dict.placeholder(int),
          pad=0,  # zero pixels added on every side (MNIST 28x28 -> 32x32 with pad=2)
          classes=(),  # train and evaluate on the examples of these classes only (one-class protocols); () = all
          mutation_rate=0.0,  # > 0: training entries replaced by uniform levels with this probability (Ren et al. 2019)
          segment_length=config_dict.placeholder(int),  # audio: samples per training segment and eval window
          stream=False,  # read batches by index from the dataset's array_record files instead of holding it in memory
          workers=0,  # processes that make the training batches ahead of the steps (0: the training process does)
          prefetch=2,  # training batches made ahead of the step that needs them (with workers > 0)
      )
  )
  config.optim = ml_collections.ConfigDict(
      dict(
          name="adam",
          learning_rate=1e-3,
          schedule="constant",  # "constant" | "cosine" | "linear" (decay to zero)
          warmup_steps=0,
          grad_clip_norm=0.0,  # 0 disables clipping
          b1=0.9,
          b2=0.999,
          weight_decay=0.0,  # adamw only
      )
  )
  config.train = ml_collections.ConfigDict(
      dict(
          steps=1000,
          log_every=50,
          eval_every=0,  # 0: evaluate only at the end
          checkpoint_every=500,
          sample_every=0,  # 0: sample only at the end
          num_samples=64,
          max_to_keep=3,
          on_nonfinite="stop",  # "stop" | "skip"
          # On one host's CPU: split the batches over at most this many of JAX's CPU devices, one per
          # core (0: all). Experiments whose steps gain from it set 0 (README: Training).
          cpu_devices=1,
      )
  )
  config.eval = ml_collections.ConfigDict(
      dict(
          sample_metrics="",  # comma-separated subset of metrics.SAMPLE_METRICS, scored at every evaluation
          metric_samples=1000,  # generated images scored against the whole test split
          sample_temperature=1.0,  # temperature of the prior the scored images are drawn at
          features_dir=config_dict.placeholder(str),  # feature classifiers (default: metrics.default_features_dir)
          feature_extractor="classifier",  # FID/KID features: "classifier" | "inception"
          inception_weights=config_dict.placeholder(str),  # .npz of the FID Inception-v3 (metrics.inception)
      )
  )
  return config


def smoke_schedule(config: ml_collections.ConfigDict, num_samples: int) -> None:
  """The schedule of the `smoke` variants that tests run: 4 steps without warm-up, logged and
  checkpointed every 2, `num_samples` samples at the end."""
  config.optim.warmup_steps = 0
  config.train.steps = 4
  config.train.log_every = 2
  config.train.checkpoint_every = 2
  config.train.num_samples = num_samples


def check_runner_settings(config: ml_collections.ConfigDict) -> None:
  """Checks the runner-level settings that a typo or a bad value would otherwise break late."""
  checks.check_config(config, RUNNER_RULES)
  if metrics.parse_metric_names(config.eval.sample_metrics):
    metrics.check_feature_extractor(config.eval.feature_extractor, config.eval.inception_weights)


def load_experiment_file(path: str, variant: str) -> ml_collections.ConfigDict:
  """`get_config(variant)` of the experiment file at `path`, the config `--config PATH:VARIANT`
  gives (without command-line overrides): for experiment files built on others, benchmarks and
  tests."""
  name = os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(f"genzoo_experiment_{name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant)
