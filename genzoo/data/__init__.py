"""Data: a registry of datasets, their static description, and batches of in-memory splits.

Image and audio datasets come through TFDS (the embedded offline ones included); the 2-D toy
densities are vector datasets. `describe` gives a dataset's `DataSpec` from its name and options without
reading anything; `load` reads a split. Importing this package does not import TensorFlow;
loading an image dataset does, on first use.
"""

from genzoo.data.audio import AUDIO_DATASETS, TFDSAudio
from genzoo.data.images import IMAGE_DATASETS, SPLITS, TFDSImages
from genzoo.data.spec import KINDS, DataSpec, Feature, audio_spec, image_spec, vector_spec
from genzoo.data.splits import (BINARIZE_MODES, LoadOptions, Ragged, Split, check_choice, check_mutation, eval_batches,
                                 train_batch)
from genzoo.data.toy2d import TOY_DENSITIES, VECTOR_DATASETS, ToyVectors, sample_toy
from genzoo.errors import UserError

# name -> a source with `describe(name, options) -> DataSpec` and `load(name, split, options) ->
# Split`. Register a new dataset (or a new kind of source) here.
DATASETS = {**IMAGE_DATASETS, **VECTOR_DATASETS, **AUDIO_DATASETS}


def source(name: str):
  if name not in DATASETS:
    raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
  return DATASETS[name]


def describe(name: str, **options) -> DataSpec:
  """The `DataSpec` of the batches `load(name, split, **options)` gives, known before loading."""
  return source(name).describe(name, LoadOptions(**options))


def load(name: str, split: str, **options) -> Split:
  """Reads split "train" or "test" of dataset `name` into host memory.

  Options (`LoadOptions`): data_dir (TFDS data directory; None for TFDS's default), n_bits (keep
  the top 1..8 bits of 8-bit images), binarize ("none", "static" or "dynamic"), image_size (side of
  the resized square images), pad (zero pixels on every side), seed (of the static binarisation),
  classes (keep these classes only), segment_length (audio: samples per training segment and
  evaluation window). Options a dataset cannot honour are refused with a `UserError` saying which
  and why.
  """
  check_choice("split", split, SPLITS)
  return source(name).load(name, split, LoadOptions(**options))


__all__ = [
    "AUDIO_DATASETS",
    "BINARIZE_MODES",
    "DATASETS",
    "DataSpec",
    "Feature",
    "IMAGE_DATASETS",
    "KINDS",
    "LoadOptions",
    "Ragged",
    "SPLITS",
    "Split",
    "TFDSAudio",
    "TFDSImages",
    "TOY_DENSITIES",
    "check_mutation",
    "ToyVectors",
    "VECTOR_DATASETS",
    "audio_spec",
    "describe",
    "eval_batches",
    "image_spec",
    "load",
    "sample_toy",
    "train_batch",
    "vector_spec",
]
