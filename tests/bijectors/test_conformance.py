"""Every bijector of genzoo.bijectors, on events of rank 1, 2 and 3 and with a context, and the
flow models as whole bijectors, through the conformance kit in float32 and float64."""

import functools

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo import bijectors
from genzoo.models import flow_bijector
from genzoo.models.flowpp import FlowPlusPlus
from genzoo.models.glow import Glow
from genzoo.models.realnvp import RealNVP
from genzoo.models.vector_flow import VectorRealNVP
from genzoo.nets.flowpp import FlowppConditioner
from genzoo.nets.wavenet import WaveNetConditioner
from genzoo.testing import check_bijector

SHAPE = (4, 4, 4)  # event [H, W, C]; 64 dimensions keep the dense Jacobians small


def images(key, shape=SHAPE, batch=4):
  return jax.random.normal(key, (batch,) + shape)


def sequences(key, batch=4):
  """Events of rank 2, [T, C] (a waveform's shape after WaveGlow's grouping)."""
  return jax.random.normal(key, (batch, 6, 4))


def vectors(key, batch=4, dimension=5):
  return jax.random.normal(key, (batch, dimension))


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


def vector_conditioner(key, in_features, out_features, context_features=0):
  """(x_a) or (x_a, condition) -> (shift, raw) [..., out_features]: a one-layer tanh MLP."""
  a_key, b_key, c_key = jax.random.split(key, 3)
  a = jax.random.normal(a_key, (in_features, out_features)) * 0.5
  b = jax.random.normal(b_key, (out_features, out_features)) * 0.5
  c = jax.random.normal(c_key, (context_features, out_features)) * 0.5

  def conditioner(x_a, condition=None):
    h = x_a @ a
    if condition is not None:
      h = h + condition @ c
    return jnp.tanh(h), h @ b

  return conditioner


def conditional_vector_coupling(condition):
  return bijectors.Coupling(bijectors.SplitPartition(flip=True), vector_conditioner(_key(11), 2, 3, 3),
                            bijectors.affine_transformer("tanh"), event_ndims=1, condition=condition)


def conditional_image_coupling(condition):
  """A checkerboard coupling whose conditioner adds a per-example context [C] to every pixel."""
  base = mixing_conditioner(_key(12), 4, 4)

  def conditioner(x_a, context):
    shift, raw = base(x_a)
    return shift + context[..., None, None, :], raw - context[..., None, None, :]

  return bijectors.Coupling(bijectors.MaskPartition(bijectors.checkerboard_mask(SHAPE, 1)), conditioner,
                            bijectors.affine_transformer("sigmoid"), condition=condition)


def mixture_conditioner(key, in_channels, out_channels, num_components=3):
  """x_a -> the 2 + 3K parameters of the mixture-CDF transformer, each [..., out_channels]."""
  weights = jax.random.normal(key, (2 + 3 * num_components, in_channels, out_channels)) * 0.5

  def conditioner(x):
    neighbours = x + jnp.roll(x, 1, axis=-2) + jnp.roll(x, 1, axis=-3)
    return tuple(jnp.tanh(neighbours @ w) for w in weights)

  return conditioner


def flowpp_coupling(condition):
  """Flow++'s coupling: the mixture-CDF transformer with `nets.flowpp`'s gated attention
  conditioner, whose gated convolutions see the context [H, W, F], at perturbed parameters."""
  conditioner = FlowppConditioner(filters=4, blocks=1, out_channels=2, num_params=2 + 3 * 2, heads=2)
  variables = jax.jit(conditioner.init)(_key(16), images(_key(1))[..., :2], condition)
  variables = jax.tree.map(lambda leaf: leaf + 0.1 * jax.random.normal(_key(17), leaf.shape), variables)
  return bijectors.Coupling(bijectors.SplitPartition(), functools.partial(conditioner.apply, variables),
                            bijectors.mixture_cdf_transformer(2), condition=condition)


