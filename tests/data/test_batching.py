"""`train_batch` and `eval_batches` on small in-memory data (no TensorFlow involved)."""

import numpy as np
import pytest

from genzoo import data

NUM = 103


def _data(num=NUM, bernoulli_levels=None):
  """Example i has label i, and every pixel of it equals i % 256, so batches can be traced."""
  labels = np.arange(num, dtype=np.int32)
  images = np.broadcast_to((labels % 256).astype(np.uint8)[:, None, None, None], (num, 3, 2, 1))
  levels = 2 if bernoulli_levels else 256
  spec = data.image_spec((3, 2, 1), levels, num_classes=num)
  return data.Split({"image": images.copy(), "label": labels}, spec, "fake", bernoulli_levels=bernoulli_levels)


def test_split_properties():
  fake = _data()
  assert fake["image"].shape == (NUM, 3, 2, 1) and fake.num_examples == NUM


def test_batches_of_vector_data_hold_its_keys_only():
  spec = data.vector_spec(2)
  vectors = data.Split({"vector": np.arange(20, dtype=np.float32).reshape(10, 2)}, spec, "fake")
  batch = data.train_batch(vectors, 0, 4, seed=0)
  assert set(batch) == {"vector"} and batch["vector"].shape == (4, 2) and batch["vector"].dtype == np.float32
  (last,) = list(data.eval_batches(vectors, 16))
  assert set(last) == {"vector", "mask"} and last["mask"].sum() == 10


def test_train_batch_shapes_and_pixels():
  batch = data.train_batch(_data(), 4, 10, seed=0)
  assert batch["image"].shape == (10, 3, 2, 1) and batch["image"].dtype == np.uint8
  assert batch["label"].shape == (10,) and batch["label"].dtype == np.int32
  np.testing.assert_array_equal(batch["image"][:, 0, 0, 0], batch["label"])


def test_train_batch_is_a_function_of_seed_and_step():
  fake = _data()
  first = data.train_batch(fake, 5, 10, seed=1)
  np.testing.assert_array_equal(first["label"], data.train_batch(fake, 5, 10, seed=1)["label"])
  assert (first["label"] != data.train_batch(fake, 6, 10, seed=1)["label"]).any()
  assert (first["label"] != data.train_batch(fake, 5, 10, seed=2)["label"]).any()


def test_each_epoch_visits_every_example_at_most_once_in_a_new_order():
  fake = _data()
  steps_per_epoch = NUM // 10
  epochs = [
      np.concatenate([data.train_batch(fake, step, 10, seed=0)["label"]
                      for step in range(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch)])
      for epoch in range(2)
  ]
  for labels in epochs:
    assert len(labels) == 100 and len(np.unique(labels)) == 100
  assert (epochs[0] != epochs[1]).any()


def test_an_epoch_of_full_batches_covers_every_example_exactly_once():
  fake = _data(num=100)
  labels = np.concatenate([data.train_batch(fake, step, 20, seed=3)["label"] for step in range(5)])
  np.testing.assert_array_equal(np.sort(labels), np.arange(100))


@pytest.mark.parametrize("process_count", [2, 4])
def test_processes_together_see_the_one_process_batch(process_count):
  fake = _data()
  for step in (0, 3, 11):
    whole = data.train_batch(fake, step, 20, seed=7)
    parts = [
        data.train_batch(fake, step, 20, seed=7, process_index=p, process_count=process_count)
        for p in range(process_count)
    ]
    assert all(len(part["label"]) == 20 // process_count for part in parts)
    for key in ("image", "label"):
      np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])


def test_dynamic_binarisation_draws_anew_each_step():
  # One batch per epoch: every step shows all examples, so an example's draws can be compared.
  fake = _data(num=64, bernoulli_levels=256)

  def by_example(step):
    batch = data.train_batch(fake, step, 64, seed=0, binarize="dynamic")
    return batch["image"][np.argsort(batch["label"])]

  first, second = by_example(0), by_example(1)
  assert set(np.unique(first)) == {0, 1}
  np.testing.assert_array_equal(first, by_example(0))
  assert (first != second).any()
  # Example 0 is black (always 0); darker examples are on less often than brighter ones.
  assert (first[0] == 0).all()
  means = np.mean([by_example(step)[:, 0, 0, 0] for step in range(200)], axis=0)
  np.testing.assert_allclose(means, np.arange(64) / 255, atol=0.1)


