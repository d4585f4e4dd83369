"""Flow++: the dequantisation flow's density and dropout only in training (slow tier: 6 to 10 s of
compilation each), and the structure errors a user can make. The whole model and its coupling go
through the bijector kit (tests/bijectors/test_conformance.py) and the task kit, also slow."""

import jax
import jax.numpy as jnp
import pytest

from genzoo.errors import UserError
from genzoo.models.flowpp import DequantizationFlow, FlowPlusPlus

TINY = dict(filters=8, blocks=1, components=3, heads=2, dropout=0.5)


def perturbed(variables, key):
  """Away from the identity at initialisation (the conditioners' outputs start at zero); the LU
  permutations and signs stay as they are."""
  return jax.tree_util.tree_map_with_path(
      lambda path, leaf: leaf if any(getattr(k, "key", None) in ("permutation", "sign") for k in path)
      else leaf + 0.05 * jax.random.normal(jax.random.fold_in(key, leaf.size), leaf.shape), variables)


@pytest.mark.slow
def test_dequantization_flow_density_is_the_change_of_variables_of_its_noise():
  """log q(u | x) = log N(eps) - log|det du/deps|, with u in (0, 1) and a context that matters."""
  flow = DequantizationFlow((2, 4, 1), levels=17, couplings=2, **TINY)
  x = jax.random.randint(jax.random.key(0), (2, 2, 4, 1), 0, 17)
  eps = jax.random.normal(jax.random.key(1), x.shape)
  variables = perturbed(jax.jit(flow.init)(jax.random.key(2), x, eps), jax.random.key(3))
  u, log_q = jax.jit(flow.apply)(variables, x, eps)
  assert jnp.all((u > 0) & (u < 1))
  jacobian = jax.jit(jax.jacfwd(lambda e: flow.apply(variables, x[:1], e.reshape(1, 2, 4, 1))[0][0].reshape(-1)))(
      eps[0].reshape(-1))
  log_noise = jnp.sum(jax.scipy.stats.norm.logpdf(eps[0]))
  assert jnp.allclose(log_q[0], log_noise - jnp.linalg.slogdet(jacobian)[1], rtol=1e-4, atol=1e-3)
  other_x = jax.jit(flow.apply)(variables, (x + 5) % 17, eps)[0]
  assert not jnp.allclose(other_x, u)


@pytest.mark.slow
def test_dropout_acts_in_training_only():
  model = FlowPlusPlus((4, 4, 1), checkerboard_couplings=(1, 0), channel_couplings=(0, 1), **TINY)
  y = jax.random.uniform(jax.random.key(0), (2, 4, 4, 1))
  variables = perturbed(jax.jit(model.init)(jax.random.key(1), y), jax.random.key(2))
  apply = jax.jit(lambda key, train: model.apply(variables, y, train=train, rngs={"dropout": key})[0],
                  static_argnums=1)
  assert jnp.array_equal(apply(jax.random.key(3), False), apply(jax.random.key(4), False))
  assert not jnp.allclose(apply(jax.random.key(3), True), apply(jax.random.key(4), True))


@pytest.mark.parametrize("shape, fields, message", [
    ((2, 3, 1), dict(checkerboard_couplings=(1,), channel_couplings=(0,)), "does not split into even and odd columns"),
    ((2, 2, 1), dict(checkerboard_couplings=(0,), channel_couplings=(1,)), "too few for channel couplings"),
    ((2, 2, 1), dict(checkerboard_couplings=(1,), channel_couplings=(0,), heads=3), "must be divisible by heads=3"),
])
def test_structures_that_cannot_be_built_are_refused(shape, fields, message):
  model = FlowPlusPlus(shape, **{**TINY, **fields})
  with pytest.raises(UserError, match=message):
    model.init(jax.random.key(0), jnp.zeros((1,) + shape))
