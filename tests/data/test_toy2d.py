"""The 2-D toy densities: shapes, jit, determinism and one defining property per density."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo import data

NUM = 4000


def _sample(name, key, num=NUM):
  return np.asarray(jax.jit(data.sample_toy, static_argnames=("name", "num"))(name, key, num))


@pytest.mark.parametrize("name", data.TOY_DENSITIES)
def test_shape_dtype_range_and_jit(name, key):
  points = jax.jit(data.sample_toy, static_argnames=("name", "num"))(name, key, NUM)
  chex.assert_shape(points, (NUM, 2))
  assert points.dtype == jnp.float32
  chex.assert_tree_all_finite(points)
  assert np.abs(points).max() < 4.5
  np.testing.assert_allclose(np.asarray(points).mean(axis=0), 0.0, atol=0.2)
  np.testing.assert_allclose(points, data.sample_toy(name, key, NUM), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", data.TOY_DENSITIES)
def test_keys_give_different_samples(name, key):
  assert (_sample(name, key, 8) != _sample(name, jax.random.fold_in(key, 1), 8)).any()


def test_names():
  assert data.TOY_DENSITIES == ("two_moons", "eight_gaussians", "checkerboard", "pinwheel")


def test_unknown_name(key):
  with pytest.raises(ValueError, match="unknown toy density 'spiral'; known densities: two_moons, "
                     "eight_gaussians, checkerboard, pinwheel"):
    data.sample_toy("spiral", key, 4)


def _distance_to_half_circle(points, centre, upward):
  """Distance to the half circle of radius 2 around `centre` opening down (upward) or up."""
  offset = points - np.asarray(centre)
  side = offset[:, 1] if upward else -offset[:, 1]
  to_circle = np.abs(np.linalg.norm(offset, axis=1) - 2.0)
  to_ends = np.minimum(np.linalg.norm(offset - [2.0, 0.0], axis=1),
                       np.linalg.norm(offset + [2.0, 0.0], axis=1))
  return np.where(side >= 0, to_circle, to_ends)


def test_two_moons_lie_near_their_two_arcs(key):
  points = _sample("two_moons", key)
  upper = _distance_to_half_circle(points, [-1.0, -0.5], upward=True)
  lower = _distance_to_half_circle(points, [1.0, 0.5], upward=False)
  assert np.minimum(upper, lower).max() < 1.0  # 5 noise standard deviations
  assert abs(np.mean(upper < lower) - 0.5) < 0.05


def test_eight_gaussians_has_eight_balanced_clusters(key):
  points = _sample("eight_gaussians", key)
  angle = np.arctan2(points[:, 1], points[:, 0])
  mode = np.round(angle / (math.pi / 4)).astype(int) % 8
  residual = np.angle(np.exp(1j * (angle - mode * math.pi / 4)))
  assert np.abs(residual).max() < math.pi / 8  # every point is nearer one mode than the others
  np.testing.assert_allclose(np.bincount(mode, minlength=8) / NUM, 1 / 8, atol=0.03)
  np.testing.assert_allclose(np.linalg.norm(points, axis=1).mean(), 2.5, atol=0.05)


def test_checkerboard_points_fall_on_the_on_squares(key):
  points = _sample("checkerboard", key)
  assert (np.abs(points) <= 4.0).all()
  square = np.floor((points + 4.0) / 2.0).astype(int)
  assert (square.sum(axis=1) % 2 == 0).all()
  counts = np.bincount(square[:, 0] * 4 + square[:, 1], minlength=16)
  assert (counts > 0).sum() == 8


def test_pinwheel_has_five_arms_winding_outwards(key):
  points = _sample("pinwheel", key)
  radius = np.linalg.norm(points, axis=1) / 1.5
  unwound = np.arctan2(points[:, 1], points[:, 0]) - 0.25 * np.exp(radius)
  arm_width = 2 * math.pi / 5
  arm = np.round(unwound / arm_width).astype(int) % 5
  residual = np.angle(np.exp(1j * (unwound - arm * arm_width)))
  assert np.mean(np.abs(residual) < 0.35) > 0.95
  np.testing.assert_allclose(np.bincount(arm, minlength=5) / NUM, 1 / 5, atol=0.03)


@pytest.mark.parametrize("name", data.TOY_DENSITIES)
def test_every_toy_density_is_a_fixed_vector_dataset(name):
  spec = data.describe(name)
  assert (spec.target, spec.x.kind, spec.x.shape, spec.x.levels) == ("vector", "vector", (2,), None)
  train, test = data.load(name, "train"), data.load(name, "test")
  assert (train.num_examples, test.num_examples) == (10_000, 2_000)
  assert train["vector"].dtype == np.float32 and not np.isin(test["vector"], train["vector"]).all()
  np.testing.assert_array_equal(data.load(name, "test", seed=5)["vector"], test["vector"])  # seed-free


def test_image_options_on_vector_data_are_refused():
  with pytest.raises(ValueError, match=r"two_moons is a dataset of unlabelled 2-D vectors; the options "
                     r"data.binarize='static', data.pad=2 do not apply"):
    data.describe("two_moons", binarize="static", pad=2)
