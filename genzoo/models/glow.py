"""Glow (Kingma & Dhariwal 2018): L levels of K steps ActNorm -> 1x1 conv (LU) -> affine coupling.

The model is a Flax module that owns the parameters and builds distrax bijectors from them. The K
steps of a level run under `nn.scan` (see `flow_steps`); the inverse scans the same parameters in
reverse order.

Class-conditional (`num_classes` > 0), as in the paper's y-conditioning (sec. 5 and the `ycond`
option of its code): the prior of the top latents and of every split-off half (the learned split
priors, `learn_split_prior`) takes a
zero-initialised linear map of the one-hot label, per channel, as part of its mean and log-scale.
The steps of flow are not conditioned unless `condition_couplings`, which also hands the one-hot
label, broadcast over positions, to every coupling's conditioner as extra input channels (as
conditional flows since the paper do: the label then shapes every step, not only the priors).
Either way, for every label the model is a bijection with an exact log p(x | y). The top latents also feed a linear classifier of the label (their mean over
positions), whose logits are sown as the intermediate "class_logits" for the paper's optional
class-prediction loss.

`compute_dtype` ("float32" or "bfloat16") is what the couplings' conditioners compute in
(`nets.precision`); parameters, ActNorm, the 1x1 convolutions, the priors and every log-det stay
float32.
"""

from typing import ClassVar

import functools
import math

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import bijectors, checks
from genzoo.errors import UserError
from genzoo.models import flow_steps
from genzoo.nets.flow_conditioners import GlowConditioner, SplitPrior, class_terms
from genzoo.nets.precision import COMPUTE_DTYPE_RULE, in_precision

CENTRE = distrax.Block(distrax.ScalarAffine(shift=-0.5), 3)  # [0, 1) -> [-0.5, 0.5)


