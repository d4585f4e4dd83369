"""Audio through the data path: utterances, training segments, evaluation windows, options."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from genzoo import data
from genzoo.data import Ragged
from genzoo.errors import UserError


def utterances(lengths, seed=0):
  rng = np.random.default_rng(seed)
  return [rng.integers(-32768, 32768, length).astype(np.int16) for length in lengths]


def test_segments_are_whole_runs_of_samples_and_short_examples_are_zero_padded():
  examples = utterances([50, 8, 3])
  ragged = Ragged.from_list(examples, np.int16)
  np.testing.assert_array_equal(ragged.lengths, [50, 8, 3])
  segments = ragged.segments(np.array([0, 0, 1, 2]), np.array([0.0, 0.9999, 0.5, 0.5]), 8)
  np.testing.assert_array_equal(segments[0], examples[0][:8])
  np.testing.assert_array_equal(segments[1], examples[0][-8:])  # the last of the 43 offsets
  np.testing.assert_array_equal(segments[2], examples[1])
  np.testing.assert_array_equal(segments[3], np.concatenate([examples[2], np.zeros(5, np.int16)]))
  assert segments.dtype == np.int16


def test_training_segments_are_a_function_of_seed_and_step_whatever_the_processes():
  spec = data.audio_spec(16, 22050)
  split = data.Split({"audio": Ragged.from_list(utterances([40, 100, 17, 64, 30, 90]), np.int16)}, spec, "toy")
  whole = data.train_batch(split, 3, 4, seed=1)["audio"]
  halves = [data.train_batch(split, 3, 4, seed=1, process_index=p, process_count=2)["audio"] for p in range(2)]
  np.testing.assert_array_equal(np.concatenate(halves), whole)
  np.testing.assert_array_equal(data.train_batch(split, 3, 4, seed=1)["audio"], whole)
  assert not np.array_equal(data.train_batch(split, 3, 4, seed=2)["audio"], whole)
  examples = [split["audio"][index] for index in range(6)]
  for row in whole:  # 16 consecutive samples of one utterance
    assert any(np.array_equal(row, example[offset:offset + 16]) for example in examples
               for offset in range(len(example) - 15))
  with pytest.raises(ValueError, match=r"eval_batches needs examples of one shape, but \['audio'\] of toy have any length"):
    next(data.eval_batches(split, 4))


def test_mutation_of_signed_pcm_draws_levels_around_zero():
  spec = data.audio_spec(256, 22050)
  split = data.Split({"audio": np.zeros((4, 256), np.int16)}, spec, "toy")
  mutated = data.train_batch(split, 0, 4, seed=0, mutation_rate=0.5)["audio"].astype(np.int32)
  assert mutated.min() < -16000 and mutated.max() > 16000 and 0.4 < np.mean(mutated != 0) < 0.6


@pytest.mark.parametrize("name, label", [("speech", True), ("ljspeech", False)])
def test_audio_datasets_load_utterances_for_training_and_windows_for_evaluation(name, label, tmp_path):
  with tfds.testing.mock_data(num_examples=6):
    train = data.load(name, "train", data_dir=str(tmp_path), segment_length=8)
    test = data.load(name, "test", data_dir=str(tmp_path), segment_length=8)
  assert isinstance(train["audio"], Ragged) and len(train["audio"]) == 6
  assert train.spec.x == data.Feature("audio", (8,), "int16", levels=65536, sample_rate=22050)
  assert ("label" in train.arrays) == label and train.spec == data.describe(name, segment_length=8)
  lengths = train["audio"].lengths
  assert test["audio"].shape == (sum(lengths // 8), 8)  # mock data: the same examples in every split
  np.testing.assert_array_equal(test["audio"][:lengths[0] // 8].reshape(-1), train["audio"][0][:lengths[0] // 8 * 8])
  if label:
    np.testing.assert_array_equal(test["label"], np.repeat(train["label"], lengths // 8))
  batch = data.train_batch(train, 0, 4, seed=0)
  assert batch["audio"].shape == (4, 8) and batch["audio"].dtype == np.int16


@pytest.mark.parametrize("name, options, message", [
    ("speech", dict(pad=2), r"speech is a dataset of speech at 22050 Hz; the options data.pad=2 do not apply"),
    ("mnist5k", dict(segment_length=100), r"mnist5k is a dataset of images; the options data.segment_length=100 do not apply"),
    ("two_moons", dict(segment_length=100), r"two_moons is a dataset of unlabelled 2-D vectors; the options "
                                            r"data.segment_length=100 do not apply"),
    ("speech", dict(segment_length=0), r"data.segment_length must be at least 1 sample, got 0"),
    ("ljspeech", dict(classes=(0,)), r"data.classes=\[0\] keeps some classes, but ljspeech has no labels"),
    ("speech", dict(classes=(6,)), r"data.classes=\[6\]: speech has classes 0 to 5, not \[6\]"),
])
def test_options_of_other_kinds_of_data_are_refused(name, options, message):
  with pytest.raises(UserError, match=message):
    data.describe(name, **options)


def test_windows_longer_than_every_test_utterance_are_refused(tmp_path):
  with tfds.testing.mock_data(num_examples=3), pytest.raises(
      UserError, match=r"no ljspeech test utterance is as long as one evaluation window of data.segment_length=100000 "
      r"samples \(the longest has \d+\)"):
    data.load("ljspeech", "test", data_dir=str(tmp_path), segment_length=100_000)


@pytest.mark.slow
def test_the_offline_speech_prepares_itself_and_holds_out_whole_sentences(tmp_path):
  train = data.load("speech", "train", data_dir=str(tmp_path))
  test = data.load("speech", "test", data_dir=str(tmp_path))
  assert len(train["audio"]) == 144 * 6 and np.bincount(train["label"]).tolist() == [144] * 6
  seconds = train["audio"].lengths / 22050
  assert 1.0 < seconds.min() and seconds.max() < 8.0 and 30 < seconds.sum() / 60 < 40  # minutes of speech
  assert test["audio"].shape[1] == 16000 and len(test["audio"]) > 16 * 6


@pytest.mark.parametrize("family", ["glow", "vae", "dcgan"])
def test_image_families_refuse_audio_saying_what_they_model(experiment, family):
  from genzoo import tasks  # pylint: disable=import-outside-toplevel

  with pytest.raises(UserError, match=r"models image data, but this dataset's 'audio' is audio data of shape \(16000,\)"):
    tasks.make_task(experiment(family, "smoke"), data.audio_spec(16000, 22050, 6))


@pytest.mark.slow
def test_the_offline_speech_streams_the_in_memory_training_segments(tmp_path):
  options = dict(segment_length=4000)
  in_memory = data.load("speech", "train", data_dir=str(tmp_path / "tfrecord"), **options)
  streamed = data.load("speech", "train", data_dir=str(tmp_path / "array_record"), stream=True, **options)
  assert not isinstance(streamed["audio"], Ragged) and len(streamed["audio"]) == len(in_memory["audio"])
  for step in (0, 5, 40):
    expected, got = (data.train_batch(split, step, 32, seed=2) for split in (in_memory, streamed))
    for key in expected:
      np.testing.assert_array_equal(got[key], expected[key])
  test = data.load("speech", "test", data_dir=str(tmp_path / "array_record"), stream=True, **options)
  np.testing.assert_array_equal(test["audio"], data.load("speech", "test", data_dir=str(tmp_path / "tfrecord"),
                                                         **options)["audio"])
  two_speakers = dict(options, classes=(0, 3))
  in_memory = data.load("speech", "train", data_dir=str(tmp_path / "tfrecord"), **two_speakers)
  streamed = data.load("speech", "train", data_dir=str(tmp_path / "array_record"), stream=True, **two_speakers)
  expected, got = (data.train_batch(split, 7, 32, seed=2) for split in (in_memory, streamed))
  assert set(np.unique(got["label"])) == {0, 3}
  for key in expected:
    np.testing.assert_array_equal(got[key], expected[key])
