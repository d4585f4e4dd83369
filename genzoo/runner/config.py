"""A run's stored config: `config.json` in the workdir, what may change on resumption, reading it back."""

import json
import os

import ml_collections

from genzoo.errors import MissingFileError, UserError

CONFIG_FILE = "config.json"

# Runner keys that may change between a run and its resumption: they do not alter the trajectory.
# Families add their own (`Task.RESUMABLE_KEYS`, e.g. the flows' `model.remat`).
RESUMABLE_CHANGES = (
    "train.steps",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.sample_every",
    "train.num_samples",
    "train.max_to_keep",
    "train.on_nonfinite",
    # Where the steps run, not what they compute (up to the rounding of cross-device sums).
    "train.cpu_devices",
    "eval.",
    # How the batches are read, not which: streamed and in-memory batches are the same.
    "data.stream",
    "data.workers",
    "data.prefetch",
    "data.data_dir",
)


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


def backfill(stored: dict, defaults: dict) -> dict:
  """`stored` with every dotted key of `defaults` that it lacks set to its default: the family's
  `BACKFILLED_KEYS`, added to its configs after older runs were stored, with the value those
  runs were trained with. A run stored before a key existed resumes and evaluates as it was."""
  filled = json.loads(json.dumps(stored))
  for dotted, value in defaults.items():
    *sections, name = dotted.split(".")
    node = filled
    for section in sections:
      node = node.setdefault(section, {})
    node.setdefault(name, value)
  return filled


def trajectory_differences(stored: dict, current: dict, resumable_keys: tuple[str, ...] = ()) -> list[str]:
  """Keys (with both values) whose change would make a resumed run a different experiment; the
  runner's `RESUMABLE_CHANGES` and the family's `resumable_keys` may change."""
  old, new = _flatten(stored), _flatten(current)
  differing = []
  for key in sorted(set(old) | set(new)):
    if key.startswith(RESUMABLE_CHANGES + tuple(resumable_keys)) or old.get(key) == new.get(key):
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


def read_workdir_config(workdir: str, backfilled_keys=None) -> ml_collections.ConfigDict:
  """The run's stored config; `backfilled_keys(stored)` gives the family's keys to fill in."""
  if not os.path.isdir(workdir):
    raise MissingFileError(f"workdir {workdir} does not exist; pass the --workdir of a `genzoo train` run")
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise MissingFileError(
        f"{workdir} holds no genzoo run ({CONFIG_FILE} is missing); pass the --workdir of a "
        "`genzoo train` run"
    )
  stored = read_json(path, "the run's experiment config")
  return from_plain_dict(backfill(stored, backfilled_keys(stored) if backfilled_keys else {}))
