"""BigGAN (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis") as GAN players, with the layouts of the paper's reference code for 32x32 (CIFAR) and
64-256 pixel (ImageNet) images, widths in multiples of `width` ("ch" in the paper's tables).

Generator: hierarchical latents (sec. 3 and appendix B): z is split into one chunk per residual
block plus one for the dense seed at 4x4; each block's batch norms take their gains and biases
from a linear map of [shared class embedding, the block's z chunk] (class-conditional batch
norm, de Vries et al. 2017; with the embedding shared by all blocks). A block is
  cBN -> ReLU -> 2x nearest upsample -> conv3x3 -> cBN -> ReLU -> conv3x3,  plus  upsample -> conv1x1,
optionally followed by self-attention (Zhang et al. 2019, SAGAN) at `attention_resolution`; the
output is BN -> ReLU -> conv3x3 -> tanh. Every convolution and dense layer is spectrally
normalised (the embedding is not, as in the reference code). Unconditional (`num_classes` 0),
the batch norms are conditioned on the z chunks alone.
Discriminator: residual blocks (ReLU -> conv3x3 -> ReLU -> conv3x3 -> 2x2 average pool, plus a
1x1 shortcut; the first block without the leading ReLU), optional self-attention, then ReLU, a
sum over positions, a dense logit and, class-conditional, the projection <embed(y), h> (Miyato &
Koyama 2018), every layer spectrally normalised.

The truncation trick (sec. 3.1) draws the latents from a normal truncated to |z| <= `truncation`
at sampling (0: off); it is written as the map of each z through the normal's CDF onto the
truncated normal's quantiles, which has the distribution of resampling every |z| above the
threshold while keeping each sample tied to its latent. The orthogonal regularisation of the
paper (eq. 3) is the GAN task's `loss.ortho_weight` (see `orthogonality_penalty`).
"""

from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

from genzoo import checks
from genzoo.errors import UserError
from genzoo.models.dcgan import normalized
from genzoo.models.players import StandingBatchStats
from genzoo.models.resnet_gan import avg_pool_2x2, upsample
from genzoo.nets.conv import fold_batch
from genzoo.nets.matmul_conv import Conv3x3

ORTHO_INIT = nn.initializers.orthogonal()  # the reference code's default ("ortho") initialisation
BN_EPSILON = 1e-5

# Image side -> the generator's (input, output) widths per block and the discriminator's widths
# and downsamplings per block, in multiples of `width` (the reference code's G_arch and D_arch).
GENERATOR_LAYOUTS = {
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
}
DISCRIMINATOR_LAYOUTS = {
    32: ((4, 4, 4, 4), (True, True, False, False)),
    64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
    256: ((1, 2, 4, 8, 8, 16, 16), (True, True, True, True, True, True, False)),
}

CONFIG_KEYS = {"width": "model.width", "num_classes": "model.num_classes",
               "attention_resolution": "model.attention_resolution"}
CONFIG_RULES = {"model.width": checks.at_least(1), "model.num_classes": checks.at_least(0),
                "model.attention_resolution": checks.at_least(0)}


def layout_side(image_shape: tuple[int, ...], layouts: dict) -> int:
  """The side of a square image that BigGAN has a layout for; otherwise a UserError."""
  height, width = image_shape[0], image_shape[1]
  if height != width or height not in layouts:
    raise UserError(f"BigGAN has layouts for square images of side {sorted(layouts)}, got {height}x{width}; for "
                    "28x28 MNIST set data.pad=2 (32x32)")
  return height


def hierarchical_chunks(latent_dim: int, num_blocks: int) -> int:
  """The size of each of the num_blocks + 1 chunks z is split into; a UserError unless it divides."""
  slots = num_blocks + 1
  if latent_dim % slots:
    raise UserError(f"model.latent_dim={latent_dim} must split into {slots} equal chunks (the seed and {num_blocks} "
                    f"blocks' hierarchical latents); use a multiple of {slots}, e.g. {slots * max(1, latent_dim // slots)}")
  return latent_dim // slots


def truncated_latents(z: jax.Array, threshold: float) -> jax.Array:
  """z ~ N(0, 1) mapped to the normal truncated to [-threshold, threshold] by matching quantiles:
  Phi^-1(Phi(-t) + Phi(z) (Phi(t) - Phi(-t))), clipped against round-off."""
  low, high = ndtr(-threshold), ndtr(threshold)
  return jnp.clip(ndtri(low + ndtr(z) * (high - low)), -threshold, threshold)


