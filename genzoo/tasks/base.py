"""The task contract: the only thing the runner knows about a model family.

A task is built from the experiment config and a description of the data, and provides pure,
jit-able functions over a pytree `state` (a dict holding at least "step"):

  init(rng, example_batch) -> state
  train_step(state, batch, rng) -> (state, metrics)     metrics: batch means, plus "nonfinite"
  eval_step(state, batch, rng) -> sums                  per-example sums weighted by batch["mask"]
  summarize(sums) -> dict[str, float]                   test metrics from sums over a whole split
  sample(state, rng, num, temperature) -> uint8 [num, H, W, C] in the data's levels

and, optionally, `interpolate(state, start, end, num_steps) -> uint8 [P, num_steps, H, W, C]`.
The static `check_config(config)` refuses bad values of the family's own config keys with a
`genzoo.errors.UserError`; the runner calls it before loading any data. `PROGRESS_METRICS` names
the train metrics shown on the progress line, `RESUMABLE_KEYS` the family's config keys (or
prefixes) that may change when a run is resumed without changing its trajectory.
A train_step whose loss or gradients are not finite must return the incoming parameters and
optimiser state unchanged (see `tasks.common.commit_if_finite`) and report `nonfinite = 1`.
"""

import dataclasses
from typing import Any, Protocol

import jax

State = dict[str, Any]
Batch = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class DataInfo:
  """What a task needs to know about its data: image shape (H, W, C) and levels per sub-pixel."""

  image_shape: tuple[int, int, int]
  num_levels: int

  @property
  def num_dims(self) -> int:
    height, width, depth = self.image_shape
    return height * width * depth


class Task(Protocol):
  """The functions every model family provides; see the module docstring."""

  PROGRESS_METRICS: tuple[str, ...]
  RESUMABLE_KEYS: tuple[str, ...]

  @staticmethod
  def check_config(config) -> None: ...

  def init(self, rng: jax.Array, example_batch: Batch) -> State: ...

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]: ...

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict: ...

  def summarize(self, sums: dict) -> dict[str, float]: ...

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0) -> jax.Array: ...