def waveglow_coupling(condition):
  """WaveGlow's affine coupling on [T, C]: the first half of the channels and the context [T, F]
  set the second half's shift and unbounded log-scale through the WaveNet conditioner (perturbed
  away from its zero-initialised output)."""
  conditioner, variables = waveglow_conditioner()
  return bijectors.Coupling(bijectors.SplitPartition(), functools.partial(conditioner.apply, variables),
                            bijectors.affine_transformer("exp"), event_ndims=2, condition=condition)


@functools.cache
def waveglow_conditioner():
  conditioner = WaveNetConditioner(out_channels=2, layers=2, channels=4)
  variables = jax.jit(conditioner.init)(_key(20), sequences(_key(1))[..., :2], waveglow_context())
  return conditioner, jax.tree.map(lambda leaf: leaf + 0.1 * jax.random.normal(_key(21), leaf.shape), variables)


def waveglow_context():
  return jax.random.normal(_key(3), (4, 6, 5))


def split_prior(key, channels):
  weights = jax.random.normal(key, (2, channels, channels)) * 0.3
  return lambda h: (h @ weights[0], jnp.tanh(h @ weights[1]))


def tiny_multiscale(key):
  """Squeeze + coupling + split with a learned-style prior, then squeeze + coupling: 8x8x1."""
  k1, k2, k3 = jax.random.split(key, 3)
  return bijectors.MultiScale((8, 8, 1), [
      bijectors.Level(channel_coupling(mixing_conditioner(k1, 2, 2)), prior=split_prior(k3, 2)),
      bijectors.Level(channel_coupling(mixing_conditioner(k2, 4, 4)), split=False),
  ])


def channel_coupling(conditioner, scale_form="sigmoid", event_ndims=3):
  return bijectors.Coupling(bijectors.SplitPartition(), conditioner, bijectors.affine_transformer(scale_form),
                            event_ndims=event_ndims)


