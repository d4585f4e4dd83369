"""Helpers for bijectors on events of any rank `event_ndims`, with any leading batch axes.

The last event axis holds channels (image [H, W, C], waveform [T, C], vector [D]); the axes before
it are positions, over which per-channel maps (ActNorm, 1x1 convolutions) are repeated.
"""

import math

import jax
import jax.numpy as jnp

IMAGE_EVENT_NDIMS = 3  # [H, W, C]: the default rank of the image bijectors


def sum_event(x: jax.Array, event_ndims: int) -> jax.Array:
  """Sums over the `event_ndims` trailing axes: one log-det per example."""
  return jnp.sum(x, axis=tuple(range(-event_ndims, 0)))


def num_positions(x: jax.Array, event_ndims: int) -> int:
  """How often a per-channel map is applied to one event: H * W of an image, T of a waveform."""
  return math.prod(x.shape[x.ndim - event_ndims:-1])


def batch_shape(x: jax.Array, event_ndims: int) -> tuple[int, ...]:
  return x.shape[: x.ndim - event_ndims]


def check_event_ndims(event_ndims: int, minimum: int, name: str) -> None:
  if not isinstance(event_ndims, int) or event_ndims < minimum:
    raise ValueError(f"{name} needs event_ndims >= {minimum}, got {event_ndims!r}")
