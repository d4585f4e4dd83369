"""Glow (Kingma & Dhariwal 2018): L levels of K steps ActNorm -> 1x1 conv (LU) -> affine coupling.

The model is a Flax module that owns the parameters and builds distrax bijectors from them. The K
steps of a level run under `nn.scan` (see `flow_steps`); the inverse scans the same parameters in
reverse order.
"""

from typing import ClassVar

import distrax
import flax.linen as nn
import jax

from genzoo import bijectors, checks
from genzoo.models import flow_steps
from genzoo.nets.flow_conditioners import GlowConditioner, SplitPrior

CENTRE = distrax.Block(distrax.ScalarAffine(shift=-0.5), 3)  # [0, 1) -> [-0.5, 0.5)


class GlowStep(nn.Module):
  """One step of flow, the body that `flow_steps.scanned_steps` repeats."""

  hidden: int
  shift_first: bool
  reverse: bool = False

  @nn.compact
  def __call__(self, carry, context):
    del context  # unconditioned
    h, log_det = carry
    depth = h.shape[-1]
    # ActNorm initialises from the step's input; a Chain applies its last bijector first.
    norm, conv = flow_steps.actnorm(self, h), flow_steps.lu_conv(self, depth)
    coupling = bijectors.Coupling(
        bijectors.SplitPartition(), GlowConditioner(self.hidden, depth - depth // 2),
        bijectors.affine_transformer("sigmoid", shift_first=self.shift_first))
    step = distrax.Chain([coupling, conv, norm])
    h, step_log_det = step.inverse_and_log_det(h) if self.reverse else step.forward_and_log_det(h)
    return (h, log_det + step_log_det), None


class Glow(nn.Module):
  """Dequantised images in [0, 1) [..., H, W, C] <-> flat latents [..., H*W*C] (N(0, I) base).

  The images are first shifted to [-0.5, 0.5) (log-det 0). `__call__(y)` returns (latents,
  log_det) of the normalising direction; `__call__(z, inverse=True)` returns (images, log_det of
  the inverse).
  """

  event_shape: tuple[int, int, int]
  num_levels: int = 3
  num_steps: int = 32
  hidden: int = 512
  learn_split_prior: bool = True
  learn_top_prior: bool = False
  split_prior_per_position: bool = False
  coupling_shift_first: bool = False
  remat: bool = True

  KINDS: ClassVar[tuple[str, ...]] = ("image",)  # the data kinds it models
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()  # random streams its apply draws from
  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {"model.num_levels": checks.at_least(1), "model.num_steps": checks.at_least(1),
                                  "model.hidden": checks.at_least(1)}

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False):
    del train  # no dropout or batch statistics: training and evaluation compute the same map
    flow = bijectors.MultiScale(self.event_shape, self._levels(inverse))
    if inverse:
      return flow.inverse_and_log_det(inputs)
    return flow.forward_and_log_det(inputs)

  def _levels(self, inverse: bool) -> list[bijectors.Level]:
    inner_shapes, _ = bijectors.level_shapes(
        self.event_shape, [bijectors.Level(split=i < self.num_levels - 1) for i in range(self.num_levels)])
    levels = [bijectors.Level(CENTRE, squeeze=False, split=False)]
    for index, (_, _, depth) in enumerate(inner_shapes):
      steps = flow_steps.scanned_steps(GlowStep, self.num_steps, inverse, self.remat, name=f"level{index}",
                                       hidden=self.hidden, shift_first=self.coupling_shift_first)
      is_last = index == self.num_levels - 1
      prior = None
      if self.learn_split_prior and not is_last:
        prior = SplitPrior(depth - depth // 2, self.split_prior_per_position, name=f"split_prior{index}")
      bijector = flow_steps.one_way_bijector(steps, inverse)
      if self.learn_top_prior and is_last:
        bijector = distrax.Chain([self._top_prior(inner_shapes[-1]), bijector])
      levels.append(bijectors.Level(bijector=bijector, squeeze=True, split=not is_last, prior=prior))
    return levels

  def _top_prior(self, shape: tuple[int, int, int]) -> distrax.Bijector:
    """Glow's learned prior on the top latents (`learntop` in the paper's code), per position:
    z = h * exp(log_scale) + shift with z ~ N(0, I) is h ~ N(-shift * exp(-log_scale),
    exp(-2 log_scale)). Written as the flow's last bijector, the base stays N(0, I), so sampling
    at a temperature scales the learned standard deviations. Starts as the identity."""
    shift = self.param("top_prior_shift", nn.initializers.zeros, shape)
    log_scale = self.param("top_prior_log_scale", nn.initializers.zeros, shape)
    return distrax.Block(distrax.ScalarAffine(shift=shift, log_scale=log_scale), 3)

