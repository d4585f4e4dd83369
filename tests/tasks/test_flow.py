from typing import ClassVar

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genzoo import bijectors
from genzoo import runner, tasks
from genzoo.runner import config as run_config
from genzoo.data import image_spec, vector_spec
from genzoo.errors import UserError
from genzoo.models.glow import Glow
from genzoo.tasks import make_task
from genzoo.tasks import flow as flow_task
from genzoo.tasks.flow import FlowTask, StandardNormal

DIGITS = image_spec((8, 8, 1), 17, num_classes=10)


def digit_batch(key, batch_size, info=DIGITS):
  images = jax.random.randint(key, (batch_size,) + info.x.shape, 0, info.x.levels)
  return {"image": np.asarray(images, np.uint8), "label": np.zeros((batch_size,), np.int32),
          "mask": np.ones((batch_size,), np.float32)}


@pytest.fixture(scope="module", params=["glow", "realnvp"])
def flow(request, experiment):
  """A smoke-size task and its initial state, built once per model for the whole module. RealNVP
  keeps one scale here (its unrolled couplings compile slowly); the two-scale smoke model is
  trained end to end and checked whole by the conformance kit in the slow tier."""
  key = jax.random.key(0)
  config = experiment(request.param, "smoke")
  if request.param == "realnvp":
    config.model.num_scales = 1
    config.optim.learning_rate = 5e-3  # so that 30 steps visibly fit a fixed batch
  task = make_task(config, DIGITS)
  return task, jax.jit(task.init)(key, digit_batch(key, 8))


def test_uniform_density_scores_exactly_n_bits(experiment, key, monkeypatch):
  info = image_spec((4, 4, 1), 2**5)  # 5-bit data
  task = make_task(experiment("glow", "smoke"), info)
  monkeypatch.setattr(FlowTask, "log_prob", lambda self, params, y, **_: jnp.zeros(y.shape[0]))  # p(y) = 1 on [0,1)^D
  sums = task.eval_step({"params": None}, digit_batch(key, 8, info), key)
  assert task.summarize(jax.device_get(sums))["bpd"] == pytest.approx(5.0, abs=1e-6)


def test_samples_inverted_back_give_their_latents(flow, key):
  task, state = flow
  z = jax.random.normal(key, (6, DIGITS.x.size))
  y = jax.jit(task.decode)(state["params"], z)
  z_back, _ = jax.jit(task.model.apply)({"params": state["params"]}, y)
  np.testing.assert_allclose(z_back, z, atol=1e-4)


def test_glow_learned_top_prior_is_an_affine_map_of_the_top_latents(key):
  """Glow's learned top prior changes only the top latents, z_top = h * exp(log_scale) + shift per
  position, and adds sum(log_scale) to the log-det: h ~ N(-shift / exp(log_scale), exp(-log_scale)^2)."""
  shape = (8, 8, 1)
  y = jax.random.uniform(key, (3,) + shape)
  model = Glow(shape, num_levels=2, num_steps=1, hidden=4, learn_top_prior=True)
  params = jax.jit(model.init)(key, y)["params"]
  top_shape = params["top_prior_shift"].shape
  assert top_shape == (2, 2, 8)  # two squeezes, half the channels split off after the first
  shift, log_scale = 0.5 * jax.random.normal(jax.random.fold_in(key, 1), (2,) + top_shape)
  params = {**params, "top_prior_shift": shift, "top_prior_log_scale": log_scale}
  z, log_det = jax.jit(model.apply)({"params": params}, y)
  without = {name: value for name, value in params.items() if not name.startswith("top_prior")}
  z_h, log_det_h = jax.jit(model.clone(learn_top_prior=False).apply)({"params": without}, y)
  top = shift.size  # the top latents come last in the flat latent vector
  np.testing.assert_allclose(z[:, :-top], z_h[:, :-top], atol=1e-6)
  np.testing.assert_allclose(z[:, -top:], z_h[:, -top:] * jnp.exp(log_scale).ravel() + shift.ravel(), atol=1e-5)
  np.testing.assert_allclose(log_det, log_det_h + log_scale.sum(), rtol=1e-5)


