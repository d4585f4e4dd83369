"""The `genzoo` command.

  genzoo train --config experiments/vae.py:mnist5k [--config.a.b=v ...] --workdir DIR [--overwrite]
  genzoo eval --workdir DIR [--step N] [--config.eval.KEY=VALUE ...]
              shorthands: --iwae-k K, --metrics fid,kid,modes,class_consistency,intra_fid,log_mel_distance,
              --features-dir DIR, --extractor classifier|inception, --inception-weights FILE.npz, --truncation PSI
  genzoo train-features --dataset mnist5k [--features-dir DIR]
  genzoo sample --workdir DIR [--step N] [--num 64] [--temperature 0.7 | --sigma 0.6] [--truncation 0.7]
                [--output FILE.png] [--class 3 | --class 0,1,2 | --class all]   (class-conditional models: --num per class)
  genzoo vocode --workdir DIR --input SPEECH.wav --output OUT.wav [--sigma 0.6] [--step N]
  genzoo style-mix --workdir DIR [--step N] [--band coarse|middle|fine] [--sources 6] [--truncation 0.7]
                   [--output FILE.png]
  genzoo interpolate --workdir DIR [--step N] [--num-pairs 8] [--num-steps 10] [--output FILE.png]
  genzoo score --workdir DIR --data SET [--step N] [--iwae-k K] [--output FILE.npz]
  genzoo ood --workdir DIR --in SET --out SET [--out SET ...] [--background DIR] [--score NAME]
             [--batch-sizes 1,2,5,10,25] [--iwae-k K] [--output-dir DIR]
      SET: test | train | DATASET:SPLIT | constant[:N] | noise[:N] | FILE.npy | FILE.npz,
           then optionally +invert, +hflip, +vflip, +blur (see genzoo/data/outsets.py)

A mistake in what was asked (a flag, a config value, a dataset, a workdir, a checkpoint, a file)
is reported as one line on stderr with exit status 2; --debug shows its traceback too.

Multi-host: add --multihost to every process; `jax.distributed.initialize` detects the cluster
(TPU pods, SLURM, ...) or takes --coordinator-address, --num-processes and --process-id.
"""

import ast
import functools
import os
import re
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from genzoo import checks
from genzoo.errors import UserError

COMMANDS = ("train", "eval", "sample", "vocode", "style-mix", "interpolate", "score", "ood", "train-features")
# Commands that read a run and take --config.eval.KEY=VALUE overrides of its evaluation settings.
EVAL_OVERRIDE_COMMANDS = ("eval", "score", "ood")
USER_ERROR_STATUS = 2

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file, optionally with a variant: experiments/vae.py:mnist5k",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the run (checkpoints, logs, images).")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "train: if the workdir holds a run of another config, move it aside and start anew."
)
_STEP = flags.DEFINE_integer("step", None, "eval/sample/interpolate: checkpoint step (default: latest).")
_IWAE_K = flags.DEFINE_integer(
    "iwae-k", None, "eval: importance samples (>= 1): the VAE's IWAE bound, a flow's dequantisation estimate.")
