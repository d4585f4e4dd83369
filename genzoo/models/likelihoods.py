"""Observation models p(x | z) for images of `num_levels` grey levels per sub-pixel.

Every `log_prob` returns the log-probability, in nats, of the *discrete* image `x` (uint8 values
in {0, ..., K-1} with K = `num_levels`), summed over the H*W*C event dimensions, so every model
reports a bound on the same quantity and bits/dim is `-log P(x) / (D log 2)`.
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from genzoo.errors import UserError

MIN_LOG_SCALE = -7.0  # floor on per-sub-pixel log-scales, as in PixelCNN++


def _sum_event(x: jax.Array) -> jax.Array:
  return jnp.sum(x, axis=(-3, -2, -1))


def to_unit_interval(x: jax.Array, num_levels: int) -> jax.Array:
  """Maps levels {0, ..., K-1} to [0, 1]."""
  return x.astype(jnp.float32) / (num_levels - 1)


def to_levels(values: jax.Array, num_levels: int) -> jax.Array:
  """Maps [0, 1] to the nearest of K levels, as uint8."""
  return jnp.round(jnp.clip(values, 0.0, 1.0) * (num_levels - 1)).astype(jnp.uint8)


@dataclasses.dataclass(frozen=True)
class Bernoulli:
  """Independent Bernoulli sub-pixels parameterised by logits; for binarised data (K = 2)."""

  num_params: ClassVar[int] = 1

  def check_levels(self, num_levels: int) -> None:
    if num_levels != 2:
      raise UserError(
          f"the bernoulli likelihood needs binary data (2 levels) but the data has {num_levels}; "
          "set data.binarize to 'static' or 'dynamic', or use the 'logistic' or 'gaussian' likelihood"
      )

  def log_prob(self, params, x, num_levels, key):
    del num_levels, key
    logits = params[..., 0]
    return _sum_event(jnp.where(x > 0, -jax.nn.softplus(-logits), -jax.nn.softplus(logits)))

  def mean(self, params, num_levels):
    return to_levels(jax.nn.sigmoid(params[..., 0]), num_levels)


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic:
  """One logistic per sub-pixel, integrated over each of the K bins of [-1, 1].

  Salimans et al. 2017 (PixelCNN++), eq. 2 with a single mixture component: the two edge bins take
  the logistic's tails. With a = (x + delta - mu)/s and b = (x - delta - mu)/s, the interior bin
  mass is sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)), whose logarithm is
  evaluated stably term by term.
  """

  num_params: ClassVar[int] = 2

  def check_levels(self, num_levels: int) -> None:
    if num_levels < 2:
      raise UserError(f"the logistic likelihood needs at least 2 levels, got {num_levels}")

  def log_prob(self, params, x, num_levels, key):
    del key
    loc, log_scale = params[..., 0], jnp.maximum(params[..., 1], MIN_LOG_SCALE)
    centre = 2.0 * to_unit_interval(x, num_levels) - 1.0
    half_bin = 1.0 / (num_levels - 1)
    inv_scale = jnp.exp(-log_scale)
    upper = (centre + half_bin - loc) * inv_scale
    lower = (centre - half_bin - loc) * inv_scale
    log_cdf_upper = -jax.nn.softplus(-upper)
    log_survival_lower = -jax.nn.softplus(lower)
    log_interior = log_cdf_upper + log_survival_lower + jnp.log(-jnp.expm1(-2.0 * half_bin * inv_scale))
    log_mass = jnp.where(
        x == 0, log_cdf_upper, jnp.where(x == num_levels - 1, log_survival_lower, log_interior)
    )
    return _sum_event(log_mass)

  def mean(self, params, num_levels):
    return to_levels((params[..., 0] + 1.0) / 2.0, num_levels)


@dataclasses.dataclass(frozen=True)
class DequantizedGaussian:
  """A Gaussian density on uniformly dequantised data y = (x + u) / K, u ~ U[0, 1)^D.

  log P(x) >= E_u[log p(y)] - D log K (Jensen), the bound used by every continuous model here
  (Theis et al. 2016; the bits/dim formula of the guide). One noise draw per call.
  """

  num_params: ClassVar[int] = 2

  def check_levels(self, num_levels: int) -> None:
    if num_levels < 2:
      raise UserError(f"the gaussian likelihood needs at least 2 levels, got {num_levels}")

  def log_prob(self, params, x, num_levels, key):
    loc, log_scale = params[..., 0], jnp.maximum(params[..., 1], MIN_LOG_SCALE)
    noise = jax.random.uniform(key, x.shape)
    y = (x.astype(jnp.float32) + noise) / num_levels
    log_density = -0.5 * jnp.square((y - loc) * jnp.exp(-log_scale)) - log_scale - 0.5 * jnp.log(2 * jnp.pi)
    return _sum_event(log_density) - _event_size(x) * jnp.log(num_levels)

  def mean(self, params, num_levels):
    return jnp.clip(jnp.floor(params[..., 0] * num_levels), 0, num_levels - 1).astype(jnp.uint8)


def _event_size(x: jax.Array) -> int:
  return x.shape[-1] * x.shape[-2] * x.shape[-3]


LIKELIHOODS = {
    "bernoulli": Bernoulli(),
    "logistic": DiscretizedLogistic(),
    "gaussian": DequantizedGaussian(),
}


def get_likelihood(name: str):
  if name not in LIKELIHOODS:
    raise UserError(f"unknown likelihood {name!r}; known: {sorted(LIKELIHOODS)}")
  return LIKELIHOODS[name]