def test_log_prob_of_a_2d_flow_integrates_to_one(key):
  """Points of the plane as rank-1 events, through ActNorm, LU 1x1 and both kinds of coupling."""
  keys = jax.random.split(key, 4)
  weights = jax.random.normal(keys[0], (2, 1, 1)) * 0.8

  def conditioner(x_a):
    return jnp.sin(x_a @ weights[0]), x_a @ weights[1]

  def coupling(scale_form):
    return bijectors.Coupling(bijectors.SplitPartition(), conditioner,
                              bijectors.affine_transformer(scale_form), event_ndims=1)

  lu = bijectors.lu_init(keys[1], 2)
  steps = [
      bijectors.ActNorm(jnp.array([0.3, -0.2]), jnp.array([0.5, -1.0]), event_ndims=1),
      bijectors.LUInvertible1x1Conv(**dict(lu, upper=lu["upper"] + 0.7), event_ndims=1),
      coupling("tanh"),
      bijectors.ChannelPermutation([1, 0], event_ndims=1),
      coupling("sigmoid"),
  ]
  flow = distrax.Chain(steps[::-1])
  side = jnp.linspace(-15.0, 15.0, 750)
  grid = jnp.stack(jnp.meshgrid(side, side, indexing="ij"), -1).reshape(-1, 2)
  z, log_det = flow.forward_and_log_det(grid)
  density = jnp.exp(StandardNormal().log_prob(z) + log_det)
  cell = (side[1] - side[0]) ** 2
  assert float(jnp.sum(density) * cell) == pytest.approx(1.0, abs=2e-3)


def test_non_finite_input_to_log_prob_is_reported(flow, key):
  task, state = flow
  y = jnp.full((2,) + DIGITS.x.shape, 0.5).at[1, 0, 0, 0].set(jnp.nan)
  with pytest.raises(ValueError, match=r"log_prob got 1 non-finite input values \(NaN or inf\)"):
    task.log_prob(state["params"], y)


def test_non_finite_examples_are_counted_not_averaged(flow, key, monkeypatch):
  task, state = flow
  monkeypatch.setattr(FlowTask, "log_prob", lambda self, params, y, **_: jnp.array([0.0, jnp.nan, 0.0, 0.0]))
  summary = task.summarize(jax.device_get(jax.jit(task.eval_step)(state, digit_batch(key, 4), key)))
  assert summary["nonfinite_examples"] == 1 and np.isnan(summary["bpd"])


def test_training_lowers_the_loss(flow, key):
  """30 steps on a fixed batch lower its loss (the task kit checks the step's contract; its batch
  of 8 makes this the same program, compiled once for both)."""
  task, state = flow
  train_step = jax.jit(task.train_step)
  batch = digit_batch(key, 8)
  losses = []
  for i in range(30):
    state, metrics = train_step(state, batch, jax.random.fold_in(key, 100 + i))
    losses.append(float(metrics["loss"]))
  assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.1


@pytest.mark.slow  # two Glow gradient compilations, about 50 s
def test_glow_remat_changes_memory_not_the_gradient(experiment, key):
  batch = digit_batch(key, 8)

  def loss_and_grads(remat):
    config = experiment("glow", "smoke")
    config.model.remat = remat
    task = make_task(config, DIGITS)
    params = jax.jit(task.init)(key, batch)["params"]
    y, _ = task.dequantizer(None, batch["image"], key)
    return jax.jit(jax.value_and_grad(lambda p: -jnp.mean(task.log_prob(p, y))))(params)

  (loss, grads), (loss_remat, grads_remat) = loss_and_grads(False), loss_and_grads(True)
  np.testing.assert_allclose(loss_remat, loss, rtol=1e-6)
  jax.tree.map(lambda g, e: np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6), grads_remat, grads)


def test_image_size_the_levels_cannot_squeeze_is_refused(experiment, key):
  config = experiment("glow", "smoke")
  config.model.num_levels = 4
  task = make_task(config, DIGITS)
  with pytest.raises(ValueError, match=r"image shape \(8, 8, 1\) cannot pass the 4 squeezes of this flow's levels: "
                     r"level 4 of 4 gets 1x1, which is not even. Use an image size divisible by 16 or fewer levels."):
    task.init(key, digit_batch(key, 2))


