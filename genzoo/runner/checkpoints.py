"""Orbax checkpoints of the train state, one directory per step under `<workdir>/checkpoints`."""

import os

import jax
import orbax.checkpoint as ocp


class Checkpoints:
  """Atomic, synchronous saves keeping the newest `max_to_keep`; every process takes part."""

  def __init__(self, workdir: str, max_to_keep: int | None = None):
    self.manager = ocp.CheckpointManager(
        os.path.abspath(os.path.join(workdir, "checkpoints")),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
        ),
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, step: int | None, abstract_state):
    """Restores `step` (the latest if None) into the shapes, dtypes and shardings given."""
    available = list(self.manager.all_steps())
    if not available:
      raise FileNotFoundError(f"no checkpoint in {self.manager.directory}")
    step = self.latest_step() if step is None else step
    if step not in available:
      raise ValueError(f"no checkpoint at step {step}; available steps: {sorted(available)}")
    return step, self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))

  def close(self) -> None:
    self.manager.close()


def abstract_with_sharding(abstract_state, sharding: jax.sharding.Sharding):
  """ShapeDtypeStructs carrying `sharding`, the restore target for a replicated state."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract_state)
