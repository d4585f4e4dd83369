import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.nets.matmul_conv import Conv3x3, StridedConv4x4, TransposedConv4x4


def perturbed(params, key):
  """Parameters moved off their initial values (biases start at zero)."""
  return jax.tree.map(lambda p: p + jax.random.normal(key, p.shape), params)


def assert_same_function_and_gradients(layer, reference, params, x):
  def loss(module):
    return lambda params, x: jnp.sum(jnp.sin(module.apply(params, x)))

  np.testing.assert_allclose(layer.apply(params, x), reference.apply(params, x), rtol=1e-5, atol=1e-5)
  grads = jax.grad(loss(layer), argnums=(0, 1))(params, x)
  expected = jax.grad(loss(reference), argnums=(0, 1))(params, x)
  jax.tree.map(lambda g, e: np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4), grads, expected)


@pytest.mark.parametrize("in_features,features", [(2, 8), (8, 3)], ids=["patches", "taps"])
def test_conv3x3_is_nn_conv(key, in_features, features):
  x = jax.random.normal(key, (2, 5, 7, in_features))
  layer, reference = Conv3x3(features), nn.Conv(features, (3, 3), padding="SAME")
  params = perturbed(layer.init(key, x), key)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, reference.init(key, x))
  assert_same_function_and_gradients(layer, reference, params, x)


def test_strided_conv4x4_is_nn_conv_with_stride_2(key):
  x = jax.random.normal(key, (2, 6, 8, 3))
  layer, reference = StridedConv4x4(5), nn.Conv(5, (4, 4), strides=(2, 2), padding="SAME")
  params = perturbed(layer.init(key, x), key)
  assert_same_function_and_gradients(layer, reference, params, x)


def test_transposed_conv4x4_is_the_adjoint_of_the_strided_conv(key):
  """<down(x), y> = <x, up(y)> for the same kernel and no bias: up is down's transpose."""
  x_key, y_key = jax.random.split(key)
  x, y = jax.random.normal(x_key, (2, 6, 8, 3)), jax.random.normal(y_key, (2, 3, 4, 5))
  up = TransposedConv4x4(3)
  params = perturbed(up.init(key, y), key)
  params["params"]["bias"] = jnp.zeros(3)
  down_params = {"params": {"kernel": params["params"]["kernel"], "bias": jnp.zeros(5)}}
  down_x = StridedConv4x4(5).apply(down_params, x)
  assert up.apply(params, y).shape == x.shape
  np.testing.assert_allclose(jnp.vdot(down_x, y), jnp.vdot(x, up.apply(params, y)), rtol=1e-5)
  _, vjp = jax.vjp(lambda x: StridedConv4x4(5).apply(down_params, x), x)
  np.testing.assert_allclose(up.apply(params, y), vjp(y)[0], rtol=1e-5, atol=1e-5)
