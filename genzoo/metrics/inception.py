"""The Inception-v3 network of the standard FID (Heusel et al. 2017), as a Flax module that loads
its weights from a local file, and the extractor that gives its 2048-d pool3 features.

The weights: the FID Inception is TensorFlow's 2015-12-05 Inception-v3 graph. Its PyTorch port,
`pt_inception-2015-12-05-6726825d.pth`, is published with the pytorch-fid project (GitHub release
"fid_weights"). genzoo reads that state dict saved as a NumPy `.npz` archive with the same keys
("Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.bn.running_mean", ...); on any machine with
PyTorch:

    python -c "import numpy, torch; sd = torch.load('pt_inception-2015-12-05-6726825d.pth', \\
        map_location='cpu'); numpy.savez('fid_inception_v3.npz', **{k: v.numpy() for k, v in sd.items()})"

Convolution weights are [out, in, kh, kw] there and [kh, kw, in, out] here; the classifier
layer ("fc.*") and batch counters are not used.

The network differs from the torchvision Inception-v3 the way the FID graph does: average pools
in the mixed blocks leave the zero padding out of the mean, and the last block (Mixed_7c) pools
its extra branch with a max. Images are resized to 299x299 bilinearly and scaled to [-1, 1].
"""

import functools
import os
import zipfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genzoo.errors import MissingFileError, UserError
from genzoo.metrics.classifier import in_fixed_batches, to_unit

INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3
WEIGHTS_SOURCE = ("pt_inception-2015-12-05-6726825d.pth of the pytorch-fid project (GitHub release "
                  "'fid_weights'), converted to .npz as described in genzoo/metrics/inception.py "
                  "and the README")


class BasicConv(nn.Module):
  """Convolution without bias, batch norm (inference statistics) and ReLU."""

  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: str | tuple[int, int] = "VALID"  # or (pad_h, pad_w) on both sides

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    padding = self.padding if isinstance(self.padding, str) else [(p, p) for p in self.padding]
    x = nn.Conv(self.features, self.kernel, self.strides, padding, use_bias=False, name="conv")(x)
    return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name="bn")(x))


def max_pool_3x3(x: jax.Array, strides: int, padding: str = "VALID") -> jax.Array:
  return nn.max_pool(x, (3, 3), (strides, strides), padding)


def avg_pool_3x3_same(x: jax.Array) -> jax.Array:
  """3x3 stride-1 average over the pixels inside the image (padding excluded from the count)."""
  return nn.avg_pool(x, (3, 3), (1, 1), "SAME", count_include_pad=False)


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    branch5x5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
    branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(branch5x5)
    branch3x3dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(branch3x3dbl)
    pool = BasicConv(self.pool_features, (1, 1), name="branch_pool")(avg_pool_3x3_same(x))
    return jnp.concatenate([BasicConv(64, (1, 1), name="branch1x1")(x), branch5x5, branch3x3dbl, pool], -1)


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(384, (3, 3), 2, name="branch3x3")(x)
    branch3x3dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), 2, name="branch3x3dbl_3")(branch3x3dbl)
    return jnp.concatenate([branch3x3, branch3x3dbl, max_pool_3x3(x, 2)], -1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c = self.channels_7x7
    branch7x7 = BasicConv(c, (1, 1), name="branch7x7_1")(x)
    branch7x7 = BasicConv(c, (1, 7), padding=(0, 3), name="branch7x7_2")(branch7x7)
    branch7x7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(branch7x7)
    branch7x7dbl = BasicConv(c, (1, 1), name="branch7x7dbl_1")(x)
    for index, (features, kernel) in enumerate([(c, (7, 1)), (c, (1, 7)), (c, (7, 1)), (192, (1, 7))]):
      padding = (kernel[0] // 2, kernel[1] // 2)
      branch7x7dbl = BasicConv(features, kernel, padding=padding, name=f"branch7x7dbl_{index + 2}")(branch7x7dbl)
    pool = BasicConv(192, (1, 1), name="branch_pool")(avg_pool_3x3_same(x))
    return jnp.concatenate([BasicConv(192, (1, 1), name="branch1x1")(x), branch7x7, branch7x7dbl, pool], -1)


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
    branch3x3 = BasicConv(320, (3, 3), 2, name="branch3x3_2")(branch3x3)
    branch7x7x3 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
    branch7x7x3 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(branch7x7x3)
    branch7x7x3 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(branch7x7x3)
    branch7x7x3 = BasicConv(192, (3, 3), 2, name="branch7x7x3_4")(branch7x7x3)
    return jnp.concatenate([branch3x3, branch7x7x3, max_pool_3x3(x, 2)], -1)


class InceptionE(nn.Module):
  """`max_pool_branch`: the FID graph's last block pools its extra branch with a max."""

  max_pool_branch: bool

  @nn.compact
  def __call__(self, x):
    def split_1x3_3x1(h, name):
      return jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name=f"{name}a")(h),
                              BasicConv(384, (3, 1), padding=(1, 0), name=f"{name}b")(h)], -1)

    branch3x3 = split_1x3_3x1(BasicConv(384, (1, 1), name="branch3x3_1")(x), "branch3x3_2")
    branch3x3dbl = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = split_1x3_3x1(branch3x3dbl, "branch3x3dbl_3")
    pooled = max_pool_3x3(x, 1, "SAME") if self.max_pool_branch else avg_pool_3x3_same(x)
    pool = BasicConv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([BasicConv(320, (1, 1), name="branch1x1")(x), branch3x3, branch3x3dbl, pool], -1)


