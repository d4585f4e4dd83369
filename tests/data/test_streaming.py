"""Streamed splits (`stream=True`) give the in-memory splits' batches; the prefetcher gives each
step's batch in order, from any number of workers."""

import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from genzoo import data
from genzoo.data.prefetch import Prefetcher
from genzoo.data import streaming
from genzoo.data.streaming import StreamedColumn
from genzoo.errors import UserError

# case (dataset_what) -> options that exercise each preparation: padding and fewer bits (digits has
# 17 levels and takes neither), a resize (antialiased, batch by batch when streamed) and padding,
# and the examples of some classes only (their labels read first, the images left undecoded).
CASES = {"digits": {}, "mnist5k": {"image_size": 16, "pad": 2}, "mnist5k_bits": {"n_bits": 5, "pad": 2},
         "mnist5k_classes": {"classes": (1, 7)}}


@pytest.fixture(scope="module")
def array_record_dir(tmp_path_factory) -> str:
  """A data_dir in which the embedded datasets get prepared as array_record files."""
  return str(tmp_path_factory.mktemp("array_record"))


def load_both(case, split, embedded_dir, array_record_dir):
  name, options = case.split("_")[0], CASES[case]
  in_memory = data.load(name, split, data_dir=embedded_dir, **options)
  streamed = data.load(name, split, data_dir=array_record_dir, stream=True, **options)
  return in_memory, streamed


@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_batches_are_the_in_memory_batches(case, embedded_dir, array_record_dir):
  in_memory, streamed = load_both(case, "train", embedded_dir, array_record_dir)
  assert all(isinstance(column, StreamedColumn) for column in streamed.arrays.values())
  assert streamed.num_examples == in_memory.num_examples and streamed.spec == in_memory.spec
  steps_per_epoch = in_memory.num_examples // 64
  for step in (0, 1, steps_per_epoch + 3):  # two epochs' permutations
    for process in range(2):
      expected = data.train_batch(in_memory, step, 64, seed=5, process_index=process, process_count=2)
      got = data.train_batch(streamed, step, 64, seed=5, process_index=process, process_count=2)
      assert expected.keys() == got.keys()
      for key in expected:
        assert got[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(got[key], expected[key])
  test_in_memory, test_streamed = load_both(case, "test", embedded_dir, array_record_dir)
  for expected, got in zip(data.eval_batches(test_in_memory, 100), data.eval_batches(test_streamed, 100), strict=True):
    for key in expected:
      np.testing.assert_array_equal(got[key], expected[key])


def test_a_dataset_prepared_as_array_record_reads_into_memory_through_its_source(embedded_dir, array_record_dir):
  data.load("digits", "train", data_dir=array_record_dir, stream=True)  # prepares it as array_record
  from_records = data.load("digits", "train", data_dir=array_record_dir)
  from_tfrecords = data.load("digits", "train", data_dir=embedded_dir)
  for key in from_tfrecords.arrays:
    np.testing.assert_array_equal(from_records[key], from_tfrecords[key])


def test_a_streamed_split_pickles_as_its_files_and_reads_the_same(array_record_dir):
  streamed = data.load("mnist5k", "train", data_dir=array_record_dir, stream=True)
  pickled = pickle.dumps(streamed)
  assert len(pickled) < 20_000  # file paths, not 4,000 images
  copy = pickle.loads(pickled)
  for key in streamed.arrays:
    np.testing.assert_array_equal(data.train_batch(copy, 3, 32, seed=0)[key],
                                  data.train_batch(streamed, 3, 32, seed=0)[key])


def test_streaming_a_dataset_prepared_as_tfrecords_says_how_to_prepare_it(embedded_dir):
  data.load("digits", "test", data_dir=embedded_dir)  # prepared as TFRecords
  with pytest.raises(UserError, match=r"data.stream=True reads digits by index from its array_record files, but it "
                     r"is prepared in .* as tfrecord only.*--file_format=array_record.*data.stream=False"):
    data.load("digits", "train", data_dir=embedded_dir, stream=True)


@pytest.mark.parametrize("binarize", ["static", "dynamic"])
def test_binarising_is_refused_when_streaming(binarize, array_record_dir):
  with pytest.raises(UserError, match=r"data.stream=True reads mnist5k batch by batch, which data.binarize does not "
                     r"support yet"):
    data.load("mnist5k", "train", data_dir=array_record_dir, stream=True, binarize=binarize)


def test_vector_datasets_refuse_streaming():
  with pytest.raises(UserError, match=r"data.stream=True do not apply"):
    data.load("two_moons", "train", stream=True)


def batch_of_step(step: int) -> dict:
  """A batch that names its step and the process that made it."""
  return {"step": step, "pid": os.getpid()}


@pytest.mark.parametrize("workers", [0, 2])
def test_prefetcher_gives_every_steps_batch_in_order(workers):
  with Prefetcher(batch_of_step, range(5, 12), workers=workers, depth=3) as batches:
    made = list(batches)
  assert [batch["step"] for batch in made] == list(range(5, 12))
  made_here = {batch["pid"] for batch in made} == {os.getpid()}
  assert made_here == (workers == 0)
  assert batches.pop_wait_seconds() > 0 and batches.pop_wait_seconds() == 0


def test_prefetcher_refuses_negative_workers():
  with pytest.raises(UserError, match=r"data.workers=-1 and data.prefetch=2: workers must be >= 0"):
    Prefetcher(batch_of_step, range(3), workers=-1)


class ListSource(list):
  """A random-access source over a list of raw examples."""

  def __getitems__(self, indices):
    return [self[index] for index in indices]


def test_streamed_utterances_give_the_segments_of_the_in_memory_ones():
  rng = np.random.default_rng(0)
  waveforms = [rng.integers(-32768, 32768, length).astype(np.int16) for length in (40, 100, 17, 64, 30, 90)]
  spec = data.audio_spec(16, 22050, num_classes=3)
  labels = np.arange(6, dtype=np.int32) % 3
  source = data.AUDIO_DATASETS["speech"]
  raw = ListSource({source.speech_key: waveform, source.label_key: label} for waveform, label in zip(waveforms, labels))
  examples = streaming.RandomAccessExamples(raw, source.utterances)
  streamed = data.Split(streaming.columns(examples, spec, variable_length=("audio",)), spec, "speech")
  in_memory = data.Split({"audio": data.Ragged.from_list(waveforms, np.int16), "label": labels}, spec, "speech")
  for step in range(4):
    for process in range(2):
      expected = data.train_batch(in_memory, step, 4, seed=1, process_index=process, process_count=2)
      got = data.train_batch(streamed, step, 4, seed=1, process_index=process, process_count=2)
      for key in expected:
        assert got[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(got[key], expected[key])


PARENT_SCRIPT = """
import os, sys, time
from genzoo.data.prefetch import Prefetcher

def worker_pid(step):
  return os.getpid()

if __name__ == "__main__":
  with Prefetcher(worker_pid, range(1000), workers=2, depth=2) as batches:
    print(*sorted({next(batches) for _ in range(8)}), flush=True)
    time.sleep(120)
"""


def test_workers_exit_when_their_training_process_is_killed(tmp_path):
  script = tmp_path / "parent.py"
  script.write_text(PARENT_SCRIPT)
  with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) as parent:
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert workers and parent.pid not in workers
    parent.kill()
  deadline = time.time() + 30
  while time.time() < deadline and any(alive(pid) for pid in workers):
    time.sleep(0.1)
  assert not any(alive(pid) for pid in workers)


def alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) is gone
    return stat.read().split(")")[-1].split()[0] != "Z"
