"""The multi-scale architecture (Dinh et al. 2017, sec. 3.6; Kingma & Dhariwal 2018, sec. 3):
a whole flow from images [..., H, W, C] (or sequences [..., T, C]) to flat latents [..., size] as
one bijector.

Each level optionally squeezes (images), applies its bijector, and optionally splits off the last
half of the channels, or a given number of them (WaveGlow's early outputs, Prenger et al. 2019,
sec. 2.3: 2 of a waveform's 8 grouped channels every 4 flows). A split-off half z may be standardised by a learned conditional prior on the kept half h
(Glow's split prior): z -> (z - mean(h)) * exp(-log_scale(h)), with log-det -sum log_scale(h).
The latents are every split-off half and the final h, flattened and concatenated, so a standard
normal base distribution on them gives an exact log-likelihood.
"""

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import batch_shape, sum_event
from genzoo.bijectors.squeeze import squeeze, unsqueeze
from genzoo.errors import UserError

SplitPrior = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Level:
  """One scale: squeeze first?, then `bijector` (None: identity), then split off the last channels?"""

  bijector: distrax.Bijector | None = None
  squeeze: bool = True
  split: bool = True
  prior: SplitPrior | None = None  # h -> (mean, log_scale) of the split-off channels
  split_channels: int | None = None  # how many channels the split takes; None: the (rounded-up) half

  def kept_channels(self, depth: int) -> int:
    """Channels left in h after this level's split."""
    if not self.split:
      return depth
    taken = depth - depth // 2 if self.split_channels is None else self.split_channels
    if not 0 < taken < depth:
      raise UserError(f"a level cannot split {taken} of its {depth} channels off: at least one must go and one stay")
    return depth - taken


def level_shapes(event_shape: Sequence[int], levels: Sequence[Level]):
  """Shape of h entering each level's bijector, and of each flattened latent piece, in order."""
  *positions, depth = event_shape
  num_squeezes = sum(level.squeeze for level in levels)
  if num_squeezes and len(event_shape) != 3:
    raise UserError(f"squeezes take images [H, W, C]; events of shape {tuple(event_shape)} cannot be squeezed")
  inner, pieces = [], []
  for index, level in enumerate(levels):
    if level.squeeze:
      height, width = positions
      if height % 2 or width % 2:
        raise UserError(
            f"image shape {tuple(event_shape)} cannot pass the {num_squeezes} squeezes of this "
            f"flow's levels: level {index + 1} of {len(levels)} gets {height}x{width}, which is not "
            f"even. Use an image size divisible by {2 ** num_squeezes} or fewer levels.")
      positions, depth = [height // 2, width // 2], depth * 4
    inner.append((*positions, depth))
    kept = level.kept_channels(depth)
    if kept != depth:
      pieces.append((*positions, depth - kept))
    depth = kept
  pieces.append((*positions, depth))
  return inner, pieces


class MultiScale(distrax.Bijector):
  """Events [..., *event_shape] (images [H, W, C] or sequences [T, C]) -> latents [..., size]
  through `levels`; see the module docstring."""

  def __init__(self, event_shape: Sequence[int], levels: Sequence[Level]):
    super().__init__(event_ndims_in=len(event_shape), event_ndims_out=1)
    self.event_shape, self.levels = tuple(event_shape), tuple(levels)
    _, self.piece_shapes = level_shapes(self.event_shape, self.levels)

  def forward_and_log_det(self, x):
    rank = len(self.event_shape)
    batch = batch_shape(x, rank)
    h, log_det, pieces = x, jnp.zeros(batch, x.dtype), []
    for level in self.levels:
      if level.squeeze:
        h = squeeze(h)
      if level.bijector is not None:
        h, level_log_det = level.bijector.forward_and_log_det(h)
        log_det += level_log_det
      if level.split:
        h, z = jnp.split(h, [level.kept_channels(h.shape[-1])], axis=-1)
        if level.prior is not None:
          mean, log_scale = level.prior(h)
          z = (z - mean) * jnp.exp(-log_scale)
          log_det -= sum_event(log_scale, rank)
        pieces.append(z.reshape(batch + (-1,)))
    pieces.append(h.reshape(batch + (-1,)))
    return jnp.concatenate(pieces, axis=-1), log_det

  def inverse_and_log_det(self, y):
    batch, rank = y.shape[:-1], len(self.event_shape)
    sizes = [math.prod(shape) for shape in self.piece_shapes]
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
          log_det += sum_event(log_scale, rank)
        h = jnp.concatenate([h, z], axis=-1)
      if level.bijector is not None:
        h, level_log_det = level.bijector.inverse_and_log_det(h)
        log_det += level_log_det
      if level.squeeze:
        h = unsqueeze(h)
    return h, log_det

