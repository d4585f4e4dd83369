"""The FID Inception-v3: its architecture, reading PyTorch-layout weights, and the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo import metrics
from genzoo.metrics import inception

# torchvision's inception_v3 has 27,161,264 parameters; without its auxiliary classifier
# (3,326,696) and its 1000-way fc layer (2,049,000), the pool3 trunk keeps 21,785,568.
TRUNK_PARAMETERS = 27_161_264 - 3_326_696 - 2_049_000


def fake_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
  """Random weights under the PyTorch state-dict names and layouts of the FID Inception."""
  rng = np.random.default_rng(seed)
  state_dict = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(inception.variable_shapes())[0]:
    shape = inception.torch_shape(leaf.shape)
    is_variance = path[-1].key == "var"
    value = rng.uniform(0.5, 1.5, shape) if is_variance else rng.normal(0.0, 0.05, shape)
    state_dict[inception.torch_key(path)] = value.astype(np.float32)
  state_dict["fc.weight"] = np.zeros((1008, 2048), np.float32)  # present in the file, unused
  return state_dict


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("inception") / "fid_inception_v3.npz"
  state_dict = fake_state_dict()
  np.savez(path, **state_dict)
  return str(path), state_dict


def test_architecture_is_the_torchvision_inception_v3_trunk():
  variables = jax.tree_util.tree_flatten_with_path(inception.variable_shapes())[0]
  shapes = {inception.torch_key(path): inception.torch_shape(leaf.shape) for path, leaf in variables}
  assert sum(np.prod(leaf.shape) for path, leaf in variables if path[0].key == "params") == TRUNK_PARAMETERS
  assert sum(key.endswith("conv.weight") for key in shapes) == 94
  assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
  assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
  assert shapes["Mixed_6e.branch7x7_2.conv.weight"] == (192, 192, 1, 7)
  assert shapes["Mixed_7c.branch3x3dbl_3b.conv.weight"] == (384, 384, 3, 1)
  assert shapes["Mixed_7c.branch_pool.bn.running_var"] == (192,)


def test_first_layer_reads_pytorch_layout(weights_file):
  """The loaded stem equals the PyTorch definition: conv (OIHW, NCHW), batch norm, ReLU."""
  path, state_dict = weights_file
  extractor = metrics.InceptionExtractor.load(path)
  x = jax.random.normal(jax.random.key(0), (2, 17, 17, 3))
  stem = {collection: tree["Conv2d_1a_3x3"] for collection, tree in extractor.variables.items()}
  ours = inception.BasicConv(32, (3, 3), 2).apply(stem, x)

  bn = {name: state_dict[f"Conv2d_1a_3x3.bn.{name}"][:, None, None]
        for name in ("weight", "bias", "running_mean", "running_var")}
  conv = jax.lax.conv_general_dilated(x.transpose(0, 3, 1, 2), state_dict["Conv2d_1a_3x3.conv.weight"],
                                      (2, 2), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
  normed = (conv - bn["running_mean"]) / jnp.sqrt(bn["running_var"] + 1e-3) * bn["weight"] + bn["bias"]
  np.testing.assert_allclose(ours, jax.nn.relu(normed).transpose(0, 2, 3, 1), atol=1e-5)


def test_features_of_any_image_size_and_channels(weights_file):
  extractor = metrics.InceptionExtractor.load(weights_file[0])
  grey = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.uint8)
  features, classes = extractor.outputs(grey, num_levels=17, batch_size=2)
  assert features.shape == (3, inception.FEATURE_DIM) and classes is None
  assert np.all(np.isfinite(features)) and np.all(features >= 0)  # averaged ReLU outputs
  colour, _ = extractor.outputs(np.repeat(grey, 3, axis=-1), num_levels=17, batch_size=2)
  np.testing.assert_allclose(colour, features, rtol=1e-5, atol=1e-6)  # grey repeats into RGB


def test_missing_weights_file_says_where_weights_come_from(tmp_path):
  for path, problem in ((None, "no weights file was given"), (str(tmp_path / "none.npz"), "there is no file")):
    with pytest.raises(FileNotFoundError, match=rf"needs the FID Inception-v3 weights, and {problem}.*"
                       r"--inception-weights PATH.*pt_inception-2015-12-05-6726825d.pth of the pytorch-fid"):
      metrics.InceptionExtractor.load(path)


def test_weights_of_another_network_are_refused(tmp_path):
  state_dict = fake_state_dict()
  del state_dict["Mixed_5b.branch1x1.conv.weight"]
  state_dict["Conv2d_1a_3x3.conv.weight"] = np.zeros((32, 3, 5, 5), np.float32)
  np.savez(tmp_path / "other.npz", **state_dict)
  with pytest.raises(ValueError, match=r"do not match the FID Inception-v3: Conv2d_1a_3x3.conv.weight has "
                     r"shape \(32, 3, 5, 5\), expected \(32, 3, 3, 3\); missing Mixed_5b.branch1x1.conv.weight"):
    metrics.InceptionExtractor.load(str(tmp_path / "other.npz"))


def test_unknown_extractor_is_refused():
  with pytest.raises(ValueError, match=r"unknown feature extractor 'clip'; known: \['classifier', 'inception'\]"):
    metrics.check_feature_extractor("clip")
