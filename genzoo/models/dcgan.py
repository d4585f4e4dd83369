"""DCGAN (Radford et al. 2016): a transposed-convolution generator with batch norm and a
strided-convolution discriminator, at any square resolution that halves down to 4-7 pixels
(28 -> 7, 32 -> 4, 64 -> 4).

The discriminator can be spectrally normalised (Miyato et al. 2018): each layer's weight is
divided by its largest singular value, estimated by one power iteration per training step whose
vector `u` lives in the "batch_stats" collection (so it is checkpointed with the model). The
DCGAN paper's batch norm in the discriminator is left out: it couples the examples of a batch,
which gradient penalties and R1 (per-example input gradients) assume they are not.
"""

import functools
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import checks
from genzoo.errors import UserError
from genzoo.models.players import GENERATOR_KEYS, GENERATOR_RULES, StandingBatchStats
from genzoo.nets.conv import fold_batch
from genzoo.nets.matmul_conv import StridedConv4x4, TransposedConv4x4

D_NORMS = ("none", "spectral")
DISCRIMINATOR_KEYS = {"width": "model.d_width", "norm": "model.d_norm"}
DISCRIMINATOR_RULES = {"model.d_width": checks.at_least(1), "model.d_norm": checks.one_of(D_NORMS)}
LEAKY_SLOPE = 0.2  # DCGAN's LeakyReLU slope


def resolution_plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
  """(number of stride-2 stages, seed resolution) for a square image: halve while the side stays
  even and at least 8, so 28 -> (2, 7), 32 -> (3, 4), 64 -> (4, 4)."""
  height, width, _ = image_shape
  if height != width:
    raise UserError(f"DCGAN needs square images, got {height}x{width}; set data.image_size")
  stages, side = 0, height
  while side % 2 == 0 and side >= 8:
    stages, side = stages + 1, side // 2
  if stages == 0:
    raise UserError(f"DCGAN needs a side that halves at least once to 4 or more pixels, got {height}")
  return stages, side


def normalized(norm: str, train: bool, layer: nn.Module):
  """`layer`, spectrally normalised when norm == "spectral" (its power iteration advances only
  when `train`); call inside the parent's compact method."""
  if norm not in D_NORMS:
    raise UserError(f"unknown discriminator norm {norm!r}; known: {list(D_NORMS)}")
  if norm == "spectral":
    return lambda h: nn.SpectralNorm(layer)(h, update_stats=train)
  return layer


class DCGANGenerator(nn.Module):
  """Latents [..., L] -> images in [-1, 1] [..., H, W, C].

  Dense seed at 4-7 pixels with `width * 2**(stages-1)` channels, then stride-2 transposed
  convolutions halving the channels (batch norm and ReLU after each), the last one to C with tanh.
  """

  image_shape: tuple[int, int, int]
  width: int = 64
  bn_momentum: float = 0.9

  CONFIG_KEYS: ClassVar[dict[str, str]] = GENERATOR_KEYS
  CONFIG_RULES: ClassVar[dict] = GENERATOR_RULES
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("batch_stats",)
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()
  EMA_POLICY: ClassVar = StandingBatchStats()

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    del labels  # unconditional
    stages, side = resolution_plan(self.image_shape)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=self.bn_momentum)
    z, batch_shape = fold_batch(z, 1)
    channels = self.width * 2 ** (stages - 1)
    x = nn.relu(norm()(nn.Dense(side * side * channels)(z)))
    x = x.reshape(-1, side, side, channels)
    for _ in range(stages - 1):
      channels //= 2
      x = nn.relu(norm()(TransposedConv4x4(channels)(x)))
    x = jnp.tanh(TransposedConv4x4(self.image_shape[-1])(x))
    return x.reshape(batch_shape + self.image_shape)


class DCGANDiscriminator(nn.Module):
  """Images in [-1, 1] [..., H, W, C] -> one logit (or critic value) per image [...].

  Stride-2 4x4 convolutions doubling the channels from `width`, LeakyReLU(0.2), then a Dense
  layer on the flattened 4-7 pixel features. `norm="spectral"` normalises every layer."""

  width: int = 64
  norm: str = "none"

  CONFIG_KEYS: ClassVar[dict[str, str]] = DISCRIMINATOR_KEYS
  CONFIG_RULES: ClassVar[dict] = DISCRIMINATOR_RULES
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("batch_stats",)  # spectral norm's power iterations

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    del labels  # unconditional
    layer = functools.partial(normalized, self.norm, train)
    stages, _ = resolution_plan(x.shape[-3:])
    x, batch_shape = fold_batch(x, 3)
    channels = self.width
    for _ in range(stages):
      x = nn.leaky_relu(layer(StridedConv4x4(channels))(x), LEAKY_SLOPE)
      channels *= 2
    logit = layer(nn.Dense(1))(x.reshape(x.shape[0], -1))
    return logit.reshape(batch_shape)
