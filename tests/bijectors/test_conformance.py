"""Every bijector of genzoo.bijectors, and the flow models as whole bijectors, through the
conformance kit in float32 and float64."""

import distrax
import jax
import jax.numpy as jnp
import pytest

from genzoo import bijectors
from genzoo.models.glow import Glow
from genzoo.models.realnvp import RealNVP
from genzoo.testing import check_bijector

SHAPE = (4, 4, 4)  # event [H, W, C]; 64 dimensions keep the dense Jacobians small


def images(key, shape=SHAPE, batch=4):
  return jax.random.normal(key, (batch,) + shape)


def mixing_conditioner(key, in_channels, out_channels):
  """A conditioner that mixes channels and neighbouring pixels: (shift, raw) [..., out_channels]."""
  a, b = jax.random.normal(key, (2, in_channels, out_channels)) * 0.5

  def conditioner(x):
    neighbours = x + jnp.roll(x, 1, axis=-2) + jnp.roll(x, 1, axis=-3)
    return jnp.tanh(neighbours @ a), neighbours @ b

  return conditioner


def lu_params(key, depth):
  params = bijectors.lu_init(key, depth)
  noise = jax.random.normal(jax.random.fold_in(key, 1), (depth, depth)) * 0.1
  return dict(params, lower=params["lower"] + noise, upper=params["upper"] - noise,
              log_abs_diag=params["log_abs_diag"] + 0.1)


def split_prior(key, channels):
  weights = jax.random.normal(key, (2, channels, channels)) * 0.3
  return lambda h: (h @ weights[0], jnp.tanh(h @ weights[1]))


def tiny_multiscale(key):
  """Squeeze + coupling + split with a learned-style prior, then squeeze + coupling: 8x8x1."""
  k1, k2, k3 = jax.random.split(key, 3)
  return bijectors.MultiScale((8, 8, 1), [
      bijectors.Level(bijectors.ChannelAffineCoupling(mixing_conditioner(k1, 2, 2)), prior=split_prior(k3, 2)),
      bijectors.Level(bijectors.ChannelAffineCoupling(mixing_conditioner(k2, 4, 4)), split=False),
  ])


def flow_model_bijector(model, key, shape):
  """A flow model's apply functions as one bijector (images -> flat latents)."""
  y = jax.random.uniform(key, (2,) + shape)
  variables = jax.jit(model.init)(key, y)
  # Move away from the identity-at-initialisation so every layer contributes.
  variables = jax.tree_util.tree_map_with_path(
      lambda path, leaf: leaf if any(getattr(k, "key", None) in ("permutation", "sign") for k in path)
      else leaf + 0.05 * jax.random.normal(jax.random.fold_in(key, 7), leaf.shape), variables)
  forward = jax.jit(lambda x: model.apply(variables, x))
  inverse = jax.jit(lambda z: model.apply(variables, z, inverse=True))
  return bijectors.FunctionBijector(forward, inverse, event_ndims_in=3, event_ndims_out=1)


def _key(i):
  return jax.random.key(i)


REGISTRY = {
    "actnorm": lambda: (bijectors.ActNorm(jnp.linspace(-0.5, 0.5, 4), jnp.arange(4.0)), images(_key(1))),
    "dense_1x1_conv": lambda: (
        bijectors.Invertible1x1Conv(jnp.eye(4) + 0.3 * jax.random.normal(_key(2), (4, 4))), images(_key(1))),
    "lu_1x1_conv": lambda: (bijectors.LUInvertible1x1Conv(**lu_params(_key(3), 4)), images(_key(1))),
    "checkerboard_coupling_tanh": lambda: (
        bijectors.MaskedAffineCoupling(mixing_conditioner(_key(4), 4, 4), bijectors.checkerboard_mask(SHAPE, 0),
                                       scale_form="tanh", tanh_scale=jnp.full((4,), 1.5)), images(_key(1))),
    "channel_mask_coupling_sigmoid": lambda: (
        bijectors.MaskedAffineCoupling(mixing_conditioner(_key(5), 4, 4), bijectors.channel_mask(SHAPE, 1),
                                       scale_form="sigmoid"), images(_key(1))),
    "channel_coupling_sigmoid": lambda: (
        bijectors.ChannelAffineCoupling(mixing_conditioner(_key(6), 2, 2)), images(_key(1))),
    "channel_coupling_tanh": lambda: (
        bijectors.ChannelAffineCoupling(mixing_conditioner(_key(6), 2, 2), scale_form="tanh"), images(_key(1))),
    "squeeze": lambda: (bijectors.Squeeze(), images(_key(1))),
    "channel_permutation": lambda: (bijectors.ChannelPermutation([2, 0, 3, 1]), images(_key(1))),
    "logit": lambda: (bijectors.Logit(0.05), jax.random.uniform(_key(1), (4,) + SHAPE)),
    "centre_shift": lambda: (distrax.Block(distrax.ScalarAffine(shift=-0.5), 3), images(_key(1))),
    "multiscale": lambda: (tiny_multiscale(_key(8)), images(_key(1), (8, 8, 1))),
    "function_bijector": lambda: (
        bijectors.FunctionBijector(bijectors.Squeeze().forward_and_log_det, bijectors.Squeeze().inverse_and_log_det),
        images(_key(1))),
    "glow": lambda: (
        flow_model_bijector(Glow((4, 4, 2), num_levels=2, num_steps=1, hidden=4), _key(9), (4, 4, 2)),
        jax.random.uniform(_key(1), (4, 4, 4, 2))),
    "realnvp": lambda: (
        flow_model_bijector(RealNVP((4, 4, 2), num_scales=2, hidden=4, num_blocks=0), _key(10), (4, 4, 2)),
        jax.random.uniform(_key(1), (4, 4, 4, 2), minval=0.05, maxval=0.95)),
}


MODELS = {"glow", "realnvp"}  # whole flows, wrapped as FunctionBijectors


# The whole RealNVP (unrolled: about 75 s of compilation) runs in the slow tier; its couplings,
# logit and multi-scale bijectors are each checked here, and whole Glow is in the default run.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name == "realnvp" else name
                                  for name in sorted(REGISTRY)])
def test_bijector_conforms_in_float32(name):
  """The whole kit, whole Glow and RealNVP models included: their total log-det must equal the
  dense Jacobian's slogdet on a tiny image."""
  bijector, x = REGISTRY[name]()
  check_bijector(bijector, x)


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - MODELS))
def test_bijector_conforms_in_float64(name):
  with jax.enable_x64(True):  # the bijector's own arrays in float64 too
    bijector, x = REGISTRY[name]()
  check_bijector(bijector, x, float64=True)


def test_coupling_parameter_gradients_are_finite():
  def make(params):
    return bijectors.ChannelAffineCoupling(lambda x: (jnp.tanh(x @ params["a"]), x @ params["b"]))

  params = {"a": jnp.full((2, 2), 0.3), "b": jnp.full((2, 2), -0.2)}
  check_bijector(make, images(_key(1)), params=params)


def test_every_library_bijector_is_registered():
  names = {type(REGISTRY[name]()[0]).__name__ for name in set(REGISTRY) - MODELS}
  library = {name for name in bijectors.__all__ if isinstance(getattr(bijectors, name), type)
             and issubclass(getattr(bijectors, name), distrax.Bijector)}
  assert library - {"Level"} <= names, f"not in the conformance registry: {sorted(library - names)}"
