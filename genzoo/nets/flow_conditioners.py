"""Conditioner networks for coupling layers and split priors.

The last layer of every conditioner is zero-initialised (Glow, sec. 3.3), so each coupling starts
as the identity and a deep flow trains stably. Channel mixing at 1x1 is written as Dense (a
matmul) and 3x3 convolutions as `nets.matmul_conv.Conv3x3`, which XLA:CPU runs much faster than
its convolution kernels.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo.nets.conv import fold_batch
from genzoo.nets.matmul_conv import Conv3x3


class ZeroConv(nn.Module):
  """3x3 convolution initialised to output zeros, with a learned per-channel output scale
  exp(3 * log_gain) as in Glow's Conv2dZeros."""

  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    y = Conv3x3(self.features, kernel_init=nn.initializers.zeros)(x)
    log_gain = self.param("log_gain", nn.initializers.zeros, (self.features,))
    return y * jnp.exp(3.0 * log_gain)


def split_parameters(out: jax.Array, num_params: int) -> tuple[jax.Array, ...]:
  """[..., num_params * C] -> num_params arrays [..., C]: a coupling transformer's parameters."""
  return tuple(jnp.split(out, num_params, axis=-1))


class GlowConditioner(nn.Module):
  """Glow's NN(): conv 3x3 -> ReLU -> 1x1 (Dense) -> ReLU -> zero conv 3x3, returning
  `num_params` transformer parameters (shift and raw log-scale by default) with `out_channels`
  channels each. A `condition` [N, K] (a class code) joins the input as K more channels, the same
  at every position."""

  hidden: int
  out_channels: int
  num_params: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array | None = None) -> tuple[jax.Array, ...]:
    if condition is not None:
      condition = jnp.broadcast_to(condition[..., None, None, :], x.shape[:-1] + condition.shape[-1:])
      x = jnp.concatenate([x, condition.astype(x.dtype)], axis=-1)
    x, batch = fold_batch(x, 3)
    h = nn.relu(Conv3x3(self.hidden)(x))
    h = nn.relu(nn.Dense(self.hidden)(h))
    out = ZeroConv(self.num_params * self.out_channels)(h)
    return split_parameters(out.reshape(batch + out.shape[1:]), self.num_params)


class ResNetConditioner(nn.Module):
  """RealNVP's conditioner: conv 3x3 in, `num_blocks` residual blocks of two 3x3 convs, and a
  zero-initialised conv 3x3 out, returning `num_params` transformer parameters with
  `out_channels` channels each."""

  hidden: int
  num_blocks: int
  out_channels: int
  num_params: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, ...]:
    x, batch = fold_batch(x, 3)
    h = Conv3x3(self.hidden)(x)
    for _ in range(self.num_blocks):
      r = Conv3x3(self.hidden)(nn.relu(h))
      h = h + Conv3x3(self.hidden)(nn.relu(r))
    out = ZeroConv(self.num_params * self.out_channels)(nn.relu(h))
    return split_parameters(out.reshape(batch + out.shape[1:]), self.num_params)


class MLPConditioner(nn.Module):
  """A conditioner for vector events [..., D_a]: Dense layers of widths `hidden` with ReLU, then a
  zero-initialised Dense out, returning `num_params` transformer parameters [..., out_features]
  each. With a `condition` [..., K], the context is concatenated to the input."""

  hidden: tuple[int, ...]
  out_features: int
  num_params: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array | None = None) -> tuple[jax.Array, ...]:
    h = x if condition is None else jnp.concatenate([x, condition], axis=-1)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width)(h))
    out = nn.Dense(self.num_params * self.out_features, kernel_init=nn.initializers.zeros)(h)
    return split_parameters(out, self.num_params)


class SplitPrior(nn.Module):
  """Glow's learned prior on a split-off half: (mean, log_scale) = zero conv of the kept half;
  with `per_position`, plus a learned term of its own for every position and channel; given a
  class code [N, K] (one-hot labels), plus a zero-initialised linear map of it per channel
  (Glow's y-conditioning, `linear_zeros` of the label in the paper's code)."""

  out_channels: int
  per_position: bool = False

  @nn.compact
  def __call__(self, h: jax.Array, class_code: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    h, batch = fold_batch(h, 3)
    out = ZeroConv(2 * self.out_channels)(h)
    if self.per_position:
      out = out + self.param("position_bias", nn.initializers.zeros, out.shape[1:])
    if class_code is not None:
      out = out + class_terms(class_code, 2 * self.out_channels)
    mean, log_scale = jnp.split(out.reshape(batch + out.shape[1:]), 2, axis=-1)
    return mean, log_scale


def class_terms(class_code: jax.Array, features: int) -> jax.Array:
  """[N, 1, 1, features]: a zero-initialised linear map of the class code [N, K], the same at every
  position; call inside a compact module, which owns its kernel ("class_embedding")."""
  dense = nn.Dense(features, use_bias=False, kernel_init=nn.initializers.zeros, name="class_embedding")
  return dense(class_code)[:, None, None, :]
