"""Convolutions written as one matmul plus shifts, which XLA:CPU runs far faster than its
convolution kernels (above all their gradients), and accelerators run as well.

Each layer owns a kernel in `nn.Conv` layout [kh, kw, C_in, C_out] and arranges its matmul so
that the tensor it materialises is the smaller one:
  patches: each pixel's neighbourhood stacked in channels, times the flattened kernel;
  taps:    every pixel times every kernel tap at once, the products then shifted to the
           neighbours they belong to and summed.
Shifts are `lax.pad`s with negative padding, and taps are separated with `jnp.split`, so that
gradients are again shifts and concatenations rather than full-size scatters.
"""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp

# Stride-2 4x4 convolution, 'SAME' padding: output row o sees input rows 2o - 1 ... 2o + 2. Its
# transpose sends tap t of input row o to output row 2o + t - 1, that is to phase a = (t + 1) % 2
# of row p = o + (t - 1 - a) / 2: per phase, the (tap, row offset o - p) pairs are
TRANSPOSED_TAPS = {0: ((1, 0), (3, -1)), 1: ((0, 1), (2, 0))}


def shift(x: jax.Array, dh: int, dw: int) -> jax.Array:
  """[B, H, W, C] -> out[b, h, w] = x[b, h + dh, w + dw], zero where that falls outside."""
  return jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (-dh, dh, 0), (-dw, dw, 0), (0, 0, 0)])


def split_taps(taps: jax.Array, num_taps: int) -> list[jax.Array]:
  """[B, H, W, num_taps * F] -> num_taps arrays [B, H, W, F], in tap order."""
  return jnp.split(taps, num_taps, axis=-1)


def patches_3x3(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H, W, 9C]: each pixel's zero-padded 3x3 neighbourhood, in channels."""
  return jnp.concatenate([shift(x, i - 1, j - 1) for i in range(3) for j in range(3)], axis=-1)


def sum_shifted_taps(taps: jax.Array) -> jax.Array:
  """[B, H, W, 9F] (tap-major) -> [B, H, W, F]: out[h, w] = sum_ij taps_ij[h + i - 1, w + j - 1].

  `taps_ij[p]` is pixel p's contribution to the neighbour that sees it through kernel tap (i, j)."""
  tap_arrays = split_taps(taps, 9)
  return sum(shift(tap, i - 1, j - 1) for tap, (i, j) in zip(tap_arrays, itertools.product(range(3), range(3))))


def strided_patches_4x4(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, 16C]: the 4x4 neighbourhood seen by each stride-2 output."""
  height, width = x.shape[1], x.shape[2]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return jnp.concatenate(
      [padded[:, i : i + height : 2, j : j + width : 2] for i in range(4) for j in range(4)], axis=-1)


def strided_patches_3x3(x: jax.Array) -> jax.Array:
  """[B, 2H + 1, 2W + 1, C] -> [B, H, W, 9C]: the 3x3 'VALID' neighbourhoods at stride 2 (after
  `resample.blur`, a downsampling 3x3 convolution)."""
  height, width = (x.shape[1] - 1) // 2, (x.shape[2] - 1) // 2
  return jnp.concatenate(
      [x[:, i : i + 2 * height : 2, j : j + 2 * width : 2] for i in range(3) for j in range(3)], axis=-1)


def interleave_phases(phases: list[list[jax.Array]]) -> jax.Array:
  """phases[a][b] [B, H, W, C] -> [B, 2H, 2W, C] with out[2p + a, 2q + b] = phases[a][b][p, q]."""
  stacked = jnp.stack([jnp.stack(row, axis=3) for row in phases], axis=2)  # [B, H, 2, W, 2, C]
  batch, height, _, width, _, depth = stacked.shape
  return stacked.reshape(batch, 2 * height, 2 * width, depth)


def conv_3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """[B, H, W, C_in] * kernel [3, 3, C_in, C_out], 'SAME', no bias.

  Patches [.., 9 C_in] @ kernel when C_in <= C_out; otherwise x @ kernel [C_in, 9 C_out] gives
  every pixel's 9 tap outputs, which `sum_shifted_taps` adds up where they belong."""
  in_features, out_features = kernel.shape[2], kernel.shape[3]
  if in_features <= out_features:
    return patches_3x3(x) @ kernel.reshape(9 * in_features, out_features)
  return sum_shifted_taps(x @ kernel.transpose(2, 0, 1, 3).reshape(in_features, 9 * out_features))


class Conv3x3(nn.Module):
  """A 3x3 'SAME' convolution with bias, the function and parameters of `nn.Conv(F, (3, 3))`,
  computed by `conv_3x3`."""

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (3, 3, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return conv_3x3(x, kernel) + bias


class StridedConv4x4(nn.Module):
  """A 4x4 stride-2 'SAME' convolution with bias (DCGAN's downsampling layer), the function and
  parameters of `nn.Conv(F, (4, 4), strides=2, padding="SAME")`: strided patches @ kernel."""

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    in_features = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init, (4, 4, in_features, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return strided_patches_4x4(x) @ kernel.reshape(16 * in_features, self.features) + bias


class TransposedConv4x4(nn.Module):
  """The transpose of a 4x4 stride-2 'SAME' convolution, plus bias (DCGAN's upsampling layer):
  [B, H, W, C] -> [B, 2H, 2W, features].

  The kernel [4, 4, features, C] is that of the strided convolution it transposes, so the layer
  is exactly the gradient of `StridedConv4x4` with respect to its input. x @ kernel gives every
  pixel's 16 tap outputs; each output phase (row and column parity) sums four of them, shifted.
  """

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    in_features = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init, (4, 4, self.features, in_features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    taps = split_taps(x @ kernel.transpose(3, 0, 1, 2).reshape(in_features, 16 * self.features), 16)
    phases = [[
        sum(shift(taps[4 * th + tw], dh, dw) for th, dh in TRANSPOSED_TAPS[a] for tw, dw in TRANSPOSED_TAPS[b])
        for b in (0, 1)] for a in (0, 1)]
    return interleave_phases(phases) + bias