class GlowStep(nn.Module):
  """One step of flow, the body that `flow_steps.scanned_steps` repeats."""

  hidden: int
  shift_first: bool
  compute_dtype: str = "float32"
  reverse: bool = False

  @nn.compact
  def __call__(self, carry, context):
    """`context`: the class code [N, K] its couplings' conditioners take, or None."""
    h = carry[0]
    depth = h.shape[-1]
    # ActNorm initialises from the step's input; a Chain applies its last bijector first.
    norm, conv = flow_steps.actnorm(self, h), flow_steps.lu_conv(self, depth)
    conditioner = in_precision(GlowConditioner, self.compute_dtype, self.hidden, depth - depth // 2)
    coupling = bijectors.Coupling(
        bijectors.SplitPartition(), conditioner if context is None else functools.partial(conditioner, condition=context),
        bijectors.affine_transformer("sigmoid", shift_first=self.shift_first))
    return flow_steps.run_step(distrax.Chain([coupling, conv, norm]), carry, self.reverse), None


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
  num_classes: int = 0
  condition_couplings: bool = False
  compute_dtype: str = "float32"

  KINDS: ClassVar[tuple[str, ...]] = ("image",)  # the data kinds it models
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()  # random streams its apply draws from
  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {"model.num_levels": checks.at_least(1), "model.num_steps": checks.at_least(1),
                                  "model.hidden": checks.at_least(1), "model.num_classes": checks.at_least(0),
                                  **COMPUTE_DTYPE_RULE}
  # Fields added after runs were stored, with the value those runs used (`tasks.backfilled_keys`).
  BACKFILLED_FIELDS: ClassVar[dict] = {"condition_couplings": False}

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False,
               labels: jax.Array | None = None):
    """(latents, log_det) of images [N, H, W, C], or (images, log_det) of latents [N, D] with
    `inverse`; a class-conditional Glow takes the labels [N] too."""
    del train  # no dropout or batch statistics: training and evaluation compute the same map
    self._check_fields()
    class_code = self._class_code(labels)
    inner_shapes, piece_shapes = bijectors.level_shapes(
        self.event_shape, [bijectors.Level(split=i < self.num_levels - 1) for i in range(self.num_levels)])
    top_prior = self._top_prior(inner_shapes[-1], class_code)
    flow = bijectors.MultiScale(self.event_shape, self._levels(inverse, inner_shapes, top_prior, class_code))
    if inverse:
      return flow.inverse_and_log_det(inputs)
    latents, log_det = flow.forward_and_log_det(inputs)
    if class_code is not None:
      self.sow("intermediates", "class_logits", self._class_logits(latents, piece_shapes[-1], top_prior))
    return latents, log_det

  def _class_code(self, labels: jax.Array | None) -> jax.Array | None:
    if not self.num_classes:
      return None
    if labels is None:
      raise UserError(f"this Glow is conditioned on {self.num_classes} classes and needs labels")
    return jax.nn.one_hot(labels, self.num_classes)

  def _check_fields(self) -> None:
    if self.condition_couplings and not self.num_classes:
      raise UserError("model.condition_couplings hands the label to the couplings, which needs a class-conditional "
                      "Glow (model.num_classes > 0)")

  def _levels(self, inverse: bool, inner_shapes, top_prior: distrax.Bijector | None,
              class_code: jax.Array | None) -> list[bijectors.Level]:
    levels = [bijectors.Level(CENTRE, squeeze=False, split=False)]
    for index, (_, _, depth) in enumerate(inner_shapes):
      steps = flow_steps.scanned_steps(GlowStep, self.num_steps, inverse, self.remat, name=f"level{index}",
                                       hidden=self.hidden, shift_first=self.coupling_shift_first,
                                       compute_dtype=self.compute_dtype)
      is_last = index == self.num_levels - 1
      prior = None
      if self.learn_split_prior and not is_last:
        prior = functools.partial(
            SplitPrior(depth - depth // 2, self.split_prior_per_position, name=f"split_prior{index}"),
            class_code=class_code)
      bijector = flow_steps.one_way_bijector(steps, inverse, class_code if self.condition_couplings else None)
      if top_prior is not None and is_last:
        bijector = distrax.Chain([top_prior, bijector])
      levels.append(bijectors.Level(bijector=bijector, squeeze=True, split=not is_last, prior=prior))
    return levels

  def _top_prior(self, shape: tuple[int, int, int], class_code: jax.Array | None) -> distrax.Bijector | None:
    """Glow's learned prior on the top latents (`learntop` in the paper's code), per position,
    plus a per-channel linear map of the class code when class-conditional (`ycond`):
    z = h * exp(log_scale) + shift with z ~ N(0, I) is h ~ N(-shift * exp(-log_scale),
    exp(-2 log_scale)). Written as the flow's last bijector, the base stays N(0, I), so sampling
    at a temperature scales the learned standard deviations. Starts as the identity; None when
    neither is asked for."""
    if not self.learn_top_prior and class_code is None:
      return None
    shift, log_scale = jnp.zeros(shape), jnp.zeros(shape)
    if self.learn_top_prior:
      shift = self.param("top_prior_shift", nn.initializers.zeros, shape)
      log_scale = self.param("top_prior_log_scale", nn.initializers.zeros, shape)
    if class_code is not None:
      class_shift, class_log_scale = jnp.split(class_terms(class_code, 2 * shape[-1]), 2, axis=-1)
      shift, log_scale = shift + class_shift, log_scale + class_log_scale
    return distrax.Block(distrax.ScalarAffine(shift=shift, log_scale=log_scale), 3)

  def _class_logits(self, latents: jax.Array, top_shape: tuple[int, int, int],
                    top_prior: distrax.Bijector) -> jax.Array:
    """Logits [N, num_classes] of a zero-initialised linear classifier of the top latents h (before
    their prior) averaged over positions (the paper's code: `linear_zeros` of mean(z, [1, 2]))."""
    top = latents[..., latents.shape[-1] - math.prod(top_shape):].reshape(latents.shape[:-1] + top_shape)
    h = top_prior.inverse(top)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="class_classifier")(
        jnp.mean(h, axis=(-3, -2)))

