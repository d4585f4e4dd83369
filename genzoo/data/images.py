"""Image datasets: a registry, a loader that holds a whole split in host memory, and batching.

`load` reads any registered dataset through TFDS (the embedded `digits` and `mnist5k` included) into
an `ImageData` of uint8 NHWC pixels. `train_batch` and `eval_batches` cut it into batches with plain
numpy indexing. A training batch is a pure function of (seed, step) and of the *global* batch size
only, so a resumed run sees the same batches, and any number of processes together see the very
batches one process would.

TensorFlow and TFDS are imported inside `load` only: the rest of genzoo imports without them.
"""

import dataclasses
import functools
import os
from collections.abc import Iterator

import numpy as np

from genzoo.errors import MissingFileError, UserError

SPLITS = ("train", "test")
BINARIZE_MODES = ("none", "static", "dynamic")

# Independent numpy random streams, all keyed by the user's seed.
_PERMUTATION_STREAM = 0
_DYNAMIC_STREAM = 1
_STATIC_STREAM = 2

_CHUNK = 4096  # examples materialised (or binarised) at a time


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """How to read one TFDS dataset as images.

  Attributes:
    tfds_name: name (with config) passed to `tfds.builder`.
    shape: native image shape (H, W, C) as stored.
    num_levels: grey levels per sub-pixel as stored (256 for 8-bit images).
    train_split: TFDS split used for "train".
    test_split: TFDS split used for "test".
    has_labels: whether a `label` feature exists; without one, labels are -1.
    crop: side of a centred square crop taken before resizing, or None.
    image_size: default side of the (square) output images, or None for the native size.
    offline: whether the data ship with a Python package (no download needed).
  """

  tfds_name: str
  shape: tuple[int, int, int]
  num_levels: int = 256
  train_split: str = "train"
  test_split: str = "test"
  has_labels: bool = True
  crop: int | None = None
  image_size: int | None = None
  offline: bool = False


DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec("digits", (8, 8, 1), num_levels=17, offline=True),
    "mnist5k": DatasetSpec("mnist5k", (28, 28, 1), offline=True),
    "mnist": DatasetSpec("mnist", (28, 28, 1)),
    "binarized_mnist": DatasetSpec("binarized_mnist", (28, 28, 1), num_levels=2, has_labels=False),
    "fashion_mnist": DatasetSpec("fashion_mnist", (28, 28, 1)),
    "cifar10": DatasetSpec("cifar10", (32, 32, 3)),
    "celeb_a": DatasetSpec("celeb_a", (218, 178, 3), has_labels=False, crop=148, image_size=64),
    "downsampled_imagenet/32x32": DatasetSpec(
        "downsampled_imagenet/32x32", (32, 32, 3), test_split="validation", has_labels=False),
    "downsampled_imagenet/64x64": DatasetSpec(
        "downsampled_imagenet/64x64", (64, 64, 3), test_split="validation", has_labels=False),
}


@dataclasses.dataclass(frozen=True, eq=False)
class ImageData:
  """One split of an image dataset, held in host memory.

  Attributes:
    images: uint8 [N, H, W, C].
    labels: int32 [N]; -1 for datasets without labels.
    num_levels: grey levels per sub-pixel of the batches this data yields (2 once binarised).
    name: the dataset's name in `DATASETS`.
    bernoulli_levels: None, except for data loaded with `binarize="dynamic"`: then `images` keep
      their `bernoulli_levels` grey levels and every training batch draws fresh binary pixels
      ~ Bernoulli(image / (bernoulli_levels - 1)).
  """

  images: np.ndarray
  labels: np.ndarray
  num_levels: int
  name: str
  bernoulli_levels: int | None = None

  def __post_init__(self):
    if self.images.ndim != 4 or self.images.dtype != np.uint8:
      raise ValueError(
          f"images must be uint8 [N, H, W, C], got {self.images.dtype} {self.images.shape}")
    if self.labels.shape != self.images.shape[:1] or self.labels.dtype != np.int32:
      raise ValueError(
          f"labels must be int32 [{len(self.images)}], got {self.labels.dtype} {self.labels.shape}")

  @property
  def shape(self) -> tuple[int, int, int]:
    """(H, W, C) of one image."""
    return tuple(self.images.shape[1:])

  @property
  def num_examples(self) -> int:
    return len(self.images)


