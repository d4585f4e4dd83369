"""The flow family's learned dequantisation, importance-weighted estimate and parameter averages,
on the Flow++ smoke model."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.data import image_spec, vector_spec
from genzoo.errors import UserError
from genzoo.tasks import make_task

DIGITS = image_spec((8, 8, 1), 17)
EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "experiments")


def digit_batch(key, batch_size):
  images = jax.random.randint(key, (batch_size, 8, 8, 1), 0, 17)
  return {"image": np.asarray(images, np.uint8), "mask": np.ones((batch_size,), np.float32)}


@pytest.fixture(scope="module")
def flowpp(experiment):
  """The smoke Flow++ with variational dequantisation and a parameter average, trained a few
  steps so that the dequantiser, the flow and the average all differ from their start."""
  config = experiment("flowpp", "smoke")
  config.optim.ema_decay = 0.9
  task = make_task(config, DIGITS)
  batch = digit_batch(jax.random.key(0), 16)
  state = jax.jit(task.init)(jax.random.key(1), batch)
  step = jax.jit(task.train_step)
  for index in range(3):
    state, _ = step(state, batch, jax.random.key(10 + index))
  return task, state, batch


def test_parameters_hold_the_flow_and_the_dequantizer_and_their_average(flowpp):
  task, state, _ = flowpp
  assert set(state["params"]) == {"flow", "dequantizer"}
  assert task.evaluated_params(state) is state["ema_params"]
  differs = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state["params"], state["ema_params"])
  assert any(jax.tree.leaves(differs["dequantizer"])) and any(jax.tree.leaves(differs["flow"]))


def test_the_bound_includes_the_dequantizers_density(flowpp):
  """log P(x) >= log p(y) - D log K - log q(u | x), term by term."""
  task, state, batch = flowpp
  params, x, rng = state["params"], batch["image"], jax.random.key(3)
  y, log_correction = task.dequantizer(task.dequantizer_params(params), x, rng)
  assert jnp.all((y * 17 >= x) & (y * 17 < x + 1))
  _, log_q = task.dequantizer.flow.apply({"params": task.dequantizer_params(params)}, x,
                                         jax.random.normal(jax.random.split(rng)[0], x.shape))
  np.testing.assert_allclose(log_correction, -64 * np.log(17) - log_q, rtol=1e-6)
  bound = task.log_likelihood_bound(params, x, rng)
  np.testing.assert_allclose(bound, task.log_prob(task.flow_params(params), y) + log_correction, rtol=1e-6)


def test_importance_weighted_estimate_is_above_the_bound_and_tightens_with_samples(flowpp):
  task, state, batch = flowpp
  params = task.evaluated_params(state)
  estimate = jax.jit(task.importance_weighted, static_argnums=3)
  means = [float(jnp.mean(estimate(params, batch["image"], jax.random.key(5), s))) for s in (1, 8, 64)]
  bound = float(jnp.mean(jnp.stack([task.log_likelihood_bound(params, batch["image"], jax.random.key(seed))
                                    for seed in range(8)])))
  assert abs(means[0] - bound) < 0.5 and bound < means[1] < means[2], (bound, means)


def test_evaluation_is_deterministic_and_reports_both_estimates(flowpp):
  task, state, batch = flowpp
  config = task.config.copy_and_resolve_references()
  config.eval.iwae_k = 4
  eval_step = jax.jit(make_task(config, DIGITS).eval_step)
  sums = [eval_step(state, batch, jax.random.key(7)) for _ in range(2)]
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), *sums))
  summary = make_task(config, DIGITS).summarize(sums[0])
  assert summary["iwae_k"] == 4 and summary["iw_bpd"] < summary["bpd"] + 0.05


def test_samples_count_what_the_inverse_could_not_compute(flowpp, monkeypatch):
  task, state, _ = flowpp
  values, failures = task.sample_checked(state, jax.random.key(0), 4)
  assert values.dtype == np.uint8 and int(failures) == 0
  monkeypatch.setattr(type(task), "decode", lambda self, params, z: jnp.full((4, 8, 8, 1), jnp.nan))
  assert int(task.sample_checked(state, jax.random.key(0), 4)[1]) == 4 * 64


def test_learned_dequantisation_of_continuous_data_is_refused(experiment):
  config = experiment("toy2d", "smoke")
  config.dequantizer.name = "variational"
  with pytest.raises(UserError, match="dequantises discrete data, but 'vector' is continuous"):
    make_task(config, vector_spec(2))


def test_dequantizer_settings_are_checked(experiment):
  config = experiment("flowpp", "smoke")
  config.dequantizer.couplings = 0
  with pytest.raises(UserError, match="dequantizer.couplings=0 is not accepted"):
    make_task(config, DIGITS)
  uniform = experiment("flowpp", "mnist5k_uniform")
  uniform.dequantizer.filters = 8
  with pytest.raises(UserError, match="dequantizer.filters is not a setting of dequantizer 'uniform'"):
    make_task(uniform, DIGITS)


@pytest.mark.slow
def test_flowpp_smoke_run_through_the_cli(run_cli, tmp_path, capsys):
  """Train, evaluate with the importance-weighted estimate, and sample, as a user would."""
  workdir = str(tmp_path / "run")
  config = os.path.join(EXPERIMENTS, "flowpp.py") + ":smoke"
  run_cli("train", f"--config={config}", f"--config.data.data_dir={tmp_path / 'tfds'}", f"--workdir={workdir}")
  run_cli("eval", f"--workdir={workdir}", "--iwae-k=4")
  printed = capsys.readouterr().out
  evaluated = json.loads(printed[printed.rindex("{"):])
  assert evaluated["iwae_k"] == 4 and evaluated["iw_bpd"] < evaluated["bpd"] + 0.05
  run_cli("sample", f"--workdir={workdir}", "--temperature=0.7")
  assert os.path.exists(os.path.join(workdir, "samples_4_t0.7.png"))


def test_a_flow_run_stored_before_learned_dequantisation_reads_as_it_was_trained(experiment):
  """A stored config without the family's newer keys gets the values it was trained with, and its
  parameters keep the flow's own layout, so its checkpoints restore."""
  from genzoo.runner import config as runner_config
  from genzoo.tasks.flow import FlowTask

  stored = experiment("glow", "smoke").to_dict()
  del stored["dequantizer"], stored["optim"]["ema_decay"], stored["eval"]["iwae_k"], stored["eval"]["iwae_chunk_size"]
  config = runner_config.from_plain_dict(runner_config.backfill(stored, FlowTask.BACKFILLED_KEYS))
  task = make_task(config, DIGITS)
  state = jax.jit(task.init)(jax.random.key(0), digit_batch(jax.random.key(1), 8))
  assert "ema_params" not in state and "level0" in state["params"]
