"""Volume-preserving rearrangements: squeeze (space-to-depth, Dinh et al. 2017 sec. 3.6), grouping
of waveform samples (Prenger et al. 2019, sec. 2), pairing of adjacent positions, and fixed channel
permutations."""

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, batch_shape, check_event_ndims


def squeeze(x: jax.Array) -> jax.Array:
  """[..., H, W, C] -> [..., H/2, W/2, 4C]: each 2x2 patch becomes one pixel's channels."""
  *batch, height, width, depth = x.shape
  if height % 2 or width % 2:
    raise ValueError(
        f"squeeze needs an even height and width, got an image of shape {(height, width, depth)}")
  x = x.reshape(*batch, height // 2, 2, width // 2, 2, depth)
  x = jnp.moveaxis(x, -4, -3)  # [..., H/2, W/2, 2, 2, C]
  return x.reshape(*batch, height // 2, width // 2, 4 * depth)


def unsqueeze(y: jax.Array) -> jax.Array:
  """The inverse of `squeeze`: [..., H, W, 4C] -> [..., 2H, 2W, C]."""
  *batch, height, width, depth = y.shape
  if depth % 4:
    raise ValueError(f"unsqueeze needs a multiple of 4 channels, got shape {(height, width, depth)}")
  y = y.reshape(*batch, height, width, 2, 2, depth // 4)
  y = jnp.moveaxis(y, -3, -4)  # [..., H, 2, W, 2, C/4]
  return y.reshape(*batch, 2 * height, 2 * width, depth // 4)


class Squeeze(distrax.Bijector):
  """Space-to-depth by 2x2 patches of images [..., H, W, C]; volume preserving (log-det 0)."""

  def __init__(self):
    super().__init__(event_ndims_in=IMAGE_EVENT_NDIMS, is_constant_jacobian=True)

  def forward_and_log_det(self, x):
    return squeeze(x), jnp.zeros(x.shape[:-3], x.dtype)

  def inverse_and_log_det(self, y):
    return unsqueeze(y), jnp.zeros(y.shape[:-3], y.dtype)


class GroupSamples(distrax.Bijector):
  """Waveforms [..., T] -> [..., T / group, group]: each run of `group` consecutive samples becomes
  one position's channels (WaveGlow's squeeze, 8 samples per group); volume preserving."""

  def __init__(self, group: int):
    super().__init__(event_ndims_in=1, event_ndims_out=2, is_constant_jacobian=True)
    self.group = group

  def forward_and_log_det(self, x):
    if x.shape[-1] % self.group:
      raise ValueError(f"grouping by {self.group} needs a length divisible by {self.group}, got {x.shape[-1]} samples")
    return x.reshape(x.shape[:-1] + (x.shape[-1] // self.group, self.group)), jnp.zeros(x.shape[:-1], x.dtype)

  def inverse_and_log_det(self, y):
    if y.shape[-1] != self.group:
      raise ValueError(f"ungrouping expects {self.group} channels, got shape {y.shape[-2:]}")
    return y.reshape(y.shape[:-2] + (-1,)), jnp.zeros(y.shape[:-2], y.dtype)


def pair_adjacent(x: jax.Array, event_ndims: int) -> jax.Array:
  """[..., 2n, C] -> [..., n, 2C] along the last position axis of events of rank `event_ndims`:
  each pair of adjacent positions becomes one position, the even one's channels first."""
  *outer, length, depth = x.shape
  if length % 2:
    raise ValueError(f"pairing adjacent positions needs an even number of them along the last position "
                     f"axis, got an event of shape {tuple(x.shape[x.ndim - event_ndims:])}")
  return x.reshape(*outer, length // 2, 2 * depth)


def unpair_adjacent(y: jax.Array) -> jax.Array:
  """The inverse of `pair_adjacent`: [..., n, 2C] -> [..., 2n, C]."""
  *outer, length, depth = y.shape
  return y.reshape(*outer, 2 * length, depth // 2)


class PairAdjacent(distrax.Bijector):
  """[..., 2n, C] -> [..., n, 2C]: adjacent positions along the last position axis paired into
  channels (see `pair_adjacent`); log-det 0. On images the halves of the new channels are the even
  and the odd columns, so a `SplitPartition` coupling after it conditions one set of columns on
  the other: Flow++'s "checkerboard split" (Ho et al. 2019), at half the conditioner's cost of a
  masked checkerboard."""

  def __init__(self, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 2, "PairAdjacent")
    super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)

  def forward_and_log_det(self, x):
    return pair_adjacent(x, self.event_ndims_in), jnp.zeros(batch_shape(x, self.event_ndims_in), x.dtype)

  def inverse_and_log_det(self, y):
    return unpair_adjacent(y), jnp.zeros(batch_shape(y, self.event_ndims_in), y.dtype)


class ChannelPermutation(distrax.Bijector):
  """Reorders the last axis of events of rank `event_ndims` by a fixed `permutation` (e.g.
  reversal, RealNVP/Glow's simplest mixing)."""

  def __init__(self, permutation, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 1, "ChannelPermutation")
    super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)
    self.permutation = jnp.asarray(permutation)
    self.inverse_permutation = jnp.argsort(self.permutation)

  def forward_and_log_det(self, x):
    return x[..., self.permutation], jnp.zeros(batch_shape(x, self.event_ndims_in), x.dtype)

  def inverse_and_log_det(self, y):
    return y[..., self.inverse_permutation], jnp.zeros(batch_shape(y, self.event_ndims_in), y.dtype)
