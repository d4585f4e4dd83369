"""The logistic-mixture CDF transformer: exact tails, the inverse's tolerance, implicit gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from genzoo.bijectors import LogisticMixtureCDF
from genzoo.bijectors import mixture_cdf

LOGITS, MEANS, LOG_SCALES = [0.1, 0.2, 4.0], [-1.0, 0.0, 1.0], [-0.5, 0.3, -7.0]
EXTREMES = [-1e4, -300.0, -30.0, -1.0, 0.0, 0.999, 1.0, 1.001, 5.0, 50.0, 300.0, 1e4]


def bijector(dtype):
  return LogisticMixtureCDF(*(jnp.asarray(v, dtype) for v in (LOGITS, MEANS, LOG_SCALES, 0.3, 0.2)))


def test_forward_is_the_logit_of_the_mixture_cdf_and_its_log_density():
  with jax.enable_x64(True):
    x = jnp.linspace(-6.0, 6.0, 41)
    weights = np.exp(LOGITS) / np.sum(np.exp(LOGITS))
    cdf = sum(w * scipy.stats.logistic.cdf(np.asarray(x), m, np.exp(s)) for w, m, s in zip(weights, MEANS, LOG_SCALES))
    pdf = sum(w * scipy.stats.logistic.pdf(np.asarray(x), m, np.exp(s)) for w, m, s in zip(weights, MEANS, LOG_SCALES))
    y, log_det = bijector(jnp.float64).forward_and_log_det(x)
    np.testing.assert_allclose(y, (np.log(cdf) - np.log1p(-cdf)) * np.exp(0.2) + 0.3, rtol=1e-9)
    np.testing.assert_allclose(log_det, 0.2 + np.log(pdf) - np.log(cdf) - np.log1p(-cdf), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("x64", [False, True])
def test_inverse_reaches_its_tolerance_in_the_far_tails(x64):
  """Bisection in the exact bracket: the round trip is exact to the precision's resolution, from
  -1e4 to 1e4 (logit(F) up to 1e7 with the component of scale e^-7)."""
  with jax.enable_x64(x64):
    dtype = jnp.float64 if x64 else jnp.float32
    x = jnp.asarray(EXTREMES, dtype)
    b = bijector(dtype)
    y, log_det = jax.jit(b.forward_and_log_det)(x)
    x_back, inverse_log_det = jax.jit(b.inverse_and_log_det)(y)
    resolution = jnp.finfo(dtype).eps * 16
    assert bool(jnp.all(jnp.isfinite(y)))
    np.testing.assert_array_less(np.abs(x_back - x) / np.maximum(1.0, np.abs(x)), resolution)
    np.testing.assert_allclose(inverse_log_det, -log_det, atol=float(resolution) * 10)


def test_inverse_has_the_gradients_of_the_implicit_function():
  """d x / d shift = -exp(-a) / g'(x) and d x / d y = exp(-a) / g'(x), g = logit(F)."""
  with jax.enable_x64(True):
    y = jnp.asarray(1.7)

    def inverse(y, shift):
      return LogisticMixtureCDF(*(jnp.asarray(v) for v in (LOGITS, MEANS, LOG_SCALES)), shift, 0.2).inverse(y)

    x = inverse(y, 0.3)
    slope = jnp.exp(mixture_cdf.log_dlogit_mixture_cdf(x, *(jnp.asarray(v) for v in (LOGITS, MEANS, LOG_SCALES))))
    d_y, d_shift = jax.grad(inverse, argnums=(0, 1))(y, 0.3)
    np.testing.assert_allclose(d_y, np.exp(-0.2) / slope, rtol=1e-9)
    np.testing.assert_allclose(d_shift, -np.exp(-0.2) / slope, rtol=1e-9)


def test_log_scales_are_clamped_as_in_the_paper():
  b = LogisticMixtureCDF(jnp.zeros(2), jnp.zeros(2), jnp.array([-30.0, 1.0]), 0.0, 0.0)
  np.testing.assert_array_equal(b.log_scales, [mixture_cdf.MIN_LOG_SCALE, 1.0])


def test_transformer_refuses_a_wrong_parameter_count():
  with pytest.raises(ValueError, match=r"takes 2 \+ 3 \* 4 parameters per entry, got 11"):
    mixture_cdf.mixture_cdf_transformer(4)(tuple(jnp.zeros(3) for _ in range(11)))


def test_an_inverse_short_of_its_tolerance_is_nan_and_counted_not_returned():
  """Too few bisection steps, or a target the mixture cannot reach (inf), leave NaN where the
  residual check fails, and finite roots everywhere else."""
  b = bijector(jnp.float32)
  y = b.forward(jnp.asarray(EXTREMES, jnp.float32))
  x_short = LogisticMixtureCDF(*(jnp.asarray(v, jnp.float32) for v in (LOGITS, MEANS, LOG_SCALES, 0.3, 0.2)),
                               num_iterations=8).inverse(y)
  assert 0 < int(jnp.sum(jnp.isnan(x_short))) < len(EXTREMES)
  x_inf = np.asarray(b.inverse(jnp.asarray([jnp.inf, 1.0, -jnp.inf, jnp.nan])))
  assert np.isnan(x_inf[[0, 2, 3]]).all() and np.isfinite(x_inf[1])
