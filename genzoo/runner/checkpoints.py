"""Orbax checkpoints of the train state, one directory per step under `<workdir>/checkpoints`.

A checkpoint can be damaged after the fact (a disk that filled up, a copy cut short): then the
newest *intact* one is used, with a one-line warning naming the skipped step. `train` moves a
damaged checkpoint aside to `<workdir>/damaged_checkpoints/` (nothing is deleted) so that it never
counts against `train.max_to_keep`; `eval` and `sample` only read, and skip it.
"""

import contextlib
import gc
import os
import shutil
import sys
import threading
import time

import jax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from genzoo.errors import MissingFileError, UserError

DAMAGED_DIR = "damaged_checkpoints"
ITEM = "default"  # the item directory a CheckpointManager gives a single StandardSave


class Checkpoints:
  """Atomic, synchronous saves keeping the newest `max_to_keep`; every process takes part."""

  def __init__(self, workdir: str, max_to_keep: int | None = None):
    self.workdir = workdir
    self._options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False,
        cleanup_tmp_directories=True,  # what a save cut short by a crash left behind
    )
    self.manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(os.path.abspath(os.path.join(self.workdir, "checkpoints")), options=self._options)

  @property
  def directory(self) -> str:
    return str(self.manager.directory)

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, step: int, abstract_state):
    """The state saved at exactly `step`, in the shapes, dtypes and shardings given."""
    available = self.steps()
    if not available:
      raise MissingFileError(f"no checkpoint in {self.directory} yet; train first (`genzoo train`)")
    if step not in available:
      raise UserError(f"no checkpoint at step {step}; available steps: {available}")
    state, problem = self._read(step, abstract_state)
    if problem:
      others = [s for s in available if s != step]
      raise UserError(f"the checkpoint at step {step} in {self.directory} is damaged ({problem}); "
                      f"pass --step with another step: {others}")
    return state

  def restore_newest_intact(self, abstract_state, *, set_aside_damaged: bool, warn) -> tuple[int | None, object]:
    """(step, state) of the newest checkpoint that reads back, or (None, None) if there is none.

    A damaged newer one is reported through `warn(message)` and, with `set_aside_damaged`, moved to
    `<workdir>/damaged_checkpoints/`."""
    for step in reversed(self.steps()):
      state, problem = self._read(step, abstract_state)
      if problem is None:
        return step, state
      if set_aside_damaged:
        moved = self._set_aside(step)
        warn(f"warning: the checkpoint at step {step} is damaged ({problem}); moved it to {moved} "
             "and resuming from the newest intact one")
      else:
        warn(f"warning: the checkpoint at step {step} is damaged ({problem}); skipped it, reading "
             "the newest intact one")
    return None, None

  def _read(self, step: int, abstract_state):
    """(state, None), or (None, what is wrong) when the checkpoint is damaged.

    A checkpoint that does not restore into `abstract_state` but does restore on its own is intact
    and of another model: that is a `UserError`, never a reason to skip it."""
    with _quiet_failed_reads() as failures:
      try:
        return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state)), None
      except Exception as error:  # pylint: disable=broad-exception-caught  # orbax raises bare Exceptions
        mismatch = error
        failures.append(error)
      # A failed read can leave the manager unable to read other steps: start a fresh one.
      self.manager.close()
      self.manager = self._open()
      try:
        with ocp.StandardCheckpointer() as checkpointer:
          checkpointer.restore(os.path.join(self.directory, str(step), ITEM))
      except Exception as error:  # pylint: disable=broad-exception-caught
        return None, _first_line(error)
    raise UserError(
        f"the checkpoint at step {step} in {self.directory} does not fit the model of this run's "
        f"config ({_first_line(mismatch)}); was config.json edited?") from mismatch

  def _set_aside(self, step: int) -> str:
    """Moves the checkpoint of `step` out of the manager's sight (process 0 moves, all wait)."""
    target = os.path.join(self.workdir, DAMAGED_DIR, str(step))
    suffix = 1
    while os.path.exists(target):
      target, suffix = os.path.join(self.workdir, DAMAGED_DIR, f"{step}.{suffix}"), suffix + 1
    if jax.process_index() == 0:
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
    multihost_utils.sync_global_devices(f"genzoo:set_aside_checkpoint_{step}")
    self.manager.reload()
    return target

  def close(self) -> None:
    self.manager.close()


def _first_line(error: Exception, limit: int = 160) -> str:
  """A short description of a read failure (TensorStore appends a page-long spec dump)."""
  text = str(error).split("\n", 1)[0].split(" See full TensorStore details", 1)[0]
  return f"{type(error).__name__}: {text[:limit]}" if text else type(error).__name__


@contextlib.contextmanager
def _quiet_failed_reads(settle_seconds: float = 0.5):
  """Silences the reports that a failed Orbax read leaves behind, so a damaged checkpoint costs one
  warning line: the reads still in flight when one failed finish later, on TensorStore's threads,
  and report into Orbax's closed event loop (spec dumps, "Event loop is closed"). The context
  yields a list; when a failure was appended to it, those stragglers get `settle_seconds` to
  finish while the reports are still silenced. One garbage collection then reaps the abandoned
  reader coroutines (a collection is slow with a large heap, so it is not repeated)."""
  hooks = sys.unraisablehook, threading.excepthook, sys.excepthook
  sys.unraisablehook = threading.excepthook = sys.excepthook = lambda *_: None
  failures = []
  try:
    yield failures
  finally:
    if failures:
      time.sleep(settle_seconds)
    gc.collect()
    sys.unraisablehook, threading.excepthook, sys.excepthook = hooks


def abstract_with_sharding(abstract_state, sharding: jax.sharding.Sharding):
  """ShapeDtypeStructs carrying `sharding`, the restore target for a replicated state."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract_state)
