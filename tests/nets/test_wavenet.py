"""WaveGlow's WaveNet conditioner: identity at initialisation, its receptive field, the context."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.nets.wavenet import WaveNetConditioner, dilated_taps


def test_taps_are_the_dilated_neighbours_with_zeros_beyond_the_ends():
  x = jnp.arange(1.0, 7.0).reshape(6, 1)
  taps = dilated_taps(x, 2, 3)
  np.testing.assert_array_equal(taps[:, 0], [0, 0, 1, 2, 3, 4])
  np.testing.assert_array_equal(taps[:, 1], x[:, 0])
  np.testing.assert_array_equal(taps[:, 2], [3, 4, 5, 6, 0, 0])


@pytest.fixture(scope="module")
def conditioner_and_params():
  key = jax.random.key(0)
  x_a, context = jax.random.normal(key, (2, 40, 3)), jax.random.normal(jax.random.fold_in(key, 1), (2, 40, 5))
  net = WaveNetConditioner(out_channels=3, layers=3, channels=8)
  params = jax.jit(net.init)(key, x_a, context)["params"]
  # Away from the zero-initialised output, so the output depends on the inputs.
  moved = jax.tree_util.tree_map_with_path(
      lambda path, leaf: leaf + 0.3 * jax.random.normal(key, leaf.shape) if "end" in str(path[0]) else leaf, params)
  return net, params, moved, x_a, context


def test_starts_as_the_identity_coupling(conditioner_and_params):
  net, params, _, x_a, context = conditioner_and_params
  shift, raw = net.apply({"params": params}, x_a, context)
  assert shift.shape == raw.shape == (2, 40, 3) and not jnp.any(shift) and not jnp.any(raw)


def test_each_output_sees_its_receptive_field_of_the_input_and_its_own_context(conditioner_and_params):
  """3 layers, dilations 1, 2, 4, kernel 3: positions t - 7 .. t + 7 of x_a. The context enters each
  layer after its dilated convolution, so the first layer's share stays at its position and only
  the later layers' dilations (2 and 4) spread it: t + even offsets within 6."""
  net, _, moved, x_a, context = conditioner_and_params
  apply = jax.jit(lambda x, c: net.apply({"params": moved}, x, c)[0])
  base = apply(x_a, context)
  changed = np.abs(np.asarray(apply(x_a.at[:, 20].add(1.0), context) - base)).max(axis=(0, 2)) > 0
  assert changed[13:28].all() and not changed[:13].any() and not changed[28:].any()
  by_context = np.abs(np.asarray(apply(x_a, context.at[:, 20].add(1.0)) - base)).max(axis=(0, 2)) > 0
  np.testing.assert_array_equal(np.flatnonzero(by_context), np.arange(14, 27, 2))
