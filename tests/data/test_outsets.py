"""Scoring sets: synthetic, transformed, other datasets' and users' images in a run's frame."""

import numpy as np
import pytest

from genzoo import data
from genzoo.data import outsets
from genzoo.errors import UserError


@pytest.fixture
def options(embedded_dir):
  return data.LoadOptions(data_dir=embedded_dir, pad=1, seed=3)


def test_synthetic_sets_are_seeded_and_in_the_runs_frame(options):
  constant = outsets.load_set("constant:5", "digits", options)["image"]
  noise = outsets.load_set("noise", "digits", options)["image"]
  assert constant.shape == (5, 10, 10, 1) and noise.shape == (outsets.DEFAULT_SYNTHETIC_COUNT, 10, 10, 1)
  inner = constant[:, 1:-1, 1:-1]
  assert np.all(inner == inner[:, :1, :1]) and np.all(constant[:, 0] == 0)  # one level each, padded with zeros
  assert len(np.unique(inner[:, 0, 0])) > 1
  black = outsets.load_set("black:3", "digits", options)["image"]
  assert black.shape == (3, 10, 10, 1) and not black.any()
  assert noise.max() == 16 and len(np.unique(noise[:, 1:-1, 1:-1])) == 17
  np.testing.assert_array_equal(noise, outsets.load_set("noise", "digits", options)["image"])
  other_seed = data.LoadOptions(data_dir=options.data_dir, pad=1, seed=4)
  assert not np.array_equal(noise, outsets.load_set("noise", "digits", other_seed)["image"])


def test_transforms_apply_to_the_images_before_padding(options):
  test = data.load("digits", "test", data_dir=options.data_dir, pad=1)
  inverted = outsets.load_set("test+invert", "digits", options)
  np.testing.assert_array_equal(inverted["image"][:, 1:-1, 1:-1], 16 - test["image"][:, 1:-1, 1:-1])
  assert np.all(inverted["image"][:, 0] == 0)
  np.testing.assert_array_equal(inverted["label"], test["label"])
  flipped = outsets.load_set("test+hflip+vflip", "digits", options)["image"]
  np.testing.assert_array_equal(flipped, test["image"][:, ::-1, ::-1])
  blurred = outsets.load_set("test+blur", "digits", options)["image"].astype(float)
  assert np.abs(np.diff(blurred, axis=2)).mean() < np.abs(np.diff(test["image"].astype(float), axis=2)).mean()


def test_another_dataset_is_resized_to_the_runs_shape_and_levels(options):
  other = outsets.load_set("mnist5k:test", "digits", options)
  assert other["image"].shape == (1000, 10, 10, 1) and other["image"].max() <= 16
  assert set(other["label"].tolist()) == set(range(10))  # its own labels
  assert other["image"][:, 3:7, 3:7].mean() > other["image"][:, 1:3, 1:-1].mean()  # strokes in the middle


def test_a_users_array_is_read_in_the_datasets_stored_shape(options, tmp_path):
  images = np.random.default_rng(0).integers(0, 17, (6, 8, 8), dtype=np.uint8)
  np.save(tmp_path / "mine.npy", images)
  np.savez(tmp_path / "mine.npz", x=images[..., None])
  for name in ("mine.npy", "mine.npz"):
    loaded = outsets.load_set(str(tmp_path / name), "digits", options)["image"]
    np.testing.assert_array_equal(loaded[:, 1:-1, 1:-1, 0], images)


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 8, 8), np.float32), r"holds a float32 array of shape \[3, 8, 8\]; expected a uint8 array "
     r"\[N, 8, 8, 1\] \(or \[N, 8, 8\]\) with values 0 to 16"),
    (np.zeros((3, 28, 28, 1), np.uint8), r"holds a uint8 array of shape \[3, 28, 28, 1\]; expected a uint8 array"),
    (np.full((3, 8, 8), 255, np.uint8), r"has pixel values up to 255; expected a uint8 array \[N, 8, 8, 1\]"),
])
def test_a_users_array_of_another_shape_dtype_or_levels_is_refused(options, tmp_path, array, message):
  np.save(tmp_path / "bad.npy", array)
  with pytest.raises(UserError, match=message):
    outsets.load_set(str(tmp_path / "bad.npy"), "digits", options)


@pytest.mark.parametrize("text, message", [
    ("test+rotate", r"cannot read the set 'test\+rotate': unknown transforms \['rotate'\]; a set is test, train"),
    ("validation", r"unknown set 'validation'; a set is test, train, DATASET:SPLIT"),
    ("noise:0", r"'noise:0': the count after ':' must be a whole number >= 1"),
    ("mnist5k:validation", r"mnist5k:validation: the split must be one of \['test', 'train'\]"),
    ("missing.npy", r"there is no file missing.npy; the set should be a uint8 array \[N, 8, 8, 1\]"),
])
def test_sets_that_cannot_be_read_are_refused(options, text, message):
  with pytest.raises(UserError, match=message):
    outsets.load_set(text, "digits", options)


def test_sets_keep_the_classes_asked_for(options):
  threes = outsets.load_set("test@3", "digits", options)
  assert len(threes["label"]) > 20 and np.all(threes["label"] == 3)
  others = outsets.load_set("mnist5k:test@0,1", "digits", options)["label"]
  assert set(others.tolist()) == {0, 1}
  one_class = data.LoadOptions(data_dir=options.data_dir, classes=(3,))
  np.testing.assert_array_equal(outsets.load_set("test", "digits", one_class)["image"],
                                data.load("digits", "test", data_dir=options.data_dir, classes=(3,))["image"])
  assert np.all(data.load("digits", "train", data_dir=options.data_dir, classes=(3, 5))["label"] % 2 == 1)
  with pytest.raises(UserError, match=r"@3 keeps examples by class, but this set has no labels"):
    outsets.load_set("noise@3", "digits", options)
  with pytest.raises(UserError, match=r"@ takes comma-separated class indices, got 'three'"):
    outsets.load_set("test@three", "digits", options)
