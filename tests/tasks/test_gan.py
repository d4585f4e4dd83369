import functools
import os
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from genzoo.models import players
from genzoo.models.dcgan import DCGANDiscriminator, resolution_plan
from genzoo.models.resnet_gan import ResNetDiscriminator, ResNetGenerator, discriminator_downsamplings
from genzoo.nets.matmul_conv import StridedConv4x4
from genzoo import runner
from genzoo.data import image_spec
from genzoo.errors import UserError
from genzoo.tasks import make_task
from genzoo.tasks import common, gan
from genzoo.testing import random_batch

DIGITS = image_spec((8, 8, 1), 17, num_classes=10)


def digit_batch(key, batch_size):
  images = jax.random.randint(key, (batch_size,) + DIGITS.x.shape, 0, DIGITS.x.levels)
  return {"image": np.asarray(images, np.uint8), "label": np.zeros((batch_size,), np.int32),
          "mask": np.ones((batch_size,), np.float32)}


@pytest.fixture(scope="module")
def sngan(experiment):
  key = jax.random.key(0)
  task = make_task(experiment("sngan", "smoke"), DIGITS)
  return task, jax.jit(task.init)(key, digit_batch(key, 16))


@pytest.mark.parametrize("model", ["dcgan"])  # the update is the task's; the kit runs it with the ResNet too
def test_discriminator_updates_lower_its_loss_on_a_fixed_batch(experiment, key, model):
  config = experiment("sngan", "smoke")
  config.model.name = model
  task = make_task(config, DIGITS)
  state = jax.jit(task.init)(key, digit_batch(key, 16))
  real = task.to_signed(digit_batch(key, 16)["image"])
  update = jax.jit(task.discriminator_update)
  losses = []
  for _ in range(25):
    state, metrics = update(state, real, None, key)  # the same real images and fakes every time
    losses.append(float(metrics["d_loss"]))
  assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.05 and losses[-1] < losses[-2]


