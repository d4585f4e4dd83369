import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import multivariate_normal

from genzoo.models import likelihoods
from genzoo.data import image_spec
from genzoo.tasks import make_task
from genzoo.tasks.importance import largest_divisor_at_most

DIGITS = image_spec((8, 8, 1), 17, num_classes=10)


def random_batch(key, batch_size, info=DIGITS):
  images = jax.random.randint(key, (batch_size,) + info.x.shape, 0, info.x.levels)
  return {"image": np.asarray(images, np.uint8), "label": np.zeros((batch_size,), np.int32)}


@dataclasses.dataclass(frozen=True)
class ContinuousGaussian:
  """A Gaussian density on the level values themselves, so log p(x) is known exactly."""

  num_params = 2

  def check_levels(self, num_levels):
    del num_levels

  def log_prob(self, params, x, num_levels, key):
    del num_levels, key
    loc, log_scale = params[..., 0], params[..., 1]
    z = (x.astype(jnp.float32) - loc) * jnp.exp(-log_scale)
    return jnp.sum(-0.5 * z**2 - log_scale - 0.5 * jnp.log(2 * jnp.pi), axis=(-3, -2, -1))

  def mean(self, params, num_levels):
    return params[..., 0]


def linear_gaussian_vae(experiment, monkeypatch, key):
  """A VAE with p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I) and a near-optimal diagonal encoder.

  The marginal is p(x) = N(b, W W^T + s^2 I); the true posterior has a full covariance, so the
  diagonal q leaves a gap that IWAE closes as k grows.
  """
  monkeypatch.setitem(likelihoods.LIKELIHOODS, "continuous_gaussian", ContinuousGaussian())
  config = experiment("vae", "smoke")
  config.model.hidden = ()
  config.model.latent_dim = 2
  config.model.likelihood = "continuous_gaussian"
  config.eval.iwae_chunk_size = 500
  info = image_spec((2, 2, 1), 17, num_classes=10)
  task = make_task(config, info)
  state = task.init(key, random_batch(key, 1, info))
  latent, dims, levels, scale = 2, 4, 17, 1.5
  w = 3.0 * jax.random.normal(jax.random.fold_in(key, 1), (dims, latent))
  b = jnp.full((dims,), 8.0)
  posterior_cov = jnp.linalg.inv(jnp.eye(latent) + w.T @ w / scale**2)
  gain = posterior_cov @ w.T / scale**2  # E[z|x] = gain (x - b)
  # Encoder input is u = 2x/(K-1) - 1, i.e. x = (u + 1)(K-1)/2.
  half_range = (levels - 1) / 2
  params = jax.tree.map(jnp.zeros_like, state["params"])
  enc = params["encoder"]["Dense_0"]
  enc["kernel"] = jnp.concatenate([(gain * half_range).T, jnp.zeros((dims, latent))], axis=1)
  enc["bias"] = jnp.concatenate([gain @ (jnp.full((dims,), half_range) - b),
                                 0.5 * jnp.log(jnp.diag(posterior_cov)) + 0.2])
  dec = params["decoder"]["Dense_0"]
  dec["kernel"] = jnp.stack([w.T, jnp.zeros((latent, dims))], axis=-1).reshape(latent, 2 * dims)
  dec["bias"] = jnp.stack([b, jnp.full((dims,), jnp.log(scale))], axis=-1).reshape(2 * dims)
  x = jnp.array([[7, 9, 8, 6], [8, 8, 8, 8], [12, 3, 9, 10]], jnp.uint8)
  exact = multivariate_normal.logpdf(x.astype(jnp.float32), b, w @ w.T + scale**2 * jnp.eye(dims))
  return task, params, x.reshape(3, 2, 2, 1), exact


def test_bounds_on_linear_gaussian_vae_sit_below_exact_and_iwae_approaches_it(experiment, monkeypatch, key):
  task, params, x, exact = linear_gaussian_vae(experiment, monkeypatch, key)
  repeats = 2000
  log_px, kl, _ = jax.jit(task.elbo_terms)(params, jnp.repeat(x, repeats, axis=0), None, key)
  elbo = jnp.mean((log_px - kl).reshape(3, repeats), axis=1)

  @functools.partial(jax.jit, static_argnums=(0, 1))
  def iwae(k, draws):
    keys = jax.random.split(jax.random.fold_in(key, k), draws)
    return jnp.mean(jax.vmap(lambda r: task.iwae_bound(params, x, None, r, k))(keys), axis=0)

  iwae_10, iwae_100, iwae_5000 = iwae(10, 2000), iwae(100, 400), iwae(5000, 4)
  assert bool(jnp.all(elbo < iwae_10)) and bool(jnp.all(iwae_10 < iwae_100))
  # IWAE_k is a lower bound in expectation; averaged over examples it converges to the exact value.
  gap_5000, gap_elbo = jnp.mean(exact - iwae_5000), jnp.mean(exact - elbo)
  assert -0.01 < gap_5000 < 0.02 * gap_elbo
  assert gap_5000 < jnp.mean(exact - iwae_100) + 0.01


