"""BigGAN's parts: class-conditional batch norm, the projection head, orthogonal regularisation
and the truncation trick."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import ndtr
from jax.scipy.stats import norm

from genzoo.errors import UserError
from genzoo.models import biggan

IMAGE_SHAPE = (32, 32, 1)


def tiny_generator(**fields):
  return biggan.BigGANGenerator(IMAGE_SHAPE, **{"width": 2, "num_classes": 10, "shared_dim": 8, **fields})


def generator_variables(generator, key, latent_dim=16):
  return jax.jit(functools.partial(generator.init, train=False))(key, jnp.zeros((2, latent_dim)),
                                                                  jnp.zeros((2,), jnp.int32))


@pytest.fixture(scope="module")
def variables():
  """The tiny generator's variables (its truncation adds none), initialised once for the module."""
  return generator_variables(tiny_generator(), jax.random.key(0))


def test_conditional_batch_norm_takes_each_example_its_own_gains(key):
  """y = BN(x) (1 + A c_i) + B c_i, with example i's condition c_i."""
  layer = biggan.ConditionalBatchNorm(bn_momentum=0.9)
  x = jax.random.normal(key, (4, 3, 3, 5))
  condition = jax.random.normal(jax.random.fold_in(key, 1), (4, 6))
  variables = layer.init(key, x, condition, train=False)
  out = layer.apply(variables, x, condition, train=False)
  normalised = x / np.sqrt(1.0 + biggan.BN_EPSILON)  # running statistics at init: mean 0, variance 1

  def spectral_kernel(name):  # the kernel divided by its largest singular value, as the layer uses it
    kernel = variables["params"][name]["kernel"]
    return kernel / np.linalg.svd(np.asarray(kernel), compute_uv=False)[0]

  gain, bias = condition @ spectral_kernel("gain"), condition @ spectral_kernel("bias")
  expected = normalised * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]
  np.testing.assert_allclose(out, expected, rtol=0.05, atol=0.05)  # one power iteration estimates sigma
  swapped = layer.apply(variables, x, condition[::-1], train=False)
  assert not np.allclose(out, swapped)


def test_the_generators_batch_norms_use_the_requested_class(key, variables):
  """In sampling (running statistics) example i depends on its own label only, and on it."""
  generator = tiny_generator()
  z = jnp.tile(jax.random.normal(key, (1, 16)), (3, 1))
  sample = jax.jit(functools.partial(generator.apply, train=False))
  images = sample(variables, z, jnp.asarray([1, 1, 7], jnp.int32))
  np.testing.assert_array_equal(images[0], images[1])
  assert not np.allclose(images[0], images[2])
  relabelled = sample(variables, z, jnp.asarray([1, 7, 7], jnp.int32))
  np.testing.assert_array_equal(relabelled[0], images[0])
  np.testing.assert_allclose(relabelled[1], images[2], rtol=1e-6)


def discriminator_pair(key, **fields):
  conditional = biggan.BigGANDiscriminator(width=2, num_classes=10, **fields)
  x = jax.random.uniform(key, (4,) + IMAGE_SHAPE, minval=-1.0, maxval=1.0)
  variables = jax.jit(functools.partial(conditional.init, train=False))(key, x, jnp.zeros((4,), jnp.int32))
  return conditional, variables, x


def test_the_projection_enters_only_through_the_labels_embedding(key):
  discriminator, variables, x = discriminator_pair(key)
  unconditional = biggan.BigGANDiscriminator(width=2)
  shared = {"params": {k: v for k, v in variables["params"].items() if k != "projection"},
            "batch_stats": {k: v for k, v in variables["batch_stats"].items() if "projection/embedding/u" not in v}}
  base = jax.jit(functools.partial(unconditional.apply, train=False))(shared, x)
  apply = jax.jit(functools.partial(discriminator.apply, train=False))
  logits = {label: apply(variables, x, jnp.full((4,), label)) for label in (2, 5)}
  assert not np.allclose(logits[2], base) and not np.allclose(logits[2], logits[5])
  # Classes with the same embedding row get the same logits: the label acts through its row alone.
  embedding = variables["params"]["projection"]["embedding"]
  same_rows = {**variables, "params": {**variables["params"], "projection": {"embedding": embedding.at[5].set(embedding[2])}}}
  np.testing.assert_allclose(apply(same_rows, x, jnp.full((4,), 2)), apply(same_rows, x, jnp.full((4,), 5)), rtol=1e-6)