# The runner is family-agnostic (its default-tier runs are the VAE's and the vector flow's), and the
# image flows' task functions are checked by the task conformance kit: their end-to-end smoke runs
# (about 20 s of compilation each) are in the slow tier.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["glow", "realnvp"])
def test_smoke_run_trains_samples_and_interpolates(experiment, tmp_path, name):
  config = experiment(name, "smoke")
  config.data.data_dir = str(tmp_path / "tfds")
  workdir = str(tmp_path / "run")
  final = runner.train_and_evaluate(config, workdir)
  assert final["num_examples"] == 359 and final["nonfinite_examples"] == 0
  assert 0.0 < final["bpd"] < 2 * np.log2(17)
  # The run's own sample count: the sampler compiled for its grid serves this one.
  assert runner.sample(workdir, None, num=config.train.num_samples, temperature=0.7).endswith("samples_4_t0.7.png")
  runner.interpolate(workdir, str(tmp_path / "walk.png"), num_pairs=2, num_steps=4)


def test_flow_models_are_built_from_their_config_keys(experiment):
  """`model.*` are the fields of the registered module; a key it does not have is refused."""
  config = experiment("glow", "smoke")
  task = make_task(config, DIGITS)
  assert (task.model.num_steps, task.model.hidden, task.model.event_shape) == (2, 8, (8, 8, 1))
  config.model.num_scales = 2  # a RealNVP setting
  with pytest.raises(ValueError, match=r"model.num_scales is not a setting of the Glow model; its settings: "
                     r"\['compute_dtype', 'condition_couplings', 'coupling_shift_first', 'hidden', 'learn_split_prior', 'learn_top_prior', 'num_levels', "
                     r"'num_steps', 'remat', 'split_prior_per_position'\]"):
    make_task(config, DIGITS)


def test_vector_flow_on_two_moons_trains_renders_and_resumes(experiment, tmp_path):
  """The first non-image modality end to end: train, evaluate (exact log-likelihood in nats, no
  bits/dim), and a sample PNG of the samples' histogram beside the model's density."""
  config = experiment("toy2d", "smoke")
  workdir = str(tmp_path / "run")
  final = runner.train_and_evaluate(config, workdir)
  assert final["num_examples"] == 2000 and "bpd" not in final
  assert np.isfinite(final["log_likelihood"]) and final["nll_per_dim"] == pytest.approx(-final["log_likelihood"] / 2)
  from PIL import Image

  picture = np.asarray(Image.open(tmp_path / "run" / "samples_4.png"))
  assert picture.shape == (256 + 16, 2 * 256 + 4, 3)  # two titled panels: samples, model density
  density = picture[16:, 260:]
  assert density.std() > 1  # not a constant panel
  evaluated = runner.evaluate(workdir)
  assert evaluated["log_likelihood"] == pytest.approx(final["log_likelihood"], rel=1e-6)
  path = runner.sample(workdir, str(tmp_path / "t08.png"), num=256, temperature=0.8)  # the CLI's path
  assert np.asarray(Image.open(path)).shape == picture.shape


def test_vector_flow_samples_are_vectors_and_its_density_integrates_to_one(experiment, key):
  spec = vector_spec(2)
  task = make_task(experiment("toy2d", "smoke"), spec)
  state = jax.jit(task.init)(key, {"vector": jax.random.normal(key, (8, 2))})
  params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(key, p.shape), state["params"])
  state = dict(state, params=params)
  samples = task.sample(state, key, 7)
  assert samples.shape == (7, 2) and samples.dtype == jnp.float32
  side = jnp.linspace(-12.0, 12.0, 600)
  grid = jnp.stack(jnp.meshgrid(side, side, indexing="ij"), -1).reshape(-1, 2)
  mass = jnp.sum(jnp.exp(jax.jit(task.log_density)(state, grid))) * (side[1] - side[0]) ** 2
  assert float(mass) == pytest.approx(1.0, abs=5e-3)


@pytest.mark.parametrize("model, spec, message", [
    ("glow", vector_spec(2), r"the 'glow' flow model models image data, but this dataset's 'vector' is "
                             r"vector data of shape \(2,\)"),
    ("vector_realnvp", DIGITS, r"the 'vector_realnvp' flow model models vector data, but this dataset's "
                               r"'image' is image data of shape \(8, 8, 1\)"),
])
def test_a_flow_model_refuses_data_of_another_kind(experiment, model, spec, message):
  config = experiment("toy2d" if model == "vector_realnvp" else "glow", "smoke")
  with pytest.raises(UserError, match=message):
    make_task(config, spec)