_NUM = flags.DEFINE_integer("num", 64, "sample: number of samples in the grid.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "sample: temperature of the prior (>= 0).")
_SIGMA = flags.DEFINE_float(
    "sigma", None, "sample/vocode: a flow's base standard deviation at sampling, instead of --temperature "
    "(WaveGlow: 0.6 in the paper's code; temperature = sigma / model.sigma).")
_INPUT = flags.DEFINE_string("input", None, "vocode: the mono 16-bit WAV file to re-synthesise.")
_CLASS = flags.DEFINE_string(
    "class", None, "sample: samples of one class (3), of several (0,1,2; one row each) or of all, --num per class; "
    "class-conditional models only.")
flags.DEFINE_alias("classes", "class")
_TRUNCATION = flags.DEFINE_float(
    "truncation", None, "sample/style-mix/eval: the generator's truncation trick: StyleGAN2's psi (1: none, 0: the average), "
    "BigGAN's threshold on |z| (0: none).")
_BAND = flags.DEFINE_string("band", "coarse", "style-mix: the layers that take the column's styles: coarse, middle or fine.")
_SOURCES = flags.DEFINE_integer("sources", 6, "style-mix: row and column sources of the grid.")
_OUTPUT = flags.DEFINE_string(
    "output", None, "sample/style-mix/interpolate: PNG path (default: in the workdir); vocode: the WAV file to write.")
_NUM_PAIRS = flags.DEFINE_integer("num-pairs", 8, "interpolate: pairs of test examples, one row each.")
_NUM_STEPS = flags.DEFINE_integer("num-steps", 10, "interpolate: points on each walk, one row per pair (>= 2).")
_METRICS = flags.DEFINE_string(
    "metrics", None, "eval: sample-quality metrics to add, comma-separated out of "
    "fid,kid,modes,class_consistency,intra_fid (class_consistency and intra_fid: class-conditional models) "
    "and log_mel_distance (vocoders).")
_FEATURES_DIR = flags.DEFINE_string(
    "features-dir", None, "eval/train-features: directory of the cached feature classifiers "
    "(default: $GENZOO_FEATURES_DIR or ~/.cache/genzoo/features).")
_EXTRACTOR = flags.DEFINE_string(
    "extractor", None, "eval: features for FID/KID, classifier (default) or inception.")
_INCEPTION_WEIGHTS = flags.DEFINE_string(
    "inception-weights", None, "eval: .npz of the FID Inception-v3 weights, for --extractor inception.")
_DATASET = flags.DEFINE_string("dataset", None, "train-features: dataset to train the feature classifier on.")
_DATA = flags.DEFINE_string("data", None, "score: the SET of images to score (see `genzoo --help`).")
_IN = flags.DEFINE_string("in", None, "ood: the in-distribution SET, e.g. test.")
_OUT = flags.DEFINE_multi_string("out", [], "ood: an out-of-distribution SET; repeat for several.")
_BACKGROUND = flags.DEFINE_string(
    "background", None, "ood: workdir of a background run on the same data, for the likelihood ratio.")
_SCORE = flags.DEFINE_string("score", None, "ood: which per-example score to detect with (default: the tightest).")
_BATCH_SIZES = flags.DEFINE_string("batch-sizes", "1,2,5,10,25", "ood: batch sizes of the typicality test.")
_OUTPUT_DIR = flags.DEFINE_string("output-dir", None, "ood: folder of the results and histograms (default: the workdir).")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")
_COORDINATOR = flags.DEFINE_string("coordinator-address", None, "--multihost: host:port of process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num-processes", None, "--multihost: number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process-id", None, "--multihost: index of this process.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show the traceback of user errors too (a bad flag or config value).")


def _command(argv: list[str]) -> tuple[str, dict]:
  """(command, eval overrides) from what flag parsing left: the command, and for `eval` any
  --config.eval.KEY=VALUE arguments."""
  positional = [arg for arg in argv[1:] if not arg.startswith("--")]
  if len(positional) != 1 or positional[0] not in COMMANDS:
    raise UserError(f"expected one command out of {list(COMMANDS)}, got {positional}; see `genzoo --help`")
  command, overrides = positional[0], {}
  for arg in argv[1:]:
    if not arg.startswith("--"):
      continue
    key, has_value, value = arg[2:].partition("=")
    if command not in EVAL_OVERRIDE_COMMANDS or not key.startswith("config.eval.") or not has_value:
      raise UserError(f"Unknown command line flag {arg.split('=')[0][2:]!r}" + (
          f"; genzoo {command} takes --config.eval.KEY=VALUE overrides" if command in EVAL_OVERRIDE_COMMANDS else ""))
    overrides[key.removeprefix("config.")] = _literal(value)
  return command, overrides


def _literal(text: str):
  """A Python literal (5000, 0.5, None, ...) or, failing that, the text itself (fid,kid)."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def _require_workdir() -> str:
  if not _WORKDIR.value:
    raise UserError("--workdir is required: the directory of the run")
  return _WORKDIR.value


def _eval_overrides(overrides: dict) -> dict:
  """--config.eval.KEY=VALUE overrides, with the shorthand flags (--iwae-k, --metrics, ...) added."""
  if _IWAE_K.value is not None:
    checks.check_value("--iwae-k", _IWAE_K.value, checks.at_least(1))
  shorthands = {"eval.iwae_k": _IWAE_K.value, "eval.sample_metrics": _METRICS.value,
                "eval.features_dir": _FEATURES_DIR.value, "eval.feature_extractor": _EXTRACTOR.value,
                "eval.inception_weights": _INCEPTION_WEIGHTS.value}
  return {**overrides, **{key: value for key, value in shorthands.items() if value is not None}}


def main(argv: list[str]) -> None:
  if not flags.FLAGS["verbosity"].present:
    # Library INFO logs (Orbax writes several per checkpoint) only with --verbosity=0.
    logging.set_verbosity(logging.WARNING)
  command, overrides = _command(argv)
  # Loads JAX, which `genzoo --help` and usage errors answer without; before its backends start.
  from genzoo.runner import mesh

  if not _MULTIHOST.value:  # a cluster's processes keep JAX's device count, one CPU device each
    mesh.request_cpu_devices()
  if command == "train-features":
    _train_features()
    return
  workdir = _require_workdir()
  if command == "train" and _CONFIG.value is None:
    raise UserError("train needs --config, e.g. --config experiments/vae.py:mnist5k")
  if _MULTIHOST.value:
    import jax

    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  # Imported here so that `genzoo --help` and usage errors answer without loading JAX.
  from genzoo import runner

  if command == "train":
    runner.train_and_evaluate(_CONFIG.value, workdir, overwrite=_OVERWRITE.value)
  elif command == "eval":
    runner.evaluate(workdir, _STEP.value, _eval_overrides(overrides), _TRUNCATION.value)
  elif command == "sample":
    if _SIGMA.value is not None and flags.FLAGS["temperature"].present:
      raise UserError("give --sigma or --temperature, not both (--sigma S is temperature S / model.sigma)")
    path = runner.sample(workdir, _OUTPUT.value, _NUM.value, _TEMPERATURE.value, _STEP.value, _TRUNCATION.value,
                         _CLASS.value, _SIGMA.value)
    runner.chief_print(f"wrote {path}")
  elif command == "vocode":
    if not _INPUT.value or not _OUTPUT.value:
      raise UserError("vocode needs --input SPEECH.wav (mono 16-bit PCM at the run's sample rate) and --output OUT.wav")
    runner.chief_print(f"wrote {runner.vocode(workdir, _INPUT.value, _OUTPUT.value, _STEP.value, _SIGMA.value)}")
  elif command == "score":
    if not _DATA.value:
      raise UserError("score needs --data SET, e.g. --data test or --data noise")
    path = runner.score(workdir, _DATA.value, _OUTPUT.value, _STEP.value, _eval_overrides(overrides))
    runner.chief_print(f"wrote {path}")
  elif command == "ood":
    if not _IN.value:
      raise UserError("ood needs --in SET (the in-distribution set, e.g. --in test) and one --out SET or more")
    runner.ood(workdir, _IN.value, _OUT.value, _OUTPUT_DIR.value, _STEP.value, _BACKGROUND.value,
               _batch_sizes(_BATCH_SIZES.value), _SCORE.value, _eval_overrides(overrides))
  elif command == "style-mix":
    path = runner.style_mix(workdir, _OUTPUT.value, _BAND.value, _SOURCES.value, _STEP.value, _TRUNCATION.value)
    runner.chief_print(f"wrote {path}")
  else:
    path = runner.interpolate(workdir, _OUTPUT.value, _NUM_PAIRS.value, _NUM_STEPS.value, _STEP.value)
    runner.chief_print(f"wrote {path}")


def _batch_sizes(text: str) -> tuple[int, ...]:
  try:
    return tuple(int(part) for part in text.split(","))
  except ValueError:
    raise UserError(f"--batch-sizes takes comma-separated whole numbers, got {text!r}") from None


def _train_features() -> None:
  if not _DATASET.value:
    raise UserError("train-features needs --dataset, e.g. --dataset mnist5k")
  import json

  from genzoo import metrics

  meta = metrics.train_feature_classifier(_DATASET.value, _FEATURES_DIR.value)
  print(json.dumps(meta, indent=2))


# -- flags and config files: their errors in one line ----------------------------------------------


def parse_flags(argv: list[str]) -> list[str]:
  """Parses the flags, loading the config file and applying --config.KEY=VALUE overrides; every
  failure of those is a `UserError` that names the flag."""
  try:
    remaining = flags.FLAGS(argv, known_only=True)  # `_command` reads, or refuses, what is left
    if _CONFIG.value is not None:
      getattr(_CONFIG.value, "task", None)  # a config file that failed to load fails on first use
    return remaining
  except flags.Error as error:
    raise UserError(_flag_error_message(error)) from error
  except (AttributeError, KeyError) as error:  # ml_collections: an override names no config key
    message = _unknown_key_message(error, argv)
    if message is None:  # raised by the config file's own code
      raise UserError(_config_file_failed(error, argv)) from error
    raise UserError(message) from error
  except OSError as error:
    raise UserError(f"cannot load the config file {_config_file(argv)}: {_last_line(str(error))}") from error
  except SyntaxError as error:
    raise UserError(f"the config file {error.filename} has a syntax error at line {error.lineno}: {error.msg}") from error
  except Exception as error:  # pylint: disable=broad-exception-caught  # code in the user's config file
    raise UserError(_config_file_failed(error, argv)) from error


def _config_file_failed(error: Exception, argv: list[str]) -> str:
  return f"the config file {_config_file(argv)} failed: {type(error).__name__}: {error} (--debug shows the traceback)"


def _flag_error_message(error: Exception) -> str:
  """A flag error's message in one line. A config file's `get_config` that raised has its error
  (the last line of the traceback absl embeds) reported after the flag."""
  text = str(error)
  if "Traceback" not in text:
    return " ".join(text.split())
  flag = re.match(r"flag (--\S+):", text)
  raised = re.sub(r"^[\w.]*(Error|Exception): ", "", _last_line(text))
  return f"{flag.group(1)}: {raised}" if flag else raised


def _config_file(argv: list[str]) -> str:
  """The config file named by --config (without its variant)."""
  for index, arg in enumerate(argv):
    if arg.startswith("--config="):
      return arg.split("=", 1)[1].split(":", 1)[0]
    if arg == "--config" and index + 1 < len(argv):
      return argv[index + 1].split(":", 1)[0]
  return "given with --config"


def _unknown_key_message(error: Exception, argv: list[str]) -> str | None:
  """'unknown config key ...' naming the override flag and ml_collections' suggestion; None when
  no --config.KEY=VALUE override names the missing key (the error is not about an override)."""
  text = str(error)
  suggestion = re.search(r'Did you mean "([^"]+)" instead of "([^"]+)"', text)
  names = re.findall(r"[A-Za-z_]\w*", text)
  key = suggestion.group(2) if suggestion else (names[0] if names else "")
  overrides = [arg for arg in argv if arg.startswith("--config.") and re.search(rf"\.{re.escape(key)}(=|\.|$)", arg)]
  if not key or not overrides:
    return None
  hint = f' (did you mean "{suggestion.group(1)}"?)' if suggestion else ""
  return f"unknown config key {key!r} in {overrides[0]}{hint}"


def _last_line(text: str) -> str:
  return [line.strip() for line in text.splitlines() if line.strip()][-1]


def _report_user_errors(fn):
  """`fn`, with a `UserError` printed as one line on stderr and exit status 2 (re-raised, with its
  traceback, under --debug)."""

  @functools.wraps(fn)
  def wrapper(*args):
    try:
      return fn(*args)
    except UserError as error:
      if "--debug" in sys.argv or (flags.FLAGS.is_parsed() and _DEBUG.value):
        raise
      print(f"genzoo: error: {error}", file=sys.stderr, flush=True)
      sys.exit(USER_ERROR_STATUS)

  return wrapper


def invoke(argv: list[str]) -> None:
  """Runs `genzoo ARGV` in this process as the console script does, minus absl's start-up."""
  _report_user_errors(main)(_report_user_errors(parse_flags)(argv))


def run() -> None:
  """Console-script entry point."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  app.run(_report_user_errors(main), argv=sys.argv, flags_parser=_report_user_errors(parse_flags))
