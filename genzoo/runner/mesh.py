"""The 1-D data-parallel device mesh: parameters replicated, batches split along "data"."""

import dataclasses

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from genzoo.errors import UserError

DATA_AXIS = "data"


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

  @property
  def num_devices(self) -> int:
    return self.mesh.size

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())

  @property
  def batch(self) -> NamedSharding:
    return NamedSharding(self.mesh, P(DATA_AXIS))

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