def sequence_multiscale(key):
  """WaveGlow's early outputs on [T, C] = [6, 4]: a 1x1 convolution and a channel coupling, then 1
  channel split off as a latent, then the same on the 3 channels left."""
  keys = jax.random.split(key, 4)

  def stage(conv_key, coupling_key, depth):
    coupling = channel_coupling(vector_conditioner(coupling_key, depth // 2, depth - depth // 2), event_ndims=2)
    return distrax.Chain([coupling, bijectors.LUInvertible1x1Conv(**lu_params(conv_key, depth), event_ndims=2)])

  return bijectors.MultiScale((6, 4), [
      bijectors.Level(stage(keys[0], keys[1], 4), squeeze=False, split_channels=1),
      bijectors.Level(stage(keys[2], keys[3], 3), squeeze=False, split=False),
  ])


def flow_model_bijector(model, key):
  """A built flow model as one bijector (data -> flat latents), with perturbed parameters."""
  y = jax.random.uniform(key, (2,) + model.event_shape)
  variables = jax.jit(model.init)(key, y)
  # Move away from the identity-at-initialisation so every layer contributes.
  variables = jax.tree_util.tree_map_with_path(
      lambda path, leaf: leaf if any(getattr(k, "key", None) in ("permutation", "sign") for k in path)
      else leaf + 0.05 * jax.random.normal(jax.random.fold_in(key, 7), leaf.shape), variables)
  return flow_bijector(model, variables)


def _key(i):
  return jax.random.key(i)


REGISTRY = {
    "actnorm": lambda: (bijectors.ActNorm(jnp.linspace(-0.5, 0.5, 4), jnp.arange(4.0)), images(_key(1))),
    "dense_1x1_conv": lambda: (
        bijectors.Invertible1x1Conv(jnp.eye(4) + 0.3 * jax.random.normal(_key(2), (4, 4))), images(_key(1))),
    "lu_1x1_conv": lambda: (bijectors.LUInvertible1x1Conv(**lu_params(_key(3), 4)), images(_key(1))),
    "lu_1x1_conv_rank2": lambda: (
        bijectors.LUInvertible1x1Conv(**lu_params(_key(3), 4), event_ndims=2), sequences(_key(1))),
    "checkerboard_coupling_tanh": lambda: (
        bijectors.Coupling(bijectors.MaskPartition(bijectors.checkerboard_mask(SHAPE, 0)),
                           mixing_conditioner(_key(4), 4, 4), bijectors.affine_transformer("tanh", jnp.full((4,), 1.5))),
        images(_key(1))),
    "checkerboard_coupling_rank2": lambda: (
        bijectors.Coupling(bijectors.MaskPartition(bijectors.checkerboard_mask((6, 4), 1)),
                           vector_conditioner(_key(4), 4, 4), bijectors.affine_transformer("tanh"), event_ndims=2),
        sequences(_key(1))),
    "channel_mask_coupling_sigmoid": lambda: (
        bijectors.Coupling(bijectors.MaskPartition(bijectors.channel_mask(SHAPE, 1)),
                           mixing_conditioner(_key(5), 4, 4), bijectors.affine_transformer("sigmoid")),
        images(_key(1))),
    "channel_coupling_sigmoid": lambda: (channel_coupling(mixing_conditioner(_key(6), 2, 2)), images(_key(1))),
    "channel_coupling_tanh": lambda: (
        channel_coupling(mixing_conditioner(_key(6), 2, 2), scale_form="tanh"), images(_key(1))),
    "vector_coupling_flipped": lambda: (
        bijectors.Coupling(bijectors.SplitPartition(flip=True), vector_conditioner(_key(7), 2, 3),
                           bijectors.affine_transformer("tanh"), event_ndims=1), vectors(_key(1))),
    "mixture_cdf_checkerboard_coupling": lambda: (
        bijectors.Coupling(bijectors.MaskPartition(bijectors.checkerboard_mask(SHAPE, 0)),
                           mixture_conditioner(_key(14), 4, 4), bijectors.mixture_cdf_transformer(3)),
        images(_key(1))),
    "mixture_cdf_channel_coupling": lambda: (
        bijectors.Coupling(bijectors.SplitPartition(), mixture_conditioner(_key(15), 2, 2),
                           bijectors.mixture_cdf_transformer(3)), images(_key(1))),
    "squeeze": lambda: (bijectors.Squeeze(), images(_key(1))),
    "group_samples": lambda: (bijectors.GroupSamples(4), jax.random.normal(_key(1), (4, 24))),
    "pair_adjacent": lambda: (bijectors.PairAdjacent(), images(_key(1))),
    "pair_adjacent_rank2": lambda: (bijectors.PairAdjacent(event_ndims=2), sequences(_key(1))),
    "channel_permutation": lambda: (bijectors.ChannelPermutation([2, 0, 3, 1]), images(_key(1))),
    "logit": lambda: (bijectors.Logit(0.05), jax.random.uniform(_key(1), (4,) + SHAPE)),
    "logistic_mixture_cdf": lambda: (  # elementwise: a batch of scalars
        bijectors.LogisticMixtureCDF(jnp.array([0.1, 0.2, 4.0]), jnp.array([-1.0, 0.0, 1.0]),
                                     jnp.array([-0.5, 0.3, -2.0]), jnp.array(0.3), jnp.array(0.2)),
        3.0 * jax.random.normal(_key(1), (6,))),
    "centre_shift": lambda: (distrax.Block(distrax.ScalarAffine(shift=-0.5), 3), images(_key(1))),
    "multiscale": lambda: (tiny_multiscale(_key(8)), images(_key(1), (8, 8, 1))),
    "multiscale_rank2_early_outputs": lambda: (sequence_multiscale(_key(19)), sequences(_key(1))),
    "function_bijector": lambda: (
        bijectors.FunctionBijector(bijectors.Squeeze().forward_and_log_det, bijectors.Squeeze().inverse_and_log_det),
        images(_key(1))),
    "glow": lambda: (
        flow_model_bijector(Glow((4, 4, 2), num_levels=2, num_steps=1, hidden=4, learn_top_prior=True,
                                 split_prior_per_position=True), _key(9)),
        jax.random.uniform(_key(1), (4, 4, 4, 2))),
    "realnvp": lambda: (
        flow_model_bijector(RealNVP((4, 4, 2), num_scales=2, hidden=4, num_blocks=0), _key(10)),
        jax.random.uniform(_key(1), (4, 4, 4, 2), minval=0.05, maxval=0.95)),
    "vector_realnvp": lambda: (
        flow_model_bijector(VectorRealNVP((5,), num_couplings=3, hidden=(8,)), _key(13)), vectors(_key(1))),
    "flowpp": lambda: (
        flow_model_bijector(FlowPlusPlus((4, 4, 2), checkerboard_couplings=(1, 1), channel_couplings=(0, 1), filters=4,
                                         blocks=1, components=2, heads=2), _key(18)),
        jax.random.uniform(_key(1), (4, 4, 4, 2), minval=0.05, maxval=0.95)),
}

# Conditional bijectors: a factory of the context, and (inputs, context) batched alike.
CONDITIONAL = {
    "conditional_vector_coupling": lambda: (conditional_vector_coupling, vectors(_key(1)), vectors(_key(2), dimension=3)),
    "conditional_image_coupling": lambda: (conditional_image_coupling, images(_key(1)), vectors(_key(3), dimension=4)),
    "flowpp_coupling": lambda: (flowpp_coupling, images(_key(1)), images(_key(3), SHAPE[:2] + (3,))),
    "waveglow_coupling": lambda: (waveglow_coupling, sequences(_key(1)), waveglow_context()),
}


MODELS = {"glow", "realnvp", "vector_realnvp", "flowpp"}  # whole flows, wrapped as FunctionBijectors


# The whole image flows (RealNVP unrolled: about 75 s of compilation; Glow about 15 s) run in the
# slow tier; their couplings, 1x1 convolutions, ActNorm, logit and multi-scale bijectors are each
# checked here, as is the whole vector RealNVP, and the task kit checks both models in training.
WHOLE_IMAGE_FLOWS = {"glow", "realnvp", "flowpp"}
# The mixture-CDF couplings (about 9 s each: the bisection loop in every program the kit compiles)
# are slow too; the transformer itself is checked here in float32 and float64.
SLOW = WHOLE_IMAGE_FLOWS | {"mixture_cdf_checkerboard_coupling", "mixture_cdf_channel_coupling"}
# Run in float32 in the slow tier only: their default-tier float64 run is the exactness check, and
# they compute nothing whose float32 rounding needs its own tolerances (data movement, shifts, and
# the generic coupling around sigmoid and tanh scales, which the families train in float32). The
# 1x1 convolutions' log-determinants, ActNorm's log-scales, the logit and the mixture CDF's
# bisection do, and stay in both.
FLOAT32_IN_SLOW_TIER = {"squeeze", "group_samples", "pair_adjacent", "channel_permutation", "centre_shift", "function_bijector",
                        "multiscale", "multiscale_rank2_early_outputs", "channel_coupling_sigmoid", "channel_coupling_tanh", "channel_mask_coupling_sigmoid",
                        "checkerboard_coupling_tanh", "vector_coupling_flipped"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW | FLOAT32_IN_SLOW_TIER
                                  else name for name in sorted(REGISTRY)])
def test_bijector_conforms_in_float32(name):
  """The whole kit, whole Glow and RealNVP models included: their total log-det must equal the
  dense Jacobian's slogdet on a tiny image."""
  bijector, x = REGISTRY[name]()
  check_bijector(bijector, x)


# Checked in float32 only, because their float64 behaviour is their parts': events of rank 1 and 2
# run the code of rank 3 (ActNorm, the 1x1 convolution and the channel permutation on rank-1
# events are also checked, together, by test_flow's 2-D flow whose density must integrate to one),
# and the mixture-CDF couplings are the generic coupling around the elementwise transformer,
# which is checked in float64 on its own.
FLOAT32_ONLY = {"lu_1x1_conv_rank2", "checkerboard_coupling_rank2", "mixture_cdf_checkerboard_coupling",
                "mixture_cdf_channel_coupling"}


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - MODELS - FLOAT32_ONLY))
def test_bijector_conforms_in_float64(name):
  with jax.enable_x64(True):  # the bijector's own arrays in float64 too
    bijector, x = REGISTRY[name]()
  check_bijector(bijector, x, float64=True)


