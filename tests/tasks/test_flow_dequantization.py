"""The flow family's learned dequantisation, importance-weighted estimate and parameter averages.
The tests on the Flow++ smoke model compile for 10 to 20 s each and run in the slow tier."""

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
  """The smoke Flow++ with variational dequantisation, at initialisation (its dequantiser is then
  a crude q(u | x), so the importance-weighted estimate is well above the bound)."""
  task = make_task(experiment("flowpp", "smoke"), DIGITS)
  batch = digit_batch(jax.random.key(0), 16)
  return task, jax.jit(task.init)(jax.random.key(1), batch), batch


@pytest.mark.slow
def test_the_bound_includes_the_dequantizers_density(flowpp):
  """The parameters hold the flow's and the dequantiser's; log P(x) >= log p(y) - D log K -
  log q(u | x), term by term."""
  task, state, batch = flowpp
  params, x, rng = state["params"], batch["image"], jax.random.key(3)
  assert set(params) == {"flow", "dequantizer"}

  def terms(params):
    y, log_correction = task.dequantizer(task.dequantizer_params(params), x, rng)
    _, log_q = task.dequantizer.flow.apply({"params": task.dequantizer_params(params)}, x,
                                           jax.random.normal(jax.random.split(rng)[0], x.shape))
    return (y, log_correction, log_q, task.log_prob(task.flow_params(params), y),
            task.log_likelihood_bound(params, x, rng))

  y, log_correction, log_q, log_p, bound = jax.jit(terms)(params)
  assert jnp.all((y * 17 >= x) & (y * 17 < x + 1))
  np.testing.assert_allclose(log_correction, -64 * np.log(17) - log_q, rtol=1e-6)
  np.testing.assert_allclose(bound, log_p + log_correction, rtol=1e-6)


@pytest.mark.slow
def test_importance_weighted_estimate_is_above_the_bound_and_tightens_with_samples(flowpp):
  task, state, batch = flowpp
  params, x = state["params"], batch["image"]
  bounds = jax.jit(jax.vmap(lambda key: task.log_likelihood_bound(params, x, key)))(
      jax.random.split(jax.random.key(4), 16))
  estimate = jax.jit(task.importance_weighted, static_argnums=3)
  few, many = (float(jnp.mean(estimate(params, x, jax.random.key(5), s))) for s in (4, 64))
  assert float(jnp.mean(bounds)) < few < many, (float(jnp.mean(bounds)), few, many)


def test_a_parameter_average_is_kept_and_evaluated(experiment):
  """With optim.ema_decay the state keeps the average, (1 + n) / (10 + n)-ramped, and evaluation
  and sampling use it."""
  config = experiment("toy2d", "smoke")
  config.optim.ema_decay = 0.5
  task = make_task(config, vector_spec(2))
  batch = {"vector": np.asarray(jax.random.normal(jax.random.key(0), (8, 2))), "mask": np.ones(8, np.float32)}
  state = jax.jit(task.init)(jax.random.key(1), batch)
  start = state["params"]
  state, _ = jax.jit(task.train_step)(state, batch, jax.random.key(2))
  decay = 1.0 / 10.0  # min(0.5, (1 + 0) / (10 + 0)) at the first step
  expected = jax.tree.map(lambda new, old: decay * old + (1 - decay) * new, state["params"], start)
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.allclose(a, b, atol=1e-6)), state["ema_params"], expected))
  assert task.evaluated_params(state) is state["ema_params"]
  assert not jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), state["params"], state["ema_params"]))


@pytest.mark.slow
def test_samples_count_what_the_inverse_could_not_compute(flowpp, monkeypatch):
  task, state, _ = flowpp
  values, failures = task.sample_checked(state, jax.random.key(0), 4)
  assert values.dtype == np.uint8 and int(failures) == 0
  monkeypatch.setattr(type(task), "decode", lambda self, params, z, labels=None, context=None: jnp.full((4, 8, 8, 1), jnp.nan))
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
  """Train, evaluate (twice) with the importance-weighted estimate, and sample, as a user would."""
  workdir = str(tmp_path / "run")
  config = os.path.join(EXPERIMENTS, "flowpp.py") + ":smoke"
  run_cli("train", f"--config={config}", f"--config.data.data_dir={tmp_path / 'tfds'}", f"--workdir={workdir}")
  evaluations = []
  for _ in range(2):  # dropout is off in evaluation: the same key gives the same numbers
    run_cli("eval", f"--workdir={workdir}", "--iwae-k=4")
    printed = capsys.readouterr().out
    evaluations.append(json.loads(printed[printed.rindex("{"):]))
  assert evaluations[0] == evaluations[1]
  assert evaluations[0]["iwae_k"] == 4 and evaluations[0]["iw_bpd"] < evaluations[0]["bpd"] + 0.05
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


@pytest.mark.slow
def test_4096_dequantisation_draws_of_an_mnist_sized_image_run_in_chunks(experiment):
  """S = 4096 on a 28x28 image: 64 draws at a time under `lax.map`, so memory stays that of 64."""
  config = experiment("flowpp", "smoke")
  config.eval.iwae_chunk_size = 64
  spec = image_spec((28, 28, 1), 256)
  task = make_task(config, spec)
  images = np.asarray(jax.random.randint(jax.random.key(0), (2, 28, 28, 1), 0, 256), np.uint8)
  state = jax.jit(task.init)(jax.random.key(1), {"image": images})
  estimate = jax.jit(task.importance_weighted, static_argnums=3)(state["params"], images, jax.random.key(2), 4096)
  bound = task.log_likelihood_bound(state["params"], images, jax.random.key(3))
  assert estimate.shape == (2,) and bool(jnp.all(jnp.isfinite(estimate))) and bool(jnp.all(estimate > bound))
