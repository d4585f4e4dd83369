"""The 1-D data-parallel device mesh: parameters replicated, batches split along "data"."""

import dataclasses
import os

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from genzoo.errors import UserError

DATA_AXIS = "data"
HOST_DEVICE_FLAG = "xla_force_host_platform_device_count"
MAX_CPU_DEVICES = 8  # each holds a copy of the state; beyond a few cores XLA's own threads take over


def usable_cores() -> int:
  """The CPU cores this process may run on."""
  return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def request_cpu_devices(environ=os.environ) -> int | None:
  """Asks JAX for one CPU device per usable core (at most `MAX_CPU_DEVICES`), before its backends
  start, unless the user chose a count (`JAX_NUM_CPU_DEVICES`, or
  `--xla_force_host_platform_device_count` in `XLA_FLAGS`). Returns the count asked for (None: the
  user's stands).

  XLA:CPU runs a step's element-wise operations one at a time, each on one thread, so on one
  device a core idles through much of a step; a batch split over one device per core keeps every
  core busy (Glow trains 1.4x as fast on 2 cores; see the README's Performance). How many of them a
  run splits over is its `train.cpu_devices` (`DataParallel.for_batches`)."""
  if "JAX_NUM_CPU_DEVICES" in environ or HOST_DEVICE_FLAG in environ.get("XLA_FLAGS", ""):
    return None
  count = min(usable_cores(), MAX_CPU_DEVICES)
  jax.config.update("jax_num_cpu_devices", count)
  return count


@dataclasses.dataclass(frozen=True)
class DataParallel:
  """Shardings of a data-parallel mesh over every device of every process."""

  mesh: jax.sharding.Mesh

  @classmethod
  def over(cls, devices=None) -> "DataParallel":
    """A mesh over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    # Auto axes: plain global-batch code, the compiler inserts the cross-device reductions.
    mesh = jax.make_mesh((len(devices),), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=devices)
    return cls(mesh)

  @classmethod
  def for_batches(cls, *batch_sizes: int, cpu_devices: int = 0) -> "DataParallel":
    """The mesh a run uses: every device; but on one host's CPU, whose devices share its cores, the
    most of them, up to `cpu_devices` (0: no limit), that split every one of `batch_sizes` evenly."""
    devices = jax.devices()
    if jax.process_count() == 1 and devices[0].platform == "cpu":
      limit = min(len(devices), cpu_devices or len(devices))
      count = max(n for n in range(1, limit + 1) if all(size % n == 0 for size in batch_sizes))
      devices = devices[:count]
    return cls.over(devices)

  @property
  def num_devices(self) -> int:
    return self.mesh.size

  @property
  def platform(self) -> str:
    return self.mesh.devices.flat[0].platform

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())

  @property
  def batch(self) -> NamedSharding:
    return NamedSharding(self.mesh, P(DATA_AXIS))

  def split_rows(self, values: jax.Array) -> jax.Array:
    """`values` [N, ...], computed inside `jax.jit`, with their N rows split over the mesh's devices
    when they divide N (otherwise unchanged).

    For what a jitted function generates from a replicated state and key (samples, synthesised
    audio): without the split, every device computes every row, and on a CPU whose devices share
    the cores N rows then cost as much as N times the device count. The values do not depend on
    the split (JAX's random bits are partitionable)."""
    if values.shape[0] % self.num_devices:
      return values
    return jax.lax.with_sharding_constraint(values, self.batch)

  def check_batch_size(self, global_batch_size: int, what: str) -> None:
    if global_batch_size % self.num_devices:
      raise UserError(
          f"{what} {global_batch_size} is not divisible by the number of devices "
          f"({self.num_devices}); use a multiple of {self.num_devices}"
      )

  def global_batch(self, local_batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """Assembles each process's rows into global arrays split along the data axis."""
    return {
        name: jax.make_array_from_process_local_data(self.batch, value)
        for name, value in local_batch.items()
    }
