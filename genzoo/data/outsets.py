"""Image sets to score against a run's model: its own splits, other datasets, synthetic and
transformed images, and users' arrays, all brought into the run's frame.

A SET is written `BASE[@CLASSES][+TRANSFORM...]`:
  BASE       test | train              the run's dataset split
             DATASET:SPLIT             another image dataset (`digits:test`), resized and converted
                                       to the run's image shape and channels
             constant[:N] | noise[:N]  N (default 1,000) images of one random grey level each, or of
             | black[:N]               independent uniform pixels, or all black (level 0: the images
                                       likelihood models famously rank above their own data)
             FILE.npy | FILE.npz       a uint8 array [N, H, W, C] (or [N, H, W] for one channel) in
                                       the run dataset's stored shape and levels; an .npz holds one
  CLASSES    the examples of these classes only, comma-separated (`test@3`, `mnist5k:test@0,1,2`),
             for labelled sets
  TRANSFORM  invert | hflip | vflip | blur (a Gaussian of 1 pixel)
The images are then prepared exactly as the run's data are (padding, fewer bits, binarisation;
`TFDSImages.prepared`), so scores compare like with like. Synthetic images are a function of the
run's seed. The run's own splits are read as it reads them (only its `data.classes`, if set).
Labels are kept for labelled datasets and are -1 elsewhere; scoring never reads them.
"""

import os

import numpy as np
from scipy import ndimage

from genzoo.data import images as image_data
from genzoo.data.splits import SYNTHETIC_STREAM, LoadOptions, Split
from genzoo.errors import UserError

TRANSFORMS = ("invert", "hflip", "vflip", "blur")
SYNTHETIC = ("constant", "noise", "black")
OWN_SPLITS = ("test", "train")
DEFAULT_SYNTHETIC_COUNT = 1000
BLUR_SIGMA = 1.0  # pixels
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601


def describe_sets() -> str:
  return ("test, train, DATASET:SPLIT, constant[:N], noise[:N], black[:N] or a .npy/.npz file, optionally followed by "
          f"@CLASSES (labelled sets) and by +TRANSFORM out of {', '.join(TRANSFORMS)}")


def load_set(text: str, name: str, options: LoadOptions) -> Split:
  """The images SET `text` names (see the module docstring), prepared as dataset `name`'s are with
  `options` (the run's data options)."""
  source = image_data.IMAGE_DATASETS.get(name)
  if source is None:
    raise UserError(f"scoring sets are images, but this run's data {name!r} is not an image dataset")
  base, *transforms = [part.strip() for part in text.split("+")]
  unknown = [transform for transform in transforms if transform not in TRANSFORMS]
  if not base or unknown:
    raise UserError(f"cannot read the set {text!r}: {f'unknown transforms {unknown}' if unknown else 'no base set'}; "
                    f"a set is {describe_sets()}")
  base, _, classes = base.partition("@")
  stored = stored_options(options)
  images, labels = base_images(base, name, source, stored)
  if classes:
    images, labels = of_classes(images, labels, requested_classes(text, classes))
  values = images.astype(np.float64) / (source.num_levels - 1)
  for transform in transforms:
    values = transformed(values, transform)
  return source.prepared(name, "test", to_levels(values, source.num_levels), labels, options)


def stored_options(options: LoadOptions) -> LoadOptions:
  """The options that read a split as stored: its crop, size and classes, without padding or
  fewer levels."""
  return LoadOptions(data_dir=options.data_dir, image_size=options.image_size, seed=options.seed,
                     classes=options.classes)


def requested_classes(text: str, classes: str) -> list[int]:
  try:
    return [int(part) for part in classes.split(",")]
  except ValueError:
    raise UserError(f"cannot read the set {text!r}: @ takes comma-separated class indices, got {classes!r}") from None


