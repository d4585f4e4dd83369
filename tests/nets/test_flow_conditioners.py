import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.nets.flow_conditioners import Conv3x3


@pytest.mark.parametrize("in_features,features", [(2, 8), (8, 3), (5, 5)], ids=["patches", "taps", "square"])
def test_conv3x3_is_a_same_padded_convolution(key, in_features, features):
  """Both matmul arrangements compute nn.Conv's function, value and gradients, on its parameters."""
  x = jax.random.normal(key, (2, 5, 7, in_features))
  conv3x3, reference = Conv3x3(features), nn.Conv(features, (3, 3), padding="SAME")
  params = conv3x3.init(key, x)
  params = jax.tree.map(lambda p: p + jax.random.normal(key, p.shape), params)  # non-zero bias too
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, reference.init(key, x))

  def loss(module):
    return lambda params, x: jnp.sum(jnp.sin(module.apply(params, x)))

  np.testing.assert_allclose(conv3x3.apply(params, x), reference.apply(params, x), rtol=1e-5, atol=1e-5)
  grads = jax.grad(loss(conv3x3), argnums=(0, 1))(params, x)
  expected = jax.grad(loss(reference), argnums=(0, 1))(params, x)
  jax.tree.map(lambda g, e: np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4), grads, expected)
