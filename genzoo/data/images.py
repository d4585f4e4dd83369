"""Image datasets read through TFDS (the embedded offline `digits` and `mnist5k` included).

`TFDSImages.load` reads a whole split into a `Split` of uint8 NHWC pixels (and int32 labels for
labelled data), cropped, resized, padded, reduced to fewer bits or binarised as asked, or with
`stream=True` opens it for reading by index from disk (`genzoo.data.streaming`), each batch
prepared the same way as it is read; `TFDSImages.describe` tells the same batches' `DataSpec`
without reading anything. A dataset prepared in TFDS's array_record format (what streaming reads)
is read into memory through the same random-access source.

TensorFlow and TFDS are imported inside `load` only: the rest of genzoo imports without them.
"""

import dataclasses
import functools
import os

import numpy as np

from genzoo.data import streaming
from genzoo.data.spec import DataSpec, image_spec
from genzoo.data.splits import (AUDIO_OPTIONS, BINARIZE_MODES, STATIC_STREAM, LoadOptions, Split, bernoulli,
                                 check_choice, check_classes, refuse_options)
from genzoo.errors import MissingFileError, UserError

SPLITS = ("train", "test")
_CHUNK = 4096  # examples materialised (or binarised) at a time


@dataclasses.dataclass(frozen=True)
class TFDSImages:
  """How to read one TFDS dataset as images.

  Attributes:
    tfds_name: name (with config) passed to `tfds.builder`.
    shape: native image shape (H, W, C) as stored.
    num_levels: grey levels per sub-pixel as stored (256 for 8-bit images).
    train_split: TFDS split used for "train".
    test_split: TFDS split used for "test".
    num_classes: classes of the `label` feature; None for unlabelled data (no `label` key).
    crop: side of a centred square crop taken before resizing, or None.
    image_size: default side of the (square) output images, or None for the native size.
    offline: whether the data ship with a Python package (no download needed).
  """

  tfds_name: str
  shape: tuple[int, int, int]
  num_levels: int = 256
  train_split: str = "train"
  test_split: str = "test"
  num_classes: int | None = 10
  crop: int | None = None
  image_size: int | None = None
  offline: bool = False

  def describe(self, name: str, options: LoadOptions) -> DataSpec:
    """The batches `load` gives with `options`, from the registry alone; refuses bad options."""
    refuse_options(name, "a dataset of images", options, AUDIO_OPTIONS)
    check_choice("binarize", options.binarize, BINARIZE_MODES)
    size = self._output_size(name, options.image_size)
    self._check_n_bits(name, options.n_bits, options.binarize)
    if options.binarize != "none" and self.num_levels == 2:
      raise UserError(f"{name} is already binary (2 levels): use binarize='none'")
    if options.pad < 0:
      raise UserError(f"pad must be >= 0 pixels, got {options.pad}")
    check_classes(name, options.classes, self.num_classes)
    height, width, depth = (size, size, self.shape[2]) if size is not None else self._cropped_shape()
    levels = self.num_levels
    if options.n_bits is not None:
      levels = 2**options.n_bits
    if options.binarize != "none":
      levels = 2
    return image_spec((height + 2 * options.pad, width + 2 * options.pad, depth), levels, self.num_classes)

  def load(self, name: str, split: str, options: LoadOptions) -> Split:
    """Reads a whole split into host memory, preparing the TFDS dataset first if needed; with
    `options.stream`, opens it to be read batch by batch instead.

    `options.binarize`: "none"; "static" (one Bernoulli(x / (levels - 1)) draw per example,
    fixed by `options.seed`); or "dynamic" (the train split keeps its grey levels and
    `train_batch` draws anew every step; the test split is binarised statically, so evaluation
    is deterministic). `options.n_bits` keeps the top bits of 8-bit data; `options.image_size`
    resizes with antialiasing (8-bit data only); `options.pad` adds zero pixels on every side,
    after any resizing (MNIST's 28x28 -> 32x32 with 2); `options.classes` keeps the examples of
    those classes only (their labels unchanged).
    """
    self.describe(name, options)  # refuses bad options before anything is read
    if options.stream:
      return self.streamed(name, split, options)
    images, labels = self._read_split(name, split, options)
    if options.classes:
      kept = np.isin(labels, options.classes)
      images, labels = images[kept], labels[kept]
    return self.prepared(name, split, images, labels, options)

  def streamed(self, name: str, split: str, options: LoadOptions) -> Split:
    """The split as `StreamedColumn`s over its array_record files (of `options.classes` only, if
    given: their labels are read first), each batch cropped, resized, padded and reduced to fewer
    bits as `load` does. Binarising draws over the whole split and is refused."""
    if options.binarize != "none":
      raise UserError(f"data.stream=True reads {name} batch by batch, which data.binarize does not support yet (its "
                      "draws are made over the whole split); use data.stream=False for it")
    builder = prepared_builder(name, self.tfds_name, options.data_dir, self.offline, IMAGE_DATASETS,
                               file_format=streaming.RANDOM_ACCESS_FORMAT)
    source = streaming.data_source(builder, name, self.tfds_split(split))
    if options.classes:
      source = streaming.of_classes(builder, self.tfds_split(split), source, "label", options.classes)
    spec = self.describe(name, options)
    examples = streaming.RandomAccessExamples(source, self.preparation(name, options))
    return Split(streaming.columns(examples, spec), spec, name)

  def preparation(self, name: str, options: LoadOptions) -> "ImagePreparation":
    size = self._output_size(name, options.image_size)
    return ImagePreparation(self._cropped_shape()[:2], size, options.pad, options.n_bits, self.num_classes is not None)

  def tfds_split(self, split: str) -> str:
    return self.train_split if split == "train" else self.test_split

  def prepared(self, name: str, split: str, images: np.ndarray, labels: np.ndarray, options: LoadOptions) -> Split:
    """A `Split` of images as stored (uint8 in this dataset's levels, after any crop and resize)
    and their int32 labels, padded, reduced to fewer bits or binarised as `options` ask: what
    `load` does after reading, for images from elsewhere too (out-of-distribution sets). `split`
    keys the static binarisation's draws."""
    spec = self.describe(name, options)
    levels = self.num_levels
    if images.max(initial=0) >= levels:
      raise ValueError(
          f"{name} {split} has pixel values up to {images.max()} but {levels} levels are expected; "
          f"under tfds.testing.mock_data pass max_value={levels}")
    images = self.preparation(name, options).finished({"image": images})["image"]
    arrays = {"image": images, **({"label": labels} if self.num_classes is not None else {})}
    if options.binarize == "dynamic" and split == "train":
      return Split(arrays, spec, name, bernoulli_levels=levels)
    if options.binarize != "none":
      rng = np.random.default_rng([options.seed, STATIC_STREAM, SPLITS.index(split)])
      arrays["image"] = _binarize_static(images, levels, rng)
    return Split(arrays, spec, name)

  def _output_size(self, name: str, image_size: int | None) -> int | None:
    """The side images are resized to, or None to keep them as cropped (or as stored)."""
    if image_size is None:
      return self.image_size
    if image_size < 1:
      raise UserError(f"image_size must be a positive int, got {image_size}")
    if self.num_levels != 256:
      raise UserError(
          f"image_size needs 8-bit data, but {name} has {self.num_levels} levels, which resizing "
          "would not preserve")
    return image_size

  def _check_n_bits(self, name: str, n_bits: int | None, binarize: str) -> None:
    if n_bits is None:
      return
    if not 1 <= n_bits <= 8:
      raise UserError(f"n_bits must be in 1..8, got {n_bits}")
    if self.num_levels != 256:
      raise UserError(f"n_bits needs 8-bit data (256 levels), but {name} has {self.num_levels}")
    if binarize != "none":
      raise UserError("n_bits and binarize cannot be combined: choose one way to reduce levels")

  def _cropped_shape(self) -> tuple[int, int, int]:
    """The image shape after the centred crop (the native shape when there is none)."""
    if self.crop is None:
      return self.shape
    return self.crop, self.crop, self.shape[2]

  def _read_split(self, name: str, split: str, options: LoadOptions) -> tuple[np.ndarray, np.ndarray]:
    """All (images uint8 [N, H, W, C], labels int32 [N]) of one split, cropped and resized."""
    builder = prepared_builder(name, self.tfds_name, options.data_dir, self.offline, IMAGE_DATASETS)
    preparation = self.preparation(name, options)
    if streaming.has_random_access(builder):
      source = streaming.data_source(builder, name, self.tfds_split(split))
      chunks = (preparation.stacked(examples) for examples in streaming.in_chunks(source, _CHUNK))
      num_examples = len(source)
    else:
      chunks, num_examples = _tfrecord_chunks(builder, self.tfds_split(split), preparation)
    images = np.empty((num_examples,) + preparation.shape(self.shape[2]), np.uint8)
    labels = np.empty((num_examples,), np.int32)
    filled = 0
    for chunk in chunks:
      images[filled:filled + len(chunk["image"])] = chunk["image"]
      labels[filled:filled + len(chunk["image"])] = chunk.get("label", -1)
      filled += len(chunk["image"])
    if filled != num_examples:
      raise RuntimeError(f"{name} {split}: read {filled} examples, expected {num_examples}")
    return images, labels


