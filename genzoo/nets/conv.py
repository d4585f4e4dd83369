"""Convolutional encoders and decoders built from stride-2 stages."""

from collections.abc import Sequence

import flax.linen as nn
import jax

from genzoo.errors import UserError


def check_downsamplable(image_shape: Sequence[int], num_stages: int, what: str) -> None:
  """Raises if `num_stages` halvings of the image height and width do not divide evenly."""
  height, width = image_shape[0], image_shape[1]
  factor = 2**num_stages
  if height % factor or width % factor:
    raise UserError(
        f"image shape {tuple(image_shape)} cannot be taken by the {what} with {num_stages} "
        f"stride-2 stages: height and width must be divisible by 2**{num_stages} = {factor}. "
        f"Use fewer stages (model.channels) or an image size divisible by {factor}."
    )


def fold_batch(x: jax.Array, event_rank: int) -> tuple[jax.Array, tuple[int, ...]]:
  """Folds every leading axis into one batch axis, as Linen convolutions expect."""
  batch_shape = x.shape[: x.ndim - event_rank]
  return x.reshape((-1,) + x.shape[x.ndim - event_rank :]), batch_shape


class ConvEncoder(nn.Module):
  """Images [..., H, W, C] -> `num_outputs` features; each channel count is one stride-2 stage."""

  channels: Sequence[int]
  num_outputs: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    check_downsamplable(x.shape[-3:], len(self.channels), "convolutional encoder")
    x, batch_shape = fold_batch(x, 3)
    for width in self.channels:
      x = nn.relu(nn.Conv(width, (4, 4), strides=(2, 2), padding="SAME")(x))
    x = nn.Dense(self.num_outputs)(x.reshape(x.shape[0], -1))
    return x.reshape(batch_shape + (self.num_outputs,))


class ConvDecoder(nn.Module):
  """Latents [..., L] -> [..., H, W, C, P]: a Dense seed at 1/2**n resolution, n upsampling stages.

  `channels` lists the stages from coarse to fine; each doubles the spatial size with a stride-2
  transposed convolution. A final 3x3 convolution emits `params_per_dim` numbers per sub-pixel.
  """

  channels: Sequence[int]
  image_shape: tuple[int, int, int]
  params_per_dim: int

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    check_downsamplable(self.image_shape, len(self.channels), "convolutional decoder")
    height, width, depth = self.image_shape
    factor = 2 ** len(self.channels)
    z, batch_shape = fold_batch(z, 1)
    seed_shape = (height // factor, width // factor, self.channels[0])
    x = nn.relu(nn.Dense(seed_shape[0] * seed_shape[1] * seed_shape[2])(z))
    x = x.reshape((-1,) + seed_shape)
    for stage_width in self.channels:
      x = nn.relu(nn.ConvTranspose(stage_width, (4, 4), strides=(2, 2), padding="SAME")(x))
    x = nn.Conv(depth * self.params_per_dim, (3, 3), padding="SAME")(x)
    return x.reshape(batch_shape + (height, width, depth, self.params_per_dim))
