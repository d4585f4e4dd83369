"""Affine coupling layers (Dinh et al. 2017, RealNVP, eq. 7-9; Kingma & Dhariwal 2018, Glow).

The input is split by a mask into an identity part x_a and a transformed part x_b:
  y_a = x_a,   y_b = x_b * exp(log_s(x_a)) + t(x_a),   log|det J| = sum log_s(x_a).
The conditioner (any callable, e.g. a bound Flax module) maps x_a to (t, raw) and the log-scale is
a bounded function of raw, for stability:
  "tanh":    log_s = tanh(raw) * tanh_scale   (RealNVP; `tanh_scale` per channel, default 1)
  "sigmoid": log_s = log sigmoid(raw + 2)     (Glow; scales start near 0.88 and never exceed 1)
"""

from collections.abc import Callable

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, sum_image

SCALE_FORMS = ("tanh", "sigmoid")
Conditioner = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def bounded_log_scale(raw: jax.Array, form: str, tanh_scale: jax.Array | float = 1.0) -> jax.Array:
  """The log-scale of an affine coupling from the conditioner's raw output."""
  if form == "tanh":
    return jnp.tanh(raw) * tanh_scale
  if form == "sigmoid":
    return jax.nn.log_sigmoid(raw + 2.0)
  raise ValueError(f"unknown coupling scale form {form!r}; known: {list(SCALE_FORMS)}")


def checkerboard_mask(shape: tuple[int, int, int], parity: int) -> jax.Array:
  """1 on the squares where (row + column) % 2 == parity, for every channel: [H, W, C]."""
  height, width, depth = shape
  rows, columns = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
  mask = ((rows + columns) % 2 == parity).astype(jnp.float32)
  return jnp.broadcast_to(mask[:, :, None], (height, width, depth))


def channel_mask(shape: tuple[int, int, int], parity: int) -> jax.Array:
  """1 on the first half of the channels (parity 0) or on the second half (parity 1): [H, W, C]."""
  height, width, depth = shape
  first_half = jnp.arange(depth) < depth // 2
  mask = (first_half if parity == 0 else ~first_half).astype(jnp.float32)
  return jnp.broadcast_to(mask, (height, width, depth))


class MaskedAffineCoupling(distrax.Bijector):
  """Affine coupling whose identity part is where `mask` is 1 (checkerboard or channel masks).

  The conditioner sees `mask * x` and returns (shift, raw) of the full image shape; only the
  entries where the mask is 0 are transformed.
  """

  def __init__(self, conditioner: Conditioner, mask: jax.Array, scale_form: str = "tanh",
               tanh_scale: jax.Array | float = 1.0):
    super().__init__(event_ndims_in=IMAGE_EVENT_NDIMS)
    self.conditioner, self.mask = conditioner, mask
    self.scale_form, self.tanh_scale = scale_form, tanh_scale

  def _shift_and_log_scale(self, x_identity):
    shift, raw = self.conditioner(x_identity)
    transformed = 1.0 - self.mask
    return shift * transformed, bounded_log_scale(raw, self.scale_form, self.tanh_scale) * transformed

  def forward_and_log_det(self, x):
    x_identity = x * self.mask
    shift, log_scale = self._shift_and_log_scale(x_identity)
    return x_identity + (1.0 - self.mask) * x * jnp.exp(log_scale) + shift, sum_image(log_scale)

  def inverse_and_log_det(self, y):
    y_identity = y * self.mask
    shift, log_scale = self._shift_and_log_scale(y_identity)
    return y_identity + (1.0 - self.mask) * (y - shift) * jnp.exp(-log_scale), -sum_image(log_scale)


class ChannelAffineCoupling(distrax.Bijector):
  """Affine coupling over channel halves: the first C//2 channels condition the rest.

  Cheaper than a channel mask: the conditioner sees only x_a [.., C//2] and returns (shift, raw)
  for x_b [..., C - C//2].
  """

  def __init__(self, conditioner: Conditioner, scale_form: str = "sigmoid",
               tanh_scale: jax.Array | float = 1.0):
    super().__init__(event_ndims_in=IMAGE_EVENT_NDIMS)
    self.conditioner, self.scale_form, self.tanh_scale = conditioner, scale_form, tanh_scale

  def _split(self, x):
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]

  def _shift_and_log_scale(self, x_a):
    shift, raw = self.conditioner(x_a)
    return shift, bounded_log_scale(raw, self.scale_form, self.tanh_scale)

  def forward_and_log_det(self, x):
    x_a, x_b = self._split(x)
    shift, log_scale = self._shift_and_log_scale(x_a)
    y_b = x_b * jnp.exp(log_scale) + shift
    return jnp.concatenate([x_a, y_b], axis=-1), sum_image(log_scale)

  def inverse_and_log_det(self, y):
    y_a, y_b = self._split(y)
    shift, log_scale = self._shift_and_log_scale(y_a)
    x_b = (y_b - shift) * jnp.exp(-log_scale)
    return jnp.concatenate([y_a, x_b], axis=-1), -sum_image(log_scale)