def orthogonality_penalty(params) -> jax.Array:
  """sum over kernels W of ||W^T W (.) (1 - I)||_F^2 (BigGAN eq. 3, without its beta): each kernel
  (every "kernel" parameter of at least 2 dimensions) as a matrix whose columns are its output
  filters; the embeddings (parameters named "embedding") are left out, as in the reference code."""
  total = jnp.zeros(())
  for path, value in jax.tree_util.tree_leaves_with_path(params):
    if getattr(path[-1], "key", None) == "kernel" and value.ndim >= 2:
      w = value.reshape(-1, value.shape[-1])
      gram = w.T @ w
      total = total + jnp.sum(jnp.square(gram * (1.0 - jnp.eye(gram.shape[0], dtype=gram.dtype))))
  return total


def spectral(train: bool, features: int, name: str, kind: str = "conv3x3", use_bias: bool = True):
  """A spectrally normalised, orthogonally initialised layer, to call: a 3x3 convolution, or with
  kind="dense" a dense layer (1x1 convolutions included, optionally without bias). Build it
  inside a compact method, which owns it."""
  if kind == "conv3x3":
    return normalized("spectral", train, Conv3x3(features, kernel_init=ORTHO_INIT, name=name))
  return normalized("spectral", train, nn.Dense(features, use_bias=use_bias, kernel_init=ORTHO_INIT, name=name))


class ConditionalBatchNorm(nn.Module):
  """Batch norm without its own affine: gains 1 + A c and biases B c from the condition c [N, D]
  (A, B spectrally normalised linear maps, no bias)."""

  bn_momentum: float

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array, train: bool) -> jax.Array:
    features = x.shape[-1]
    x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=BN_EPSILON, use_bias=False,
                     use_scale=False)(x)
    gain = spectral(train, features, "gain", "dense", use_bias=False)(condition)
    bias = spectral(train, features, "bias", "dense", use_bias=False)(condition)
    return x * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]