@pytest.mark.parametrize("name, float64", [("conditional_vector_coupling", False), ("conditional_vector_coupling", True),
                                           ("conditional_image_coupling", False), ("waveglow_coupling", False),
                                           pytest.param("flowpp_coupling", False, marks=pytest.mark.slow)])
def test_conditional_bijector_conforms(name, float64):
  with jax.enable_x64(float64):
    make, x, condition = CONDITIONAL[name]()
  check_bijector(lambda _, c: make(c), x, condition=condition, float64=float64)


def test_an_example_reading_another_examples_context_fails_the_kit():
  def make(_, condition):  # every example sees the batch's mean context
    return conditional_vector_coupling(jnp.broadcast_to(condition.mean(axis=0), condition.shape))

  with pytest.raises(AssertionError, match="batch broadcasting check failed"):
    check_bijector(make, vectors(_key(1)), condition=vectors(_key(2), dimension=3))


def test_coupling_parameter_gradients_are_finite():
  def make(params):
    return channel_coupling(lambda x: (jnp.tanh(x @ params["a"]), x @ params["b"]))

  params = {"a": jnp.full((2, 2), 0.3), "b": jnp.full((2, 2), -0.2)}
  check_bijector(make, images(_key(1)), params=params)


def test_checkerboard_needs_positions():
  with pytest.raises(ValueError, match="a checkerboard needs positions and channels"):
    bijectors.checkerboard_mask((5,), 0)


