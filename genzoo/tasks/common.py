"""Pieces shared by the model families' tasks: optimisers, parameter averages, the non-finite
update guard, building modules from config sections, and class conditioning."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import optax

from genzoo import checks
from genzoo.data.spec import DataSpec
from genzoo.errors import UserError

SCHEDULES = ("constant", "cosine", "linear")
OPTIMIZERS = ("adam", "adamw")


def optimizer_rules(section: str) -> dict[str, checks.Rule]:
  """The values `make_optimizer` accepts in the config section `section` ("optim", "d_optim")."""
  return {
      f"{section}.name": checks.one_of(OPTIMIZERS),
      f"{section}.learning_rate": checks.POSITIVE,
      f"{section}.schedule": checks.one_of(SCHEDULES),
      f"{section}.warmup_steps": checks.at_least(0),
      f"{section}.grad_clip_norm": checks.NON_NEGATIVE,
      f"{section}.b1": checks.fraction(upper_inclusive=False),
      f"{section}.b2": checks.fraction(upper_inclusive=False),
      f"{section}.weight_decay": checks.NON_NEGATIVE,
  }


def learning_rate_schedule(optim: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
  """Linear warm-up over `optim.warmup_steps`, then constant, or a cosine or linear decay to zero
  at `total_steps`."""
  if optim.schedule not in SCHEDULES:
    raise UserError(f"unknown optim.schedule {optim.schedule!r}; known: {list(SCHEDULES)}")
  warmup = optim.warmup_steps
  if optim.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(
        0.0, optim.learning_rate, warmup, max(total_steps, warmup + 1)
    )
  if optim.schedule == "linear":
    after_warmup = optax.linear_schedule(optim.learning_rate, 0.0, max(total_steps - warmup, 1))
  else:
    after_warmup = optax.constant_schedule(optim.learning_rate)
  if warmup == 0:
    return after_warmup
  return optax.join_schedules([optax.linear_schedule(0.0, optim.learning_rate, warmup), after_warmup], [warmup])


def make_optimizer(optim: ml_collections.ConfigDict, total_steps: int) -> optax.GradientTransformation:
  """Gradient clipping by global norm (if `optim.grad_clip_norm` > 0), then Adam or AdamW."""
  schedule = learning_rate_schedule(optim, total_steps)
  if optim.name == "adam":
    update = optax.adam(schedule, b1=optim.b1, b2=optim.b2)
  elif optim.name == "adamw":
    update = optax.adamw(schedule, b1=optim.b1, b2=optim.b2, weight_decay=optim.weight_decay)
  else:
    raise UserError(f"unknown optim.name {optim.name!r}; known: {list(OPTIMIZERS)}")
  if optim.grad_clip_norm > 0:
    return optax.chain(optax.clip_by_global_norm(optim.grad_clip_norm), update)
  return update


def all_finite(*trees) -> jax.Array:
  """True when every leaf of every tree is finite."""
  leaves = jax.tree.leaves(trees)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def optimizer_step(optimizer: optax.GradientTransformation, params, opt_state, grads):
  """One optax step, unguarded: (new params, new optimiser state, the updates applied)."""
  updates, opt_state = optimizer.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state, updates


def apply_gradients(optimizer: optax.GradientTransformation, state: dict, grads, loss: jax.Array):
  """One optimiser step on `state["params"]`, kept only if the loss, gradients and update are all
  finite (see `commit_if_finite`). Returns (new state, gradient norm, nonfinite flag)."""
  params, opt_state, updates = optimizer_step(optimizer, state["params"], state["opt_state"], grads)
  grad_norm = optax.tree.norm(grads)
  finite = all_finite(loss, grad_norm, optax.tree.norm(updates))
  new_state, nonfinite = commit_if_finite(
      state, {**state, "params": params, "opt_state": opt_state}, finite)
  return new_state, grad_norm, nonfinite


def commit_if_finite(state: dict, updated: dict, finite: jax.Array) -> tuple[dict, jax.Array]:
  """Returns `updated` (with the step advanced) if `finite`, else `state` with the step advanced.

  A non-finite update therefore never reaches the parameters or the optimiser state, so a
  checkpoint can never hold NaNs; the runner decides whether to stop or to go on.
  """
  kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old), updated, state)
  kept["step"] = state["step"] + 1
  return kept, jnp.logical_not(finite).astype(jnp.float32)


def ema_decay_at(decay: float, step: jax.Array) -> jax.Array:
  """`decay`, lowered early on to (1 + n) / (10 + n) so the average is not stuck at initialisation."""
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def module_fields(section: ml_collections.ConfigDict, exclude: tuple[str, ...] = ()) -> dict:
  """A config section's keys as a Linen module's fields: lists (what a stored JSON config holds)
  become tuples, which modules need to be hashable."""
  return {key: tuple(value) if isinstance(value, list) else value
          for key, value in section.items() if key not in exclude}


def check_class_conditioning(num_classes: int, data: DataSpec) -> None:
  """A class-conditional model (`model.num_classes` > 0) needs labelled data of as many classes."""
  if num_classes and num_classes != data.num_classes:
    found = "has no labels" if data.num_classes is None else f"has {data.num_classes} classes"
    raise UserError(f"model.num_classes={num_classes} asks for a model conditioned on {num_classes} classes, but the "
                    f"data {found}; use the data's number of classes, or model.num_classes=0 for an unconditional "
                    "model")


def sampling_labels(rng: jax.Array, num: int, num_classes: int, labels: jax.Array | None) -> jax.Array | None:
  """The labels [num] a class-conditional model samples: `labels` if given, else uniform over its
  `num_classes`; None for an unconditional model (num_classes 0)."""
  if not num_classes:
    return None
  if labels is not None:
    return jnp.asarray(labels, jnp.int32).reshape((num,))
  return jax.random.randint(rng, (num,), 0, num_classes)


def marginal_over_classes(log_likelihoods, num_classes: int, num: int) -> dict[str, jax.Array]:
  """Per-example log-likelihood estimates [num] of an unlabelled batch. `log_likelihoods(labels)`
  returns a dict of estimates of log p(x | labels) (labels None for an unconditional model, 0
  `num_classes`); a class-conditional model's are marginalised over its classes under a uniform
  prior, log p(x) = log (1/K) sum_y p(x | y), one class at a time (memory as for one label). A
  lower bound for every y stays a lower bound of log p(x)."""
  if not num_classes:
    return log_likelihoods(None)
  per_class = jax.lax.map(lambda label: log_likelihoods(jnp.full((num,), label, jnp.int32)), jnp.arange(num_classes))
  return jax.tree.map(lambda values: jax.nn.logsumexp(values, axis=0) - math.log(num_classes), per_class)
