"""Two-dimensional toy densities: pure `jax.numpy` samplers, and the vector datasets made of them.

Every sampler returns float32 [num, 2] points scaled to lie within about [-4, 4]^2. `sample_toy`
is jit-able with `name` and `num` static:

  jax.jit(sample_toy, static_argnames=("name", "num"))("two_moons", key, 1024)

Each density is also a registered dataset of the same name (`ToyVectors`): fixed train and test
points, batched like any other data under the key "vector", so a flow trains on it with
`genzoo train`.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from genzoo.data.spec import DataSpec, vector_spec
from genzoo.data.splits import AUDIO_OPTIONS, IMAGE_OPTIONS, LoadOptions, Split, refuse_options
from genzoo.errors import UserError


def _two_moons(key: jax.Array, num: int) -> jax.Array:
  """Two interleaved half circles of radius 2 with Gaussian noise (std 0.2).

  The upper moon is centred at (-1, -0.5), the lower (opened downwards) at (1, 0.5).
  """
  angle_key, moon_key, noise_key = jax.random.split(key, 3)
  angle = jax.random.uniform(angle_key, (num,), maxval=math.pi)
  upper = jax.random.bernoulli(moon_key, 0.5, (num,))
  sign = jnp.where(upper, 1.0, -1.0)
  centre = jnp.stack([-sign, -0.5 * sign], axis=-1)
  arc = sign[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
  return 2.0 * arc + centre + 0.2 * jax.random.normal(noise_key, (num, 2))


def _eight_gaussians(key: jax.Array, num: int) -> jax.Array:
  """A mixture of 8 equally weighted Gaussians (std 0.2) centred on a circle of radius 2.5, at
  angles that are multiples of pi/4."""
  mode_key, noise_key = jax.random.split(key)
  angle = jax.random.randint(mode_key, (num,), 0, 8) * (math.pi / 4)
  centre = 2.5 * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
  return centre + 0.2 * jax.random.normal(noise_key, (num, 2))


def _checkerboard(key: jax.Array, num: int) -> jax.Array:
  """Uniform on the 8 "on" squares of a 4x4 checkerboard covering [-4, 4]^2 (squares of side 2):
  those whose column + row index is even, counting from the corner (-4, -4)."""
  column_key, row_key, offset_key = jax.random.split(key, 3)
  column = jax.random.randint(column_key, (num,), 0, 4)
  row = 2 * jax.random.randint(row_key, (num,), 0, 2) + column % 2
  corner = jnp.stack([column, row], axis=-1).astype(jnp.float32)
  return 2.0 * (corner + jax.random.uniform(offset_key, (num, 2))) - 4.0


def _pinwheel(key: jax.Array, num: int) -> jax.Array:
  """A pinwheel of 5 curved arms, scaled by 1.5.

  Arm k draws a radial coordinate rho ~ N(1, 0.3^2) and a tangential one ~ N(0, 0.1^2), then
  rotates that point by 2*pi*k/5 + 0.25 * exp(rho): arms wind more the farther out they reach.
  """
  arm_key, noise_key = jax.random.split(key)
  arm = jax.random.randint(arm_key, (num,), 0, 5)
  point = jax.random.normal(noise_key, (num, 2)) * jnp.array([0.3, 0.1]) + jnp.array([1.0, 0.0])
  angle = arm * (2 * math.pi / 5) + 0.25 * jnp.exp(point[:, 0])
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  rotated = jnp.stack([cos * point[:, 0] - sin * point[:, 1],
                       sin * point[:, 0] + cos * point[:, 1]], axis=-1)
  return 1.5 * rotated


_SAMPLERS = {
    "two_moons": _two_moons,
    "eight_gaussians": _eight_gaussians,
    "checkerboard": _checkerboard,
    "pinwheel": _pinwheel,
}
TOY_DENSITIES = tuple(_SAMPLERS)


def sample_toy(name: str, key: jax.Array, num: int) -> jax.Array:
  """Draws `num` points float32 [num, 2] from the toy density `name` (one of `TOY_DENSITIES`)."""
  if name not in _SAMPLERS:
    raise UserError(f"unknown toy density {name!r}; known densities: {', '.join(TOY_DENSITIES)}")
  return _SAMPLERS[name](key, num).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class ToyVectors:
  """A toy density as a fixed vector dataset: `num_train` and `num_test` points [2] drawn once from
  their own fixed keys (the same points on every machine, whatever the experiment's seed)."""

  density: str
  num_train: int = 10_000
  num_test: int = 2_000

  def describe(self, name: str, options: LoadOptions) -> DataSpec:
    refuse_options(name, "a dataset of unlabelled 2-D vectors", options,
                   IMAGE_OPTIONS + AUDIO_OPTIONS + ("classes", "stream"))
    return vector_spec(2)

  def load(self, name: str, split: str, options: LoadOptions) -> Split:
    spec = self.describe(name, options)
    num = self.num_train if split == "train" else self.num_test
    key = jax.random.fold_in(jax.random.key(_DATASET_SEED), ("train", "test").index(split))
    return Split({"vector": np.asarray(sample_toy(self.density, key, num))}, spec, name)


_DATASET_SEED = 20_190_101
VECTOR_DATASETS = {name: ToyVectors(name) for name in TOY_DENSITIES}