def test_mutation_replaces_entries_at_its_rate_the_same_for_any_process_layout():
  fake = _data(num=100)
  clean = data.train_batch(fake, 3, 20, seed=5)
  mutated = data.train_batch(fake, 3, 20, seed=5, mutation_rate=0.3)
  np.testing.assert_array_equal(mutated["label"], clean["label"])
  changed = mutated["image"] != clean["image"]
  assert 0.2 < changed.mean() < 0.35  # 0.3, less the draws that hit the value already there
  np.testing.assert_array_equal(mutated["image"], data.train_batch(fake, 3, 20, seed=5, mutation_rate=0.3)["image"])
  parts = [data.train_batch(fake, 3, 20, seed=5, mutation_rate=0.3, process_index=p, process_count=2) for p in (0, 1)]
  np.testing.assert_array_equal(np.concatenate([part["image"] for part in parts]), mutated["image"])
  assert (data.train_batch(fake, 4, 20, seed=5, mutation_rate=0.3)["image"] != data.train_batch(
      fake, 4, 20, seed=5)["image"]).any()


@pytest.mark.parametrize("process_count", [1, 2, 4])
def test_eval_batches_cover_every_example_exactly_once(process_count):
  fake = _data()
  per_process = [
      list(data.eval_batches(fake, 20, process_index=p, process_count=process_count))
      for p in range(process_count)
  ]
  assert all(len(batches) == 6 for batches in per_process)
  global_batches = [
      {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
      for parts in zip(*per_process)
  ]
  mask = np.concatenate([batch["mask"] for batch in global_batches])
  labels = np.concatenate([batch["label"] for batch in global_batches])
  assert mask.dtype == np.float32 and mask.sum() == NUM
  np.testing.assert_array_equal(labels[mask == 1], np.arange(NUM))
  assert (labels[mask == 0] == 0).all()
  for batch in global_batches:
    assert batch["image"].shape == (20, 3, 2, 1)


def test_eval_batches_larger_than_the_data():
  (batch,) = data.eval_batches(_data(num=5), 8)
  np.testing.assert_array_equal(batch["mask"], [1, 1, 1, 1, 1, 0, 0, 0])


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"global_batch_size": 10, "process_count": 3}, "global batch size 10 is not divisible by "
                                                        "the process count 3"),
        ({"global_batch_size": 0}, "global batch size must be >= 1, got 0"),
        ({"global_batch_size": 104}, "global batch size 104 exceeds the 103 examples of fake"),
        ({"global_batch_size": 10, "process_index": 2, "process_count": 2},
         r"process_index must be in \[0, process_count\), got 2 of 2"),
        ({"global_batch_size": 10, "step": -1}, "step must be >= 0, got -1"),
        ({"global_batch_size": 10, "binarize": "sometimes"},
         "unknown binarize 'sometimes'; accepted: none, static, dynamic"),
        ({"global_batch_size": 10, "binarize": "dynamic"},
         r"train_batch\(binarize='dynamic'\) does not match the data"),
    ],
)
def test_train_batch_errors(kwargs, message):
  kwargs = {"step": 0, **kwargs}
  with pytest.raises(ValueError, match=message):
    data.train_batch(_data(), seed=0, **kwargs)


def test_train_batch_needs_dynamic_for_dynamic_data():
  with pytest.raises(ValueError, match=r"train_batch\(binarize='none'\) does not match the data"):
    data.train_batch(_data(bernoulli_levels=256), 0, 10, seed=0)


@pytest.mark.parametrize(
    "data_kwargs, kwargs, message",
    [
        ({}, {"global_batch_size": 9, "process_count": 2}, "9 is not divisible by the process"),
        ({}, {"global_batch_size": -4}, "global batch size must be >= 1, got -4"),
        ({}, {"global_batch_size": 4, "process_index": -1, "process_count": 2}, "process_index"),
        ({"bernoulli_levels": 256}, {"global_batch_size": 4}, "load the split to evaluate with "
                                                              "binarize='static'"),
    ],
)
def test_eval_batches_errors(data_kwargs, kwargs, message):
  with pytest.raises(ValueError, match=message):
    next(data.eval_batches(_data(**data_kwargs), **kwargs))
