"""A split held in host memory, and its batches for training and evaluation.

A `Split` is a dict of arrays sharing their first axis, one per key of its `DataSpec`.
`train_batch` and `eval_batches` cut it with plain numpy indexing. A training batch is a pure
function of (seed, step) and of the *global* batch size only, so a resumed run sees the same
batches, and any number of processes together see the very batches one process would.

Variable-length examples (utterances) are held `Ragged`, end to end (or streamed from disk, see
`genzoo.data.streaming`; both are `VariableLength`); a training batch takes one segment of the
feature's length out of each, at an offset drawn from (seed, step).
"""

import abc
import dataclasses
import functools
from collections.abc import Iterator, Mapping

import numpy as np

from genzoo.data.spec import DataSpec
from genzoo.errors import UserError

BINARIZE_MODES = ("none", "static", "dynamic")

# Independent numpy random streams, all keyed by the user's seed.
PERMUTATION_STREAM = 0
DYNAMIC_STREAM = 1
STATIC_STREAM = 2
MUTATION_STREAM = 3
SYNTHETIC_STREAM = 4  # synthetic scoring sets (`data.outsets`)
SEGMENT_STREAM = 5  # offsets of the training segments of variable-length examples


@dataclasses.dataclass(frozen=True)
class LoadOptions:
  """How to read a dataset (`config.data` minus its name and batch sizes); the image options
  (bits, binarisation, size, padding) apply to image datasets only."""

  data_dir: str | None = None
  n_bits: int | None = None
  binarize: str = "none"
  image_size: int | None = None
  pad: int = 0
  seed: int = 0
  classes: tuple[int, ...] = ()  # keep the examples of these classes only; () keeps all
  segment_length: int | None = None  # audio: samples per training segment and evaluation window
  stream: bool = False  # read batches by index from disk instead of holding the split in memory


class VariableLength(abc.ABC):
  """Variable-length examples of rank 1, from which training batches take fixed-length segments."""

  @abc.abstractmethod
  def __len__(self) -> int:
    """The number of examples."""

  @property
  @abc.abstractmethod
  def dtype(self) -> np.dtype:
    """The values' dtype."""

  @abc.abstractmethod
  def segments(self, indices: np.ndarray, uniform: np.ndarray, length: int) -> np.ndarray:
    """[len(indices), length]: of example `indices[j]`, the `length` values from the offset
    `segment_offsets(its length, uniform[j], length)`; shorter examples are taken whole, followed
    by zeros."""


def segment_offsets(lengths: np.ndarray, uniform: np.ndarray, length: int) -> np.ndarray:
  """Where segments of `length` values start in examples of `lengths`: chosen by `uniform` in
  [0, 1) uniformly among all of an example's full segments (0 for shorter examples)."""
  return np.floor(uniform * (np.maximum(lengths - length, 0) + 1)).astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class Ragged(VariableLength):
  """Variable-length examples stored end to end: example i is `values[offsets[i]:offsets[i + 1]]`."""

  values: np.ndarray
  offsets: np.ndarray  # int64 [N + 1], from 0 to len(values)

  @classmethod
  def from_list(cls, examples: list[np.ndarray], dtype) -> "Ragged":
    lengths = np.array([len(example) for example in examples], np.int64)
    values = np.concatenate(examples).astype(dtype, copy=False) if examples else np.zeros((0,), dtype)
    return cls(values, np.concatenate([[0], np.cumsum(lengths)]))

  def __len__(self) -> int:
    return len(self.offsets) - 1

  @property
  def dtype(self) -> np.dtype:
    return self.values.dtype

  @property
  def lengths(self) -> np.ndarray:
    return np.diff(self.offsets)

  def __getitem__(self, index: int) -> np.ndarray:
    return self.values[self.offsets[index]:self.offsets[index + 1]]

  def segments(self, indices: np.ndarray, uniform: np.ndarray, length: int) -> np.ndarray:
    lengths = self.lengths[indices]
    offsets = self.offsets[indices] + segment_offsets(lengths, uniform, length)
    positions = offsets[:, None] + np.arange(length)
    inside = np.arange(length) < lengths[:, None]
    return np.where(inside, self.values[np.where(inside, positions, 0)], 0).astype(self.dtype)


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
  """One split of a dataset, held in host memory or streamed from disk (`genzoo.data.streaming`).

  Attributes:
    arrays: one array [N, *feature.shape] of the feature's dtype per key of `spec` (or a column
      indexed like one), or for a variable-length feature of shape [T] a `VariableLength` (e.g.
      `Ragged`) of N examples of any length, from which training batches take segments of T values
      (evaluation needs fixed shapes).
    spec: what the arrays hold; `spec.target` is the variable the model learns.
    name: the dataset's name in the registry.
    bernoulli_levels: None, except for image data loaded with `binarize="dynamic"`: then the
      target keeps its `bernoulli_levels` grey levels and every training batch draws fresh binary
      pixels ~ Bernoulli(image / (bernoulli_levels - 1)) (the spec says 2 levels).
  """

  arrays: Mapping[str, np.ndarray]
  spec: DataSpec
  name: str
  bernoulli_levels: int | None = None

  def __post_init__(self):
    if set(self.arrays) != set(self.spec.features):
      raise ValueError(f"arrays hold keys {sorted(self.arrays)}, the spec {sorted(self.spec.features)}")
    num = len(self.arrays[self.spec.target])
    for key, feature in self.spec.features.items():
      array = self.arrays[key]
      if isinstance(array, VariableLength):
        if len(feature.shape) != 1 or len(array) != num or array.dtype != np.dtype(feature.dtype):
          raise ValueError(f"{key} must be {num} {feature.dtype} examples of rank 1 (segments of {list(feature.shape)}), "
                           f"got {len(array)} {array.dtype} examples for a feature of shape {list(feature.shape)}")
        continue
      expected = (num,) + feature.shape
      if array.shape != expected or array.dtype != np.dtype(feature.dtype):
        raise ValueError(f"{key} must be {feature.dtype} {list(expected)}, got {array.dtype} {array.shape}")

  def __getitem__(self, key: str) -> np.ndarray:
    return self.arrays[key]

  @property
  def num_examples(self) -> int:
    return len(self.arrays[self.spec.target])


