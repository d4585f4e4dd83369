"""The runner's part of every experiment config, and the checks made before a run starts."""

import json
import os

import ml_collections
from ml_collections import config_dict

from genzoo import checks, metrics
from genzoo.errors import MissingFileError, UserError

CONFIG_FILE = "config.json"

# Keys that may change between a run and its resumption: they do not alter the trajectory.
RESUMABLE_CHANGES = (
    "train.steps",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.sample_every",
    "train.num_samples",
    "train.max_to_keep",
    "train.on_nonfinite",
    "eval.",
    "model.remat",  # memory versus recomputation; the same parameters and updates
)
NONFINITE_POLICIES = ("stop", "skip")
RUNNER_RULES = {
    "seed": checks.at_least(0),
    "data.batch_size": checks.at_least(1),
    "data.eval_batch_size": checks.at_least(1),
    "data.n_bits": checks.optional(checks.whole_number_between(1, 8)),
    "data.binarize": checks.one_of(("none", "static", "dynamic")),
    "data.image_size": checks.optional(checks.at_least(1)),
    "data.pad": checks.at_least(0),
    "train.steps": checks.at_least(1),
    "train.log_every": checks.at_least(1),
    "train.eval_every": checks.at_least(0),
    "train.checkpoint_every": checks.at_least(1),
    "train.sample_every": checks.at_least(0),
    "train.num_samples": checks.at_least(1),
    "train.max_to_keep": checks.at_least(1),
    "train.on_nonfinite": checks.one_of(NONFINITE_POLICIES),
    "eval.metric_samples": checks.at_least(1),
    "eval.feature_extractor": checks.one_of(metrics.FEATURE_EXTRACTORS),
}


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
      )
  )
  config.eval = ml_collections.ConfigDict(
      dict(
          sample_metrics="",  # comma-separated subset of "fid,kid,modes", scored at every evaluation
          metric_samples=1000,  # generated images scored against the whole test split
          features_dir=config_dict.placeholder(str),  # feature classifiers (default: metrics.default_features_dir)
          feature_extractor="classifier",  # FID/KID features: "classifier" | "inception"
          inception_weights=config_dict.placeholder(str),  # .npz of the FID Inception-v3 (metrics.inception)
      )
  )
  return config


def to_plain_dict(config: ml_collections.ConfigDict) -> dict:
  """The config as JSON-compatible data (tuples become lists), as stored in `config.json`."""
  return json.loads(config.to_json())


def from_plain_dict(data: dict) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(data)


def _flatten(tree: dict, prefix: str = "") -> dict:
  flat = {}
  for name, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f"{prefix}{name}."))
    else:
      flat[f"{prefix}{name}"] = value
  return flat


def trajectory_differences(stored: dict, current: dict) -> list[str]:
  """Keys (with both values) whose change would make a resumed run a different experiment."""
  old, new = _flatten(stored), _flatten(current)
  differing = []
  for key in sorted(set(old) | set(new)):
    if key.startswith(RESUMABLE_CHANGES) or old.get(key) == new.get(key):
      continue
    differing.append(f"{key}: {old.get(key, '<absent>')!r} -> {new.get(key, '<absent>')!r}")
  return differing


def read_json(path: str, what: str):
  """The JSON in `path`; a file that is not valid JSON is reported as damaged, with its path."""
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as error:
    raise UserError(f"{path} is damaged: it is not valid JSON ({error}); it should hold {what}. "
                    "Restore it from a copy of the run") from error


def read_workdir_config(workdir: str) -> ml_collections.ConfigDict:
  if not os.path.isdir(workdir):
    raise MissingFileError(f"workdir {workdir} does not exist; pass the --workdir of a `genzoo train` run")
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise MissingFileError(
        f"{workdir} holds no genzoo run ({CONFIG_FILE} is missing); pass the --workdir of a "
        "`genzoo train` run"
    )
  return from_plain_dict(read_json(path, "the run's experiment config"))


def check_runner_settings(config: ml_collections.ConfigDict) -> None:
  """Checks the runner-level settings that a typo or a bad value would otherwise break late."""
  checks.check_config(config, RUNNER_RULES)
  if metrics.parse_metric_names(config.eval.sample_metrics):
    metrics.check_feature_extractor(config.eval.feature_extractor, config.eval.inception_weights)