class FIDInceptionV3(nn.Module):
  """Images [N, 299, 299, 3] in [-1, 1] -> pool3 features [N, 2048]."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = BasicConv(32, (3, 3), 2, name="Conv2d_1a_3x3")(x)
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = max_pool_3x3(BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x), 2)
    x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = max_pool_3x3(BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x), 2)
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
      x = InceptionA(pool_features, name=name)(x)
    x = InceptionB(name="Mixed_6a")(x)
    for name, channels_7x7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
      x = InceptionC(channels_7x7, name=name)(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE(max_pool_branch=False, name="Mixed_7b")(x)
    x = InceptionE(max_pool_branch=True, name="Mixed_7c")(x)
    return jnp.mean(x, axis=(1, 2))


# -- weights ---------------------------------------------------------------------------------------

# Flax leaf (collection, name) -> the PyTorch state-dict suffix it is read from.
TORCH_LEAF_NAMES = {("params", "kernel"): "weight", ("params", "scale"): "weight",
                    ("params", "bias"): "bias", ("batch_stats", "mean"): "running_mean",
                    ("batch_stats", "var"): "running_var"}


@functools.cache
def variable_shapes() -> dict:
  """The network's variables as ShapeDtypeStructs (traced, not computed)."""
  dummy = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  return jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), dummy)


def torch_key(path: tuple) -> str:
  """('params', 'Mixed_5b', 'branch1x1', 'conv', 'kernel') -> 'Mixed_5b.branch1x1.conv.weight'."""
  names = [entry.key for entry in path]
  return ".".join(names[1:-1] + [TORCH_LEAF_NAMES[names[0], names[-1]]])


def from_torch_layout(array: np.ndarray) -> np.ndarray:
  """Convolution weights [out, in, kh, kw] -> [kh, kw, in, out]; vectors unchanged."""
  return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array


def torch_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
  """The PyTorch-layout shape of a variable of Flax shape `shape`."""
  return (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else tuple(shape)


def variables_from_state_dict(state_dict) -> dict:
  """The Flax variables of `FIDInceptionV3` read from a PyTorch-named state dict of arrays;
  every missing key or wrong shape is reported at once."""
  problems = []

  def read(path, expected):
    key = torch_key(path)
    if key not in state_dict:
      problems.append(f"missing {key}")
      return None
    value = np.asarray(state_dict[key], np.float32)
    if value.shape != torch_shape(expected.shape):
      problems.append(f"{key} has shape {value.shape}, expected {torch_shape(expected.shape)}")
    return from_torch_layout(value)

  variables = jax.tree_util.tree_map_with_path(read, variable_shapes())
  if problems:
    listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    raise UserError(f"the Inception weights do not match the FID Inception-v3: {listed}. "
                     f"Expected the state dict of {WEIGHTS_SOURCE}.")
  return variables


def check_weights_file(path: str | None) -> None:
  """Raises FileNotFoundError, saying where the weights come from, unless `path` is a file."""
  if not path or not os.path.isfile(path):
    problem = f"there is no file {path}" if path else "no weights file was given"
    raise MissingFileError(
        f"Inception FID/KID needs the FID Inception-v3 weights, and {problem}. Pass "
        f"--inception-weights PATH (config: eval.inception_weights) naming a .npz of {WEIGHTS_SOURCE}; "
        "or score with the offline classifier features (eval.feature_extractor=classifier, the default).")


def read_npz(path: str) -> dict[str, np.ndarray]:
  """Every array of the .npz archive `path`; anything else there is refused with a `UserError`."""
  try:
    loaded = np.load(path)
    arrays = {key: loaded[key] for key in loaded.files} if isinstance(loaded, np.lib.npyio.NpzFile) else None
  except (OSError, ValueError, zipfile.BadZipFile) as error:
    raise UserError(f"{path} is not a readable .npz archive ({error}); expected the state dict of "
                    f"{WEIGHTS_SOURCE}") from error
  if arrays is None:
    raise UserError(f"{path} holds a single array, not an .npz archive of named weights; expected the "
                    f"state dict of {WEIGHTS_SOURCE}")
  loaded.close()
  return arrays


def resize_for_inception(images: jax.Array) -> jax.Array:
  """[N, H, W, C] in [0, 1], C = 1 or 3 -> [N, 299, 299, 3] in [-1, 1] (bilinear, half-pixel
  centres; grey images repeat into the three channels)."""
  images = jnp.broadcast_to(images, images.shape[:-1] + (3,))
  resized = jax.image.resize(images, (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3), "bilinear", antialias=False)
  return 2.0 * resized - 1.0


class InceptionExtractor:
  """FID/KID features of the FID Inception-v3 (pool3, 2048-d) for images of any size and levels.
  It predicts no dataset classes, so mode coverage keeps using the dataset's classifier."""

  name = "inception_v3_fid"
  num_classes = None

  def __init__(self, variables):
    self.variables = variables
    self._features = jax.jit(lambda variables, x: FIDInceptionV3().apply(variables, resize_for_inception(x)))

  @classmethod
  def load(cls, path: str | None) -> "InceptionExtractor":
    check_weights_file(path)
    return cls(variables_from_state_dict(read_npz(path)))


  def outputs(self, images: np.ndarray, num_levels: int, batch_size: int = 50) -> tuple[np.ndarray, None]:
    """(pool3 features [N, 2048], None) of uint8 images in the data's levels."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
      raise ValueError(f"the Inception extractor takes [N, H, W, 1 or 3] images; got shape {images.shape}")
    return in_fixed_batches(lambda batch: self._features(self.variables, to_unit(batch, num_levels)), images,
                            batch_size), None