def test_self_attention_is_added_once_and_starts_as_the_identity(key):
  x = jax.random.normal(key, (2, 8, 8, 16))
  attention = biggan.SelfAttention(train=False)
  attention_variables = attention.init(key, x)
  assert float(attention_variables["params"]["gamma"]) == 0.0
  np.testing.assert_array_equal(attention.apply(attention_variables, x), x)
  discriminator = biggan.BigGANDiscriminator(width=2, num_classes=10, attention_resolution=8)
  shapes = jax.eval_shape(functools.partial(discriminator.init, train=False), key, jnp.zeros((4,) + IMAGE_SHAPE),
                          jnp.zeros((4,), jnp.int32))
  assert [name for name in shapes["params"] if name.startswith("SelfAttention")] == ["SelfAttention_0"]
  generator = tiny_generator(attention_resolution=16)
  shapes = jax.eval_shape(functools.partial(generator.init, train=False), key, jnp.zeros((2, 16)),
                          jnp.zeros((2,), jnp.int32))
  assert "SelfAttention_0" in shapes["params"]


def test_orthogonality_penalty_is_zero_for_orthogonal_kernels_and_positive_otherwise(key):
  orthogonal = jnp.linalg.qr(jax.random.normal(key, (12, 5)))[0]  # orthonormal columns
  scaled_columns = orthogonal * jnp.arange(1.0, 6.0)  # still orthogonal filters, of other norms
  params = {"conv": {"kernel": scaled_columns.reshape(2, 2, 3, 5), "bias": jnp.ones(5)},
            "shared": {"embedding": jax.random.normal(key, (10, 5))}}
  assert float(biggan.orthogonality_penalty(params)) == pytest.approx(0.0, abs=1e-8)
  params["conv"]["kernel"] = params["conv"]["kernel"].at[0, 0, 0].add(0.3)
  assert float(biggan.orthogonality_penalty(params)) > 1e-3


def test_truncation_never_returns_latents_beyond_the_threshold(key, variables):
  z = 5.0 * jax.random.normal(key, (200_000,))
  for threshold in (0.1, 0.5, 1.0, 2.0):
    truncated = biggan.truncated_latents(z, threshold)
    assert float(jnp.max(jnp.abs(truncated))) <= threshold
  # From N(0, 1) it is the truncated normal: its variance, 1 - 2 t phi(t) / (2 Phi(t) - 1).
  truncated = biggan.truncated_latents(jax.random.normal(key, (200_000,)), 1.0)
  variance = 1.0 - 2.0 * norm.pdf(1.0) / (2.0 * ndtr(1.0) - 1.0)
  assert float(jnp.var(truncated)) == pytest.approx(float(variance), rel=0.02)
  # The generator truncates when it samples: latents far out all land on the threshold.
  sample = jax.jit(functools.partial(tiny_generator(truncation=0.5).apply, train=False))
  labels = jnp.zeros((2,), jnp.int32)
  np.testing.assert_allclose(sample(variables, 10.0 * jnp.ones((2, 16)), labels),
                             sample(variables, 1e3 * jnp.ones((2, 16)), labels), atol=1e-6)


def test_layouts_and_latent_chunks_are_checked(key):  # traced only: the errors come before any compile
  with pytest.raises(UserError, match=r"BigGAN has layouts for square images of side \[32, 64, 128, 256\], got 28x28"):
    biggan.BigGANGenerator((28, 28, 1))
  with pytest.raises(UserError, match=r"model.latent_dim=10 must split into 4 equal chunks"):
    jax.eval_shape(functools.partial(tiny_generator().init, train=False), key, jnp.zeros((2, 10)),
                   jnp.zeros((2,), jnp.int32))
  with pytest.raises(UserError, match=r"needs labels|has no labels"):
    tiny_generator().init(key, jnp.zeros((2, 16)), None, train=False)
