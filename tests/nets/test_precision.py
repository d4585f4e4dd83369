import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.errors import UserError
from genzoo.models.glow import Glow
from genzoo.nets.flow_conditioners import GlowConditioner
from genzoo.nets.precision import in_precision


class TwoConditioners(nn.Module):
  """Two unnamed conditioners, as a flow step builds them, in `dtype`."""

  dtype: str

  @nn.compact
  def __call__(self, x, condition):
    first = in_precision(GlowConditioner, self.dtype, 16, 3)(x, condition=condition)
    return first + in_precision(GlowConditioner, self.dtype, 16, 3)(x, condition=condition)


def perturbed(params, key):
  """Parameters moved off their initial values (the zero convolutions start at zero)."""
  return jax.tree.map(lambda p: p + 0.1 * jax.random.normal(key, p.shape), params)


def inputs(key):
  x_key, c_key = jax.random.split(key)
  return jax.random.normal(x_key, (2, 4, 4, 2)), jax.nn.one_hot(jax.random.randint(c_key, (2,), 0, 3), 3)


def test_bfloat16_keeps_float32_parameters_names_and_outputs(key):
  x, condition = inputs(key)
  variables = {dtype: jax.jit(TwoConditioners(dtype).init)(key, x, condition) for dtype in ("float32", "bfloat16")}
  assert jax.tree.map(jnp.shape, variables["bfloat16"]) == jax.tree.map(jnp.shape, variables["float32"])
  assert {leaf.dtype for leaf in jax.tree.leaves(variables["bfloat16"])} == {jnp.dtype(jnp.float32)}

  params = perturbed(variables["float32"], key)  # a float32 checkpoint, restored into either precision
  outputs = {dtype: jax.jit(TwoConditioners(dtype).apply)(params, x, condition) for dtype in variables}
  assert all(out.dtype == jnp.float32 for pair in outputs.values() for out in pair)
  for full, half in zip(outputs["float32"], outputs["bfloat16"]):
    assert not np.array_equal(full, half)  # computed in bfloat16 ...
    np.testing.assert_allclose(half, full, rtol=0.05, atol=0.05)  # ... to bfloat16's precision

  def loss(dtype):
    return lambda p: sum(jnp.mean(jnp.square(out)) for out in TwoConditioners(dtype).apply(p, x, condition))

  grads = {dtype: jax.jit(jax.grad(loss(dtype)))(params) for dtype in variables}
  assert {leaf.dtype for leaf in jax.tree.leaves(grads["bfloat16"])} == {jnp.dtype(jnp.float32)}
  for half, full in zip(jax.tree.leaves(grads["bfloat16"]), jax.tree.leaves(grads["float32"])):
    assert np.linalg.norm(half - full) <= 0.1 * np.linalg.norm(full)  # bfloat16 keeps 8 bits
  jaxpr = str(jax.make_jaxpr(lambda p: TwoConditioners("bfloat16").apply(p, x, condition))(params))
  assert set(re.findall(r"(\w+)\[[\d,]*\] = dot_general", jaxpr)) == {"bf16"}  # every matmul is in bfloat16


def test_float32_builds_the_module_itself():
  assert isinstance(in_precision(GlowConditioner, "float32", 16, 3), GlowConditioner)


def test_unknown_compute_dtype_is_refused():
  with pytest.raises(UserError, match=r"model.compute_dtype 'float16'.*known: \['float32', 'bfloat16'\]"):
    in_precision(GlowConditioner, "float16", 16, 3)


def test_bfloat16_glow_keeps_log_det_float32_and_close(key):
  glow = {dtype: Glow((8, 8, 1), num_levels=2, num_steps=2, hidden=16, compute_dtype=dtype)
          for dtype in ("float32", "bfloat16")}
  images = jax.random.uniform(key, (3, 8, 8, 1))
  params = perturbed(jax.jit(glow["float32"].init)(key, images), key)
  results = {dtype: jax.jit(model.apply)(params, images) for dtype, model in glow.items()}
  (latents, log_det), (half_latents, half_log_det) = results["float32"], results["bfloat16"]
  assert half_latents.dtype == half_log_det.dtype == jnp.float32
  assert not np.array_equal(half_log_det, log_det)
  np.testing.assert_allclose(half_latents, latents, rtol=0.05, atol=0.05)
  np.testing.assert_allclose(half_log_det, log_det, rtol=0.01)
