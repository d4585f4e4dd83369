"""Fully connected encoders and decoders."""

from collections.abc import Sequence

import flax.linen as nn
import jax


class MLP(nn.Module):
  """A stack of Dense layers with an activation after each one."""

  features: Sequence[int]
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    act = getattr(jax.nn, self.activation)
    for width in self.features:
      x = act(nn.Dense(width)(x))
    return x


class MLPEncoder(nn.Module):
  """Maps images [..., H, W, C] to `num_outputs` features through an MLP."""

  hidden: Sequence[int]
  num_outputs: int
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.reshape(x.shape[:-3] + (-1,))
    x = MLP(self.hidden, self.activation)(x)
    return nn.Dense(self.num_outputs)(x)


class MLPDecoder(nn.Module):
  """Maps latents [..., L] to `params_per_dim` numbers per sub-pixel: [..., H, W, C, P]."""

  hidden: Sequence[int]
  image_shape: tuple[int, int, int]
  params_per_dim: int
  activation: str = "relu"

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = MLP(self.hidden, self.activation)(z)
    size = self.params_per_dim
    for d in self.image_shape:
      size *= d
    out = nn.Dense(size)(h)
    return out.reshape(z.shape[:-1] + tuple(self.image_shape) + (self.params_per_dim,))
