"""End-to-end runs of the runner on the embedded `digits` data and on TFDS mock data."""

import json
import os
import shutil

import chex
import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from genzoo import runner
from genzoo.runner.checkpoints import Checkpoints


@pytest.fixture
def smoke(vae_smoke_run):
  """The VAE smoke config (a copy to change), reading the shared run's data dir."""
  return vae_smoke_run[0].copy_and_resolve_references()


def read_metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def saved_params(workdir, step=None):
  _, _, _, state = runner.restore_session(workdir, step)
  return jax.device_get(state["params"])


def copy_run(vae_smoke_run, tmp_path) -> str:
  workdir = str(tmp_path / "run")
  shutil.copytree(vae_smoke_run[1], workdir)
  return workdir


def test_smoke_run_writes_every_output(vae_smoke_run):
  workdir = vae_smoke_run[1]
  final = read_metrics(workdir)[-1]
  assert np.isfinite(final["eval/elbo"]) and final["eval/elbo"] <= final["eval/iwae"] + 1.0
  assert final["eval/num_examples"] == 359  # the whole digits test split, not a multiple of the batch
  lines = read_metrics(workdir)
  assert [line["step"] for line in lines if "train/loss" in line] == [2, 4, 6]
  assert all("steps_per_sec" in line for line in lines if "train/loss" in line)
  assert os.path.exists(os.path.join(workdir, "samples_6.png"))
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert Checkpoints(workdir).steps() == [3, 6]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["latent_dim"] == 4


def test_interrupted_run_resumes_to_identical_parameters(vae_smoke_run, smoke, tmp_path, interrupted_run):
  interrupted = str(tmp_path / "interrupted")
  interrupted_run(smoke, interrupted, step=4)
  assert Checkpoints(interrupted).steps() == [3]
  runner.train_and_evaluate(smoke, interrupted)
  chex.assert_trees_all_equal(saved_params(vae_smoke_run[1]), saved_params(interrupted))


def test_a_streamed_run_with_workers_resumes_to_the_in_memory_runs_parameters(vae_smoke_run, smoke, tmp_path):
  """Streamed batches made by two worker processes are the in-memory batches: the run, stopped at
  its first checkpoint and resumed, ends where the shared in-memory run did, and logs the share of
  its time spent waiting for data."""
  smoke.data.update(stream=True, workers=2, data_dir=str(tmp_path / "array_record"))
  streamed = str(tmp_path / "streamed")
  first_half = smoke.copy_and_resolve_references()
  first_half.train.steps = 3
  runner.train_and_evaluate(first_half, streamed)
  runner.train_and_evaluate(smoke, streamed)
  chex.assert_trees_all_equal(saved_params(vae_smoke_run[1]), saved_params(streamed))
  logged = [line for line in read_metrics(streamed) if "train/loss" in line]
  assert [line["step"] for line in logged] == [2, 3, 4, 6]
  assert all(0.0 <= line["data_wait_fraction"] <= 1.0 for line in logged)


def test_a_run_resumes_on_another_number_of_cpu_devices(vae_smoke_run, smoke, tmp_path, capsys):
  """`train.cpu_devices` may change on resumption: the steps after it run on the new mesh and end
  where the run on one device did (up to the rounding of the cross-device sums)."""
  workdir = str(tmp_path / "moved")
  first_half = smoke.copy_and_resolve_references()
  first_half.train.steps = 3
  runner.train_and_evaluate(first_half, workdir)
  smoke.train.cpu_devices = 0
  runner.train_and_evaluate(smoke, workdir)
  assert "data-parallel over 4 cpu devices, 4 examples each per step" in capsys.readouterr().out
  chex.assert_trees_all_close(saved_params(vae_smoke_run[1]), saved_params(workdir), atol=1e-5)


def test_rerunning_a_finished_run_does_not_start_over(vae_smoke_run, smoke, tmp_path, capsys):
  workdir = copy_run(vae_smoke_run, tmp_path)
  before = saved_params(workdir)
  assert runner.train_and_evaluate(smoke, workdir) == {}
  assert "nothing to train: the checkpoint at step 6 already reaches train.steps=6" in capsys.readouterr().out
  chex.assert_trees_all_equal(before, saved_params(workdir))
  smoke.train.steps = 8  # extending a run resumes from its last checkpoint
  runner.train_and_evaluate(smoke, workdir)
  assert Checkpoints(workdir).steps() == [3, 6, 8]


def test_eval_sample_and_interpolate_read_a_finished_run(vae_smoke_run, tmp_path):
  workdir = copy_run(vae_smoke_run, tmp_path)
  metrics = runner.evaluate(workdir, step=3, overrides={"eval.iwae_k": 16})
  assert metrics["step"] == 3 and metrics["iwae_k"] == 16 and metrics["num_examples"] == 359
  assert os.path.exists(os.path.join(workdir, "eval_3.json"))
  sample_path = runner.sample(workdir, None, num=9, temperature=0.7)
  assert sample_path.endswith("samples_6_t0.7.png") and os.path.exists(sample_path)
  strip = runner.interpolate(workdir, str(tmp_path / "walk.png"), num_pairs=3, num_steps=5)
  assert os.path.exists(strip)


def test_workdir_of_another_config_is_moved_aside_with_overwrite(vae_smoke_run, smoke, tmp_path):
  workdir = copy_run(vae_smoke_run, tmp_path)
  smoke.model.latent_dim = 5
  smoke.train.steps = 3
  runner.train_and_evaluate(smoke, workdir, overwrite=True)
  moved = [name for name in os.listdir(tmp_path) if name.startswith("run.replaced-")]
  assert len(moved) == 1
  assert Checkpoints(str(tmp_path / moved[0])).steps() == [3, 6]
  assert Checkpoints(workdir).steps() == [3]


@pytest.mark.parametrize(
    "dataset, levels, overrides",
    [
        ("mnist", 256, {}),
        ("binarized_mnist", 2, {"model.likelihood": "bernoulli"}),
        # The convolutional VAE's task functions are in the task kit; its 32x32x3 run is slow.
        pytest.param("cifar10", 256, {"model.architecture": "conv", "model.channels": (8, 16)},
                     marks=pytest.mark.slow),
    ],
)
def test_smoke_runs_on_tfds_mock_data(smoke, tmp_path, dataset, levels, overrides):
  smoke.data.name = dataset
  smoke.data.data_dir = str(tmp_path / "tfds")
  for dotted, value in overrides.items():
    section, name = dotted.split(".")
    smoke[section][name] = value
  with tfds.testing.mock_data(num_examples=48, max_value=levels):
    final = runner.train_and_evaluate(smoke, str(tmp_path / dataset))
  assert np.isfinite(final["elbo"]) and final["num_examples"] == 48
