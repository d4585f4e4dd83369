"""The experiment runner: train, evaluate, sample, vocode, style-mix, interpolate and score runs in a workdir.

  session.py     a task compiled on the device mesh, random streams, data splits
  loop.py        the training loop (`train_and_evaluate`)
  evaluation.py  whole-split metrics and sample quality (`Evaluator`)
  commands.py    what reads a run: `evaluate`, `sample`, `vocode`, `style_mix`, `interpolate`, `restore_session`
  anomaly.py     per-example scores and out-of-distribution detection: `score`, `ood`
  workdir.py     config.json / dataset.json and write failures
  checkpoints.py, writers.py (and the PNG and WAV files of images.py and audio.py), mesh.py,
  config.py (the stored config), cli.py
"""

import importlib

# name -> the module of this package that defines it, imported on first use (PEP 562): importing
# `genzoo.runner.cli`, as the `genzoo` command and every batch worker it spawns do, then costs
# only what the command runs.
_EXPORTS = {
    "ood": "anomaly", "score": "anomaly",
    "evaluate": "commands", "interpolate": "commands", "restore_session": "commands", "sample": "commands",
    "style_mix": "commands", "vocode": "commands",
    "Evaluator": "evaluation",
    "NonFiniteError": "loop", "train_and_evaluate": "loop",
    "Session": "session", "chief_print": "session", "load_split": "session",
    "WorkdirConflictError": "workdir",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
  if name not in _EXPORTS:
    raise AttributeError(f"module 'genzoo.runner' has no attribute {name!r}")
  value = getattr(importlib.import_module(f"genzoo.runner.{_EXPORTS[name]}"), name)
  globals()[name] = value
  return value


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_EXPORTS))
