"""Glow (Kingma & Dhariwal 2018): L levels of K steps ActNorm -> 1x1 conv (LU) -> affine coupling.

The model is a Flax module that owns the parameters and builds distrax bijectors from them. The K
steps of a level run under `nn.scan` (parameters stacked along a leading K axis), so compile time
does not grow with K; the inverse scans the same parameters in reverse order.
"""

from typing import ClassVar

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import bijectors, checks
from genzoo.nets.flow_conditioners import GlowConditioner, SplitPrior

FIXED_LU_ENTRIES = ("permutation", "sign")  # of the LU 1x1 convolution: fixed at initialisation
CENTRE = distrax.Block(distrax.ScalarAffine(shift=-0.5), 3)  # [0, 1) -> [-0.5, 0.5)


class GlowStep(nn.Module):
  """One step of flow; `__call__((h, log_det), None)` is the body that `nn.scan` repeats."""

  hidden: int
  reverse: bool = False

  @nn.compact
  def __call__(self, carry, _):
    h, log_det = carry
    depth = h.shape[-1]
    # Data-dependent initialisation: at init the step's input is the first batch, forward.
    actnorm = bijectors.ActNorm(
        self.param("actnorm_log_scale", lambda _: bijectors.data_dependent_init(h)[0]),
        self.param("actnorm_bias", lambda _: bijectors.data_dependent_init(h)[1]),
    )
    # The permutation and the signs stay as initialised: no gradient reaches them.
    lu = self.param("lu", lambda rng: bijectors.lu_init(rng, depth))
    conv = bijectors.LUInvertible1x1Conv(**{
        name: jax.lax.stop_gradient(value) if name in FIXED_LU_ENTRIES else value
        for name, value in lu.items()
    })
    coupling = bijectors.Coupling(
        bijectors.SplitPartition(), GlowConditioner(self.hidden, depth - depth // 2),
        bijectors.affine_transformer("sigmoid"))
    step = distrax.Chain([coupling, conv, actnorm])  # a Chain applies its last bijector first
    h, step_log_det = step.inverse_and_log_det(h) if self.reverse else step.forward_and_log_det(h)
    return (h, log_det + step_log_det), None


def scanned_steps(num_steps: int, hidden: int, reverse: bool, remat: bool, name: str) -> nn.Module:
  """K Glow steps with stacked parameters; `reverse` runs their inverses last to first.

  With `remat`, the backward pass recomputes each step's activations from its input instead of
  keeping K stacked copies of them: memory no longer grows with K x hidden, and on XLA:CPU the
  step is as fast (allocating and filling the stacked buffers costs about as much as the
  recomputation)."""
  step = nn.remat(GlowStep, prevent_cse=False) if remat else GlowStep
  scan = nn.scan(
      step,
      variable_axes={"params": 0},
      split_rngs={"params": True},
      length=num_steps,
      reverse=reverse,
  )
  return scan(hidden, reverse=reverse, name=name)


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
      steps = scanned_steps(self.num_steps, self.hidden, inverse, self.remat, name=f"level{index}")
      is_last = index == self.num_levels - 1
      prior = None
      if self.learn_split_prior and not is_last:
        prior = SplitPrior(depth - depth // 2, name=f"split_prior{index}")
      levels.append(bijectors.Level(
          bijector=_one_way_bijector(steps, inverse), squeeze=True, split=not is_last, prior=prior))
    return levels


def _one_way_bijector(steps: nn.Module, inverse: bool) -> bijectors.FunctionBijector:
  """The scanned steps as a bijector for the one direction they were built for (the scan order
  is static, so a call builds the level for the direction it runs)."""

  def run(h):
    (h, log_det), _ = steps((h, jnp.zeros(h.shape[:-3], h.dtype)), None)
    return h, log_det

  def other_direction(_):
    raise RuntimeError("this Glow level was built for the other direction; call Glow again")

  if inverse:
    return bijectors.FunctionBijector(other_direction, run)
  return bijectors.FunctionBijector(run, other_direction)