def load(name: str, split: str, *, data_dir: str | None = None, n_bits: int | None = None,
         binarize: str = "none", image_size: int | None = None, pad: int = 0,
         seed: int = 0) -> ImageData:
  """Reads a whole split into host memory, preparing the TFDS dataset first if needed.

  Args:
    name: a key of `DATASETS`.
    split: "train" or "test" (mapped to the dataset's own split names).
    data_dir: TFDS data directory; None for TFDS's default (`TFDS_DATA_DIR` or
      ~/tensorflow_datasets).
    n_bits: keep only the top `n_bits` (1..8) bits of 8-bit data, giving `2**n_bits` levels.
    binarize: "none"; "static" (one Bernoulli(x / (levels - 1)) draw per example, fixed by
      `seed`); or "dynamic" (the train split keeps its grey levels and `train_batch` draws anew
      every step; the test split is binarised statically, so evaluation is deterministic).
      Binarising data that is already binary is an error.
    image_size: side of the square output images, resized with antialiasing (8-bit data only);
      None for the dataset's default (`DatasetSpec.image_size`, else the native size).
    pad: zero pixels added on every side, after any resizing (MNIST's 28x28 -> 32x32 with 2).
    seed: seeds the static binarisation.

  Returns:
    The split as an `ImageData`.

  Raises:
    ValueError: an unknown name, split or binarize value, or an option the dataset does not allow.
    RuntimeError: the dataset is not prepared in `data_dir` and could not be downloaded; the
      message says how to prepare it.
  """
  spec = _spec(name)
  _check_choice("split", split, SPLITS)
  _check_choice("binarize", binarize, BINARIZE_MODES)
  size = _output_size(name, spec, image_size)
  _check_n_bits(name, spec, n_bits, binarize)
  if binarize != "none" and spec.num_levels == 2:
    raise UserError(f"{name} is already binary (2 levels): use binarize='none'")

  if pad < 0:
    raise UserError(f"pad must be >= 0 pixels, got {pad}")
  images, labels = _read_split(name, spec, split, data_dir, size)
  images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  levels = spec.num_levels
  if images.max(initial=0) >= levels:
    raise ValueError(
        f"{name} {split} has pixel values up to {images.max()} but {levels} levels are expected; "
        f"under tfds.testing.mock_data pass max_value={levels}")
  if n_bits is not None:
    images, levels = images >> (8 - n_bits), 2**n_bits
  data = ImageData(images, labels, levels, name)
  if binarize == "dynamic" and split == "train":
    return dataclasses.replace(data, num_levels=2, bernoulli_levels=levels)
  if binarize != "none":
    rng = np.random.default_rng([seed, _STATIC_STREAM, SPLITS.index(split)])
    return dataclasses.replace(data, images=_binarize_static(images, levels, rng), num_levels=2)
  return data


