"""The static description of a dataset's batches, known before anything is loaded or compiled.

A `DataSpec` names every key of a batch with a `Feature`: its kind, per-example shape and dtype,
and what the kind needs besides (grey levels of an image, classes of a label, the sample rate of
a waveform). One key is the `target`, the variable the generative model learns the distribution
of; tasks size themselves from it (event shapes, levels) and from the label (class embeddings).
It is a function of the dataset registry and `config.data` alone (`genzoo.data.describe`).
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from genzoo.errors import UserError

# What one example of a key is. A renderer per target kind draws samples (`genzoo.runner.render`).
KINDS = ("image", "vector", "audio", "label")


@dataclasses.dataclass(frozen=True)
class Feature:
  """One key of every batch.

  Attributes:
    kind: one of `KINDS`.
    shape: the shape of one example ([H, W, C] images, [D] vectors, [T] waveforms, [] labels).
    dtype: numpy dtype name of the batches ("uint8" images, "float32" vectors, "int16" 16-bit PCM
      waveforms, "int32" labels).
    levels: values {0, ..., levels - 1} per entry for discrete data (images); for signed PCM audio
      the 2**bits values {-levels/2, ..., levels/2 - 1}; None if continuous.
    num_classes: number of classes, for labels.
    sample_rate: samples per second, for audio.
  """

  kind: str
  shape: tuple[int, ...]
  dtype: str
  levels: int | None = None
  num_classes: int | None = None
  sample_rate: int | None = None

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"unknown feature kind {self.kind!r}; known: {list(KINDS)}")
    object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

  @property
  def size(self) -> int:
    """Entries per example: the D of bits/dim."""
    return math.prod(self.shape)

  @property
  def value_range(self) -> tuple[int, int]:
    """The lowest and highest value of discrete data: 0 and levels - 1, or for a signed dtype
    -levels/2 and levels/2 - 1."""
    if self.levels is None:
      raise ValueError(f"continuous {self.kind} data have no discrete values")
    low = -(self.levels // 2) if np.issubdtype(np.dtype(self.dtype), np.signedinteger) else 0
    return low, low + self.levels - 1

  def zeros(self, batch_size: int) -> np.ndarray:
    return np.zeros((batch_size,) + self.shape, self.dtype)


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """Every key of a dataset's batches; `target` is the one the model generates."""

  features: Mapping[str, Feature]
  target: str

  def __post_init__(self):
    if self.target not in self.features:
      raise ValueError(f"target {self.target!r} is not a key of the features {list(self.features)}")

  @property
  def x(self) -> Feature:
    """The target feature."""
    return self.features[self.target]

  @property
  def num_classes(self) -> int | None:
    """Classes of the `label` key; None for unlabelled data."""
    label = self.features.get("label")
    return None if label is None else label.num_classes

  def example_batch(self, batch_size: int = 1) -> dict[str, np.ndarray]:
    """Zeros of every key: enough to trace a task's `init`."""
    return {key: feature.zeros(batch_size) for key, feature in self.features.items()}

  def require(self, modeller: str, kinds: tuple[str, ...]) -> None:
    """Refuses data whose target kind is not one of the `kinds` that `modeller` (e.g. "the vae
    family") can model."""
    if self.x.kind not in kinds:
      raise UserError(f"{modeller} models {' or '.join(kinds)} data, but this dataset's "
                      f"{self.target!r} is {self.x.kind} data of shape {self.x.shape}")

  def to_json(self) -> dict:
    return {"target": self.target,
            "features": {key: dataclasses.asdict(feature) for key, feature in self.features.items()}}

  @classmethod
  def from_json(cls, stored: dict) -> "DataSpec":
    return cls({key: Feature(**feature) for key, feature in stored["features"].items()}, stored["target"])


def image_spec(shape: tuple[int, int, int], levels: int, num_classes: int | None = None) -> DataSpec:
  """Images of `levels` grey levels, labelled with `num_classes` classes (None: no labels)."""
  features = {"image": Feature("image", shape, "uint8", levels=levels)}
  if num_classes is not None:
    features["label"] = Feature("label", (), "int32", num_classes=num_classes)
  return DataSpec(features, "image")


def vector_spec(dimension: int) -> DataSpec:
  """Unlabelled continuous float32 vectors of `dimension` entries."""
  return DataSpec({"vector": Feature("vector", (dimension,), "float32")}, "vector")


def audio_spec(length: int, sample_rate: int, num_classes: int | None = None) -> DataSpec:
  """16-bit PCM waveforms in segments of `length` samples at `sample_rate`, labelled with
  `num_classes` classes (None: no labels)."""
  features = {"audio": Feature("audio", (length,), "int16", levels=2**16, sample_rate=sample_rate)}
  if num_classes is not None:
    features["label"] = Feature("label", (), "int32", num_classes=num_classes)
  return DataSpec(features, "audio")
