"""Variational auto-encoder (Kingma & Welling 2014) with a diagonal Gaussian posterior."""

from collections.abc import Sequence
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import checks, nets
from genzoo.errors import UserError
from genzoo.models.likelihoods import to_unit_interval


ARCHITECTURES = ("mlp", "conv")


class VAE(nn.Module):
  """Encoder q(z|x) = N(mean, diag(exp(log_std))^2), prior N(0, I), decoder p(x|z) parameters.

  `architecture` is "mlp" (`hidden` widths, decoder mirrored) or "conv" (`channels` per stride-2
  stage, decoder mirrored). The decoder emits `params_per_dim` likelihood parameters per sub-pixel.
  """

  image_shape: tuple[int, int, int]
  num_levels: int
  latent_dim: int
  params_per_dim: int
  architecture: str = "mlp"
  hidden: Sequence[int] = (512, 256)
  channels: Sequence[int] = (32, 64)
  activation: str = "relu"

  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {
      "model.architecture": checks.one_of(ARCHITECTURES),
      "model.hidden": checks.POSITIVE_WIDTHS,
      "model.channels": checks.NON_EMPTY_POSITIVE_WIDTHS,
      "model.activation": checks.Rule(lambda name: isinstance(name, str) and callable(getattr(jax.nn, name, None)),
                                      "the name of a jax.nn activation, e.g. 'relu', 'tanh', 'elu'"),
      "model.latent_dim": checks.at_least(1),
  }

  def setup(self):
    if self.architecture == "mlp":
      self.encoder = nets.MLPEncoder(self.hidden, 2 * self.latent_dim, self.activation)
      self.decoder = nets.MLPDecoder(
          tuple(reversed(self.hidden)), self.image_shape, self.params_per_dim, self.activation
      )
    elif self.architecture == "conv":
      self.encoder = nets.ConvEncoder(self.channels, 2 * self.latent_dim)
      self.decoder = nets.ConvDecoder(
          tuple(reversed(self.channels)), self.image_shape, self.params_per_dim
      )
    else:
      raise UserError(f"unknown VAE architecture {self.architecture!r}; known: {list(ARCHITECTURES)}")

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and log standard deviation for images of levels {0, ..., K-1}."""
    h = self.encoder(2.0 * to_unit_interval(x, self.num_levels) - 1.0)
    mean, log_std = jnp.split(h, 2, axis=-1)
    return mean, log_std

  def decode(self, z: jax.Array) -> jax.Array:
    """Likelihood parameters [..., H, W, C, params_per_dim] for latents [..., latent_dim]."""
    return self.decoder(z)

  def __call__(self, x: jax.Array) -> jax.Array:
    mean, _ = self.encode(x)
    return self.decode(mean)


def gaussian_kl_to_standard(mean: jax.Array, log_std: jax.Array) -> jax.Array:
  """KL(N(mean, exp(log_std)^2) || N(0, 1)) summed over the last axis (Kingma & Welling, App. B)."""
  return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(2.0 * log_std) - 1.0 - 2.0 * log_std, axis=-1)


def log_normal(z: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
  """log N(z; mean, exp(log_std)^2) summed over the last axis."""
  standardized = (z - mean) * jnp.exp(-log_std)
  return jnp.sum(-0.5 * jnp.square(standardized) - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)