class NoisyShift(nn.Module):
  """A flow that shifts its input by fresh noise in training: z = y + 0.1 * eps, eps from its
  "dropout" stream (a stand-in for a conditioner's dropout), and z = y otherwise."""

  event_shape: tuple[int]
  KINDS: ClassVar[tuple[str, ...]] = ("vector",)
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ("dropout",)
  CONFIG_RULES: ClassVar[dict] = {}

  @nn.compact
  def __call__(self, inputs, inverse=False, *, train=False):
    self.param("unused", nn.initializers.zeros, ())
    shift = 0.1 * jax.random.normal(self.make_rng("dropout"), inputs.shape) if train else 0.0
    return (inputs - shift if inverse else inputs + shift), jnp.zeros(inputs.shape[:-1])


def test_rng_streams_and_the_train_flag_reach_the_flow_model(experiment, key, monkeypatch):
  monkeypatch.setitem(flow_task.FLOW_MODELS, "noisy_shift", NoisyShift)
  config = experiment("toy2d", "smoke")
  config.model = ml_collections.ConfigDict({"name": "noisy_shift"})
  task = make_task(config, vector_spec(2))
  batch = {"vector": jax.random.normal(key, (8, 2)), "mask": jnp.ones(8)}
  state = task.init(key, batch)
  losses = [float(task.train_step(state, batch, jax.random.key(seed))[1]["loss"]) for seed in (1, 2)]
  assert losses[0] != losses[1]  # each step's key reaches the model's stream
  sums = [task.eval_step(state, batch, jax.random.key(seed))["log_likelihood"] for seed in (1, 2)]
  assert sums[0] == sums[1]  # evaluation: train=False, no noise drawn


def conditional_glow(key, num_classes=3, condition_couplings=True, move=("class_embedding", "ZeroConv_0")):
  """A tiny class-conditional Glow (the label in its priors and, by default, its couplings) with
  the parameters under the names `move` (by default the class terms of the priors and the
  couplings' zero-initialised output convolutions) set away from their zero start."""
  shape = (4, 4, 1)
  model = Glow(shape, num_levels=2, num_steps=1, hidden=4, learn_top_prior=True, num_classes=num_classes,
               condition_couplings=condition_couplings)
  x = jax.random.uniform(key, (2,) + shape)
  params = model.init(key, x, labels=jnp.zeros((2,), jnp.int32))["params"]

  def moved(path, value):
    names = {getattr(part, "key", None) for part in path}
    return value + 0.3 * jax.random.normal(jax.random.fold_in(key, value.size), value.shape) if (
        names & set(move)) else value

  return model, jax.tree_util.tree_map_with_path(moved, params), shape


def test_class_conditional_glow_is_an_exact_flow_for_every_label(key):
  """For each label the model is a bijection whose log-det is the dense Jacobian's, and the label
  moves the density, also through the couplings alone; at initialisation (class terms zero) it
  does not, and the forward pass sows the class logits of the top latents."""
  from genzoo.testing.bijectors import dense_log_det

  model, params, shape = conditional_glow(key)
  started = model.init(key, jnp.zeros((2,) + shape), labels=jnp.zeros((2,), jnp.int32))["params"]
  x = jax.random.uniform(key, (3,) + shape)
  apply = jax.jit(model.apply, static_argnums=2)
  labels_of = {label: jnp.full((3,), label, jnp.int32) for label in (0, 2)}
  np.testing.assert_array_equal(apply({"params": started}, x, False, labels=labels_of[0])[0],
                                apply({"params": started}, x, False, labels=labels_of[2])[0])
  _, sown = jax.eval_shape(lambda: model.apply({"params": started}, x, labels=labels_of[0], mutable=["intermediates"]))
  assert sown["intermediates"]["class_logits"][0].shape == (3, 3)
  with pytest.raises(UserError, match="conditioned on 3 classes and needs labels"):
    jax.eval_shape(lambda: model.apply({"params": started}, x))
  # With the priors' class terms still at zero, the label reaches the latents through the couplings.
  _, couplings_only, _ = conditional_glow(key, move=("ZeroConv_0",))
  assert float(jnp.max(jnp.abs(apply({"params": couplings_only}, x, False, labels=labels_of[0])[0]
                               - apply({"params": couplings_only}, x, False, labels=labels_of[2])[0]))) > 1e-3
  jacobian_log_det = jax.jit(lambda labels: dense_log_det(
      lambda u: model.apply({"params": params}, u, labels=labels)[0], x[0]))
  log_densities = []
  for labels in labels_of.values():
    z, log_det = apply({"params": params}, x, False, labels=labels)
    np.testing.assert_allclose(log_det[0], jacobian_log_det(labels[:1]), rtol=1e-4, atol=1e-4)
    x_back, _ = apply({"params": params}, z, True, labels=labels)
    np.testing.assert_allclose(x_back, x, atol=1e-5)
    log_densities.append(StandardNormal().log_prob(z) + log_det)
  assert float(jnp.min(jnp.abs(log_densities[0] - log_densities[1]))) > 1e-3


