"""A feature extractor that works offline: a small classifier genzoo trains on the dataset itself.

`genzoo train-features --dataset mnist5k` trains it on the training split and stores it in
`<features dir>/<dataset>/` (params.msgpack and meta.json with its test accuracy); FID and KID
use its 128-d penultimate layer, mode coverage its predicted classes. Its scores compare models
evaluated with the same classifier only; they are not comparable with Inception-based FIDs.
"""

import json
import os

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from genzoo import data as datasets
from genzoo.errors import MissingFileError, UserError
from genzoo.nets.matmul_conv import Conv3x3

FEATURES_DIR_ENV = "GENZOO_FEATURES_DIR"
PARAMS_FILE, META_FILE = "params.msgpack", "meta.json"


def default_features_dir() -> str:
  """$GENZOO_FEATURES_DIR, else genzoo/features under the user's cache directory."""
  if os.environ.get(FEATURES_DIR_ENV):
    return os.environ[FEATURES_DIR_ENV]
  cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(cache, "genzoo", "features")


def classifier_dir(features_dir: str | None, dataset: str) -> str:
  return os.path.join(features_dir or default_features_dir(), dataset.replace("/", "_"))


class FeatureNet(nn.Module):
  """Two conv 3x3 + ReLU + 2x2 average-pool stages (32, 64 channels), a Dense ReLU feature layer
  and a linear classifier. Images [B, H, W, C] in [0, 1] -> (features [B, d], logits [B, K])."""

  num_classes: int
  feature_dim: int = 128

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    for width in (32, 64):
      x = nn.avg_pool(nn.relu(Conv3x3(width)(x)), (2, 2), (2, 2))
    features = nn.relu(nn.Dense(self.feature_dim)(x.reshape(x.shape[0], -1)))
    return features, nn.Dense(self.num_classes)(features)


def to_unit(images: np.ndarray, num_levels: int) -> jax.Array:
  return jnp.asarray(images, jnp.float32) / (num_levels - 1)


def in_fixed_batches(network, images: np.ndarray, batch_size: int):
  """`network(batch)` over `images` in batches of one shape, min(batch_size, N), the last padded
  with copies of the final image and its outputs dropped: a jitted network compiles once for any
  N. Returns the outputs (a pytree of arrays [N, ...]) as numpy arrays."""
  size = min(batch_size, len(images))
  outputs = []
  for start in range(0, len(images), size):
    batch = images[start : start + size]
    padded = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
    outputs.append(jax.tree.map(lambda values, kept=len(batch): np.asarray(values)[:kept], network(padded)))
  return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)


class ClassifierExtractor:
  """A trained `FeatureNet` with what it was trained on; see `train_feature_classifier`."""

  def __init__(self, meta: dict, params):
    self.meta, self.params = meta, params
    self.net = FeatureNet(meta["num_classes"], meta["feature_dim"])
    self.name = f"classifier:{meta['dataset']}"
    self.num_classes = meta["num_classes"]
    self._apply = jax.jit(lambda params, x: self.net.apply({"params": params}, x))

  @classmethod
  def load(cls, dataset: str, features_dir: str | None = None) -> "ClassifierExtractor":
    directory = classifier_dir(features_dir, dataset)
    if not os.path.exists(os.path.join(directory, PARAMS_FILE)):
      raise MissingFileError(
          f"no feature classifier for dataset {dataset!r} in {directory}. Train one with "
          f"`genzoo train-features --dataset {dataset}` (add --features-dir DIR to keep it elsewhere; "
          f"the default is ${FEATURES_DIR_ENV} or ~/.cache/genzoo/features).")
    with open(os.path.join(directory, META_FILE)) as f:
      meta = json.load(f)
    template = FeatureNet(meta["num_classes"], meta["feature_dim"]).init(
        jax.random.key(0), jnp.zeros((1,) + tuple(meta["image_shape"])))["params"]
    with open(os.path.join(directory, PARAMS_FILE), "rb") as f:
      params = flax.serialization.from_bytes(template, f.read())
    return cls(meta, params)

  def check_images(self, images: np.ndarray, num_levels: int) -> None:
    expected = (tuple(self.meta["image_shape"]), self.meta["num_levels"])
    if (tuple(images.shape[1:]), num_levels) != expected:
      raise UserError(
          f"the {self.name} extractor takes {expected[0]} images of {expected[1]} levels; got "
          f"{tuple(images.shape[1:])} images of {num_levels} levels. Train a classifier on this data "
          "with `genzoo train-features`.")

  def outputs(self, images: np.ndarray, num_levels: int, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, d], predicted classes [N]) of uint8 images in the data's levels."""
    self.check_images(images, num_levels)
    features, logits = in_fixed_batches(lambda batch: self._apply(self.params, to_unit(batch, num_levels)), images,
                                        batch_size)
    return features, np.argmax(logits, axis=-1)


def train_feature_classifier(dataset: str, features_dir: str | None = None, *, data_dir: str | None = None,
                             steps: int = 2000, batch_size: int = 128, learning_rate: float = 1e-3,
                             seed: int = 0) -> dict:
  """Trains a `FeatureNet` on the dataset's labelled training split and stores it; returns its
  metadata, which includes the test-split accuracy."""
  train, test = (datasets.load(dataset, split, data_dir=data_dir, seed=seed) for split in ("train", "test"))
  spec = train.spec
  if spec.x.kind != "image" or spec.num_classes is None:
    raise UserError(f"dataset {dataset!r} is not labelled images ({spec.x.kind} data, "
                    f"{'no' if spec.num_classes is None else spec.num_classes} classes); the feature "
                    "classifier needs them")
  num_classes, levels = spec.num_classes, spec.x.levels
  net = FeatureNet(num_classes)
  params = net.init(jax.random.key(seed), jnp.zeros((1,) + spec.x.shape))["params"]
  optimizer = optax.adam(learning_rate)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, images, labels):
    def loss_fn(params):
      _, logits = net.apply({"params": params}, images)
      return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state

  for index in range(steps):
    batch = datasets.train_batch(train, index, batch_size, seed=seed)
    params, opt_state = step(params, opt_state, to_unit(batch["image"], levels), batch["label"])

  meta = {"dataset": dataset, "image_shape": list(spec.x.shape), "num_levels": levels,
          "num_classes": num_classes, "feature_dim": net.feature_dim, "steps": steps, "seed": seed}
  extractor = ClassifierExtractor(meta, params)
  _, predicted = extractor.outputs(test["image"], levels)
  meta["test_accuracy"] = float(np.mean(predicted == test["label"]))
  meta["test_examples"] = test.num_examples
  directory = classifier_dir(features_dir, dataset)
  os.makedirs(directory, exist_ok=True)
  write_atomically(os.path.join(directory, PARAMS_FILE), flax.serialization.to_bytes(params))
  write_atomically(os.path.join(directory, META_FILE), json.dumps(meta, indent=2).encode())
  return meta


def write_atomically(path: str, content: bytes) -> None:
  """A crash leaves the previous file whole, never half of the new one."""
  with open(f"{path}.tmp", "wb") as f:
    f.write(content)
  os.replace(f"{path}.tmp", path)
