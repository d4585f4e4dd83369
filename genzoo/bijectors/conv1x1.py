"""Invertible 1x1 convolutions (Kingma & Dhariwal 2018, Glow, sec. 3.2), written as channel matmuls.

A 1x1 convolution with weight W [C, C] maps the channels (last axis) of every position y = W x,
so log|det J| = (positions per event) * log|det W|: H * W for images [H, W, C], T for [T, C]
(WaveGlow's invertible convolution), 1 for vectors. The LU form (Glow eq. 10) stores
  W = P L (U + diag(sign * exp(log_abs_diag)))
with P a fixed permutation, L unit lower triangular, U strictly upper triangular, so
log|det W| = sum(log_abs_diag) costs O(C). On XLA:CPU an einsum is much faster than a 1x1 conv.
"""

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, batch_shape, check_event_ndims, num_positions


def _mix_channels(x: jax.Array, weight: jax.Array) -> jax.Array:
  return jnp.einsum("...c,dc->...d", x, weight)


def _per_event(x: jax.Array, event_ndims: int, log_abs_det_weight: jax.Array) -> jax.Array:
  """The log-det of one event: one log|det W| per position, for every example of the batch."""
  return jnp.full(batch_shape(x, event_ndims), num_positions(x, event_ndims) * log_abs_det_weight, x.dtype)


class Invertible1x1Conv(distrax.Bijector):
  """A dense invertible channel-mixing matrix W [C, C]; log|det W| by `slogdet`."""

  def __init__(self, weight: jax.Array, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 1, "Invertible1x1Conv")
    super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)
    self.weight = weight

  def _log_det(self, x):
    return _per_event(x, self.event_ndims_in, jnp.linalg.slogdet(self.weight)[1])

  def forward_and_log_det(self, x):
    return _mix_channels(x, self.weight), self._log_det(x)

  def inverse_and_log_det(self, y):
    return _mix_channels(y, jnp.linalg.inv(self.weight)), -self._log_det(y)


class LUInvertible1x1Conv(distrax.Bijector):
  """The LU-decomposed 1x1 convolution; see the module docstring for the parameterisation.

  `lower` and `upper` are full [C, C] parameters of which only the strict lower / strict upper
  triangles are used; `permutation` [C, C] and `sign` [C] are constants fixed at initialisation.
  """

  def __init__(self, permutation: jax.Array, lower: jax.Array, upper: jax.Array,
               log_abs_diag: jax.Array, sign: jax.Array, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 1, "LUInvertible1x1Conv")
    super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)
    depth = log_abs_diag.shape[-1]
    eye = jnp.eye(depth, dtype=lower.dtype)
    self.permutation = permutation
    self.lower = jnp.tril(lower, -1) + eye
    self.upper = jnp.triu(upper, 1) + jnp.diag(sign * jnp.exp(log_abs_diag))
    self.log_abs_diag = log_abs_diag

  @property
  def weight(self) -> jax.Array:
    return self.permutation @ self.lower @ self.upper

  def _log_det(self, x):
    return _per_event(x, self.event_ndims_in, jnp.sum(self.log_abs_diag))

  def forward_and_log_det(self, x):
    return _mix_channels(x, self.weight), self._log_det(x)

  def inverse_and_log_det(self, y):
    # W^-1 = U^-1 L^-1 P^T by two triangular solves; P is a permutation, so P^-1 = P^T.
    solve = jax.scipy.linalg.solve_triangular
    inverse = solve(self.upper, solve(self.lower, self.permutation.T, lower=True), lower=False)
    return _mix_channels(y, inverse), -self._log_det(y)


def lu_init(key: jax.Array, depth: int) -> dict[str, jax.Array]:
  """LU parameters of a random rotation (Glow's initialisation): a dict of the constructor's
  arguments. `permutation` and `sign` are meant to stay fixed (not trained)."""
  rotation, _ = jnp.linalg.qr(jax.random.normal(key, (depth, depth)))
  permutation, lower, upper = jax.scipy.linalg.lu(rotation)
  diag = jnp.diag(upper)
  return {
      "permutation": permutation,
      "lower": lower,
      "upper": jnp.triu(upper, 1),
      "log_abs_diag": jnp.log(jnp.abs(diag)),
      "sign": jnp.sign(diag),
  }

