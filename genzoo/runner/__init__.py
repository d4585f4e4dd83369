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

from genzoo.runner.anomaly import ood, score
from genzoo.runner.commands import evaluate, interpolate, restore_session, sample, style_mix, vocode
from genzoo.runner.evaluation import Evaluator
from genzoo.runner.loop import NonFiniteError, train_and_evaluate
from genzoo.runner.session import Session, chief_print, load_split
from genzoo.runner.workdir import WorkdirConflictError

__all__ = [
    "Evaluator", "NonFiniteError", "Session", "WorkdirConflictError", "chief_print", "evaluate",
    "interpolate", "load_split", "ood", "restore_session", "sample", "score", "style_mix", "train_and_evaluate",
    "vocode",
]
