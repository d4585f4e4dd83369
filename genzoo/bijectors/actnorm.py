"""Activation normalisation (Kingma & Dhariwal 2018, Glow, sec. 3.1): a per-channel affine map.

  y = (x + bias) * exp(log_scale),   log|det J| = H * W * sum(log_scale).
`data_dependent_init` gives the parameters that make the first batch zero-mean, unit-variance per
channel; a Flax module calls it from its parameter initialiser.
"""

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, num_pixels


class ActNorm(distrax.Bijector):
  """Per-channel `y = (x + bias) * exp(log_scale)` on images [..., H, W, C]."""

  def __init__(self, log_scale: jax.Array, bias: jax.Array):
    super().__init__(event_ndims_in=IMAGE_EVENT_NDIMS, is_constant_jacobian=True)
    self.log_scale, self.bias = log_scale, bias

  def _log_det(self, x):
    return jnp.full(x.shape[:-3], num_pixels(x) * jnp.sum(self.log_scale), x.dtype)

  def forward_and_log_det(self, x):
    return (x + self.bias) * jnp.exp(self.log_scale), self._log_det(x)

  def inverse_and_log_det(self, y):
    return y * jnp.exp(-self.log_scale) - self.bias, -self._log_det(y)


def data_dependent_init(x: jax.Array, eps: float = 1e-6) -> tuple[jax.Array, jax.Array]:
  """(log_scale, bias) that standardise each channel of the batch `x` [..., C]."""
  axes = tuple(range(x.ndim - 1))
  mean = jnp.mean(x, axis=axes)
  std = jnp.std(x, axis=axes)
  return -jnp.log(std + eps), -mean