def train_batch(data: Split, step: int, global_batch_size: int, *, seed: int,
                binarize: str = "none", mutation_rate: float = 0.0, process_index: int = 0,
                process_count: int = 1) -> dict[str, np.ndarray]:
  """This process's share of the global training batch number `step`.

  Epoch `step // steps_per_epoch` (with `steps_per_epoch = N // global_batch_size`, the remainder
  dropped) visits a permutation of all N examples drawn from (seed, epoch); the global batch is
  its slice number `step % steps_per_epoch`, and process `p` gets rows `[p*B, (p+1)*B)` of it, with
  `B = global_batch_size // process_count`. Dynamic binarisation draws the whole global batch's
  pixels from (seed, step) before slicing, so the result never depends on the process layout.
  So does the mutation of discrete data with `mutation_rate` > 0 (Ren et al. 2019, sec. 3.2, the
  training inputs of a likelihood-ratio background model): each entry is replaced, with that
  probability, by a level drawn uniformly. So do the offsets of the segments taken out of
  variable-length (`VariableLength`) examples.

  Args:
    data: the training split.
    step: the training step (>= 0).
    global_batch_size: examples per step over all processes.
    seed: seeds the data order and the dynamic binarisation.
    binarize: how `data` was loaded: "dynamic" if and only if with `binarize="dynamic"`
      ("none" and "static" yield the stored values).
    mutation_rate: the probability that an entry of the target is replaced by a uniform level.
    process_index: this process's index.
    process_count: number of processes.

  Returns:
    One array [B, *shape] per key of the split's spec.
  """
  check_choice("binarize", binarize, BINARIZE_MODES)
  if (binarize == "dynamic") != (data.bernoulli_levels is not None):
    raise ValueError(
        f"train_batch(binarize={binarize!r}) does not match the data: load the split with the "
        "same binarize value (only data loaded with binarize='dynamic' is binarised per batch)")
  if step < 0:
    raise ValueError(f"step must be >= 0, got {step}")
  local = local_batch_size(global_batch_size, process_index, process_count)
  if global_batch_size > data.num_examples:
    raise UserError(
        f"global batch size {global_batch_size} exceeds the {data.num_examples} examples of "
        f"{data.name}")
  steps_per_epoch = data.num_examples // global_batch_size
  epoch, position = divmod(step, steps_per_epoch)
  order = _permutation(seed, epoch, data.num_examples)
  rows = slice(process_index * local, (process_index + 1) * local)
  indices = order[position * global_batch_size:][rows]
  batch = {key: array[indices] for key, array in data.arrays.items() if not isinstance(array, VariableLength)}
  ragged = {key: array for key, array in data.arrays.items() if isinstance(array, VariableLength)}
  if ragged:
    uniform = np.random.default_rng([seed, SEGMENT_STREAM, step]).random(global_batch_size)[rows]
    batch.update({key: array.segments(indices, uniform, data.spec.features[key].shape[0])
                  for key, array in ragged.items()})
  if data.bernoulli_levels is not None:
    target = data.spec.target
    rng = np.random.default_rng([seed, DYNAMIC_STREAM, step])
    uniform = rng.random((global_batch_size,) + data.spec.x.shape, dtype=np.float32)[rows]
    batch[target] = bernoulli(batch[target], data.bernoulli_levels, uniform)
  if mutation_rate:
    batch[data.spec.target] = mutated(batch[data.spec.target], data.spec.x.levels, mutation_rate,
                                      np.random.default_rng([seed, MUTATION_STREAM, step]), global_batch_size, rows)
  return batch


