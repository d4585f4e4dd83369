"""Generative models: Linen modules that own parameters and build distributions from them."""

import distrax
import flax.linen as nn
import jax

from genzoo.bijectors import FunctionBijector


def rngs(module: nn.Module, rng: jax.Array) -> dict[str, jax.Array]:
  """One independent key per random stream a model declares in `RNG_STREAMS` (dropout, noise),
  for its `apply(..., rngs=...)`."""
  return {name: jax.random.fold_in(rng, index) for index, name in enumerate(module.RNG_STREAMS)}


def flow_bijector(model: nn.Module, variables) -> distrax.Bijector:
  """A built flow model as one `distrax.Bijector`, usable in both directions.

  `model` is any flow of `genzoo.tasks.flow.FLOW_MODELS` (Glow, RealNVP, VectorRealNVP): its
  `apply(variables, y)` normalises data [..., *event_shape] to flat latents [..., D] and
  `apply(variables, z, inverse=True)` generates. The bijector maps data to latents (forward) and
  back (inverse), with exact log-dets, so it composes with distrax, e.g.
  `distrax.Transformed(base, distrax.Inverse(flow_bijector(model, variables)))` is the model's
  distribution over data.
  """
  return FunctionBijector(
      lambda y: model.apply(variables, y),
      lambda z: model.apply(variables, z, inverse=True),
      event_ndims_in=len(model.event_shape), event_ndims_out=1)
