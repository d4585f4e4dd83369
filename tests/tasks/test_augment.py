import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.tasks import augment

ada = jax.jit(augment.ada, static_argnums=3)


def images(key, channels=3, n=6, side=8):
  return jax.random.uniform(key, (n, side, side, channels), minval=-1.0, maxval=1.0)


@pytest.mark.parametrize("channels", [1, 3])
def test_ada_at_p_zero_is_the_identity(key, channels):
  x = images(key, channels)
  np.testing.assert_allclose(ada(x, jax.random.fold_in(key, 1), 0.0, "bgc"), x, atol=1e-5)


def test_ada_is_differentiable_with_respect_to_the_images(key):
  x = images(key)
  weights = jax.random.normal(jax.random.fold_in(key, 2), x.shape)
  grads = jax.grad(lambda x: jnp.sum(ada(x, jax.random.fold_in(key, 1), 0.8, "bgc") * weights))(x)
  assert bool(jnp.all(jnp.isfinite(grads))) and float(jnp.abs(grads).sum()) > 0


def test_blits_move_pixels_without_changing_their_values(key):
  """Flips, quarter turns and integer shifts (mirrored at the borders) only rearrange pixels."""
  x = images(key, channels=1)
  out = ada(x, jax.random.fold_in(key, 3), 1.0, "b")
  for image, moved in zip(np.asarray(x), np.asarray(out)):
    distances = np.abs(moved.reshape(-1, 1) - image.reshape(1, -1)).min(axis=1)
    assert distances.max() < 1e-5
  assert not np.allclose(out, x)


def test_colour_on_one_channel_images_is_an_affine_map_of_the_luma(key):
  x = images(key, channels=1)
  out = np.asarray(ada(x, jax.random.fold_in(key, 4), 1.0, "bgc").reshape(6, -1))
  flat = np.asarray(augment.warp(x, augment.geometric_matrix(
      jax.random.split(jax.random.fold_in(key, 4))[0], 6, 1.0, (8, 8), ("blit", "geometric"))).reshape(6, -1))
  for source, target in zip(flat, out):
    slope, intercept = np.polyfit(source, target, 1)
    np.testing.assert_allclose(slope * source + intercept, target, atol=1e-4)


def test_diff_augment_shifts_and_cuts_out_a_square_of_half_the_side(key):
  ones = jnp.ones((16, 8, 8, 1))
  out = np.asarray(augment.diff_augment(ones, key))
  assert set(np.unique(out)) <= {0.0, 1.0}
  zeros = (out == 0).reshape(16, -1).sum(axis=1)
  assert zeros.min() >= 4 and zeros.max() <= 8 * 8 - 1  # a corner of the square at least; never all
  assert not np.array_equal(out[0], out[1])
