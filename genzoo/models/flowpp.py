"""Flow++ (Ho et al. 2019): logistic-mixture CDF couplings with gated self-attention conditioners,
and the flow q(u | x) of its variational dequantisation, built from the same steps.

The model (the structure of the paper's code, `flows/run_cifar.py`): the dequantised image
y in [0, 1) goes to logit(0.05 + 0.9 y); then come scales, each after a squeeze except the first
(unless `squeeze_first`), of `channel_couplings[i]` couplings between the halves of the channels,
then `checkerboard_couplings[i]` couplings between the even and the odd columns (adjacent columns
paired into channels by `bijectors.PairAdjacent`, the code's "checkerboard split"). No dimensions
are factored out. A step is
  ActNorm -> invertible 1x1 convolution (when `pointwise`) -> `Coupling` of the channel halves with
  the logistic-mixture CDF transformer of `components` components and `nets.flowpp`'s conditioner
  -> a swap of the halves, so that the next step transforms the other half;
with `components=0` the couplings are affine instead (the paper's "affine coupling" ablation).
Where genzoo differs from the code: ActNorm is per channel (the code's normalisation is per
position and channel) and the 1x1 convolution mixes all channels (the code's mixes each half on
its own, a special case); the conditioners are initialised as `nets.flowpp` says.
"""

from typing import ClassVar

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import bijectors, checks
from genzoo.bijectors._events import IMAGE_EVENT_NDIMS
from genzoo.bijectors.squeeze import pair_adjacent
from genzoo.errors import UserError
from genzoo.models import flow_steps
from genzoo.nets.flowpp import ContextProcessor, FlowppConditioner
from genzoo.nets.precision import COMPUTE_DTYPES, in_precision

PREPROCESS = bijectors.Logit(alpha=0.05)  # [0, 1) -> logit(0.05 + 0.9 y), as the paper's code


