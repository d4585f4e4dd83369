"""The files of a run's workdir that the runner writes and reads back (besides checkpoints, logs
and images): `config.json` and `dataset.json` (the data's description, for people and tools: the runner
derives it from the config), written atomically; write failures as user errors."""

import contextlib
import datetime
import json
import os
import shutil

import ml_collections
from jax.experimental import multihost_utils

from genzoo import tasks
from genzoo.errors import MissingFileError, UserError
from genzoo.runner import config as run_config
from genzoo.runner.session import is_chief

DATASET_FILE = "dataset.json"


class WorkdirConflictError(UserError):
  """The workdir holds a run of a different experiment."""


def prepare_workdir(config: ml_collections.ConfigDict, workdir: str, overwrite: bool) -> None:
  """Refuses a workdir holding a different experiment unless `overwrite`, which moves it aside."""
  stored_path = os.path.join(workdir, run_config.CONFIG_FILE)
  if os.path.exists(stored_path):
    family = tasks.task_class(config)
    stored = run_config.read_json(stored_path, "the run's experiment config")
    stored = run_config.backfill(stored, tasks.backfilled_keys(stored))
    differences = run_config.trajectory_differences(stored, run_config.to_plain_dict(config), family.RESUMABLE_KEYS)
    if differences and not overwrite:
      raise WorkdirConflictError(
          f"workdir {workdir} holds a run of a different config ({'; '.join(differences)}); use "
          "another --workdir, or pass --overwrite to move the old run aside and start anew")
    if differences and is_chief():
      stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
      backup = f"{os.path.normpath(workdir)}.replaced-{stamp}"
      shutil.move(workdir, backup)
      print(f"--overwrite: moved the previous run in {workdir} to {backup}", flush=True)
  multihost_utils.sync_global_devices("genzoo:prepare_workdir")
  if is_chief():
    with writing_into(workdir):
      os.makedirs(workdir, exist_ok=True)
      write_json(os.path.join(workdir, run_config.CONFIG_FILE), run_config.to_plain_dict(config))


@contextlib.contextmanager
def writing_into(folder: str, after: str = ""):
  """Turns a failure to write into `folder` (read-only, full, not a folder) into a `UserError`;
  `after` tells what was already done (e.g. that results were printed)."""
  try:
    yield
  except OSError as error:
    reason = error.strerror or type(error).__name__
    raise UserError(f"cannot write into {folder}: {reason} ({error.filename}){after}") from error


def write_json(path: str, value) -> None:
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)


def check_output_path(path: str) -> None:
  """Refuses an output file in a folder that does not exist or cannot be written."""
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise MissingFileError(f"cannot write {path}: the folder {folder} does not exist; create it first")
  if not os.access(folder, os.W_OK):
    raise UserError(f"cannot write {path}: the folder {folder} is not writable; choose another --output")