def test_coupling_conditioning_needs_a_class_conditional_glow(key):
  with pytest.raises(UserError, match="model.condition_couplings hands the label to the couplings, which needs a "
                     r"class-conditional Glow \(model.num_classes > 0\)"):
    Glow((4, 4, 1), num_levels=1, num_steps=1, hidden=4, condition_couplings=True).init(key, jnp.zeros((2, 4, 4, 1)))


def test_class_conditional_densities_each_integrate_to_one(key):
  """E over x ~ p(. | y') of p(x | y) / p(x | y') = integral of p(x | y) = 1 (importance sampling
  between two labels' densities)."""
  model, params, shape = conditional_glow(key)
  num = 20_000
  z = jax.random.normal(key, (num, 16))
  source, target = jnp.zeros((num,), jnp.int32), jnp.full((num,), 2, jnp.int32)

  @jax.jit
  def log_ratio(z):
    x, _ = model.apply({"params": params}, z, True, labels=source)
    log_p = {}
    for name, labels in (("source", source), ("target", target)):
      latents, log_det = model.apply({"params": params}, x, labels=labels)
      log_p[name] = StandardNormal().log_prob(latents) + log_det
    return log_p["target"] - log_p["source"]

  ratios = jnp.exp(log_ratio(z))
  standard_error = float(jnp.std(ratios)) / np.sqrt(num)
  assert float(jnp.mean(ratios)) == pytest.approx(1.0, abs=max(4 * standard_error, 1e-3))


def test_class_conditioning_is_refused_where_it_cannot_apply(experiment):
  config = experiment("realnvp", "smoke")
  config.model.num_classes = 10
  with pytest.raises(UserError, match=r"model.num_classes=10 asks for a class-conditional flow, but the 'realnvp' "
                     r"model is unconditional; class-conditional flows: \['glow'\]"):
    make_task(config, DIGITS)
  config = experiment("glow", "smoke")
  config.model.num_classes = 7
  with pytest.raises(UserError, match=r"model.num_classes=7 asks for a model conditioned on 7 classes, but the data "
                     "has 10 classes"):
    make_task(config, DIGITS)
  config.model.num_classes, config.loss.class_weight = 0, 0.01
  with pytest.raises(UserError, match=r"loss.class_weight=0.01 weights a class-prediction loss, which needs a "
                     r"class-conditional model"):
    make_task(config, DIGITS)


def test_stored_configs_from_before_new_keys_resume_as_they_ran(experiment):
  """A Glow run stored before `model.condition_couplings` and `eval.sample_temperature` existed
  gets the values it ran with, and resumes under today's config without a difference; a RealNVP
  run does not get Glow's field."""
  current = run_config.to_plain_dict(experiment("glow", "smoke"))
  stored = run_config.to_plain_dict(experiment("glow", "smoke"))
  del stored["model"]["condition_couplings"], stored["eval"]["sample_temperature"]
  filled = run_config.backfill(stored, tasks.backfilled_keys(stored))
  assert filled["model"]["condition_couplings"] is False and filled["eval"]["sample_temperature"] == 1.0
  assert run_config.trajectory_differences(filled, current) == []
  realnvp = run_config.to_plain_dict(experiment("realnvp", "smoke"))
  assert "condition_couplings" not in run_config.backfill(realnvp, tasks.backfilled_keys(realnvp))["model"]
