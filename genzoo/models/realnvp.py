"""RealNVP (Dinh et al. 2017): logit pre-processing, then per scale three checkerboard couplings,
a squeeze, three channel couplings and a factor-out of half the channels; the last scale has four
checkerboard couplings. Conditioners are ResNets; log-scales use the tanh form with a learned
per-channel scale.
"""

from typing import ClassVar

import distrax
import flax.linen as nn
import jax

from genzoo import bijectors, checks
from genzoo.nets.flow_conditioners import ResNetConditioner
from genzoo.nets.precision import COMPUTE_DTYPE_RULE, in_precision


class RealNVP(nn.Module):
  """Dequantised images in [0, 1) [..., H, W, C] <-> flat latents [..., H*W*C] (N(0, I) base).

  `__call__(y)` returns (latents, log_det) of the normalising direction, the logit's included;
  `__call__(z, inverse=True)` returns (images, log_det of the inverse).
  """

  event_shape: tuple[int, int, int]
  num_scales: int = 2
  hidden: int = 64
  num_blocks: int = 4
  logit_alpha: float = 0.05
  compute_dtype: str = "float32"  # what the conditioners compute in (`nets.precision`)

  KINDS: ClassVar[tuple[str, ...]] = ("image",)  # the data kinds it models
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()  # random streams its apply draws from
  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {
      "model.num_scales": checks.at_least(1), "model.hidden": checks.at_least(1),
      "model.num_blocks": checks.at_least(0),
      "model.logit_alpha": checks.Rule(lambda v: isinstance(v, (int, float)) and 0 <= v < 0.5, "a number >= 0 and < 0.5"),
      **COMPUTE_DTYPE_RULE,
  }

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False):
    del train  # no dropout or batch statistics: training and evaluation compute the same map
    flow = bijectors.MultiScale(self.event_shape, self._levels())
    if inverse:
      return flow.inverse_and_log_det(inputs)
    return flow.forward_and_log_det(inputs)

  def _couplings(self, shape, mask_fn, parities, name) -> distrax.Chain:
    steps = []
    for index, parity in enumerate(parities):
      conditioner = in_precision(ResNetConditioner, self.compute_dtype, self.hidden, self.num_blocks, shape[-1],
                                 name=f"{name}_{index}")
      tanh_scale = self.param(f"{name}_{index}_scale", nn.initializers.ones, (shape[-1],))
      steps.append(bijectors.Coupling(
          bijectors.MaskPartition(mask_fn(shape, parity)), conditioner,
          bijectors.affine_transformer("tanh", tanh_scale)))
    return distrax.Chain(steps[::-1])  # a Chain applies its last bijector first

  def _levels(self) -> list[bijectors.Level]:
    height, width, depth = self.event_shape
    levels = [bijectors.Level(bijectors.Logit(self.logit_alpha), squeeze=False, split=False)]
    for scale in range(self.num_scales - 1):
      levels.append(bijectors.Level(
          self._couplings((height, width, depth), bijectors.checkerboard_mask, (0, 1, 0), f"scale{scale}_checker"),
          squeeze=False, split=False))
      # An odd size is reported by MultiScale, which checks every squeeze.
      height, width, depth = height // 2, width // 2, depth * 4
      levels.append(bijectors.Level(
          self._couplings((height, width, depth), bijectors.channel_mask, (0, 1, 0), f"scale{scale}_channel"),
          squeeze=True, split=True))
      depth //= 2
    levels.append(bijectors.Level(
        self._couplings((height, width, depth), bijectors.checkerboard_mask, (0, 1, 0, 1), "final_checker"),
        squeeze=False, split=False))
    return levels

