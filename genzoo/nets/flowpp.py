"""Flow++'s conditioner network (Ho et al. 2019, sec. 3.3): gated residual convolutions and gated
multi-head self-attention over positions, each followed by layer norm.

  gated convolution:  c = concat_elu(conv3x3(concat_elu(x)) [+ Dense(concat_elu(context))]),
                      x + a * sigmoid(b) with (a, b) = Dense(dropout(c)) (or a 3x3 convolution);
  gated attention:    multi-head self-attention over every position of x + e (learned position
                      embeddings e), x + a * sigmoid(b) with (a, b) = Dense(dropout(attention)).

`FlowppConditioner` is conv3x3 in, `blocks` x (gated convolution, layer norm, gated attention,
layer norm), and a zero-initialised conv3x3 out, so every coupling starts as the identity. The
paper's code uses weight normalisation with data-dependent initialisation and an output layer
initialised to a small scale; genzoo uses plain LeCun-normal layers and a zero output (the
identity start that the data-dependent ActNorm before each coupling makes safe). Dropout draws
from the "dropout" random stream and is off unless `train`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo.nets.conv import fold_batch
from genzoo.nets.flow_conditioners import split_parameters
from genzoo.nets.matmul_conv import Conv3x3

LAYER_NORM_EPSILON = 1e-5


def concat_elu(x: jax.Array) -> jax.Array:
  """ELU of x and of -x, concatenated on the channel axis (PixelCNN++; doubles the channels)."""
  return jax.nn.elu(jnp.concatenate([x, -x], axis=-1))


def gate(x: jax.Array) -> jax.Array:
  """a * sigmoid(b) for the two halves (a, b) of the channels."""
  a, b = jnp.split(x, 2, axis=-1)
  return a * jax.nn.sigmoid(b)


class GatedConv(nn.Module):
  """A gated residual convolution on images [B, H, W, C]; `context` [B, H, W, F] (features of
  the data being dequantised, for example) enters through a 1x1 projection. With `nin` the gate's
  parameters come from a 1x1 projection (the couplings), else from a 3x3 convolution."""

  dropout: float = 0.0
  nin: bool = True
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array | None = None) -> jax.Array:
    channels = x.shape[-1]
    c = Conv3x3(channels)(concat_elu(x))
    if context is not None:
      c = c + nn.Dense(channels)(concat_elu(context))
    c = nn.Dropout(self.dropout, deterministic=not self.train)(concat_elu(c))
    return x + gate(nn.Dense(2 * channels)(c) if self.nin else Conv3x3(2 * channels)(c))


class GatedAttention(nn.Module):
  """Gated multi-head self-attention over every position of [B, *positions, C]."""

  heads: int
  dropout: float = 0.0
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, position_embedding: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    if channels % self.heads:
      raise ValueError(f"{channels} channels do not split into {self.heads} attention heads")
    sequence = (x + position_embedding).reshape(x.shape[0], -1, channels)  # [B, T, C]
    q, k, v = jnp.split(nn.Dense(3 * channels)(sequence), 3, axis=-1)
    per_head = lambda t: t.reshape(t.shape[:2] + (self.heads, channels // self.heads))  # [B, T, N, D]
    attended = jax.nn.dot_product_attention(per_head(q), per_head(k), per_head(v))
    attended = nn.Dropout(self.dropout, deterministic=not self.train)(attended.reshape(x.shape))
    return x + gate(nn.Dense(2 * channels)(attended))


class FlowppConditioner(nn.Module):
  """Flow++'s coupling network on images [..., H, W, C] (see the module docstring), returning
  `num_params` transformer parameters with `out_channels` channels each; with `attention=False`
  the gated attention and its layer norm are left out (the paper's "no self-attention" ablation).
  A `context` [..., H, W, F] reaches every gated convolution."""

  filters: int
  blocks: int
  out_channels: int
  num_params: int
  heads: int = 4
  dropout: float = 0.0
  attention: bool = True
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array | None = None) -> tuple[jax.Array, ...]:
    x, batch = fold_batch(x, 3)
    if context is not None:
      context, _ = fold_batch(context, 3)
    h = Conv3x3(self.filters)(x)
    if self.attention:
      position_embedding = self.param(
          "position_embedding", nn.initializers.normal(0.01), h.shape[1:])
    for _ in range(self.blocks):
      h = GatedConv(self.dropout, nin=True, train=self.train)(h, context)
      h = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(h)
      if self.attention:
        h = GatedAttention(self.heads, self.dropout, train=self.train)(h, position_embedding)
        h = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(h)
    out = Conv3x3(self.num_params * self.out_channels, kernel_init=nn.initializers.zeros)(h)
    return split_parameters(out.reshape(batch + out.shape[1:]), self.num_params)


class ContextProcessor(nn.Module):
  """Features of an image [B, H, W, C] for conditioned couplings: a 3x3 projection to `channels`,
  then `blocks` gated convolutions (Flow++'s CIFAR-10 dequantiser: 32 channels, 3 blocks)."""

  channels: int = 32
  blocks: int = 3
  dropout: float = 0.0
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = Conv3x3(self.channels)(x)
    for _ in range(self.blocks):
      h = GatedConv(self.dropout, nin=False, train=self.train)(h)
    return h
