"""Mixed precision for the networks inside a model (`model.compute_dtype`).

A network built through `in_precision` keeps its parameters in float32 (what the optimiser
updates and checkpoints hold) and computes in the compute dtype: its parameters and its floating
inputs are cast on the way in, and its outputs come back as float32. Flows run their coupling
conditioners this way, so that log-determinants, priors and likelihood sums stay float32 whatever
the conditioners compute in; bfloat16 doubles the matmul peak of GPUs and TPUs (on XLA:CPU it is
no faster, see the README's performance section). With "float32" the network is built as it is.
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genzoo import checks
from genzoo.errors import UserError

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# The config rule of a model that has a `compute_dtype` field.
COMPUTE_DTYPE_RULE = {"model.compute_dtype": checks.one_of(COMPUTE_DTYPES)}


def compute_dtype(name: str):
  """The jnp dtype of a `model.compute_dtype` name."""
  if name not in COMPUTE_DTYPES:
    raise UserError(f"unknown model.compute_dtype {name!r}; known: {list(COMPUTE_DTYPES)}")
  return COMPUTE_DTYPES[name]


def _cast_floating(tree, dtype):
  """`tree` with its floating arrays in `dtype` (other leaves, e.g. labels or names, as they are)."""
  def cast(leaf):
    is_floating_array = isinstance(leaf, jax.Array | np.ndarray) and jnp.issubdtype(leaf.dtype, jnp.floating)
    return leaf.astype(dtype) if is_floating_array else leaf
  return jax.tree.map(cast, tree)


def in_precision(module_class: type[nn.Module], dtype_name: str, *args, **kwargs) -> Callable:
  """`module_class(*args, **kwargs)`, computing in the dtype `dtype_name` names (see the module
  docstring). Its parameters keep the names and shapes they have in float32, so a checkpoint
  restores into either precision."""
  dtype = compute_dtype(dtype_name)
  if dtype == jnp.float32:
    return module_class(*args, **kwargs)
  # At initialisation the created parameters pass through both casts: they start as the float32
  # initialisation rounded to the compute dtype, and are stored as float32.
  cast_class = nn.map_variables(module_class, "params", trans_in_fn=lambda params: _cast_floating(params, dtype),
                                trans_out_fn=lambda params: _cast_floating(params, jnp.float32), init=True)
  cast_class.__name__ = module_class.__name__  # unnamed instances get the auto-names they have in float32
  module = cast_class(*args, **kwargs)

  def call(*inputs, **keywords):
    outputs = module(*_cast_floating(inputs, dtype), **_cast_floating(keywords, dtype))
    return _cast_floating(outputs, jnp.float32)

  return call


def apply_in(dtype_name: str, module: nn.Module, variables: dict, *args, **kwargs):
  """`module.apply(variables, *args, **kwargs)` computing in the dtype `dtype_name` names: every
  floating variable (parameters and state collections such as batch-norm statistics or
  spectral-norm vectors) and positional input is cast on the way in; the floating outputs, updated
  state collections included, come back as float32. GAN players run this way: their gradients,
  losses and the state training keeps stay float32."""
  dtype = compute_dtype(dtype_name)
  if dtype == jnp.float32:
    return module.apply(variables, *args, **kwargs)
  outputs = module.apply(_cast_floating(variables, dtype), *_cast_floating(args, dtype), **kwargs)
  return _cast_floating(outputs, jnp.float32)
