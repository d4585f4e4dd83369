"""Coupling layers (Dinh et al. 2017, RealNVP, eq. 7-9) as partition + conditioner + transformer.

A partition splits the event x into a conditioning part x_a and a transformed part x_b; the
conditioner maps x_a (and an optional context `condition`) to the parameters theta of an
elementwise transformer f; then
  y_a = x_a,   y_b = f(x_b; theta(x_a, condition)),   log|det J| = sum log|f'(x_b; theta)|.
Any piece can be swapped on its own:
  - partitions: `MaskPartition` (checkerboard or channel masks, any event rank) and
    `SplitPartition` (the two halves of the last axis, cheaper: the conditioner sees only x_a);
  - conditioners: any callable, e.g. a bound Flax module, returning the transformer's parameters
    for every entry of x_b;
  - transformers: any callable `theta -> elementwise distrax.Bijector` (event_ndims_in = 0);
    `affine_transformer` is RealNVP's, Glow's and WaveGlow's affine map, its log-scale bounded or not:
      "tanh":    log_s = tanh(raw) * tanh_scale   (RealNVP; `tanh_scale` per channel, default 1)
      "sigmoid": log_s = log sigmoid(raw + 2)     (Glow; scales start near 0.88 and never exceed 1)
      "exp":     log_s = raw                      (WaveGlow, Prenger et al. 2019, eq. 4: unbounded)
    and, with `shift_first`, shifts before it scales: (x + shift) * exp(log_s), as normflows' Glow.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, check_event_ndims, sum_event

SCALE_FORMS = ("tanh", "sigmoid", "exp")
Conditioner = Callable[..., Any]  # (x_a) or (x_a, condition) -> transformer parameters
Transformer = Callable[[Any], distrax.Bijector]  # parameters -> elementwise bijector


def bounded_log_scale(raw: jax.Array, form: str, tanh_scale: jax.Array | float = 1.0) -> jax.Array:
  """The log-scale of an affine coupling from the conditioner's raw output."""
  if form == "tanh":
    return jnp.tanh(raw) * tanh_scale
  if form == "sigmoid":
    return jax.nn.log_sigmoid(raw + 2.0)
  if form == "exp":
    return raw
  raise ValueError(f"unknown coupling scale form {form!r}; known: {list(SCALE_FORMS)}")


def affine_transformer(scale_form: str = "sigmoid", tanh_scale: jax.Array | float = 1.0,
                       shift_first: bool = False) -> Transformer:
  """(shift, raw) -> the elementwise affine map x * exp(log_s) + shift, or (x + shift) * exp(log_s)
  with `shift_first`; log_s bounded by `scale_form` (see the module docstring). Its conditioner
  returns 2 parameters per entry."""
  if scale_form not in SCALE_FORMS:
    raise ValueError(f"unknown coupling scale form {scale_form!r}; known: {list(SCALE_FORMS)}")

  def transformer(params) -> distrax.Bijector:
    shift, raw = params
    log_scale = bounded_log_scale(raw, scale_form, tanh_scale)
    return distrax.ScalarAffine(shift=shift * jnp.exp(log_scale) if shift_first else shift, log_scale=log_scale)

  return transformer


def checkerboard_mask(shape: tuple[int, ...], parity: int) -> jax.Array:
  """1 where the sum of the position indices (all axes but the last) is even (parity 0) or odd
  (parity 1), for every channel: an image checkerboard for [H, W, C], alternate steps for [T, C]."""
  if len(shape) < 2:
    raise ValueError(f"a checkerboard needs positions and channels [..., C], got shape {tuple(shape)}; "
                     "split vectors with channel_mask or SplitPartition")
  positions = jnp.indices(shape[:-1]).sum(axis=0)
  mask = (positions % 2 == parity).astype(jnp.float32)
  return jnp.broadcast_to(mask[..., None], shape)


def channel_mask(shape: tuple[int, ...], parity: int) -> jax.Array:
  """1 on the first half of the last axis (parity 0) or on the second half (parity 1)."""
  depth = shape[-1]
  first_half = jnp.arange(depth) < depth // 2
  return jnp.broadcast_to((first_half if parity == 0 else ~first_half).astype(jnp.float32), shape)


@dataclasses.dataclass(frozen=True)
class MaskPartition:
  """x_a = x where the mask is 1 (zeros elsewhere), x_b = x; only the entries where the mask is
  0 change. The conditioner sees `mask * x` and returns parameters of the full event shape."""

  mask: jax.Array

  def split(self, x):
    return x * self.mask, x

  def merge(self, x_a, y_b):
    return jnp.where(self.mask > 0, x_a, y_b)

  def transformed_log_det(self, elementwise_log_det):
    return jnp.where(self.mask > 0, 0.0, elementwise_log_det)


@dataclasses.dataclass(frozen=True)
class SplitPartition:
  """x_a, x_b = the two halves of the last axis: first C//2 entries and the rest, or with
  `flip` the last C//2 entries and the rest. The conditioner sees x_a only and returns
  parameters of x_b's shape."""

  flip: bool = False

  def split(self, x):
    depth = x.shape[-1]
    if self.flip:
      x_b, x_a = jnp.split(x, [depth - depth // 2], axis=-1)
      return x_a, x_b
    return tuple(jnp.split(x, [depth // 2], axis=-1))

  def merge(self, x_a, y_b):
    return jnp.concatenate([y_b, x_a] if self.flip else [x_a, y_b], axis=-1)

  def transformed_log_det(self, elementwise_log_det):
    return elementwise_log_det


Partition = MaskPartition | SplitPartition


class Coupling(distrax.Bijector):
  """A coupling layer on events of rank `event_ndims`; see the module docstring.

  Args:
    partition: which entries condition and which are transformed.
    conditioner: x_a -> transformer parameters, or (x_a, condition) -> parameters when a
      `condition` is given.
    transformer: parameters -> elementwise `distrax.Bijector`.
    event_ndims: rank of one event (3 for images [H, W, C], 2 for [T, C], 1 for vectors).
    condition: a context the conditioner also sees (class embeddings, features of the data being
      dequantised, upsampled mel-spectrograms), batched like x; None for an unconditional layer.
  """

  def __init__(self, partition: Partition, conditioner: Conditioner, transformer: Transformer,
               event_ndims: int = IMAGE_EVENT_NDIMS, condition: jax.Array | None = None):
    check_event_ndims(event_ndims, 1, "Coupling")
    super().__init__(event_ndims_in=event_ndims)
    self.partition, self.conditioner, self.transformer = partition, conditioner, transformer
    self.condition = condition

  def _elementwise(self, x_a) -> distrax.Bijector:
    params = self.conditioner(x_a) if self.condition is None else self.conditioner(x_a, self.condition)
    return self.transformer(params)

  def _log_det(self, elementwise_log_det):
    return sum_event(self.partition.transformed_log_det(elementwise_log_det), self.event_ndims_in)

  def forward_and_log_det(self, x):
    x_a, x_b = self.partition.split(x)
    y_b, log_det = self._elementwise(x_a).forward_and_log_det(x_b)
    return self.partition.merge(x_a, y_b), self._log_det(log_det)

  def inverse_and_log_det(self, y):
    y_a, y_b = self.partition.split(y)
    x_b, log_det = self._elementwise(y_a).inverse_and_log_det(y_b)
    return self.partition.merge(y_a, x_b), self._log_det(log_det)
