"""The `genzoo` command: in-process through absl flag parsing, and once as a real subprocess.
Its answers to bad input are in test_bad_inputs.py."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(REPO, "experiments", "vae.py") + ":smoke"


def test_eval_sample_interpolate_through_the_cli(vae_smoke_run, tmp_path, capsys, run_cli):
  """On a copy of the finished smoke run (training through the command is
  test_train_through_the_cli_on_tfds_mock_data's), with test_train's evaluation and sample sizes, so
  their programs are compiled once."""
  workdir = str(tmp_path / "run")
  shutil.copytree(vae_smoke_run[1], workdir)
  run_cli("eval", f"--workdir={workdir}", "--iwae-k", "16")
  printed = json.loads(capsys.readouterr().out)
  assert printed["iwae_k"] == 16 and printed["step"] == 6
  run_cli("eval", f"--workdir={workdir}", "--config.eval.iwae_k=16", "--step=3")  # any eval.* key
  printed = json.loads(capsys.readouterr().out)
  assert printed["iwae_k"] == 16 and printed["step"] == 3
  run_cli("sample", f"--workdir={workdir}", "--temperature", "0.7", "--num", "9")
  assert os.path.exists(os.path.join(workdir, "samples_6_t0.7.png"))
  run_cli("interpolate", f"--workdir={workdir}", "--num-pairs", "3", "--num-steps", "5")
  assert os.path.exists(os.path.join(workdir, "interpolation_6.png"))


# The console script itself is exercised in the default tier by the one-line user-error test; a
# whole run through it (about 12 s, most of it a second process importing JAX and TensorFlow) is slow.
@pytest.mark.slow
def test_console_script_trains_the_smoke_variant(tmp_path):
  workdir = str(tmp_path / "run")
  result = subprocess.run(
      [os.path.join(os.path.dirname(sys.executable), "genzoo"), "train", f"--config={SMOKE}",
       f"--config.data.data_dir={tmp_path / 'tfds'}", f"--workdir={workdir}"],
      capture_output=True, text=True, timeout=600,  # the tests' XLA flags: the cache holds its programs
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert "step 6/6" in result.stdout and "ETA" in result.stdout
  assert os.path.exists(os.path.join(workdir, "samples_6.png"))


def test_train_through_the_cli_on_tfds_mock_data(tmp_path, capsys, run_cli):
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=40):
    run_cli("train", f"--config={SMOKE}", "--config.data.name=fashion_mnist", "--config.train.steps=2",
            f"--workdir={tmp_path / 'run'}")
  assert '"num_examples": 40' in capsys.readouterr().out


def test_console_script_reports_a_user_error_in_one_line(tmp_path):
  result = subprocess.run(
      [os.path.join(os.path.dirname(sys.executable), "genzoo"), "train", f"--config={SMOKE}",
       "--config.optim.name=sgdx", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=600,
  )
  assert result.returncode == 2, result.stderr[-3000:]
  # TensorFlow's native logger announces itself on import (TFP's JAX backend imports it); that is
  # not genzoo's output.
  ours = [line for line in result.stderr.splitlines()
          if line.strip() and not re.match(r"(WARNING: All log messages before absl|[IWE]\d{4} )", line)]
  assert ours == ["genzoo: error: optim.name='sgdx' is not accepted: it must be one of 'adam', 'adamw'"]
  assert not (tmp_path / "run").exists()