def check_mutation(rate: float, levels: int | None) -> None:
  """Mutation draws uniform levels: discrete data only."""
  if rate and levels is None:
    raise UserError(f"data.mutation_rate={rate} replaces entries by random levels, which needs discrete data; this "
                    "target is continuous")


def mutated(values: np.ndarray, levels: int | None, rate: float, rng: np.random.Generator, global_batch_size: int,
            rows: slice) -> np.ndarray:
  """`values` (this process's `rows` of the global batch) with each entry replaced, with
  probability `rate`, by a uniform level (of 0..levels - 1, or of -levels/2..levels/2 - 1 for
  signed values); the draws are the whole global batch's."""
  check_mutation(rate, levels)
  shape = (global_batch_size,) + values.shape[1:]
  replace = rng.random(shape, dtype=np.float32)[rows] < rate
  low = -(levels // 2) if np.issubdtype(values.dtype, np.signedinteger) else 0  # signed PCM is centred on 0
  return np.where(replace, rng.integers(low, low + levels, shape, dtype=values.dtype)[rows], values)


def eval_batches(data: Split, global_batch_size: int, *, process_index: int = 0,
                 process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """The whole split in order, as this process's shares of padded global batches.

  The last global batch is filled up with copies of example 0 whose `mask` is 0, so summing
  per-example values times `mask` over all batches and processes covers exactly the N examples.

  Yields:
    One array [B, *shape] per key of the split's spec, and "mask": float32 [B], with
    `B = global_batch_size // process_count`.
  """
  if data.bernoulli_levels is not None:
    raise UserError(
        "eval_batches needs fixed pixels, but this data is binarised anew for every training "
        "batch; load the split to evaluate with binarize='static'")
  ragged = [key for key, array in data.arrays.items() if isinstance(array, VariableLength)]
  if ragged:
    raise ValueError(f"eval_batches needs examples of one shape, but {ragged} of {data.name} have any length")
  local = local_batch_size(global_batch_size, process_index, process_count)
  first = process_index * local
  for start in range(0, data.num_examples, global_batch_size):
    positions = np.arange(start + first, start + first + local)
    valid = positions < data.num_examples
    indices = np.where(valid, positions, 0)
    yield {**{key: array[indices] for key, array in data.arrays.items()}, "mask": valid.astype(np.float32)}


# LoadOptions that apply to one kind of data only.
IMAGE_OPTIONS = ("n_bits", "binarize", "image_size", "pad")
AUDIO_OPTIONS = ("segment_length",)


def refuse_options(name: str, description: str, options: LoadOptions, fields: tuple[str, ...]) -> None:
  """Refuses any of `fields` that `options` set away from their defaults: dataset `name` (which is
  `description`) has no use for them."""
  defaults = {field.name: field.default for field in dataclasses.fields(LoadOptions)}
  chosen = {field: getattr(options, field) for field in fields if getattr(options, field) != defaults[field]}
  if chosen:
    raise UserError(f"{name} is {description}; the options "
                    f"{', '.join(f'data.{field}={value!r}' for field, value in chosen.items())} do not apply")


def check_classes(name: str, classes: tuple[int, ...], num_classes: int | None) -> None:
  """Refuses `data.classes` for unlabelled data and classes outside 0..num_classes - 1."""
  if not classes:
    return
  if num_classes is None:
    raise UserError(f"data.classes={list(classes)} keeps some classes, but {name} has no labels")
  outside = [label for label in classes if not 0 <= label < num_classes]
  if outside:
    raise UserError(f"data.classes={list(classes)}: {name} has classes 0 to {num_classes - 1}, not {outside}")


def check_choice(what: str, value: str, accepted: tuple[str, ...]) -> None:
  if value not in accepted:
    raise UserError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")


def local_batch_size(global_batch_size: int, process_index: int, process_count: int) -> int:
  if global_batch_size < 1:
    raise UserError(f"global batch size must be >= 1, got {global_batch_size}")
  if process_count < 1 or not 0 <= process_index < process_count:
    raise UserError(
        f"process_index must be in [0, process_count), got {process_index} of {process_count}")
  if global_batch_size % process_count:
    raise UserError(
        f"global batch size {global_batch_size} is not divisible by the process count "
        f"{process_count}")
  return global_batch_size // process_count


@functools.lru_cache(maxsize=2)
def _permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  """The data order of one epoch (cached: every step of an epoch needs it)."""
  order = np.random.default_rng([seed, PERMUTATION_STREAM, epoch]).permutation(num_examples)
  order.flags.writeable = False
  return order


def bernoulli(images: np.ndarray, levels: int, uniform: np.ndarray) -> np.ndarray:
  """Binary pixels: 1 where `uniform < images / (levels - 1)`."""
  return (uniform * (levels - 1) < images).astype(np.uint8)