@dataclasses.dataclass(frozen=True)
class ImagePreparation:
  """What becomes of a stored image on its way into a split or a batch: a centred crop to `crop`
  (H, W) (for datasets TFDS declares with unknown sizes, this pins the shape, a no-op on their
  real images), a resize to `size` x `size` with antialiasing (None: none), then `pad` zero pixels
  on every side and the top `n_bits` bits (None: all)."""

  crop: tuple[int, int]
  size: int | None
  pad: int
  n_bits: int | None
  labelled: bool

  def shape(self, channels: int) -> tuple[int, int, int]:
    """The shape of a cropped and resized image (before padding)."""
    return (self.size, self.size, channels) if self.size is not None else (*self.crop, channels)

  def crop_and_resize(self, tf, images):
    """The crop and resize of one image [H, W, C] or a batch [N, H, W, C], as TensorFlow ops."""
    images = tf.image.resize_with_crop_or_pad(images, *self.crop)
    if self.size is not None and (self.size, self.size) != self.crop:
      images = tf.image.resize(images, (self.size, self.size), antialias=True)
      images = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
    return images

  def stacked(self, examples: list[dict]) -> dict[str, np.ndarray]:
    """Examples read from a random-access source, cropped and resized, as arrays."""
    images = np.stack([example["image"] for example in examples])
    if images.shape[1:3] != self.shape(images.shape[-1])[:2]:
      images = self.crop_and_resize(tensorflow(), images).numpy()
    labels = {"label": np.array([example["label"] for example in examples], np.int32)} if self.labelled else {}
    return {"image": images, **labels}

  def __call__(self, examples: list[dict]) -> dict[str, np.ndarray]:
    """Examples read from a random-access source, as the arrays of a batch."""
    return self.finished(self.stacked(examples))

  def finished(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`arrays` with the images padded and reduced to `n_bits`."""
    images, pad = arrays["image"], self.pad
    if pad:  # (not copying a whole split for nothing)
      images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    if self.n_bits is not None:
      images = images >> (8 - self.n_bits)
    return {**arrays, "image": images}


def _tfrecord_chunks(builder, tfds_split: str, preparation: ImagePreparation):
  """(chunks of the split's cropped and resized images and labels, the number of examples), read
  through tf.data from a dataset prepared as TFRecords."""
  tf = tensorflow()
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  dataset = builder.as_dataset(split=tfds_split, shuffle_files=False, read_config=in_file_order(tfds))
  num_examples = int(dataset.cardinality())

  def convert(example):
    label = tf.cast(example["label"], tf.int32) if preparation.labelled else tf.constant(-1, tf.int32)
    return {"image": preparation.crop_and_resize(tf, example["image"]), "label": label}

  dataset = dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(_CHUNK)
  return tfds.as_numpy(dataset), num_examples


IMAGE_DATASETS: dict[str, TFDSImages] = {
    "digits": TFDSImages("digits", (8, 8, 1), num_levels=17, offline=True),
    "mnist5k": TFDSImages("mnist5k", (28, 28, 1), offline=True),
    "mnist": TFDSImages("mnist", (28, 28, 1)),
    "binarized_mnist": TFDSImages("binarized_mnist", (28, 28, 1), num_levels=2, num_classes=None),
    "fashion_mnist": TFDSImages("fashion_mnist", (28, 28, 1)),
    "cifar10": TFDSImages("cifar10", (32, 32, 3)),
    "celeb_a": TFDSImages("celeb_a", (218, 178, 3), num_classes=None, crop=148, image_size=64),
    # One TFDS split only (30,000 images, manual download): its last 3,000 are the test split.
    "celeb_a_hq/256": TFDSImages("celeb_a_hq/256", (256, 256, 3), train_split="train[:27000]",
                                 test_split="train[27000:]", num_classes=None),
    "downsampled_imagenet/32x32": TFDSImages(
        "downsampled_imagenet/32x32", (32, 32, 3), test_split="validation", num_classes=None),
    "downsampled_imagenet/64x64": TFDSImages(
        "downsampled_imagenet/64x64", (64, 64, 3), test_split="validation", num_classes=None),
    # Synthetic, built offline: ImageNet 64x64's size (1,281,167 + 50,000 images) and a tenth of it.
    "genzoo_synthetic64/imagenet_size": TFDSImages("genzoo_synthetic64/imagenet_size", (64, 64, 3), num_classes=None,
                                                   offline=True),
    "genzoo_synthetic64/tenth": TFDSImages("genzoo_synthetic64/tenth", (64, 64, 3), num_classes=None, offline=True),
}


def _binarize_static(images: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
  """One Bernoulli draw per pixel, made chunk by chunk to bound the memory of the uniforms."""
  binary = np.empty_like(images)
  for start in range(0, len(images), _CHUNK):
    chunk = images[start:start + _CHUNK]
    binary[start:start + _CHUNK] = bernoulli(chunk, levels, rng.random(chunk.shape, np.float32))
  return binary


def prepared_builder(name: str, tfds_name: str, data_dir: str | None, offline: bool, registry: dict,
                     file_format: str | None = None):
  """The TFDS builder of dataset `name`, downloaded and prepared if needed (genzoo's own offline
  builders are registered first), in `file_format` if it is prepared now (TFDS's default, TFRecord,
  for None); a failure explains how to fix it, naming the offline datasets of `registry` (the
  datasets of the same kind)."""
  tensorflow()  # first: see `tensorflow`
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  # Importing the module registers genzoo's offline builders (`digits`, `mnist5k`, `genzoo_speech`).
  from genzoo.data import embedded  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import

  builder = tfds.builder(tfds_name, data_dir=data_dir)
  if file_format and not builder.is_prepared():  # a prepared dataset is read in the format it has
    builder = tfds.builder(tfds_name, data_dir=data_dir, file_format=file_format)
  try:
    builder.download_and_prepare()
  except Exception as error:
    if offline:
      raise
    alternatives = ", ".join(other for other, source in registry.items() if source.offline)
    directory = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
    raise MissingFileError(
        f"dataset {name!r} is not prepared in data_dir {directory!r} and could not be downloaded "
        f"({type(error).__name__}: {error}). On a machine with internet, run "
        f"`tfds build {tfds_name} --data_dir {directory}` and copy that directory here (or "
        f"pass its path as data_dir). Offline, use one of the embedded datasets: {alternatives}."
    ) from error
  return builder


def in_file_order(tfds):
  """A TFDS read config that reads shard after shard (TFDS interleaves 16 shards by default): a
  split's examples in their stored order, the order its random-access source indexes them in, so
  in-memory and streamed splits are the same sequence."""
  return tfds.ReadConfig(interleave_cycle_length=1)


@functools.cache
def tensorflow():
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