class SelfAttention(nn.Module):
  """SAGAN's self-attention (Zhang et al. 2019, sec. 3): 1x1 projections to C/8 (query, key) and
  C/2 (value) channels, keys and values max-pooled 2x2, softmax attention over positions, a 1x1
  projection back to C scaled by a learned gain that starts at 0, added to the input."""

  train: bool

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    batch, height, width, channels = x.shape

    def project(features, name):
      return spectral(self.train, features, name, "dense", use_bias=False)

    def pooled(h):
      return nn.max_pool(h, (2, 2), (2, 2)).reshape(batch, -1, h.shape[-1])

    query = project(channels // 8, "query")(x).reshape(batch, height * width, -1)
    key = pooled(project(channels // 8, "key")(x))
    value = pooled(project(channels // 2, "value")(x))
    attention = jax.nn.softmax(query @ key.transpose(0, 2, 1), axis=-1)
    out = project(channels, "out")((attention @ value).reshape(batch, height, width, -1))
    return x + self.param("gamma", nn.initializers.zeros, ()) * out


class GeneratorBlock(nn.Module):
  features: int
  bn_momentum: float

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array, train: bool) -> jax.Array:
    h = nn.relu(ConditionalBatchNorm(self.bn_momentum)(x, condition, train))
    h = spectral(train, self.features, "conv0")(upsample(h))
    h = nn.relu(ConditionalBatchNorm(self.bn_momentum)(h, condition, train))
    h = spectral(train, self.features, "conv1")(h)
    return h + spectral(train, self.features, "shortcut", "dense")(upsample(x))


class BigGANGenerator(nn.Module):
  """Latents z [..., L] (with labels [...] when `num_classes` > 0) -> images in [-1, 1]
  [..., H, W, C]; see the module docstring."""

  image_shape: tuple[int, int, int]
  width: int = 64
  num_classes: int = 0
  attention_resolution: int = 0
  shared_dim: int = 128
  truncation: float = 0.0
  bn_momentum: float = 0.9

  CONFIG_KEYS: ClassVar[dict[str, str]] = {**CONFIG_KEYS, "shared_dim": "model.shared_dim",
                                           "truncation": "model.truncation"}
  CONFIG_RULES: ClassVar[dict] = {**CONFIG_RULES, "model.shared_dim": checks.at_least(1),
                                  "model.truncation": checks.NON_NEGATIVE}
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("batch_stats",)  # batch norm and spectral norm
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()
  EMA_POLICY: ClassVar = StandingBatchStats()
  TRUNCATION_KEY: ClassVar[str] = "model.truncation"

  def __post_init__(self):
    layout_side(self.image_shape, GENERATOR_LAYOUTS)  # refused when the player is built
    super().__post_init__()

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    inputs, outputs = GENERATOR_LAYOUTS[layout_side(self.image_shape, GENERATOR_LAYOUTS)]
    z, batch_shape = fold_batch(z, 1)
    if self.truncation and not train:
      z = truncated_latents(z, self.truncation)
    hierarchical_chunks(z.shape[-1], len(inputs))
    chunks = jnp.split(z, len(inputs) + 1, axis=-1)
    shared = self.shared_embedding(labels)
    x = spectral(train, 16 * inputs[0] * self.width, "seed", "dense")(chunks[0]).reshape(-1, 4, 4, inputs[0] * self.width)
    resolution = 4
    for index, multiple in enumerate(outputs):
      condition = chunks[index + 1] if shared is None else jnp.concatenate([shared, chunks[index + 1]], axis=-1)
      x = GeneratorBlock(multiple * self.width, self.bn_momentum)(x, condition, train)
      resolution *= 2
      if resolution == self.attention_resolution:
        x = SelfAttention(train)(x)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=BN_EPSILON)(x))
    x = spectral(train, self.image_shape[-1], "to_image")(x)
    return jnp.tanh(x).reshape(batch_shape + tuple(self.image_shape))

  def shared_embedding(self, labels: jax.Array | None) -> jax.Array | None:
    """The class embedding [N, shared_dim] every block's batch norms share; None if unconditional."""
    if not self.num_classes:
      return None
    if labels is None:
      raise UserError(f"model.num_classes={self.num_classes} asks for a class-conditional BigGAN, but the data has "
                      "no labels; use labelled data or model.num_classes=0")
    return nn.Embed(self.num_classes, self.shared_dim, embedding_init=ORTHO_INIT, name="shared")(labels.reshape(-1))


class DiscriminatorBlock(nn.Module):
  features: int
  downsample: bool
  first: bool
  train: bool

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    pool = avg_pool_2x2 if self.downsample else (lambda h: h)
    h = spectral(self.train, self.features, "conv0")(x if self.first else nn.relu(x))
    h = pool(spectral(self.train, self.features, "conv1")(nn.relu(h)))
    if not self.downsample and x.shape[-1] == self.features:
      return h + x
    shortcut = spectral(self.train, self.features, "shortcut", "dense")
    return h + (shortcut(pool(x)) if self.first else pool(shortcut(x)))


class BigGANDiscriminator(nn.Module):
  """Images in [-1, 1] [..., H, W, C] (with labels [...] when `num_classes` > 0) -> one logit per
  image [...]; see the module docstring."""

  width: int = 64
  num_classes: int = 0
  attention_resolution: int = 0

  CONFIG_KEYS: ClassVar[dict[str, str]] = CONFIG_KEYS
  CONFIG_RULES: ClassVar[dict] = CONFIG_RULES
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("batch_stats",)  # spectral norm's power iterations

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    multiples, downsamples = DISCRIMINATOR_LAYOUTS[layout_side(x.shape[-3:], DISCRIMINATOR_LAYOUTS)]
    x, batch_shape = fold_batch(x, 3)
    attended = False
    for index, (multiple, downsample) in enumerate(zip(multiples, downsamples)):
      x = DiscriminatorBlock(multiple * self.width, downsample, index == 0, train)(x)
      if x.shape[1] == self.attention_resolution and not attended:  # after the first block at that side
        x, attended = SelfAttention(train)(x), True
    features = jnp.sum(nn.relu(x), axis=(1, 2))
    logit = spectral(train, 1, "logit", "dense")(features)[:, 0]
    if self.num_classes:
      if labels is None:
        raise UserError(f"model.num_classes={self.num_classes} asks for a class-conditional BigGAN, but the data "
                        "has no labels")
      embed = normalized("spectral", train, nn.Embed(self.num_classes, features.shape[-1], embedding_init=ORTHO_INIT,
                                                     name="projection"))
      logit = logit + jnp.sum(embed(labels.reshape(-1)) * features, axis=-1)
    return logit.reshape(batch_shape)