def of_classes(images: np.ndarray, labels: np.ndarray, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
  """The examples whose label is one of `classes`; refused for unlabelled sets and empty results."""
  if np.all(labels < 0):
    raise UserError(f"@{','.join(map(str, classes))} keeps examples by class, but this set has no labels")
  kept = np.isin(labels, classes)
  if not kept.any():
    raise UserError(f"no examples of classes {classes} in this set (its classes: {sorted(set(labels.tolist()))})")
  return images[kept], labels[kept]


def base_images(base: str, name: str, source: image_data.TFDSImages,
                stored: LoadOptions) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images in the run dataset's stored shape and levels, int32 labels) of a BASE."""
  shape = source.describe(name, stored).x.shape
  if base in OWN_SPLITS:
    split = source.load(name, base, stored)
    return split["image"], split.arrays.get("label", unlabelled(len(split["image"])))
  if base.endswith((".npy", ".npz")):
    images = user_images(base, shape, source.num_levels)
    return images, unlabelled(len(images))
  kind, _, argument = base.partition(":")
  if kind in SYNTHETIC:
    count = synthetic_count(base, argument)
    return synthetic_images(kind, count, shape, source.num_levels, stored.seed), unlabelled(count)
  if argument and kind in image_data.IMAGE_DATASETS:
    return other_dataset(kind, argument, stored, shape, source.num_levels)
  raise UserError(f"unknown set {base!r}; a set is {describe_sets()}; image datasets: "
                  f"{', '.join(image_data.IMAGE_DATASETS)}")


def unlabelled(count: int) -> np.ndarray:
  return np.full((count,), -1, np.int32)


def synthetic_count(base: str, argument: str) -> int:
  if not argument:
    return DEFAULT_SYNTHETIC_COUNT
  if not argument.isdigit() or int(argument) < 1:
    raise UserError(f"{base!r}: the count after ':' must be a whole number >= 1")
  return int(argument)


def synthetic_images(kind: str, count: int, shape: tuple[int, ...], levels: int, seed: int) -> np.ndarray:
  """`count` images of one uniform random level each ("constant"), of independent uniform levels
  ("noise") or of level 0 ("black")."""
  rng = np.random.default_rng([seed, SYNTHETIC_STREAM, SYNTHETIC.index(kind)])
  if kind == "black":
    return np.zeros((count,) + shape, np.uint8)
  if kind == "constant":
    return np.broadcast_to(rng.integers(0, levels, (count, 1, 1, 1), dtype=np.uint8), (count,) + shape).copy()
  return rng.integers(0, levels, (count,) + shape, dtype=np.uint8)


def user_images(path: str, shape: tuple[int, ...], levels: int) -> np.ndarray:
  """A user's uint8 image array, checked against the shape and levels the run's data are stored in."""
  expected = f"a uint8 array [N, {', '.join(map(str, shape))}]" + (
      f" (or [N, {shape[0]}, {shape[1]}])" if shape[-1] == 1 else "") + f" with values 0 to {levels - 1}"
  if not os.path.isfile(path):
    raise UserError(f"there is no file {path}; the set should be {expected}")
  try:
    if path.endswith(".npy"):
      arrays = [np.load(path, allow_pickle=False)]
    else:
      with np.load(path, allow_pickle=False) as archive:
        arrays = [archive[key] for key in archive.files]
  except (OSError, ValueError) as error:
    raise UserError(f"{path} is not a readable numpy file ({error}); it should be {expected}") from None
  if len(arrays) != 1:
    raise UserError(f"{path} holds {len(arrays)} arrays; it should hold one, {expected}")
  images = arrays[0]
  if images.ndim == len(shape) and shape[-1] == 1:
    images = images[..., None]
  if images.dtype != np.uint8 or images.shape[1:] != shape or not len(images):
    raise UserError(f"{path} holds a {images.dtype} array of shape {list(arrays[0].shape)}; expected {expected}")
  if images.max() >= levels:
    raise UserError(f"{path} has pixel values up to {images.max()}; expected {expected}")
  return images


def other_dataset(name: str, split: str, stored: LoadOptions, shape: tuple[int, ...],
                  levels: int) -> tuple[np.ndarray, np.ndarray]:
  """(images, labels) of split `split` of another image dataset (every class), resized (with
  antialiasing) to `shape`'s height and width, to its channels (grey repeated, colour to BT.601
  luma) and to `levels`."""
  other = image_data.IMAGE_DATASETS[name]
  if split not in OWN_SPLITS:
    raise UserError(f"{name}:{split}: the split must be one of {list(OWN_SPLITS)}")
  data = other.load(name, split, LoadOptions(data_dir=stored.data_dir, seed=stored.seed))
  images, labels = data["image"], data.arrays.get("label", unlabelled(data.num_examples))
  values = images.astype(np.float64) / (other.num_levels - 1)
  if values.shape[-1] != shape[-1]:
    values = np.repeat(values, shape[-1], axis=-1) if values.shape[-1] == 1 else (values @ _LUMA)[..., None]
  if values.shape[1:3] != shape[:2]:
    values = resized(values, shape[:2])
  return to_levels(values, levels), labels


def resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """Images [N, H, W, C] in [0, 1] resized to `size` by linear interpolation, with antialiasing
  when shrinking."""
  import jax  # pylint: disable=g-import-not-at-top  (the data layer imports JAX only where it needs it)

  resize = jax.jit(lambda batch: jax.image.resize(batch, batch.shape[:1] + size + batch.shape[3:], "linear"))
  return np.clip(np.asarray(resize(values.astype(np.float32)), np.float64), 0.0, 1.0)


def transformed(values: np.ndarray, transform: str) -> np.ndarray:
  """One TRANSFORM of images [N, H, W, C] in [0, 1]."""
  if transform == "invert":
    return 1.0 - values
  if transform == "hflip":
    return values[:, :, ::-1]
  if transform == "vflip":
    return values[:, ::-1]
  return ndimage.gaussian_filter(values, sigma=(0, BLUR_SIGMA, BLUR_SIGMA, 0), mode="nearest")


def to_levels(values: np.ndarray, levels: int) -> np.ndarray:
  """[0, 1] -> the nearest of `levels` grey levels, uint8."""
  return np.clip(np.round(values * (levels - 1)), 0, levels - 1).astype(np.uint8)
