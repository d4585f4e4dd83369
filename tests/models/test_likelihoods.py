import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.models import likelihoods


@pytest.mark.parametrize("num_levels", [2, 17, 256])
def test_discretized_logistic_sums_to_one_over_levels(key, num_levels):
  loc_key, scale_key = jax.random.split(key)
  loc = jax.random.uniform(loc_key, (5,), minval=-1.5, maxval=1.5)
  log_scale = jax.random.uniform(scale_key, (5,), minval=-6.0, maxval=1.0)
  levels = jnp.arange(num_levels, dtype=jnp.uint8)
  # One sub-pixel per "image": shape [levels, 5 params sets, 1, 1, 1].
  x = jnp.broadcast_to(levels[:, None], (num_levels, 5)).reshape(num_levels, 5, 1, 1, 1)
  params = jnp.stack([loc, log_scale], -1).reshape(1, 5, 1, 1, 1, 2)
  log_p = likelihoods.DiscretizedLogistic().log_prob(params, x, num_levels, None)
  np.testing.assert_allclose(jnp.sum(jnp.exp(log_p), axis=0), 1.0, rtol=1e-5)
  assert bool(jnp.all(jnp.isfinite(log_p)))


def test_discretized_logistic_is_finite_for_extreme_scales():
  x = jnp.array([0, 100, 255], jnp.uint8).reshape(3, 1, 1, 1)
  for loc, log_scale in [(0.0, -20.0), (5.0, -7.0), (-5.0, 3.0)]:
    params = jnp.broadcast_to(jnp.array([loc, log_scale]), (3, 1, 1, 1, 2))
    value, grad = jax.value_and_grad(
        lambda p: jnp.sum(likelihoods.DiscretizedLogistic().log_prob(p, x, 256, None))
    )(params)
    assert jnp.isfinite(value) and bool(jnp.all(jnp.isfinite(grad)))


def test_bernoulli_matches_its_definition(key):
  logits = jax.random.normal(key, (4, 2, 2, 1, 1))
  x = (jax.random.uniform(jax.random.fold_in(key, 1), (4, 2, 2, 1)) > 0.5).astype(jnp.uint8)
  p = jax.nn.sigmoid(logits[..., 0])
  expected = jnp.sum(jnp.log(jnp.where(x > 0, p, 1 - p)), axis=(1, 2, 3))
  np.testing.assert_allclose(likelihoods.Bernoulli().log_prob(logits, x, 2, None), expected, rtol=1e-5)


def test_dequantized_gaussian_uniform_density_scores_log_k_per_dim(key):
  # A density equal to 1 on [0, 1)^D gives log P(x) = -D log K: exactly n_bits bits per dim.
  x = jnp.zeros((1, 2, 2, 1), jnp.uint8)
  log_scale = -0.5 * jnp.log(2 * jnp.pi)  # N(loc, s) with s = 1/sqrt(2 pi) has density 1 at loc
  params = jnp.zeros((1, 2, 2, 1, 2)).at[..., 0].set(jnp.nan).at[..., 1].set(log_scale)
  # Place loc on the dequantised point itself, so the density there is exactly 1.
  noise = jax.random.uniform(key, x.shape)
  params = params.at[..., 0].set(noise / 256)
  log_p = likelihoods.DequantizedGaussian().log_prob(params, x, 256, key)
  np.testing.assert_allclose(-log_p / (4 * jnp.log(2.0)), 8.0, rtol=1e-6)


def test_bernoulli_rejects_non_binary_data():
  with pytest.raises(ValueError, match="needs binary data .2 levels. but the data has 256"):
    likelihoods.Bernoulli().check_levels(256)


def test_unknown_likelihood_lists_known():
  with pytest.raises(ValueError, match=r"unknown likelihood 'poisson'; known: \['bernoulli', 'gaussian', 'logistic'\]"):
    likelihoods.get_likelihood("poisson")