class FlowppStep(nn.Module):
  """One step of flow (see the module docstring), the body that `flow_steps.scanned_steps` repeats;
  its couplings see `context` when one is given."""

  filters: int
  blocks: int
  components: int
  heads: int
  dropout: float
  attention: bool
  pointwise: bool
  compute_dtype: str = "float32"
  train: bool = False
  reverse: bool = False

  @nn.compact
  def __call__(self, carry, context):
    h = carry[0]
    depth = h.shape[-1]
    parts = [flow_steps.actnorm(self, h)]
    if self.pointwise:
      parts.append(flow_steps.lu_conv(self, depth))
    conditioner = in_precision(
        FlowppConditioner, self.compute_dtype, self.filters, self.blocks, out_channels=depth - depth // 2,
        num_params=2 + 3 * self.components, heads=self.heads, dropout=self.dropout, attention=self.attention,
        train=self.train)
    parts.append(bijectors.Coupling(bijectors.SplitPartition(), conditioner, self.transformer(), condition=context))
    parts.append(bijectors.ChannelPermutation(jnp.roll(jnp.arange(depth), -(depth // 2))))
    step = distrax.Chain(parts[::-1])  # a Chain applies its last bijector first
    return flow_steps.run_step(step, carry, self.reverse), None

  def transformer(self) -> bijectors.coupling.Transformer:
    """The logistic-mixture CDF of `components` components, or with none the affine map
    x * exp(tanh(raw)) + shift (the paper's "affine coupling" ablation)."""
    if self.components:
      return bijectors.mixture_cdf_transformer(self.components)
    return bijectors.affine_transformer("tanh")


class StepFields(nn.Module):
  """The event shape and the fields of the Flow++ steps that a model takes from its config."""

  event_shape: tuple[int, int, int]
  filters: int = 96
  blocks: int = 10
  components: int = 32
  heads: int = 4
  dropout: float = 0.2
  attention: bool = True
  pointwise: bool = True
  remat: bool = True
  compute_dtype: str = "float32"  # what the conditioners compute in (`nets.precision`)

  STEP_RULES: ClassVar[dict] = {"filters": checks.at_least(1), "blocks": checks.at_least(0),
                                "components": checks.at_least(0), "heads": checks.at_least(1),
                                "dropout": checks.fraction(upper_inclusive=False),
                                "compute_dtype": checks.one_of(COMPUTE_DTYPES)}

  def steps(self, name: str, num_steps: int, inverse: bool, train: bool, context=None) -> bijectors.FunctionBijector:
    """`num_steps` scanned steps as a one-way bijector on [..., H, W, C]."""
    if self.filters % self.heads:
      raise UserError(f"filters={self.filters} must be divisible by heads={self.heads} (each attention head "
                      "takes an equal share of the channels)")
    scanned = flow_steps.scanned_steps(
        FlowppStep, num_steps, inverse, self.remat, name=name, filters=self.filters, blocks=self.blocks,
        components=self.components, heads=self.heads, dropout=self.dropout, attention=self.attention,
        pointwise=self.pointwise, compute_dtype=self.compute_dtype, train=train)
    return flow_steps.one_way_bijector(scanned, inverse, context)


def checkerboard(steps: distrax.Bijector) -> distrax.Bijector:
  """`steps` run between the even and the odd columns: pair adjacent columns, run, unpair."""
  pair = bijectors.PairAdjacent()
  return distrax.Chain([distrax.Inverse(pair), steps, pair])


def rules_with_prefix(prefix: str, rules: dict) -> dict:
  return {f"{prefix}.{key}": rule for key, rule in rules.items()}


class FlowPlusPlus(StepFields):
  """Dequantised images in [0, 1) [..., H, W, C] <-> flat latents [..., H*W*C] (N(0, I) base);
  `__call__(y)` returns (latents, log_det), `__call__(z, inverse=True)` (images, log_det of the
  inverse). See the module docstring."""

  checkerboard_couplings: tuple[int, ...] = (4, 3)
  channel_couplings: tuple[int, ...] = (0, 2)
  squeeze_first: bool = False

  KINDS: ClassVar[tuple[str, ...]] = ("image",)
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ("dropout",)
  CONFIG_RULES: ClassVar[dict] = rules_with_prefix("model", StepFields.STEP_RULES)

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False):
    flow = bijectors.MultiScale(self.event_shape, self._levels(inverse, train))
    return flow.inverse_and_log_det(inputs) if inverse else flow.forward_and_log_det(inputs)

  def _levels(self, inverse: bool, train: bool) -> list[bijectors.Level]:
    scales = tuple(zip(self.channel_couplings, self.checkerboard_couplings, strict=True))
    squeezes = [self.squeeze_first or index > 0 for index in range(len(scales))]
    inner_shapes, _ = bijectors.level_shapes(
        self.event_shape, [bijectors.Level(squeeze=squeeze, split=False) for squeeze in squeezes])
    levels = [bijectors.Level(PREPROCESS, squeeze=False, split=False)]
    for index, ((num_channel, num_checkerboard), (_, width, depth)) in enumerate(zip(scales, inner_shapes)):
      if num_channel and depth < 2:
        raise UserError(f"scale {index + 1} has {depth} channel(s), too few for channel couplings; "
                        f"set model.channel_couplings[{index}] = 0 or squeeze first")
      if num_checkerboard and width % 2:
        raise UserError(f"scale {index + 1} is {width} pixels wide, which does not split into even and odd "
                        f"columns; set model.checkerboard_couplings[{index}] = 0 or use an even width")
      parts = []
      if num_channel:
        parts.append(self.steps(f"scale{index}_channel", num_channel, inverse, train))
      if num_checkerboard:
        parts.append(checkerboard(self.steps(f"scale{index}_checkerboard", num_checkerboard, inverse, train)))
      levels.append(bijectors.Level(distrax.Chain(parts[::-1]) if parts else None,
                                    squeeze=squeezes[index], split=False))
    return levels


class DequantizationFlow(StepFields):
  """Flow++'s variational dequantiser q(u | x) (Ho et al. 2019, sec. 3.1): for discrete images x
  [B, H, W, C] of `levels` levels and noise eps ~ N(0, I) of x's shape,
    u = sigmoid(g(eps; features(x))),  log q(u | x) = log N(eps; 0, I) - log|det du/deps|,
  with g `couplings` Flow++ steps between the even and the odd columns, every coupling seeing the
  features of x from `nets.flowpp.ContextProcessor` (`context_channels`, `context_blocks`).
  `__call__(x, eps)` returns (u in (0, 1)^D, log q(u | x)) per example."""

  levels: int = 256
  couplings: int = 4
  context_channels: int = 32
  context_blocks: int = 3

  RNG_STREAMS: ClassVar[tuple[str, ...]] = ("dropout",)
  CONFIG_RULES: ClassVar[dict] = rules_with_prefix("dequantizer", {
      **StepFields.STEP_RULES, "couplings": checks.at_least(1), "context_channels": checks.at_least(1),
      "context_blocks": checks.at_least(0)})

  @nn.compact
  def __call__(self, x: jax.Array, eps: jax.Array, *, train: bool = False):
    if self.event_shape[1] % 2:
      raise UserError(f"variational dequantisation pairs adjacent columns and needs an even image width, "
                      f"got images of shape {tuple(self.event_shape)}")
    scaled = x.astype(jnp.float32) / self.levels - 0.5
    features = ContextProcessor(self.context_channels, self.context_blocks, self.dropout, train=train)(
        pair_adjacent(scaled, IMAGE_EVENT_NDIMS))
    flow = distrax.Chain([
        distrax.Block(distrax.Sigmoid(), IMAGE_EVENT_NDIMS),
        checkerboard(self.steps("couplings", self.couplings, False, train, context=features)),
    ])
    u, log_det = flow.forward_and_log_det(eps)
    log_noise = jnp.sum(jax.scipy.stats.norm.logpdf(eps), axis=(-3, -2, -1))
    return u, log_noise - log_det