def train_batch(data: ImageData, step: int, global_batch_size: int, *, seed: int,
                binarize: str = "none", process_index: int = 0,
                process_count: int = 1) -> dict[str, np.ndarray]:
  """This process's share of the global training batch number `step`.

  Epoch `step // steps_per_epoch` (with `steps_per_epoch = N // global_batch_size`, the remainder
  dropped) visits a permutation of all N examples drawn from (seed, epoch); the global batch is
  its slice number `step % steps_per_epoch`, and process `p` gets rows `[p*B, (p+1)*B)` of it, with
  `B = global_batch_size // process_count`. Dynamic binarisation draws the whole global batch's
  pixels from (seed, step) before slicing, so the result never depends on the process layout.

  Args:
    data: the training split.
    step: the training step (>= 0).
    global_batch_size: examples per step over all processes.
    seed: seeds the data order and the dynamic binarisation.
    binarize: how `data` was loaded: "dynamic" if and only if with `binarize="dynamic"`
      ("none" and "static" yield the stored pixels).
    process_index: this process's index.
    process_count: number of processes.

  Returns:
    {"image": uint8 [B, H, W, C], "label": int32 [B]}.
  """
  _check_choice("binarize", binarize, BINARIZE_MODES)
  if (binarize == "dynamic") != (data.bernoulli_levels is not None):
    raise ValueError(
        f"train_batch(binarize={binarize!r}) does not match the data: load the split with the "
        "same binarize value (only data loaded with binarize='dynamic' is binarised per batch)")
  if step < 0:
    raise ValueError(f"step must be >= 0, got {step}")
  local = _local_batch_size(global_batch_size, process_index, process_count)
  if global_batch_size > data.num_examples:
    raise UserError(
        f"global batch size {global_batch_size} exceeds the {data.num_examples} examples of "
        f"{data.name}")
  steps_per_epoch = data.num_examples // global_batch_size
  epoch, position = divmod(step, steps_per_epoch)
  order = _permutation(seed, epoch, data.num_examples)
  rows = slice(process_index * local, (process_index + 1) * local)
  indices = order[position * global_batch_size:][rows]
  images = data.images[indices]
  if data.bernoulli_levels is not None:
    rng = np.random.default_rng([seed, _DYNAMIC_STREAM, step])
    uniform = rng.random((global_batch_size,) + data.shape, dtype=np.float32)[rows]
    images = _bernoulli(images, data.bernoulli_levels, uniform)
  return {"image": images, "label": data.labels[indices]}