def test_realnvp_and_glow_couplings_match_the_affine_formula():
  """The generic coupling computes RealNVP's y_b = x_b * exp(log_s(x_a)) + t(x_a) exactly."""
  x = images(_key(1))
  shift, raw = mixing_conditioner(_key(6), 2, 2)(x[..., :2])
  log_scale = jax.nn.log_sigmoid(raw + 2.0)
  y, log_det = channel_coupling(mixing_conditioner(_key(6), 2, 2)).forward_and_log_det(x)
  assert jnp.array_equal(y[..., :2], x[..., :2])
  assert jnp.array_equal(y[..., 2:], x[..., 2:] * jnp.exp(log_scale) + shift)
  assert jnp.allclose(log_det, log_scale.sum(axis=(-3, -2, -1)))
  shift_first = bijectors.Coupling(bijectors.SplitPartition(), mixing_conditioner(_key(6), 2, 2),
                                   bijectors.affine_transformer("sigmoid", shift_first=True))
  y, log_det = shift_first.forward_and_log_det(x)
  np.testing.assert_allclose(y[..., 2:], (x[..., 2:] + shift) * jnp.exp(log_scale), rtol=1e-6, atol=1e-6)
  assert jnp.allclose(log_det, log_scale.sum(axis=(-3, -2, -1)))


def test_every_library_bijector_is_registered():
  names = {type(REGISTRY[name]()[0]).__name__ for name in set(REGISTRY) - MODELS}
  names |= {type(make(condition)).__name__ for make, _, condition in (entry() for entry in CONDITIONAL.values())}
  library = {name for name in bijectors.__all__ if isinstance(getattr(bijectors, name), type)
             and issubclass(getattr(bijectors, name), distrax.Bijector)}
  assert library - {"Level"} <= names, f"not in the conformance registry: {sorted(library - names)}"
