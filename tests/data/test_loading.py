"""`load`: TFDS datasets under mock_data, level reduction, binarisation and every error message."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from genzoo import data
from genzoo.data import images as images_lib

NUM_MOCK = 12


def _mock_load(name, split="train", max_value=None, **kwargs):
  with tfds.testing.mock_data(num_examples=NUM_MOCK, max_value=max_value):
    return data.load(name, split, **kwargs)


@pytest.mark.parametrize(
    "name, shape, has_labels",
    [
        ("mnist", (28, 28, 1), True),
        ("fashion_mnist", (28, 28, 1), True),
        ("cifar10", (32, 32, 3), True),
        ("celeb_a", (64, 64, 3), False),
        ("downsampled_imagenet/32x32", (32, 32, 3), False),
        ("downsampled_imagenet/64x64", (64, 64, 3), False),
    ],
)
@pytest.mark.parametrize("split", ["train", "test"])
def test_mock_data_loads(tmp_path, name, shape, has_labels, split):
  loaded = _mock_load(name, split, data_dir=str(tmp_path))
  assert loaded.num_examples == NUM_MOCK and loaded.spec.x.shape == shape and loaded.name == name
  assert loaded["image"].dtype == np.uint8 and loaded.spec.x.levels == 256
  assert loaded.spec == data.describe(name, data_dir=str(tmp_path))  # known before loading
  if has_labels:
    assert loaded["label"].dtype == np.int32 and loaded.spec.num_classes == 10
    assert loaded["label"].min() >= 0 and loaded["label"].max() < 10
  else:
    assert "label" not in loaded.arrays and loaded.spec.num_classes is None


def test_mock_binarized_mnist(tmp_path):
  for split in ("train", "test"):
    loaded = _mock_load("binarized_mnist", split, max_value=2, data_dir=str(tmp_path))
    assert loaded.spec.x.shape == (28, 28, 1) and loaded.spec.x.levels == 2
    assert set(np.unique(loaded["image"])) <= {0, 1} and "label" not in loaded.arrays


@pytest.mark.parametrize("size", [32, 148])
def test_celeb_a_image_size(tmp_path, size):
  loaded = _mock_load("celeb_a", image_size=size, data_dir=str(tmp_path))
  assert loaded.spec.x.shape == (size, size, 3)


def test_image_size_resizes_8_bit_data(tmp_path):
  assert _mock_load("cifar10", image_size=16, data_dir=str(tmp_path)).spec.x.shape == (16, 16, 3)


@pytest.mark.parametrize("n_bits", [1, 3, 5, 8])
def test_n_bits_keeps_the_top_bits(tmp_path, n_bits):
  full = _mock_load("mnist", data_dir=str(tmp_path))
  reduced = _mock_load("mnist", n_bits=n_bits, data_dir=str(tmp_path))
  assert reduced.spec.x.levels == 2**n_bits
  np.testing.assert_array_equal(reduced["image"], full["image"] >> (8 - n_bits))
  assert reduced["image"].max() < 2**n_bits


def test_static_binarisation_is_fixed_by_the_seed(embedded_dir):
  grey = data.load("mnist5k", "test", data_dir=embedded_dir)
  binary = data.load("mnist5k", "test", data_dir=embedded_dir, binarize="static", seed=3)
  again = data.load("mnist5k", "test", data_dir=embedded_dir, binarize="static", seed=3)
  other = data.load("mnist5k", "test", data_dir=embedded_dir, binarize="static", seed=4)
  assert binary.spec.x.levels == 2 and binary.bernoulli_levels is None
  assert set(np.unique(binary["image"])) == {0, 1}
  np.testing.assert_array_equal(binary["image"], again["image"])
  np.testing.assert_array_equal(binary["label"], grey["label"])
  assert (binary["image"] != other["image"]).any()
  # Black pixels stay 0, white ones 1, and on average a pixel is 1 with probability x / 255.
  assert (binary["image"][grey["image"] == 0] == 0).all()
  assert (binary["image"][grey["image"] == 255] == 1).all()
  np.testing.assert_allclose(binary["image"].mean(), grey["image"].mean() / 255, rtol=0.01)


def test_static_binarisation_differs_between_splits(tmp_path):
  # mock_data yields the same pixels for every split, so any difference comes from the draw.
  train = _mock_load("mnist", "train", binarize="static", data_dir=str(tmp_path))
  test = _mock_load("mnist", "test", binarize="static", data_dir=str(tmp_path))
  assert (train["image"] != test["image"]).any()


def test_dynamic_binarisation_loads_grey_train_and_static_test(embedded_dir):
  train = data.load("digits", "train", data_dir=embedded_dir, binarize="dynamic")
  grey = data.load("digits", "train", data_dir=embedded_dir)
  assert train.spec.x.levels == 2 and train.bernoulli_levels == 17
  np.testing.assert_array_equal(train["image"], grey["image"])
  test = data.load("digits", "test", data_dir=embedded_dir, binarize="dynamic", seed=5)
  static = data.load("digits", "test", data_dir=embedded_dir, binarize="static", seed=5)
  assert test.spec.x.levels == 2 and test.bernoulli_levels is None
  np.testing.assert_array_equal(test["image"], static["image"])


def test_dynamic_batches_are_binary_draws_fixed_by_seed_and_step(embedded_dir):
  train = data.load("digits", "train", data_dir=embedded_dir, binarize="dynamic")
  grey = data.load("digits", "train", data_dir=embedded_dir)
  first = data.train_batch(train, 3, 64, seed=0, binarize="dynamic")
  again = data.train_batch(train, 3, 64, seed=0, binarize="dynamic")
  pixels = data.train_batch(grey, 3, 64, seed=0)
  assert set(np.unique(first["image"])) == {0, 1}
  np.testing.assert_array_equal(first["image"], again["image"])
  np.testing.assert_array_equal(first["label"], pixels["label"])
  assert (first["image"][pixels["image"] == 0] == 0).all()
  assert (first["image"][pixels["image"] == 16] == 1).all()


def test_dynamic_batches_do_not_depend_on_the_process_layout(embedded_dir):
  train = data.load("digits", "train", data_dir=embedded_dir, binarize="dynamic")
  whole = data.train_batch(train, 7, 64, seed=1, binarize="dynamic")
  parts = [
      data.train_batch(train, 7, 64, seed=1, binarize="dynamic", process_index=p, process_count=4)
      for p in range(4)
  ]
  for key in ("image", "label"):
    np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, split, kwargs, message",
    [
        ("imagenet", "train", {}, "unknown dataset 'imagenet'; known datasets: digits, mnist5k"),
        ("mnist", "validation", {}, "unknown split 'validation'; accepted: train, test"),
        ("mnist", "train", {"binarize": "yes"}, "unknown binarize 'yes'; accepted: none, static"),
        ("mnist", "train", {"n_bits": 0}, "n_bits must be in 1..8, got 0"),
        ("mnist", "train", {"n_bits": 9}, "n_bits must be in 1..8, got 9"),
        ("digits", "train", {"n_bits": 3}, "n_bits needs 8-bit data .256 levels., but digits has 17"),
        ("mnist", "train", {"n_bits": 3, "binarize": "static"}, "n_bits and binarize cannot be"),
        ("binarized_mnist", "train", {"binarize": "static"}, "binarized_mnist is already binary"),
        ("binarized_mnist", "train", {"binarize": "dynamic"}, "already binary .2 levels.: use"),
        ("digits", "train", {"image_size": 16}, "image_size needs 8-bit data, but digits has 17"),
        ("cifar10", "train", {"image_size": 0}, "image_size must be a positive int, got 0"),
    ],
)
def test_load_rejects_bad_arguments(name, split, kwargs, message):
  with pytest.raises(ValueError, match=message):
    data.load(name, split, **kwargs)


def test_unprepared_dataset_says_how_to_prepare_it(tmp_path, monkeypatch):
  def no_network(self, *args, **kwargs):
    raise ConnectionError("no network")

  monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_network)
  directory = str(tmp_path)
  with pytest.raises(FileNotFoundError, match="dataset 'cifar10' is not prepared") as error:
    data.load("cifar10", "train", data_dir=directory)
  message = str(error.value)
  assert f"`tfds build cifar10 --data_dir {directory}`" in message
  assert "ConnectionError: no network" in message
  assert "embedded datasets: digits, mnist5k" in message
  assert isinstance(error.value.__cause__, ConnectionError)


def test_values_beyond_the_levels_are_rejected(tmp_path):
  with pytest.raises(ValueError, match="digits train has pixel values up to .* 17 levels .* "
                     "pass max_value=17"):
    _mock_load("digits", data_dir=str(tmp_path))


SPEC = data.image_spec((4, 4, 1), 256, num_classes=10)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"image": np.zeros((3, 4, 4), np.uint8), "label": np.zeros(3, np.int32)},
         r"image must be uint8 \[3, 4, 4, 1\], got uint8 \(3, 4, 4\)"),
        ({"image": np.zeros((3, 4, 4, 1), np.float32), "label": np.zeros(3, np.int32)}, r"image must be uint8"),
        ({"image": np.zeros((3, 4, 4, 1), np.uint8), "label": np.zeros(2, np.int32)},
         r"label must be int32 \[3\], got int32 \(2,\)"),
        ({"image": np.zeros((3, 4, 4, 1), np.uint8), "label": np.zeros(3, np.int64)}, r"label must be int32 \[3\], got int64"),
        ({"image": np.zeros((3, 4, 4, 1), np.uint8)}, r"arrays hold keys \['image'\], the spec \['image', 'label'\]"),
    ],
)
def test_a_split_checks_its_arrays_against_its_spec(arrays, message):
  with pytest.raises(ValueError, match=message):
    data.Split(arrays, SPEC, "fake")


def test_registry_is_consistent():
  assert {"digits", "mnist5k", "mnist", "binarized_mnist", "fashion_mnist", "cifar10", "celeb_a",
          "downsampled_imagenet/32x32", "downsampled_imagenet/64x64"} <= set(data.IMAGE_DATASETS)
  for name, source in data.IMAGE_DATASETS.items():
    assert isinstance(source, images_lib.TFDSImages) and source.tfds_name == name
  assert data.IMAGE_DATASETS["downsampled_imagenet/64x64"].test_split == "validation"
  assert set(data.DATASETS) == set(data.IMAGE_DATASETS) | set(data.TOY_DENSITIES) | {"speech", "ljspeech"}


@pytest.mark.parametrize("options, shape, levels", [
    ({}, (28, 28, 1), 256),
    ({"pad": 2}, (32, 32, 1), 256),
    ({"n_bits": 5}, (28, 28, 1), 32),
    ({"binarize": "dynamic"}, (28, 28, 1), 2),
    ({"image_size": 14, "pad": 1}, (16, 16, 1), 256),
])
def test_describe_knows_the_batches_without_reading_anything(options, shape, levels):
  spec = data.describe("mnist", data_dir="/nonexistent", **options)  # nothing is read
  assert (spec.target, spec.x.kind, spec.x.shape, spec.x.levels, spec.num_classes) == ("image", "image", shape, levels, 10)
  assert data.DataSpec.from_json(spec.to_json()) == spec


def test_celeb_a_is_centre_cropped_then_resized(tmp_path):
  # Channel 0 holds each pixel's row, channel 1 its column: the crop's corner shows its offset.
  rows, columns = np.meshgrid(np.arange(218), np.arange(178), indexing="ij")
  image = np.stack([rows, columns, np.zeros_like(rows)], axis=-1).astype(np.uint8)

  def as_dataset(self, *args, **kwargs):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors({"image": image}).repeat(3)

  with tfds.testing.mock_data(as_dataset_fn=as_dataset):
    cropped = data.load("celeb_a", "train", image_size=148, data_dir=str(tmp_path))
    resized = data.load("celeb_a", "train", data_dir=str(tmp_path))
  assert cropped.num_examples == 3
  np.testing.assert_array_equal(cropped["image"][0], image[35:183, 15:163])
  assert resized.spec.x.shape == (64, 64, 3)
  np.testing.assert_allclose(resized["image"][0].mean(axis=(0, 1)), [108.5, 88.5, 0], atol=1)


def test_pad_adds_zero_borders(embedded_dir):
  plain = data.load("digits", "test", data_dir=embedded_dir)
  padded = data.load("digits", "test", data_dir=embedded_dir, pad=2)
  assert padded.spec.x.shape == (12, 12, 1)
  np.testing.assert_array_equal(padded["image"][:, 2:-2, 2:-2], plain["image"])
  assert padded["image"][:, :2].max() == 0 and padded["image"][:, :, -2:].max() == 0
  with pytest.raises(ValueError, match="pad must be >= 0 pixels, got -1"):
    data.load("digits", "test", data_dir=embedded_dir, pad=-1)
