"""Helpers for bijectors on image events of rank 3 (H, W, C) with any leading batch axes."""

import jax
import jax.numpy as jnp

IMAGE_EVENT_NDIMS = 3
IMAGE_AXES = (-3, -2, -1)


def sum_image(x: jax.Array) -> jax.Array:
  """Sums over the event axes (H, W, C): one log-det per example."""
  return jnp.sum(x, axis=IMAGE_AXES)


def num_pixels(x: jax.Array) -> int:
  """H * W of an image batch [..., H, W, C]: how often a per-channel map is applied."""
  return x.shape[-3] * x.shape[-2]


def batch_shape(x: jax.Array) -> tuple[int, ...]:
  return x.shape[: x.ndim - IMAGE_EVENT_NDIMS]
