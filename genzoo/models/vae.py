"""Variational auto-encoder (Kingma & Welling 2014) with a diagonal Gaussian posterior, optionally
class-conditional (Sohn et al. 2015, "Learning Structured Output Representation using Deep
Conditional Generative Models": q(z|x, y) and p(x|z, y) with the prior N(0, I))."""

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
  With `num_classes` > 0 the label y [...] conditions both: its one-hot code is appended to every
  pixel of the encoder's input and to the decoder's latent.
  """

  image_shape: tuple[int, int, int]
  num_levels: int
  latent_dim: int
  params_per_dim: int
  architecture: str = "mlp"
  hidden: Sequence[int] = (512, 256)
  channels: Sequence[int] = (32, 64)
  activation: str = "relu"
  num_classes: int = 0

  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {
      "model.architecture": checks.one_of(ARCHITECTURES),
      "model.hidden": checks.POSITIVE_WIDTHS,
      "model.channels": checks.NON_EMPTY_POSITIVE_WIDTHS,
      "model.activation": checks.Rule(lambda name: isinstance(name, str) and callable(getattr(jax.nn, name, None)),
                                      "the name of a jax.nn activation, e.g. 'relu', 'tanh', 'elu'"),
      "model.latent_dim": checks.at_least(1),
      "model.num_classes": checks.at_least(0),
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

  def encode(self, x: jax.Array, labels: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and log standard deviation for images [N, H, W, C] of levels {0, ..., K-1}
    (and their labels [N] when class-conditional)."""
    h = 2.0 * to_unit_interval(x, self.num_levels) - 1.0
    if self.num_classes:
      code = self.one_hot(labels)[:, None, None, :]
      h = jnp.concatenate([h, jnp.broadcast_to(code, h.shape[:-1] + code.shape[-1:])], axis=-1)
    mean, log_std = jnp.split(self.encoder(h), 2, axis=-1)
    return mean, log_std

  def decode(self, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Likelihood parameters [..., N, H, W, C, params_per_dim] for latents [..., N, latent_dim]
    (and labels [N] when class-conditional)."""
    if self.num_classes:
      code = self.one_hot(labels)
      z = jnp.concatenate([z, jnp.broadcast_to(code, z.shape[:-1] + code.shape[-1:])], axis=-1)
    return self.decoder(z)

  def one_hot(self, labels: jax.Array | None) -> jax.Array:
    if labels is None:
      raise UserError(f"this VAE is conditioned on {self.num_classes} classes and needs labels")
    return jax.nn.one_hot(labels, self.num_classes)

  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    mean, _ = self.encode(x, labels)
    return self.decode(mean, labels)


def gaussian_kl_to_standard(mean: jax.Array, log_std: jax.Array) -> jax.Array:
  """KL(N(mean, exp(log_std)^2) || N(0, 1)) summed over the last axis (Kingma & Welling, App. B)."""
  return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(2.0 * log_std) - 1.0 - 2.0 * log_std, axis=-1)


def log_normal(z: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
  """log N(z; mean, exp(log_std)^2) summed over the last axis."""
  standardized = (z - mean) * jnp.exp(-log_std)
  return jnp.sum(-0.5 * jnp.square(standardized) - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)
