"""Class-conditional generation through the task contract and the runner: every family samples
the classes it is asked for, one row per class, and refuses what it cannot do."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from genzoo import data, runner, tasks
from genzoo.errors import UserError
from genzoo.runner import images
from genzoo.runner.commands import requested_classes

DIGITS = data.image_spec((8, 8, 1), 17, num_classes=10)

# family -> (experiment, variant, overrides, data spec) of a class-conditional smoke model
CONDITIONAL = {
    "vae": ("vae", "smoke", {"model.num_classes": 10}, DIGITS),
    "flow": ("glow", "smoke", {"model.num_classes": 10}, DIGITS),
    "gan": ("biggan", "smoke", {}, data.image_spec((32, 32, 1), 17, num_classes=10)),
}


def conditional_task(experiment, family):
  name, variant, overrides, spec = CONDITIONAL[family]
  return tasks.make_task(experiment(name, variant, overrides), spec), spec


# BigGAN's and Glow's inits and samplers compile for 25 s and 6 s: their cases are in the slow tier
# (the per-example classes of BigGAN's generator and the per-label densities of Glow are tested by
# tests/models/test_biggan.py and tests/tasks/test_flow.py).
@pytest.mark.parametrize("family", [pytest.param(family, marks=pytest.mark.slow) if family != "vae" else family
                                    for family in sorted(CONDITIONAL)])
def test_each_sample_is_of_its_requested_class(experiment, key, family):
  """Example i depends on its own label and latent only: a batch of mixed classes holds, row for
  row, the samples of each class drawn alone (same key, so same latents)."""
  task, spec = conditional_task(experiment, family)
  state = jax.jit(task.init)(key, {name: jnp.asarray(value) for name, value in spec.example_batch(4).items()})
  sample = jax.jit(task.sample, static_argnums=2)
  mixed = sample(state, key, 6, 1.0, jnp.asarray([0, 0, 0, 4, 4, 4], jnp.int32))
  zeros = sample(state, key, 6, 1.0, jnp.zeros((6,), jnp.int32))
  fours = sample(state, key, 6, 1.0, jnp.full((6,), 4, jnp.int32))
  np.testing.assert_array_equal(mixed[:3], zeros[:3])
  np.testing.assert_array_equal(mixed[3:], fours[3:])
  assert task.num_classes == 10


def test_requested_classes_are_parsed_and_checked():
  np.testing.assert_array_equal(requested_classes("3", 10), [3])
  np.testing.assert_array_equal(requested_classes("0, 2,4", 10), [0, 2, 4])
  np.testing.assert_array_equal(requested_classes("all", 4), [0, 1, 2, 3])
  with pytest.raises(UserError, match=r"class 12 is out of range: this model generates classes 0 to 9"):
    requested_classes("1,12", 10)
  with pytest.raises(UserError, match=r"--class takes a class index, a comma-separated list of them or 'all'; got 'two'"):
    requested_classes("two", 10)
  with pytest.raises(UserError, match=r"this run's model is unconditional"):
    requested_classes("1", 0)


def test_a_conditional_run_shows_one_row_per_class_and_refuses_interpolation(experiment, tmp_path):
  config = experiment("vae", "smoke")
  config.model.num_classes = 10
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(config, workdir)
  path = runner.sample(workdir, None, num=3, temperature=1.0, classes="0,4")
  assert path.endswith("samples_6_t1_class0-4.png")
  scale, cell = images.display_scale(8), 8 + 2  # an image and the grid's 2-pixel gap

  def rows_and_columns(png):
    with Image.open(png) as picture:
      width, height = picture.size
    return (height // scale - 2) // cell, (width // scale - 2) // cell

  assert rows_and_columns(path) == (2, 3)
  assert rows_and_columns(f"{workdir}/samples_6.png") == (10, config.train.num_samples // 10)  # as it trained
  grid = runner.sample(workdir, None, num=2, temperature=1.0, classes="all")
  assert grid.endswith("_classall.png") and rows_and_columns(grid) == (10, 2)
  with pytest.raises(UserError, match="a class-conditional model maps each class with its own function"):
    runner.interpolate(workdir, None, num_pairs=2, num_steps=3)
