"""End-to-end runs of the runner on the embedded `digits` data and on TFDS mock data."""

import json
import os

import chex
import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from genzoo.runner import train as runner
from genzoo.runner.checkpoints import Checkpoints


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """One TFDS data dir per module, so the embedded datasets are prepared once."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture
def smoke(experiment, data_dir):
  config = experiment("vae", "smoke")
  config.data.data_dir = data_dir
  return config


def read_metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def saved_params(workdir, step=None):
  _, _, _, state = runner.restore_session(workdir, step)
  return jax.device_get(state["params"])


def test_smoke_run_writes_every_output(smoke, tmp_path):
  workdir = str(tmp_path / "run")
  final = runner.train_and_evaluate(smoke, workdir)
  assert np.isfinite(final["elbo"]) and final["elbo"] <= final["iwae"] + 1.0
  assert final["num_examples"] == 359  # the whole digits test split, not a multiple of the batch
  lines = read_metrics(workdir)
  assert [line["step"] for line in lines if "train/loss" in line] == [2, 4, 6]
  assert all("steps_per_sec" in line for line in lines if "train/loss" in line)
  assert any("eval/iwae_bpd" in line for line in lines)
  assert os.path.exists(os.path.join(workdir, "samples_6.png"))
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert Checkpoints(workdir).manager.all_steps() == [3, 6]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["latent_dim"] == 4


def test_interrupted_run_resumes_to_identical_parameters(smoke, tmp_path, monkeypatch):
  straight = str(tmp_path / "straight")
  runner.train_and_evaluate(smoke, straight)

  interrupted = str(tmp_path / "interrupted")
  real_batch = runner.datasets.train_batch

  def crash_at_step_4(data, step, *args, **kwargs):
    if step == 4:
      raise KeyboardInterrupt("simulated interruption")
    return real_batch(data, step, *args, **kwargs)

  monkeypatch.setattr(runner.datasets, "train_batch", crash_at_step_4)
  with pytest.raises(KeyboardInterrupt):
    runner.train_and_evaluate(smoke, interrupted)
  assert Checkpoints(interrupted).manager.all_steps() == [3]
  monkeypatch.setattr(runner.datasets, "train_batch", real_batch)
  runner.train_and_evaluate(smoke, interrupted)
  chex.assert_trees_all_equal(saved_params(straight), saved_params(interrupted))


def test_rerunning_a_finished_run_does_not_start_over(smoke, tmp_path, capsys):
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(smoke, workdir)
  before = saved_params(workdir)
  assert runner.train_and_evaluate(smoke, workdir) == {}
  assert "nothing to train: the checkpoint at step 6 already reaches train.steps=6" in capsys.readouterr().out
  chex.assert_trees_all_equal(before, saved_params(workdir))
  smoke.train.steps = 8  # extending a run resumes from its last checkpoint
  runner.train_and_evaluate(smoke, workdir)
  assert Checkpoints(workdir).manager.all_steps() == [3, 6, 8]


def test_eval_sample_and_interpolate_read_a_finished_run(smoke, tmp_path):
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(smoke, workdir)
  metrics = runner.evaluate(workdir, step=3, iwae_k=16)
  assert metrics["step"] == 3 and metrics["iwae_k"] == 16 and metrics["num_examples"] == 359
  assert os.path.exists(os.path.join(workdir, "eval_3.json"))
  sample_path = runner.sample(workdir, None, num=9, temperature=0.7)
  assert sample_path.endswith("samples_6_t0.7.png") and os.path.exists(sample_path)
  strip = runner.interpolate(workdir, str(tmp_path / "walk.png"), num_pairs=3, num_steps=5)
  assert os.path.exists(strip)


def test_non_finite_training_stops_and_keeps_the_last_checkpoint(smoke, tmp_path):
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(smoke, workdir)
  smoke.train.steps = 12
  smoke.optim.learning_rate = float("inf")
  with pytest.raises(runner.WorkdirConflictError):
    runner.train_and_evaluate(smoke, workdir)  # a different learning rate is a different run
  fresh = str(tmp_path / "fresh")
  with pytest.raises(runner.NonFiniteError, match=r"step 1: the loss or gradients were not finite.*"
                     r"the last checkpoint \(none yet\) is untouched"):
    runner.train_and_evaluate(smoke, fresh)
  assert Checkpoints(fresh).manager.all_steps() == []


def test_non_finite_steps_are_skipped_when_asked(smoke, tmp_path):
  smoke.optim.learning_rate = float("inf")
  smoke.train.on_nonfinite = "skip"
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(smoke, workdir)
  train_lines = [line for line in read_metrics(workdir) if "train/nonfinite" in line]
  assert [line["train/nonfinite"] for line in train_lines] == [1.0, 1.0, 1.0]
  chex.assert_tree_all_finite(saved_params(workdir))


def test_workdir_of_another_config_is_refused_then_moved_aside_with_overwrite(smoke, tmp_path):
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(smoke, workdir)
  smoke.model.latent_dim = 5
  with pytest.raises(runner.WorkdirConflictError, match=r"holds a run of a different config:\n  model.latent_dim: 4 -> 5\n"
                     r"Use another --workdir, or pass --overwrite"):
    runner.train_and_evaluate(smoke, workdir)
  runner.train_and_evaluate(smoke, workdir, overwrite=True)
  moved = [name for name in os.listdir(tmp_path) if name.startswith("run.replaced-")]
  assert len(moved) == 1
  assert Checkpoints(str(tmp_path / moved[0])).manager.all_steps() == [3, 6]


def test_batch_size_must_divide_over_devices(smoke, tmp_path):
  smoke.data.batch_size = 10
  with pytest.raises(ValueError, match=r"data.batch_size 10 is not divisible by the number of devices \(4\); use a multiple of 4"):
    runner.train_and_evaluate(smoke, str(tmp_path / "run"))
  assert not os.path.exists(tmp_path / "run")


def test_unknown_nonfinite_policy_is_refused(smoke, tmp_path):
  smoke.train.on_nonfinite = "ignore"
  with pytest.raises(ValueError, match=r"unknown train.on_nonfinite 'ignore'; known: \['stop', 'skip'\]"):
    runner.train_and_evaluate(smoke, str(tmp_path / "run"))


@pytest.mark.parametrize(
    "dataset, levels, overrides",
    [
        ("mnist", 256, {}),
        ("binarized_mnist", 2, {"model.likelihood": "bernoulli"}),
        ("cifar10", 256, {"model.architecture": "conv", "model.channels": (8, 16)}),
    ],
)
def test_smoke_runs_on_tfds_mock_data(smoke, tmp_path, dataset, levels, overrides):
  smoke.data.name = dataset
  for dotted, value in overrides.items():
    section, name = dotted.split(".")
    smoke[section][name] = value
  with tfds.testing.mock_data(num_examples=48, max_value=levels):
    final = runner.train_and_evaluate(smoke, str(tmp_path / dataset))
  assert np.isfinite(final["elbo"]) and final["num_examples"] == 48
