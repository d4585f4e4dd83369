"""The task contract: the only thing the runner knows about a model family.

A task is built as `Task(config, spec)` from the experiment config and the data's static
description (`genzoo.data.DataSpec`: every batch key's kind, shape, dtype, levels, classes), and
provides pure, jit-able functions over a pytree `state` (a dict holding at least "step"):

  init(rng, example_batch) -> state
  train_step(state, batch, rng) -> (state, metrics)     metrics: batch means, plus "nonfinite"
  eval_step(state, batch, rng) -> sums                  per-example sums weighted by batch["mask"]
  summarize(sums) -> dict[str, float]                   test metrics from sums over a whole split
  sample(state, rng, num, temperature, labels) -> [num, *spec.x.shape] of spec.x's dtype (and levels)

and, optionally, `interpolate(state, start, end, num_steps) -> [P, num_steps, *spec.x.shape]`,
`num_classes`: the classes a class-conditional task generates on request (its `sample` then
draws labels [num] int32 of those classes, or uniform classes for labels=None; an unconditional
task has 0 or no such attribute and is never given labels),
`log_density(state, points) -> [N]` (the model's log-density at points of a continuous target,
which the renderer of low-dimensional data draws), `conditioned_on_data`: true for a task that
generates each example from features of a given one (a vocoder: a waveform from its
mel-spectrogram), whose `sample` then takes `given` examples [num, *spec.x.shape] (the runner
passes test examples), `sample_checked(state, rng, num, temperature, labels[, given]) ->
(samples, failures)`, the samples with the number of entries the model
could not compute (a flow's numerical inverse short of its tolerance), which the runner then
reports, and `example_scores(state, batch, rng) -> {name: [N]}`, per-example anomaly scores
(higher: less typical of the training data; a likelihood family's are its evaluation estimates per
example, in its reported unit, for the same key), which never read labels. Batches hold the keys of `spec.features` (and "mask" in evaluation); the model's variable is `batch[spec.target]`. A task refuses a spec whose target kind
it cannot model with a `UserError` (`DataSpec.require`) when it is built.
The static `check_config(config)` refuses bad values of the family's own config keys with a
`genzoo.errors.UserError`; the runner calls it before loading any data. `PROGRESS_METRICS` names
the train metrics shown on the progress line, `RESUMABLE_KEYS` the family's config keys (or
prefixes) that may change when a run is resumed without changing its trajectory, and
`BACKFILLED_KEYS` the keys added to its configs after runs were stored, each with the value such
a run was trained with (filled in when a stored config lacks it); a family whose models add
fields of their own names the model of a stored config with the optional static
`stored_model_class(stored) -> class | None`, whose `BACKFILLED_FIELDS` are filled in the same way.
A train_step whose loss or gradients are not finite must return the incoming parameters and
optimiser state unchanged (see `tasks.common.commit_if_finite`) and report `nonfinite = 1`.
"""

from typing import Any, Protocol

import jax

State = dict[str, Any]
Batch = dict[str, jax.Array]


class Task(Protocol):
  """The functions every model family provides; see the module docstring."""

  PROGRESS_METRICS: tuple[str, ...]
  RESUMABLE_KEYS: tuple[str, ...]
  BACKFILLED_KEYS: dict[str, Any]

  @staticmethod
  def check_config(config) -> None: ...

  def init(self, rng: jax.Array, example_batch: Batch) -> State: ...

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]: ...

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict: ...

  def summarize(self, sums: dict) -> dict[str, float]: ...

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0,
             labels: jax.Array | None = None) -> jax.Array: ...
