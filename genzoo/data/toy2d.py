"""Two-dimensional toy densities for visualising flows: pure `jax.numpy` samplers.

Every sampler returns float32 [num, 2] points scaled to lie within about [-4, 4]^2. `sample_toy`
is jit-able with `name` and `num` static:

  jax.jit(sample_toy, static_argnames=("name", "num"))("two_moons", key, 1024)
"""

import math

import jax
import jax.numpy as jnp

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