def test_elbo_below_iwae_k_below_iwae_larger_k_on_average(experiment, key):
  task = make_task(experiment("vae", "smoke"), DIGITS)
  state = task.init(key, random_batch(key, 1))
  x = random_batch(jax.random.fold_in(key, 1), 8)["image"]
  log_px, kl, _ = jax.jit(task.elbo_terms)(state["params"], jnp.repeat(x, 200, axis=0), None, key)
  elbo = jnp.mean(log_px - kl)

  @functools.partial(jax.jit, static_argnums=0)
  def mean_iwae(k):
    return jnp.mean(jax.vmap(lambda r: task.iwae_bound(state["params"], x, None, r, k))(jax.random.split(key, 100)))

  assert elbo < mean_iwae(5) < mean_iwae(50)


@pytest.mark.parametrize("n, limit, expected", [(5000, 250, 250), (12, 5, 4), (7, 4, 1), (3, 250, 3)])
def test_largest_divisor_at_most(n, limit, expected):
  assert largest_divisor_at_most(n, limit) == expected


def test_iwae_bound_does_not_depend_on_the_chunk_size(experiment, key):
  config = experiment("vae", "smoke")
  task = make_task(config, DIGITS)
  state = task.init(key, random_batch(key, 1))
  x = random_batch(key, 4)["image"]
  config.eval.iwae_chunk_size = 12
  unchunked_task = make_task(config, DIGITS)
  assert task.iwae_log_weights(state["params"], x, None, key, 12).shape == (12, 4)

  @functools.partial(jax.jit, static_argnums=0)
  def mean_bound(t):
    draws = jax.random.split(key, 300)
    return jnp.mean(jax.vmap(lambda r: t.iwae_bound(state["params"], x, None, r, 12))(draws))

  np.testing.assert_allclose(mean_bound(task), mean_bound(unchunked_task), rtol=2e-3)


def test_non_finite_update_leaves_state_untouched(experiment, key):
  config = experiment("vae", "smoke")
  config.optim.learning_rate = 1e38  # the update overflows to inf (an inf rate is refused up front)
  task = make_task(config, DIGITS)
  state = task.init(key, random_batch(key, 1))
  new_state, metrics = jax.jit(task.train_step)(state, random_batch(key, 16), key)
  assert metrics["nonfinite"] == 1.0
  assert int(new_state["step"]) == 1
  chex.assert_trees_all_equal(new_state["params"], state["params"])
  chex.assert_tree_all_finite(new_state["params"])


def test_kl_warmup_reaches_beta_linearly(experiment):
  config = experiment("vae", "smoke")
  config.loss.beta, config.loss.kl_warmup_steps = 2.0, 10
  task = make_task(config, DIGITS)
  np.testing.assert_allclose([task.beta_at(s) for s in (0, 4, 9, 50)], [0.2, 1.0, 2.0, 2.0], rtol=1e-6)


def test_eval_summary_counts_active_units_and_reports_bits_per_dim(experiment, key):
  task = make_task(experiment("vae", "smoke"), DIGITS)
  state = task.init(key, random_batch(key, 1))
  batch = dict(random_batch(key, 10), mask=jnp.array([1.0] * 7 + [0.0] * 3))
  sums = task.eval_step(state, batch, key)
  assert float(sums["count"]) == 7.0
  summary = task.summarize(jax.device_get(sums))
  np.testing.assert_allclose(summary["elbo_bpd"], -summary["elbo"] / (64 * np.log(2)), rtol=1e-6)
  assert 0 <= summary["active_units"] <= 4
  assert summary["elbo"] <= summary["iwae"] + 1.0


def test_samples_and_interpolations_are_images_in_the_data_levels(experiment, key):
  task = make_task(experiment("vae", "smoke"), DIGITS)
  state = task.init(key, random_batch(key, 1))
  samples = task.sample(state, key, 5, temperature=0.7)
  assert samples.shape == (5, 8, 8, 1) and samples.dtype == jnp.uint8 and int(samples.max()) <= 16
  x = random_batch(key, 4)["image"]
  strip = task.interpolate(state, x[:2], x[2:], 6)
  assert strip.shape == (2, 6, 8, 8, 1)


def test_conv_vae_rejects_image_sizes_its_stages_cannot_halve(experiment, key):
  config = experiment("vae", "smoke")
  config.model.architecture = "conv"
  config.model.channels = (8, 8, 8, 8)
  task = make_task(config, DIGITS)
  with pytest.raises(ValueError, match=r"image shape \(8, 8, 1\) cannot be taken by the convolutional encoder with 4 stride-2 stages"):
    task.init(key, random_batch(key, 1))
