"""Conditioner networks for coupling layers and split priors.

The last layer of every conditioner is zero-initialised (Glow, sec. 3.3), so each coupling starts
as the identity and a deep flow trains stably. Channel mixing at 1x1 is written as Dense (a
matmul), which XLA:CPU runs much faster than a 1x1 convolution.
"""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo.nets.conv import fold_batch


def patches_3x3(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H, W, 9C]: each pixel's zero-padded 3x3 neighbourhood, in channels."""
  height, width = x.shape[1], x.shape[2]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return jnp.concatenate(
      [padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3)], axis=-1)


def sum_shifted_taps(taps: jax.Array) -> jax.Array:
  """[B, H, W, 3, 3, F] -> [B, H, W, F]: out[h, w] = sum_ij taps[h + i - 1, w + j - 1, i, j].

  `taps[p, i, j]` is pixel p's contribution to the neighbour that sees it through kernel tap
  (i, j); pixels outside the image contribute zero ('SAME' padding). Written as a split and
  shifts so that the gradient is a concatenation of shifted copies of the output gradient."""
  per_tap = jnp.split(taps.reshape(taps.shape[:3] + (9, taps.shape[-1])), 9, axis=3)
  total = 0.0
  for tap, (i, j) in zip(per_tap, itertools.product(range(3), range(3))):
    # A negative low pad crops: shifted[h, w] = tap[h + i - 1, w + j - 1], zero outside.
    total += jax.lax.pad(tap[:, :, :, 0], 0.0, [(0, 0, 0), (1 - i, i - 1, 0), (1 - j, j - 1, 0), (0, 0, 0)])
  return total


class Conv3x3(nn.Module):
  """A 3x3 'SAME' convolution (kernel [3, 3, C_in, features] and bias, as `nn.Conv`) as one matmul.

  XLA:CPU runs a matmul, and above all its gradient, far faster than its convolution kernels. The
  matmul is arranged so that the tensor it materialises is the smaller of two:
    C_in <= features: patches [.., 9 C_in] @ kernel [9 C_in, features];
    C_in > features:  x @ kernel [C_in, 9 features] gives every pixel's 9 tap outputs, which
                      `sum_shifted_taps` adds up at the neighbours they belong to.
  """

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    in_features = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init, (3, 3, in_features, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    if in_features <= self.features:
      y = patches_3x3(x) @ kernel.reshape(9 * in_features, self.features)
    else:
      taps_kernel = kernel.transpose(2, 0, 1, 3).reshape(in_features, 9 * self.features)
      taps = (x @ taps_kernel).reshape(x.shape[:-1] + (3, 3, self.features))
      y = sum_shifted_taps(taps)
    return y + bias


class ZeroConv(nn.Module):
  """3x3 convolution initialised to output zeros, with a learned per-channel output scale
  exp(3 * log_gain) as in Glow's Conv2dZeros."""

  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    y = Conv3x3(self.features, kernel_init=nn.initializers.zeros)(x)
    log_gain = self.param("log_gain", nn.initializers.zeros, (self.features,))
    return y * jnp.exp(3.0 * log_gain)


class GlowConditioner(nn.Module):
  """Glow's NN(): conv 3x3 -> ReLU -> 1x1 (Dense) -> ReLU -> zero conv 3x3, returning (shift, raw)
  with `out_channels` channels each."""

  hidden: int
  out_channels: int

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, batch = fold_batch(x, 3)
    h = nn.relu(Conv3x3(self.hidden)(x))
    h = nn.relu(nn.Dense(self.hidden)(h))
    out = ZeroConv(2 * self.out_channels)(h)
    shift, raw = jnp.split(out.reshape(batch + out.shape[1:]), 2, axis=-1)
    return shift, raw


class ResNetConditioner(nn.Module):
  """RealNVP's conditioner: conv 3x3 in, `num_blocks` residual blocks of two 3x3 convs, and a
  zero-initialised conv 3x3 out, returning (shift, raw) with `out_channels` channels each."""

  hidden: int
  num_blocks: int
  out_channels: int

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, batch = fold_batch(x, 3)
    h = Conv3x3(self.hidden)(x)
    for _ in range(self.num_blocks):
      r = Conv3x3(self.hidden)(nn.relu(h))
      h = h + Conv3x3(self.hidden)(nn.relu(r))
    out = ZeroConv(2 * self.out_channels)(nn.relu(h))
    shift, raw = jnp.split(out.reshape(batch + out.shape[1:]), 2, axis=-1)
    return shift, raw


class SplitPrior(nn.Module):
  """Glow's learned prior on a split-off half: (mean, log_scale) = zero conv of the kept half."""

  out_channels: int

  @nn.compact
  def __call__(self, h: jax.Array) -> tuple[jax.Array, jax.Array]:
    h, batch = fold_batch(h, 3)
    out = ZeroConv(2 * self.out_channels)(h)
    mean, log_scale = jnp.split(out.reshape(batch + out.shape[1:]), 2, axis=-1)
    return mean, log_scale
