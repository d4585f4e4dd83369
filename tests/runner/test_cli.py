"""The `genzoo` command: in-process through absl flag parsing, and once as a real subprocess."""

import json
import os
import subprocess
import sys
import pytest
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(REPO, "experiments", "vae.py") + ":smoke"


def test_train_eval_sample_interpolate_through_the_cli(tmp_path, capsys, run_cli):
  workdir, data_dir = str(tmp_path / "run"), str(tmp_path / "tfds")
  run_cli("train", f"--config={SMOKE}", f"--config.data.data_dir={data_dir}", "--config.train.steps=4",
          f"--workdir={workdir}")
  assert "step 4 test:" in capsys.readouterr().out
  run_cli("eval", f"--workdir={workdir}", "--iwae-k", "12")
  printed = json.loads(capsys.readouterr().out)
  assert printed["iwae_k"] == 12 and printed["step"] == 4
  run_cli("sample", f"--workdir={workdir}", "--temperature", "0.7", "--num", "4")
  assert os.path.exists(os.path.join(workdir, "samples_4_t0.7.png"))
  run_cli("interpolate", f"--workdir={workdir}", "--num-pairs", "2", "--num-steps", "4")
  assert os.path.exists(os.path.join(workdir, "interpolation_4.png"))


def test_unknown_config_key_fails_loudly(tmp_path, run_cli):
  with pytest.raises(AttributeError, match=r"stepz.*Did you mean \"steps\""):
    run_cli("train", f"--config={SMOKE}", "--config.train.stepz=5", f"--workdir={tmp_path}")


def test_unknown_variant_lists_the_known_ones(tmp_path, run_cli):
  with pytest.raises(flags.IllegalFlagValueError, match=r"unknown variant 'mnist6k' of experiments/vae.py; known: \["):
    run_cli("train", f"--config={SMOKE.replace(':smoke', ':mnist6k')}", f"--workdir={tmp_path}")


def test_unknown_command_is_a_usage_error(tmp_path, run_cli):
  from absl import app

  with pytest.raises(app.UsageError, match=r"expected one command out of \['train', 'eval', 'sample', 'interpolate', 'train-features'\], "
                     r"got \['fit'\]"):
    run_cli("fit", f"--workdir={tmp_path}")


def test_eval_of_a_directory_without_a_run_says_so(tmp_path, run_cli):
  with pytest.raises(FileNotFoundError, match=r"holds no genzoo run \(config.json is missing\)"):
    run_cli("eval", f"--workdir={tmp_path}")


def test_console_script_trains_the_smoke_variant(tmp_path):
  workdir = str(tmp_path / "run")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  result = subprocess.run(
      [os.path.join(os.path.dirname(sys.executable), "genzoo"), "train", f"--config={SMOKE}",
       f"--config.data.data_dir={tmp_path / 'tfds'}", f"--workdir={workdir}"],
      capture_output=True, text=True, env=env, timeout=600,
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


def test_train_features_without_a_dataset_is_a_usage_error(run_cli):
  from absl import app

  with pytest.raises(app.UsageError, match=r"train-features needs --dataset, e.g. --dataset mnist5k"):
    run_cli("train-features")
