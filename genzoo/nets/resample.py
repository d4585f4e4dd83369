"""2x resampling of images [B, H, W, C] with the separable FIR filter [1, 3, 3, 1] (StyleGAN2's
`upfirdn2d` with its default filter; Karras et al. 2020), written as shifts and weighted sums
so that XLA:CPU runs them as cheap element-wise work. Outside the image counts as zero.

Per axis, with x[-1] = x[n] = 0 beyond the edges:
  upsample:    out[2i] = (x[i-1] + 3 x[i]) / 4,            out[2i+1] = (3 x[i] + x[i+1]) / 4
  downsample:  out[o]  = (x[2o-1] + 3 x[2o] + 3 x[2o+1] + x[2o+2]) / 8
  blur:        out[n]  = (x[n-2] + 3 x[n-1] + 3 x[n] + x[n+1]) / 8,  n = 0 .. size (one longer)
Upsampling is zero insertion then the filter with gain 2 per axis (bilinear interpolation at
half-pixel offsets); downsampling is the filter then every second sample; `blur` is the filter
alone, padded so that a 3x3 convolution with stride 2 after it halves the size (the
discriminator's downsampling convolution).
"""

import jax
import jax.numpy as jnp

SPATIAL_AXES = (1, 2)


def _shifted(x: jax.Array, axis: int, offset: int) -> jax.Array:
  """out[i] = x[i + offset] along `axis`, zero where that falls outside."""
  padding = [(0, 0, 0)] * x.ndim
  padding[axis] = (-offset, offset, 0)
  return jax.lax.pad(x, jnp.zeros((), x.dtype), padding)


def _interleave(even: jax.Array, odd: jax.Array, axis: int) -> jax.Array:
  """out[2i] = even[i], out[2i + 1] = odd[i] along `axis`."""
  stacked = jnp.stack([even, odd], axis=axis + 1)
  shape = list(even.shape)
  shape[axis] *= 2
  return stacked.reshape(shape)


def _upsample_axis(x: jax.Array, axis: int) -> jax.Array:
  even = (_shifted(x, axis, -1) + 3.0 * x) / 4.0
  odd = (3.0 * x + _shifted(x, axis, 1)) / 4.0
  return _interleave(even, odd, axis)


def _downsample_axis(x: jax.Array, axis: int) -> jax.Array:
  size = x.shape[axis]
  even = jax.lax.slice_in_dim(x, 0, size, 2, axis)
  odd = jax.lax.slice_in_dim(x, 1, size, 2, axis)
  return (_shifted(odd, axis, -1) + 3.0 * even + 3.0 * odd + _shifted(even, axis, 1)) / 8.0


def _blur_axis(x: jax.Array, axis: int) -> jax.Array:
  padding = [(0, 0)] * x.ndim
  padding[axis] = (2, 2)
  padded = jnp.pad(x, padding)
  size = x.shape[axis] + 1
  taps = [jax.lax.slice_in_dim(padded, t, t + size, 1, axis) for t in range(4)]
  return (taps[0] + 3.0 * taps[1] + 3.0 * taps[2] + taps[3]) / 8.0


def upsample_2x(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, 2H, 2W, C]."""
  for axis in SPATIAL_AXES:
    x = _upsample_axis(x, axis)
  return x


def downsample_2x(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, C] (H and W even)."""
  if x.shape[1] % 2 or x.shape[2] % 2:
    raise ValueError(f"downsample_2x needs an even height and width, got {x.shape[1]}x{x.shape[2]}")
  for axis in SPATIAL_AXES:
    x = _downsample_axis(x, axis)
  return x


def blur(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H + 1, W + 1, C]: the filter before a stride-2 3x3 'VALID' convolution."""
  for axis in SPATIAL_AXES:
    x = _blur_axis(x, axis)
  return x
