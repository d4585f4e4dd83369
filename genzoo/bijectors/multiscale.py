"""The multi-scale architecture (Dinh et al. 2017, sec. 3.6; Kingma & Dhariwal 2018, sec. 3):
a whole flow from images [..., H, W, C] to flat latents [..., H*W*C] as one bijector.

Each level optionally squeezes, applies its bijector, and optionally splits off half of the
channels. A split-off half z may be standardised by a learned conditional prior on the kept half h
(Glow's split prior): z -> (z - mean(h)) * exp(-log_scale(h)), with log-det -sum log_scale(h).
The latents are every split-off half and the final h, flattened and concatenated, so a standard
normal base distribution on them gives an exact log-likelihood.
"""

import dataclasses
import itertools
from collections.abc import Callable, Sequence

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, batch_shape, sum_event
from genzoo.bijectors.squeeze import squeeze, unsqueeze
from genzoo.errors import UserError

SplitPrior = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Level:
  """One scale: squeeze first?, then `bijector` (None: identity), then split off half the channels?"""

  bijector: distrax.Bijector | None = None
  squeeze: bool = True
  split: bool = True
  prior: SplitPrior | None = None  # h -> (mean, log_scale) of the split-off half


def level_shapes(image_shape: Sequence[int], levels: Sequence[Level]):
  """Shape of h entering each level's bijector, and of each flattened latent piece, in order."""
  height, width, depth = image_shape
  num_squeezes = sum(level.squeeze for level in levels)
  inner, pieces = [], []
  for index, level in enumerate(levels):
    if level.squeeze:
      if height % 2 or width % 2:
        raise UserError(
            f"image shape {tuple(image_shape)} cannot pass the {num_squeezes} squeezes of this "
            f"flow's levels: level {index + 1} of {len(levels)} gets {height}x{width}, which is not "
            f"even. Use an image size divisible by {2 ** num_squeezes} or fewer levels.")
      height, width, depth = height // 2, width // 2, depth * 4
    inner.append((height, width, depth))
    if level.split:
      pieces.append((height, width, depth - depth // 2))
      depth //= 2
  pieces.append((height, width, depth))
  return inner, pieces


class MultiScale(distrax.Bijector):
  """Images [..., H, W, C] -> latents [..., H*W*C] through `levels`; see the module docstring."""

  def __init__(self, image_shape: Sequence[int], levels: Sequence[Level]):
    super().__init__(event_ndims_in=IMAGE_EVENT_NDIMS, event_ndims_out=1)
    self.image_shape, self.levels = tuple(image_shape), tuple(levels)
    _, self.piece_shapes = level_shapes(self.image_shape, self.levels)

  def forward_and_log_det(self, x):
    batch = batch_shape(x, IMAGE_EVENT_NDIMS)
    h, log_det, pieces = x, jnp.zeros(batch, x.dtype), []
    for level in self.levels:
      if level.squeeze:
        h = squeeze(h)
      if level.bijector is not None:
        h, level_log_det = level.bijector.forward_and_log_det(h)
        log_det += level_log_det
      if level.split:
        h, z = jnp.split(h, [h.shape[-1] // 2], axis=-1)
        if level.prior is not None:
          mean, log_scale = level.prior(h)
          z = (z - mean) * jnp.exp(-log_scale)
          log_det -= sum_event(log_scale, IMAGE_EVENT_NDIMS)
        pieces.append(z.reshape(batch + (-1,)))
    pieces.append(h.reshape(batch + (-1,)))
    return jnp.concatenate(pieces, axis=-1), log_det

  def inverse_and_log_det(self, y):
    batch = y.shape[:-1]
    sizes = [h * w * c for h, w, c in self.piece_shapes]
    flat = jnp.split(y, list(itertools.accumulate(sizes[:-1])), axis=-1)
    h = flat[-1].reshape(batch + self.piece_shapes[-1])
    split_pieces = iter(reversed(list(zip(flat[:-1], self.piece_shapes[:-1]))))
    log_det = jnp.zeros(batch, y.dtype)
    for level in reversed(self.levels):
      if level.split:
        piece, shape = next(split_pieces)
        z = piece.reshape(batch + shape)
        if level.prior is not None:
          mean, log_scale = level.prior(h)
          z = z * jnp.exp(log_scale) + mean
          log_det += sum_event(log_scale, IMAGE_EVENT_NDIMS)
        h = jnp.concatenate([h, z], axis=-1)
      if level.bijector is not None:
        h, level_log_det = level.bijector.inverse_and_log_det(h)
        log_det += level_log_det
      if level.squeeze:
        h = unsqueeze(h)
    return h, log_det

