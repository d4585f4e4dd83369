"""What the multi-scale image flows (Glow, Flow++) build their steps of flow from.

A step is a Linen module whose `__call__((h, log_det), context)` runs its bijector one way
(`reverse` picks which) and adds the log-det: the body that `scanned_steps` repeats under `nn.scan`
with parameters stacked along a leading axis, so compile time does not grow with the number of
steps. `context` is broadcast to every step (None for unconditioned flows).
"""

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import bijectors

FIXED_LU_ENTRIES = ("permutation", "sign")  # of the LU 1x1 convolution: fixed at initialisation


def actnorm(module: nn.Module, h: jax.Array) -> bijectors.ActNorm:
  """An ActNorm whose parameters `module` owns, initialised from `h`, the step's input at
  initialisation (the first batch): data-dependent initialisation (Glow, sec. 3.1)."""
  return bijectors.ActNorm(
      module.param("actnorm_log_scale", lambda _: bijectors.data_dependent_init(h)[0]),
      module.param("actnorm_bias", lambda _: bijectors.data_dependent_init(h)[1]),
  )


def lu_conv(module: nn.Module, depth: int, event_ndims: int = 3) -> bijectors.LUInvertible1x1Conv:
  """An LU-decomposed invertible 1x1 convolution (Glow, sec. 3.2) over the `depth` channels of
  events of rank `event_ndims`, whose parameters `module` owns; the permutation and the signs stay
  as initialised (no gradient reaches them)."""
  lu = module.param("lu", lambda rng: bijectors.lu_init(rng, depth))
  return bijectors.LUInvertible1x1Conv(**{
      name: jax.lax.stop_gradient(value) if name in FIXED_LU_ENTRIES else value for name, value in lu.items()
  }, event_ndims=event_ndims)


def run_step(step: distrax.Bijector, carry: tuple[jax.Array, jax.Array], reverse: bool) -> tuple[jax.Array, jax.Array]:
  """The carry (h, log_det) after one step of flow: `step` run forward, or inverted with `reverse`,
  its log-det added."""
  h, log_det = carry
  h, step_log_det = step.inverse_and_log_det(h) if reverse else step.forward_and_log_det(h)
  return h, log_det + step_log_det


def scanned_steps(step: type[nn.Module], num_steps: int, reverse: bool, remat: bool, name: str,
                  **step_fields) -> nn.Module:
  """`num_steps` steps `step(reverse=reverse, **step_fields)` with stacked parameters and their
  own dropout keys; `reverse` runs their inverses last to first.

  With `remat`, the backward pass recomputes each step's activations from its input instead of
  keeping a stacked copy per step: memory no longer grows with the number of steps, and on
  XLA:CPU the step is as fast (allocating and filling the stacked buffers costs about as much as
  the recomputation)."""
  body = nn.remat(step, prevent_cse=False) if remat else step
  scan = nn.scan(
      body,
      variable_axes={"params": 0},
      split_rngs={"params": True, "dropout": True},
      in_axes=nn.broadcast,
      length=num_steps,
      reverse=reverse,
  )
  return scan(reverse=reverse, name=name, **step_fields)


def one_way_bijector(steps: nn.Module, inverse: bool, context: jax.Array | None = None,
                     event_ndims: int = 3) -> bijectors.FunctionBijector:
  """Scanned steps as a bijector for the one direction they were built for (the scan order is
  static, so a model builds its steps for the direction it runs)."""

  def run(h):
    (h, log_det), _ = steps((h, jnp.zeros(h.shape[: h.ndim - event_ndims], h.dtype)), context)
    return h, log_det

  def other_direction(_):
    raise RuntimeError("these steps of flow were built for the other direction; call the model again")

  if inverse:
    return bijectors.FunctionBijector(other_direction, run, event_ndims_in=event_ndims)
  return bijectors.FunctionBijector(run, other_direction, event_ndims_in=event_ndims)
