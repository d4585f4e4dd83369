"""Activation normalisation (Kingma & Dhariwal 2018, Glow, sec. 3.1): a per-channel affine map.

  y = (x + bias) * exp(log_scale),   log|det J| = (positions per event) * sum(log_scale),
on the last axis of events of any rank (H * W positions per image [H, W, C], T per [T, C]).
`data_dependent_init` gives the parameters that make the first batch zero-mean, unit-variance per
channel; a Flax module calls it from its parameter initialiser.
"""

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, batch_shape, check_event_ndims, num_positions


class ActNorm(distrax.Bijector):
  """Per-channel `y = (x + bias) * exp(log_scale)` on events [..., C] of rank `event_ndims`."""

  def __init__(self, log_scale: jax.Array, bias: jax.Array, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 1, "ActNorm")
    super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)
    self.log_scale, self.bias = log_scale, bias

  def _log_det(self, x):
    positions = num_positions(x, self.event_ndims_in)
    return jnp.full(batch_shape(x, self.event_ndims_in), positions * jnp.sum(self.log_scale), x.dtype)

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
