"""Splits streamed from disk (`data.stream=True`): examples read by index from a random-access
source instead of held in host memory.

A streamed `Split` holds one `StreamedColumn` per feature in place of each array (a
`StreamedSegments` in place of a `Ragged` variable-length feature). A column is indexed like the
array it stands for (`column[indices]` with an int array; segments are cut as from a `Ragged`), so
`train_batch` and `eval_batches` cut a streamed split exactly as they cut an in-memory one: the batches, and with
them exact resume and "two processes see what one sees", are the same. The columns of one split
share a `RandomAccessExamples`, which reads and prepares the examples of a batch once for all of
its features.

The sources are TFDS's random-access data sources (`builder.as_data_source`, over the dataset's
array_record files). Everything here pickles small (the source is a set of file paths), so
background workers (`genzoo.data.prefetch`) can read batches in other processes.
"""

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from genzoo.data.splits import VariableLength, segment_offsets
from genzoo.errors import UserError

RANDOM_ACCESS_FORMAT = "array_record"


@dataclasses.dataclass(eq=False)
class RandomAccessExamples:
  """The examples of one split: `source.__getitems__(indices)` reads raw examples (dicts), and
  `prepare(examples)` turns a list of them into one array per feature key."""

  source: Sequence
  prepare: Callable[[list[dict]], dict[str, np.ndarray]]
  _last: tuple[bytes, dict[str, np.ndarray]] | None = dataclasses.field(default=None, repr=False)

  def __len__(self) -> int:
    return len(self.source)

  def take(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    """The prepared examples at `indices`; the last batch is kept, so that the other features of
    the same batch are not read again."""
    indices = np.asarray(indices, np.int64)
    key = indices.tobytes()
    if self._last is None or self._last[0] != key:
      self._last = key, self.prepare(self.source.__getitems__(indices.tolist()))
    return self._last[1]

  def __getstate__(self) -> dict:
    return {**self.__dict__, "_last": None}  # a worker starts with an empty cache


@dataclasses.dataclass(frozen=True, eq=False)
class StreamedColumn:
  """One feature of `examples`, with the shape [N, *shape] and dtype of the array it stands for."""

  examples: RandomAccessExamples
  key: str
  shape: tuple[int, ...]
  dtype: np.dtype

  def __len__(self) -> int:
    return self.shape[0]

  def __getitem__(self, indices: np.ndarray) -> np.ndarray:
    if not isinstance(indices, np.ndarray) or indices.ndim != 1:
      raise TypeError(f"a streamed column is indexed by a 1-D array of example indices, got {indices!r}")
    return self.examples.take(indices)[self.key]


@dataclasses.dataclass(frozen=True, eq=False)
class StreamedSegments(VariableLength):
  """A variable-length feature of `examples` (prepared as a list of 1-D arrays), from which
  training batches take segments as they do from a `Ragged` one."""

  examples: RandomAccessExamples
  key: str
  value_dtype: np.dtype

  def __len__(self) -> int:
    return len(self.examples)

  @property
  def dtype(self) -> np.dtype:
    return self.value_dtype

  def segments(self, indices: np.ndarray, uniform: np.ndarray, length: int) -> np.ndarray:
    values = self.examples.take(indices)[self.key]
    starts = segment_offsets(np.array([len(example) for example in values]), uniform, length)
    batch = np.zeros((len(values), length), self.dtype)
    for row, (example, start) in enumerate(zip(values, starts)):
      segment = example[start:start + length]
      batch[row, :len(segment)] = segment
    return batch


def columns(examples: RandomAccessExamples, spec, variable_length: tuple[str, ...] = ()) -> dict:
  """One column per feature of the `DataSpec` `spec`: `StreamedSegments` for the keys in
  `variable_length`, `StreamedColumn`s for the others."""
  return {key: StreamedSegments(examples, key, np.dtype(feature.dtype)) if key in variable_length
          else StreamedColumn(examples, key, (len(examples),) + feature.shape, np.dtype(feature.dtype))
          for key, feature in spec.features.items()}


@dataclasses.dataclass(frozen=True, eq=False)
class Subset:
  """The examples of a random-access `source` at `indices`, as a random-access source itself."""

  source: Sequence
  indices: np.ndarray

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, position: int):
    return self.source[int(self.indices[position])]

  def __getitems__(self, positions: Sequence[int]) -> list:
    return self.source.__getitems__(self.indices[np.asarray(positions, np.int64)].tolist())


def in_chunks(source: Sequence, size: int = 4096) -> Iterator[list]:
  """Every example of `source`, in order, as lists of at most `size` read at once."""
  for start in range(0, len(source), size):
    yield source.__getitems__(list(range(start, min(start + size, len(source)))))


def of_classes(builder, tfds_split: str, source: Sequence, label_key: str, classes: tuple[int, ...]) -> Subset:
  """`source` (a TFDS split) restricted to the examples whose `label_key` is one of `classes`, in
  their order; the labels are read with every other feature left undecoded."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  undecoded = {key: tfds.decode.SkipDecoding() for key in builder.info.features if key != label_key}
  labels_only = builder.as_data_source(split=tfds_split, decoders=undecoded)
  labels = [example[label_key] for chunk in in_chunks(labels_only) for example in chunk]
  return Subset(source, np.flatnonzero(np.isin(labels, classes)))


def prepared_formats(builder) -> set[str]:
  """The file formats a prepared TFDS dataset is stored in."""
  return {file_format.value for file_format in builder.info.available_file_formats()}


def has_random_access(builder) -> bool:
  return RANDOM_ACCESS_FORMAT in prepared_formats(builder)


def data_source(builder, name: str, tfds_split: str) -> Sequence:
  """The random-access source of one TFDS split; refuses a dataset prepared in another format
  (TFDS reads a prepared dataset in the format it was prepared in), saying how to prepare it."""
  formats = prepared_formats(builder)
  if RANDOM_ACCESS_FORMAT not in formats:
    raise UserError(
        f"data.stream=True reads {name} by index from its {RANDOM_ACCESS_FORMAT} files, but it is prepared in "
        f"{builder.data_dir} as {', '.join(sorted(formats))} only. Prepare it once in that format in another "
        f"directory (`tfds build {builder.name} --file_format={RANDOM_ACCESS_FORMAT} --data_dir DIR`, or let "
        f"genzoo prepare it by passing an empty data.data_dir=DIR with data.stream=True) and pass "
        f"data.data_dir=DIR; or use data.stream=False to read it into memory")
  return builder.as_data_source(split=tfds_split)