def test_gradient_penalty_of_a_linear_critic_is_its_definition(key):
  w = jax.random.normal(key, (4, 4, 1))
  real, fake = jax.random.normal(key, (2, 3, 4, 4, 1))
  penalty = gan.gradient_penalty(lambda x: jnp.sum(x * w, axis=(1, 2, 3)), real, fake, key)
  np.testing.assert_allclose(penalty, (jnp.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_spectral_norm_power_iteration_finds_the_largest_singular_value(key):
  layer = nn.SpectralNorm(StridedConv4x4(6))
  x = jnp.ones((1, 8, 8, 3))
  variables = layer.init(key, x, update_stats=False)
  for _ in range(30):
    _, updates = layer.apply(variables, x, update_stats=True, mutable=["batch_stats"])
    variables = {**variables, **updates}
  kernel = variables["params"]["layer_instance"]["kernel"]
  largest = np.linalg.svd(np.asarray(kernel).reshape(-1, 6), compute_uv=False)[0]
  sigma = variables["batch_stats"]["layer_instance/kernel/sigma"]
  assert float(sigma) == pytest.approx(largest, rel=1e-3)


def test_losses_match_their_definitions():
  real, fake = jnp.array([2.0, -0.5]), jnp.array([0.3, -1.5])
  np.testing.assert_allclose(gan.objective("hinge").discriminator(real, fake), [0.0 + 1.3, 1.5 + 0.0])
  np.testing.assert_allclose(gan.objective("wasserstein").discriminator(real, fake), fake - real)
  np.testing.assert_allclose(gan.objective("minimax").discriminator(real, fake),
                             -jnp.log(jax.nn.sigmoid(real)) - jnp.log(1 - jax.nn.sigmoid(fake)), rtol=1e-6)
  np.testing.assert_allclose(gan.objective("minimax").generator(fake), jnp.log(1 - jax.nn.sigmoid(fake)), rtol=1e-6)
  np.testing.assert_allclose(gan.objective("non_saturating").generator(fake), -jnp.log(jax.nn.sigmoid(fake)), rtol=1e-6)
  with pytest.raises(ValueError, match=r"unknown loss.name 'lsgan'; known: \['minimax', 'non_saturating', 'hinge', 'wasserstein'\]"):
    gan.objective("lsgan")


def test_sampling_uses_the_ema_generator(sngan, key):
  task, state = sngan
  sample = jax.jit(task.sample, static_argnums=2)
  moved = {**state, "ema_generator": jax.tree.map(lambda p: p + 0.5, state["ema_generator"])}
  online_only = {**moved, "params": {**moved["params"], "generator": state["ema_generator"]}}
  assert np.array_equal(sample(moved, key, 8, 1.0), sample(online_only, key, 8, 1.0))  # online weights unused
  assert not np.array_equal(sample(moved, key, 8, 1.0), sample(state, key, 8, 1.0))


def test_collapsed_generator_gives_one_image(experiment, key):
  config = experiment("sngan", "smoke")
  config.model.latent_std = 0.0
  task = make_task(config, DIGITS)
  samples = jax.jit(task.sample, static_argnums=2)(jax.jit(task.init)(key, digit_batch(key, 16)), key, 6, 1.0)
  assert all(np.array_equal(samples[0], image) for image in samples[1:])


def test_resolutions_and_norms_the_dcgan_cannot_take_are_explained(key):
  assert resolution_plan((28, 28, 1)) == (2, 7) and resolution_plan((64, 64, 3)) == (4, 4)
  with pytest.raises(ValueError, match=r"DCGAN needs square images, got 32x28; set data.image_size"):
    resolution_plan((32, 28, 1))
  with pytest.raises(ValueError, match=r"DCGAN needs a side that halves at least once to 4 or more pixels, got 7"):
    resolution_plan((7, 7, 1))
  with pytest.raises(ValueError, match=r"unknown discriminator norm 'batch'; known: \['none', 'spectral'\]"):
    DCGANDiscriminator(norm="batch").init(key, jnp.zeros((1, 8, 8, 1)), train=False)


def test_d_steps_must_divide_the_batch(experiment):
  config = experiment("wgan_gp", "smoke")
  config.data.batch_size = 42
  with pytest.raises(ValueError, match=r"loss.d_steps=5 must divide data.batch_size=42"):
    make_task(config, DIGITS)


# The default run trains the SN-GAN smoke config end to end in tests/metrics; these two are slow.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_smoke_run_trains_and_samples(experiment, tmp_path, name):
  config = experiment(name, "smoke")
  config.data.data_dir = str(tmp_path / "tfds")
  final = runner.train_and_evaluate(config, str(tmp_path / "run"))
  assert final["num_examples"] == 359 and np.isfinite(final["d_loss"])
  assert runner.sample(str(tmp_path / "run"), None, num=4, temperature=1.0).endswith("samples_6_t1.png")


@pytest.mark.slow  # StyleGAN2 with its regularisers compiles for about a minute
def test_stylegan2_trains_and_samples_with_truncation_and_style_mixing(experiment, tmp_path):
  config = experiment("stylegan2", "smoke")
  config.data.data_dir = str(tmp_path / "tfds")
  workdir = str(tmp_path / "run")
  final = runner.train_and_evaluate(config, workdir)
  assert final["num_examples"] == 359 and np.isfinite(final["d_loss"])
  assert runner.sample(workdir, None, num=4, temperature=1.0, truncation=0.5).endswith("samples_6_t1_trunc0.5.png")
  grid = runner.style_mix(workdir, None, "middle", sources=3)
  assert grid.endswith("style_mixing_6_middle.png") and os.path.exists(grid)
  results = runner.evaluate(workdir, None, truncation=0.0)
  assert results["truncation"] == 0.0 and os.path.exists(os.path.join(workdir, "eval_6_trunc0.json"))


@pytest.mark.parametrize("side, downsamplings", [(28, 2), (32, 2), (64, 3)])
def test_resnet_pair_maps_latents_to_images_to_logits(key, side, downsamplings):
  """Shapes only (traced, not run); the values are tested through the training tests."""
  shape = (side, side, 3)
  generator, discriminator = ResNetGenerator(shape, width=8), ResNetDiscriminator(width=8, norm="spectral")
  z = jax.ShapeDtypeStruct((2, 5, 16), jnp.float32)  # any leading batch dims
  images, _ = jax.eval_shape(functools.partial(generator.init_with_output, train=False), key, z)
  assert images.shape == (2, 5) + shape
  logits, variables = jax.eval_shape(functools.partial(discriminator.init_with_output, train=False), key, images)
  assert logits.shape == (2, 5) and discriminator_downsamplings(side) == downsamplings
  assert "DownBlock_0" in variables["batch_stats"]  # spectral-norm state, checkpointed with the model


def test_resnet_discriminator_treats_examples_independently(key):
  """The gradient penalty and R1 rely on it: one image's logit ignores the rest of the batch."""
  discriminator = ResNetDiscriminator(width=8)
  x = jax.random.uniform(key, (3, 8, 8, 1), minval=-1, maxval=1)
  variables = discriminator.init(key, x, train=False)
  jacobian = jax.jacobian(lambda x: discriminator.apply(variables, x, train=False))(x)
  assert np.all(np.asarray(jacobian[0, 1:]) == 0) and np.any(np.asarray(jacobian[0, 0]) != 0)


def test_sngan_resnet_variant_is_the_papers_setting(experiment):
  config = experiment("sngan", "cifar10_resnet")
  assert (config.model.name, config.model.g_width, config.model.d_width) == ("resnet", 256, 128)
  assert (config.loss.d_steps, config.optim.b1, config.optim.b2) == (5, 0.0, 0.9)
  assert config.data.batch_size == 5 * 64
  with pytest.raises(ValueError, match=r"unknown variant 'cifar100' of experiments/sngan.py; known: \[.*'cifar10_resnet'\]"):
    experiment("sngan", "cifar100")


def test_wgan_gp_resnet_variant_decays_the_learning_rate_linearly(experiment):
  config = experiment("wgan_gp", "cifar10_resnet")
  assert (config.model.name, config.model.g_width, config.loss.d_steps) == ("resnet", 128, 5)
  for optim in (config.optim, config.d_optim):
    schedule = common.learning_rate_schedule(optim, config.train.steps)
    np.testing.assert_allclose([schedule(0), schedule(50_000), schedule(100_000)], [2e-4, 1e-4, 0.0], atol=1e-12)


def test_lazy_regularizer_applies_every_interval_with_its_weight_scaled(key):
  """Karras et al. 2020: computed at every k-th step only, k times as strong, so on average the same."""
  def critic(x):
    return jnp.sum(x * 2.0, axis=(1, 2, 3))  # |grad| = 2 * sqrt(16) = 8 per example

  real = jnp.ones((3, 4, 4, 1))
  lazy = gan.Regularizer("r1", 0.5, lambda c, r, f, rng: gan.r1_penalty(c, r), interval=4)
  values = [float(jax.jit(lazy, static_argnums=0)(critic, real, real, key, step)) for step in range(8)]
  np.testing.assert_allclose(values, [4 * 0.5 * 64.0, 0, 0, 0] * 2, rtol=1e-5)
  wgan_gp = ml_collections.ConfigDict(dict(gp_weight=10.0, gp_interval=1, r1_weight=0.0, r1_interval=16))
  assert [r.name for r in gan.regularizers(wgan_gp)] == ["gp"]  # only the regularisers a config weights
  lazy_r1 = ml_collections.ConfigDict(dict(gp_weight=0.0, gp_interval=1, r1_weight=10.0, r1_interval=16))
  assert [(r.name, r.weight, r.interval) for r in gan.regularizers(lazy_r1)] == [("r1", 5.0, 16)]


def test_everything_the_discriminator_sees_passes_the_augmentation(experiment, key, monkeypatch):
  """An augmentation that blanks every image: D's real and fake logits agree, and neither player
  gets a gradient (the hinge loss of equal logits has none, and G's fakes are never seen)."""
  monkeypatch.setitem(gan.AUGMENTATIONS, "blank", lambda loss: gan.Augmentation(lambda images, rng: jnp.zeros_like(images)))
  config = experiment("sngan", "smoke")
  config.loss.augment = "blank"
  task = make_task(config, DIGITS)
  state = jax.jit(task.init)(key, digit_batch(key, 16))
  _, metrics = jax.jit(task.train_step)(state, digit_batch(key, 16), key)
  np.testing.assert_allclose(metrics["d_real"], metrics["d_fake"], rtol=1e-6)
  assert float(metrics["g_grad_norm"]) == 0.0 and float(metrics["d_grad_norm"]) == 0.0


@pytest.mark.parametrize("real_logit, start, moves", [(3.0, 0.5, 1.0), (-3.0, 0.5, -1.0), (3.0, 0.5, 0.0)])
def test_adaptive_augmentation_probability_follows_the_overfitting_heuristic(real_logit, start, moves):
  """D confident on reals (r_t = 1 > 0.6, overfitting) raises p; D unsure (r_t = -1) lowers it; by
  images / (kimg * 1000) once every `interval` updates. Target 0 (the last case) keeps p fixed."""
  target = 0.0 if moves == 0.0 else 0.6
  ada = gan.AdaptiveAugmentation("bgc", start, target, interval=4, kimg=0.5)
  state = ada.init()
  for update in range(1, 9):
    state, metrics = ada.observe(state, jnp.full((25,), real_logit))
    expected = start + moves * (update // 4) * 100 / 500
    np.testing.assert_allclose(state["p"], expected, atol=1e-6)
    np.testing.assert_allclose(metrics["r_t"], np.sign(real_logit))


@pytest.mark.slow  # a GAN train step of its own to compile, about 15 s
def test_adaptive_augmentation_state_is_part_of_the_training_state(experiment, key):
  """p lives in the training state (so it is checkpointed), moves in the train step and is logged
  with r_t; a run without a stateful augmentation has no such entry."""
  config = experiment("dcgan", "smoke")  # one discriminator update per step
  config.loss.update(augment="ada", ada_p=0.5, ada_interval=1, ada_kimg=0.001)
  task = make_task(config, DIGITS)
  state = jax.jit(task.init)(key, digit_batch(key, 16))
  assert float(state["augment"]["p"]) == 0.5 and "augment" not in jax.eval_shape(
      make_task(experiment("dcgan", "smoke"), DIGITS).init, key, digit_batch(key, 16))
  new_state, metrics = jax.jit(task.train_step)(state, digit_batch(key, 16), key)
  expected = 1.0 if float(metrics["r_t"]) > 0.6 else 0.0  # one adjustment of 16 / 1 images: p hits a bound
  assert float(new_state["augment"]["p"]) == float(metrics["ada_p"]) == expected


def test_players_get_the_data_labels_and_fakes_get_labels_of_its_classes(sngan, key):
  task, _ = sngan
  batch = dict(digit_batch(key, 8), label=np.arange(8, dtype=np.int32))
  np.testing.assert_array_equal(task.real_labels(batch, 8), np.arange(8))
  labels = task.fake_labels(key, 1000)
  assert labels.shape == (1000,) and set(np.unique(labels)) == set(range(10))
  unlabelled = make_task(task.config, image_spec((8, 8, 1), 17))
  assert unlabelled.real_labels({"image": batch["image"]}, 8) is None and unlabelled.fake_labels(key, 4) is None


def test_ema_policy_is_the_generators_own(sngan, key):
  """Standing statistics for a batch-norm generator: recomputed for the averaged weights."""
  task, state = sngan
  assert isinstance(task.generator.EMA_POLICY, players.StandingBatchStats)
  variables = {"params": state["ema_generator"], **state["model_state"]["generator"]}
  standing = task.generator.EMA_POLICY.sampling_variables(
      task.generator, variables, lambda num: (jax.random.normal(key, (num, task.config.model.latent_dim)), None),
      task.apply_player)
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), standing["batch_stats"], variables["batch_stats"])
  assert any(jax.tree.leaves(changed)) and standing["params"] is variables["params"]
  assert players.WeightsOnly().sampling_variables(task.generator, variables, None, task.apply_player) is variables


def test_a_run_stored_before_the_interval_and_augment_keys_resumes(experiment):
  """Keys added later are filled in with the values the old run was trained with."""
  from genzoo.runner import config as run_config

  current = run_config.to_plain_dict(experiment("sngan", "smoke"))
  stored = {**current, "loss": {k: v for k, v in current["loss"].items()
                                if k not in ("gp_interval", "r1_interval", "augment") and not k.startswith("ada_")}}
  assert run_config.trajectory_differences(stored, current)  # without backfilling: a conflict
  filled = run_config.backfill(stored, gan.GANTask.BACKFILLED_KEYS)
  assert run_config.trajectory_differences(filled, current) == []


def test_players_are_built_from_the_model_keys_they_declare(experiment):
  config = experiment("sngan", "smoke")
  config.model.update(name="resnet", g_width=12, d_width=6)
  task = make_task(config, DIGITS)
  assert (task.generator.width, task.discriminator.width, task.discriminator.norm) == (12, 6, "spectral")
  assert task.generator.image_shape == DIGITS.x.shape  # provided by the family, from the data


def test_path_length_regularizer_runs_on_its_interval_and_tracks_the_mean_length():
  """Every 4th step: 4 * weight * E[(length - a)^2] with a moved by `decay` towards the batch's
  mean length; nothing (and no move) in between."""
  regularizer = gan.PathLengthRegularizer(weight=2.0, interval=4, decay=0.5, batch_shrink=2)
  lengths = jnp.array([1.0, 3.0])
  state = regularizer.init()
  run = jax.jit(lambda step, state: regularizer(lambda: lengths, step, state))
  penalty, state = run(0, state)
  np.testing.assert_allclose(state["mean"], 1.0)  # 0 + 0.5 * (2 - 0)
  np.testing.assert_allclose(penalty, 4 * 2.0 * (0.0 + 4.0) / 2)
  for step in (1, 2, 3):
    skipped, unchanged = run(step, state)
    assert float(skipped) == 0.0 and float(unchanged["mean"]) == 1.0
  _, state = run(4, state)
  np.testing.assert_allclose(state["mean"], 1.5)


def test_path_lengths_are_positive_and_differentiable_in_the_generator_weights(experiment, key):
  """The penalty differentiates the styles' gradient once more, with respect to G's weights."""
  task = make_task(experiment("stylegan2", "smoke"), DIGITS)
  state = jax.jit(task.init)(key, digit_batch(key, 4))
  values, grads = jax.jit(lambda params: jax.value_and_grad(
      lambda p: jnp.sum(task.path_lengths(p, state, key, 3)))(params))(
      state["params"]["generator"])
  norm = float(optax.tree.norm(grads))
  assert float(values) > 0 and np.isfinite(norm) and norm > 0
  assert task.path_length.interval == 4 and task.path_length.weight == 2.0


def test_ema_half_life_is_in_images_with_a_ramp_up(experiment):
  """0.5 ** (batch / half-life images); early on the half-life is at most ramp-up x images seen."""
  config = experiment("stylegan2", "smoke")
  config.loss.update(ema_kimg=10.0, ema_rampup=0.05)
  task = make_task(config, DIGITS)
  batch = config.data.batch_size
  late = 10_000 / (0.05 * batch)  # from here on the half-life is 10 kimg
  np.testing.assert_allclose(task.ema_decay(jnp.asarray(late * 2)), 0.5 ** (batch / 10_000), rtol=1e-6)
  np.testing.assert_allclose(task.ema_decay(jnp.asarray(99)), 0.5 ** (batch / (100 * batch * 0.05)), rtol=1e-6)
  config.loss.ema_kimg = 0.0  # off: the plain decay
  np.testing.assert_allclose(make_task(config, DIGITS).ema_decay(jnp.asarray(10_000)), config.loss.ema_decay)


def test_style_based_settings_are_refused_for_other_generators(experiment):
  config = experiment("sngan", "smoke")
  config.loss.pl_weight = 2.0
  with pytest.raises(UserError, match=r"loss.pl_weight=2.0 regularises the path lengths of a style-based generator; "
                     r"model.name='dcgan' has no style space"):
    make_task(config, DIGITS)
  conditional = experiment("stylegan2", "smoke")
  conditional.model.num_classes = 7
  with pytest.raises(UserError, match=r"model.num_classes=7 asks for a model conditioned on 7 classes, but the data has 10 classes"):
    make_task(conditional, DIGITS)


# model.name -> (experiment, overrides, data) of a smoke-sized pair: each player has its own layers
# (spectral norm, batch norm, modulated convolutions with noise, self-attention).
BFLOAT16_PAIRS = {
    "dcgan": ("wgan_gp", {}, image_spec((8, 8, 1), 17)),
    "resnet": ("sngan", {"model.name": "resnet"}, DIGITS),
    "stylegan2": ("stylegan2", {"model.num_classes": 10}, DIGITS),
    "biggan": ("biggan", {"model.attention_resolution": 16}, image_spec((32, 32, 1), 17, num_classes=10)),
}


@pytest.mark.parametrize("name", sorted(BFLOAT16_PAIRS))
def test_bfloat16_players_compute_every_matmul_in_bfloat16_and_train_float32_state(experiment, key, name):
  experiment_name, overrides, spec = BFLOAT16_PAIRS[name]
  task = make_task(experiment(experiment_name, "smoke", {**overrides, "model.compute_dtype": "bfloat16"}), spec)
  batch = random_batch(spec, task.config.data.batch_size, key)
  state = jax.eval_shape(task.init, key, batch)
  next_state, _ = jax.eval_shape(task.train_step, state, batch, key)
  assert next_state == state  # parameters, their averages and state collections stay float32
  z = jnp.zeros((8, task.config.model.latent_dim))
  labels = task.fake_labels(key, 8)
  for player, inputs, variables in (
      (task.generator, (z, labels), {"params": state["params"]["generator"], **state["model_state"]["generator"]}),
      (task.discriminator, (task.to_signed(batch["image"][:8]), labels),
       {"params": state["params"]["discriminator"], **state["model_state"]["discriminator"]})):
    def apply(variables, player=player, inputs=inputs):
      return task.apply_player(player, variables, *inputs, train=True, mutable=list(player.STATE_COLLECTIONS),
                               rngs=gan.model_rngs(player, key) if player is task.generator else None)
    jaxpr = str(jax.make_jaxpr(apply)(variables))
    assert set(re.findall(r"(\w+)\[[\d,]*\] = dot_general", jaxpr)) == {"bf16"}, type(player).__name__
    outputs, updated = jax.eval_shape(apply, variables)
    assert outputs.dtype == jnp.float32
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(updated))


def test_bfloat16_players_give_the_float32_outputs_to_bfloat16_precision(experiment, key):
  spec = image_spec((8, 8, 1), 17)
  tasks_by_dtype = {dtype: make_task(experiment("wgan_gp", "smoke", {"model.compute_dtype": dtype}), spec)
                    for dtype in ("float32", "bfloat16")}
  state = jax.jit(tasks_by_dtype["float32"].init)(key, random_batch(spec, 8, key))
  def generate(state, task):
    return task.generate(state["params"]["generator"], state, key, 8, None, False)[0]

  images = {dtype: jax.jit(generate, static_argnums=1)(state, task) for dtype, task in tasks_by_dtype.items()}
  assert not np.array_equal(images["bfloat16"], images["float32"])
  np.testing.assert_allclose(images["bfloat16"], images["float32"], atol=0.05)
  logits = {dtype: jax.jit(lambda s, task=task: task.discriminate(s, images["float32"], None))(state)
            for dtype, task in tasks_by_dtype.items()}
  np.testing.assert_allclose(logits["bfloat16"], logits["float32"], rtol=0.05, atol=0.05)
