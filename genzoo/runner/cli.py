"""The `genzoo` command.

  genzoo train --config experiments/vae.py:mnist5k [--config.a.b=v ...] --workdir DIR [--overwrite]
  genzoo eval --workdir DIR [--step N] [--iwae-k K] [--metrics fid,kid,modes] [--features-dir DIR]
              [--extractor classifier|inception --inception-weights FILE.npz]
  genzoo train-features --dataset mnist5k [--features-dir DIR]
  genzoo sample --workdir DIR [--step N] [--num 64] [--temperature 0.7] [--output FILE.png]
  genzoo interpolate --workdir DIR [--step N] [--num-pairs 8] [--num-steps 10] [--output FILE.png]

Multi-host: add --multihost to every process; `jax.distributed.initialize` detects the cluster
(TPU pods, SLURM, ...) or takes --coordinator-address, --num-processes and --process-id.
"""

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

COMMANDS = ("train", "eval", "sample", "interpolate", "train-features")

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, optionally with a variant: experiments/vae.py:mnist5k",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the run (checkpoints, logs, images).")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "train: if the workdir holds a run of another config, move it aside and start anew."
)
_STEP = flags.DEFINE_integer("step", None, "eval/sample/interpolate: checkpoint step (default: latest).")
_IWAE_K = flags.DEFINE_integer("iwae-k", None, "eval: importance samples for the IWAE bound.")
_NUM = flags.DEFINE_integer("num", 64, "sample: number of samples in the grid.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "sample: temperature of the prior.")
_OUTPUT = flags.DEFINE_string("output", None, "sample/interpolate: PNG path (default: in the workdir).")
_NUM_PAIRS = flags.DEFINE_integer("num-pairs", 8, "interpolate: pairs of test images, one row each.")
_NUM_STEPS = flags.DEFINE_integer("num-steps", 10, "interpolate: images per row.")
_METRICS = flags.DEFINE_string(
    "metrics", None, "eval: sample-quality metrics to add, comma-separated out of fid,kid,modes.")
_FEATURES_DIR = flags.DEFINE_string(
    "features-dir", None, "eval/train-features: directory of the cached feature classifiers "
    "(default: $GENZOO_FEATURES_DIR or ~/.cache/genzoo/features).")
_EXTRACTOR = flags.DEFINE_string(
    "extractor", None, "eval: features for FID/KID, classifier (default) or inception.")
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception-weights", None, "eval: .npz of the FID Inception-v3 weights, for --extractor inception.")
_DATASET = flags.DEFINE_string("dataset", None, "train-features: dataset to train the feature classifier on.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")
_COORDINATOR = flags.DEFINE_string("coordinator-address", None, "--multihost: host:port of process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num-processes", None, "--multihost: number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process-id", None, "--multihost: index of this process.")


def _command(argv: list[str]) -> str:
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f"expected one command out of {list(COMMANDS)}, got {argv[1:]}")
  return argv[1]


def _require_workdir() -> str:
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required")
  return _WORKDIR.value


def main(argv: list[str]) -> None:
  if not flags.FLAGS["verbosity"].present:
    # Library INFO logs (Orbax writes several per checkpoint) only with --verbosity=0.
    logging.set_verbosity(logging.WARNING)
  command = _command(argv)
  if command == "train-features":
    _train_features()
    return
  workdir = _require_workdir()
  if _MULTIHOST.value:
    import jax

    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  # Imported here so that `genzoo --help` and usage errors answer without loading JAX.
  from genzoo.runner import train as runner

  if command == "train":
    if _CONFIG.value is None:
      raise app.UsageError("train needs --config, e.g. --config experiments/vae.py:mnist5k")
    runner.train_and_evaluate(_CONFIG.value, workdir, overwrite=_OVERWRITE.value)
  elif command == "eval":
    metrics = runner.evaluate(workdir, _STEP.value, _IWAE_K.value, _METRICS.value, _FEATURES_DIR.value,
                              _EXTRACTOR.value, _INCEPTION_WEIGHTS.value)
    if runner.is_chief():
      print(json.dumps(metrics, indent=2))
  elif command == "sample":
    path = runner.sample(workdir, _OUTPUT.value, _NUM.value, _TEMPERATURE.value, _STEP.value)
    runner.chief_print(f"wrote {path}")
  else:
    path = runner.interpolate(workdir, _OUTPUT.value, _NUM_PAIRS.value, _NUM_STEPS.value, _STEP.value)
    runner.chief_print(f"wrote {path}")


def _train_features() -> None:
  if not _DATASET.value:
    raise app.UsageError("train-features needs --dataset, e.g. --dataset mnist5k")
  from genzoo import metrics

  meta = metrics.train_feature_classifier(_DATASET.value, _FEATURES_DIR.value)
  print(json.dumps(meta, indent=2))


def run() -> None:
  """Console-script entry point."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  app.run(main, argv=sys.argv)
