"""Data: image datasets through TFDS (embedded offline ones included) and 2-D toy densities.

Importing this package does not import TensorFlow; `load` does, on first use.
"""

from genzoo.data.images import DATASETS
from genzoo.data.images import DatasetSpec
from genzoo.data.images import ImageData
from genzoo.data.images import eval_batches
from genzoo.data.images import load
from genzoo.data.images import train_batch
from genzoo.data.toy2d import TOY_DENSITIES
from genzoo.data.toy2d import sample_toy

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "ImageData",
    "TOY_DENSITIES",
    "eval_batches",
    "load",
    "sample_toy",
    "train_batch",
]