def eval_batches(data: ImageData, global_batch_size: int, *, process_index: int = 0,
                 process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """The whole split in order, as this process's shares of padded global batches.

  The last global batch is filled up with copies of example 0 whose `mask` is 0, so summing
  per-example values times `mask` over all batches and processes covers exactly the N examples.

  Yields:
    {"image": uint8 [B, H, W, C], "label": int32 [B], "mask": float32 [B]} with
    `B = global_batch_size // process_count`.
  """
  if data.bernoulli_levels is not None:
    raise UserError(
        "eval_batches needs fixed pixels, but this data is binarised anew for every training "
        "batch; load the split to evaluate with binarize='static'")
  local = _local_batch_size(global_batch_size, process_index, process_count)
  first = process_index * local
  for start in range(0, data.num_examples, global_batch_size):
    positions = np.arange(start + first, start + first + local)
    valid = positions < data.num_examples
    indices = np.where(valid, positions, 0)
    yield {
        "image": data.images[indices],
        "label": data.labels[indices],
        "mask": valid.astype(np.float32),
    }


def _spec(name: str) -> DatasetSpec:
  if name not in DATASETS:
    raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
  return DATASETS[name]


def _check_choice(what: str, value: str, accepted: tuple[str, ...]) -> None:
  if value not in accepted:
    raise UserError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")


def _output_size(name: str, spec: DatasetSpec, image_size: int | None) -> int | None:
  """The side images are resized to, or None to keep them as cropped (or as stored)."""
  if image_size is None:
    return spec.image_size
  if image_size < 1:
    raise UserError(f"image_size must be a positive int, got {image_size}")
  if spec.num_levels != 256:
    raise UserError(
        f"image_size needs 8-bit data, but {name} has {spec.num_levels} levels, which resizing "
        "would not preserve")
  return image_size


def _check_n_bits(name: str, spec: DatasetSpec, n_bits: int | None, binarize: str) -> None:
  if n_bits is None:
    return
  if not 1 <= n_bits <= 8:
    raise UserError(f"n_bits must be in 1..8, got {n_bits}")
  if spec.num_levels != 256:
    raise UserError(f"n_bits needs 8-bit data (256 levels), but {name} has {spec.num_levels}")
  if binarize != "none":
    raise UserError("n_bits and binarize cannot be combined: choose one way to reduce levels")


def _local_batch_size(global_batch_size: int, process_index: int, process_count: int) -> int:
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
  order = np.random.default_rng([seed, _PERMUTATION_STREAM, epoch]).permutation(num_examples)
  order.flags.writeable = False
  return order


def _bernoulli(images: np.ndarray, levels: int, uniform: np.ndarray) -> np.ndarray:
  """Binary pixels: 1 where `uniform < images / (levels - 1)`."""
  return (uniform * (levels - 1) < images).astype(np.uint8)


def _binarize_static(images: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
  """One Bernoulli draw per pixel, made chunk by chunk to bound the memory of the uniforms."""
  binary = np.empty_like(images)
  for start in range(0, len(images), _CHUNK):
    chunk = images[start:start + _CHUNK]
    binary[start:start + _CHUNK] = _bernoulli(chunk, levels, rng.random(chunk.shape, np.float32))
  return binary


@functools.cache
def _tensorflow():
  """Imports TensorFlow once, hiding any GPU from it (it only reads data; JAX owns the devices)."""
  # TensorFlow Probability (the JAX substrate under distrax) eagerly loads its TensorFlow parts,
  # which need the tf_keras package, when TensorFlow is already imported. Importing it first
  # keeps flows importable after data loading.
  import tensorflow_probability.substrates.jax  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError:  # TensorFlow already initialised its devices elsewhere: leave them be.
    pass
  return tf


def _read_split(name: str, spec: DatasetSpec, split: str, data_dir: str | None,
                size: int | None) -> tuple[np.ndarray, np.ndarray]:
  """All (images uint8 [N, H, W, C], labels int32 [N]) of one split, cropped and resized."""
  tf = _tensorflow()
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  # Importing the module registers the `digits` and `mnist5k` builders with TFDS.
  from genzoo.data import embedded  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import

  builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
  _prepare(name, spec, builder, data_dir)
  tfds_split = spec.train_split if split == "train" else spec.test_split
  dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)
  num_examples = int(dataset.cardinality())
  crop_height, crop_width, channels = _cropped_shape(spec)
  resize = size is not None and (size, size) != (crop_height, crop_width)

  def convert(example):
    # Centre-crops where the spec asks for it; elsewhere this pins the shape of datasets that TFDS
    # declares with unknown sizes (downsampled_imagenet), a no-op on their real images.
    image = tf.image.resize_with_crop_or_pad(example["image"], crop_height, crop_width)
    if resize:
      image = tf.image.resize(image, (size, size), antialias=True)
      image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    label = tf.cast(example["label"], tf.int32) if spec.has_labels else tf.constant(-1, tf.int32)
    return image, label

  shape = (size, size, channels) if resize else (crop_height, crop_width, channels)
  images = np.empty((num_examples,) + shape, np.uint8)
  labels = np.empty((num_examples,), np.int32)
  filled = 0
  dataset = dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(_CHUNK)
  for image_chunk, label_chunk in tfds.as_numpy(dataset):
    images[filled:filled + len(image_chunk)] = image_chunk
    labels[filled:filled + len(label_chunk)] = label_chunk
    filled += len(image_chunk)
  if filled != num_examples:
    raise RuntimeError(f"{name} {split}: read {filled} examples, expected {num_examples}")
  return images, labels


def _cropped_shape(spec: DatasetSpec) -> tuple[int, int, int]:
  """The image shape after the centred crop (the native shape when there is none)."""
  if spec.crop is None:
    return spec.shape
  return spec.crop, spec.crop, spec.shape[2]


def _prepare(name: str, spec: DatasetSpec, builder, data_dir: str | None) -> None:
  """Downloads and prepares the dataset if needed, explaining how to fix a failure."""
  try:
    builder.download_and_prepare()
  except Exception as error:
    if spec.offline:
      raise
    offline = ", ".join(n for n, s in DATASETS.items() if s.offline)
    directory = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
    raise MissingFileError(
        f"dataset {name!r} is not prepared in data_dir {directory!r} and could not be downloaded "
        f"({type(error).__name__}: {error}). On a machine with internet, run "
        f"`tfds build {spec.tfds_name} --data_dir {directory}` and copy that directory here (or "
        f"pass its path as data_dir). Offline, use one of the embedded datasets: {offline}."
    ) from error
