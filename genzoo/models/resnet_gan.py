"""The ResNet generator and discriminator of the SN-GAN and WGAN-GP papers (Miyato et al. 2018,
appendix B.4; Gulrajani et al. 2017, appendix F), at any square resolution `resolution_plan`
accepts.

Generator: a dense seed at 4-7 pixels, then one up-block per stride-2 stage, then batch norm,
ReLU, a 3x3 convolution to the image channels and tanh. An up-block is
  BN -> ReLU -> upsample -> conv3x3 -> BN -> ReLU -> conv3x3,  plus  upsample -> conv1x1.
Discriminator: down-blocks halve the image until it is 8 pixels or less (32 -> 8 as in the papers,
28 -> 7, 64 -> 8), then two blocks keep the size; then ReLU, a sum over pixels and a dense logit.
A down-block is
  ReLU -> conv3x3 -> ReLU -> conv3x3 -> avgpool,  plus  conv1x1 -> avgpool
(plus the input itself in the blocks that keep size and width); the first one ("optimized
block") has no leading ReLU and pools its shortcut before the 1x1 convolution. Upsampling is nearest-neighbour, pooling 2x2 average; the discriminator has no batch
norm and can be spectrally normalised like the DCGAN one.
"""

import functools
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo.models.dcgan import DISCRIMINATOR_KEYS, DISCRIMINATOR_RULES, normalized, resolution_plan
from genzoo.models.players import GENERATOR_KEYS, GENERATOR_RULES, StandingBatchStats
from genzoo.nets.conv import fold_batch
from genzoo.nets.matmul_conv import Conv3x3

KEPT_SIZE_BLOCKS = 2  # discriminator blocks after the last downsampling


def upsample(x: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling of [N, H, W, C]."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 average pooling with stride 2 of [N, H, W, C] (H and W even)."""
  n, height, width, c = x.shape
  return x.reshape(n, height // 2, 2, width // 2, 2, c).mean(axis=(2, 4))


def discriminator_downsamplings(side: int) -> int:
  """How many times the discriminator halves a side: while it is even and above 8 pixels."""
  count = 0
  while side % 2 == 0 and side > 8:
    count, side = count + 1, side // 2
  return count


class UpBlock(nn.Module):
  features: int
  bn_momentum: float

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=self.bn_momentum)
    h = Conv3x3(self.features)(upsample(nn.relu(norm()(x))))
    h = Conv3x3(self.features)(nn.relu(norm()(h)))
    return h + nn.Dense(self.features, name="shortcut")(upsample(x))


class DownBlock(nn.Module):
  features: int
  norm: str
  downsample: bool
  first: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    layer = functools.partial(normalized, self.norm, train)
    pool = avg_pool_2x2 if self.downsample else (lambda h: h)
    h = layer(Conv3x3(self.features))(x if self.first else nn.relu(x))
    h = pool(layer(Conv3x3(self.features))(nn.relu(h)))
    if not (self.first or self.downsample or x.shape[-1] != self.features):
      return h + x
    shortcut = layer(nn.Dense(self.features, name="shortcut"))
    return h + (shortcut(pool(x)) if self.first else pool(shortcut(x)))


class ResNetGenerator(nn.Module):
  """Latents [..., L] -> images in [-1, 1] [..., H, W, C], `width` channels in every block."""

  image_shape: tuple[int, int, int]
  width: int = 256
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
    z, batch_shape = fold_batch(z, 1)
    x = nn.Dense(side * side * self.width)(z).reshape(-1, side, side, self.width)
    for _ in range(stages):
      x = UpBlock(self.width, self.bn_momentum)(x, train)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(x))
    x = jnp.tanh(Conv3x3(self.image_shape[-1])(x))
    return x.reshape(batch_shape + self.image_shape)


class ResNetDiscriminator(nn.Module):
  """Images in [-1, 1] [..., H, W, C] -> one logit (or critic value) per image [...]."""

  width: int = 128
  norm: str = "none"

  CONFIG_KEYS: ClassVar[dict[str, str]] = DISCRIMINATOR_KEYS
  CONFIG_RULES: ClassVar[dict] = DISCRIMINATOR_RULES
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("batch_stats",)  # spectral norm's power iterations

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    del labels  # unconditional
    resolution_plan(x.shape[-3:])  # the same square-image check as the generator's
    x, batch_shape = fold_batch(x, 3)
    downsamplings = discriminator_downsamplings(x.shape[1])
    plan = [True] * downsamplings + [False] * KEPT_SIZE_BLOCKS
    for index, downsample in enumerate(plan):
      x = DownBlock(self.width, self.norm, downsample, first=index == 0)(x, train)
    features = jnp.sum(nn.relu(x), axis=(1, 2))
    logit = normalized(self.norm, train, nn.Dense(1))(features)
    return logit.reshape(batch_shape)
