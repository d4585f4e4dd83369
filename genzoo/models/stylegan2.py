"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN") as GAN
players, sized as in the ADA paper's code (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data").

Generator: a mapping network z -> w (2nd-moment normalised z, `mapping_layers` dense layers at a
0.01 learning-rate multiplier) with a tracked average of w for the truncation trick; a synthesis
network from a learned 4x4 constant, with per resolution two modulated 3x3 convolutions (the
first after a 2x FIR upsampling), per-pixel noise with a learned strength, and a 1x1 modulated
to-RGB layer whose outputs are upsampled and summed over resolutions ("skip" architecture).
With `num_classes` > 0 the mapping network also takes an embedding of the label.
Discriminator: residual ("resnet" architecture): from-RGB at full resolution, per resolution a
3x3 convolution and a downsampling 3x3 convolution beside a downsampling 1x1 shortcut, both
scaled by sqrt(1/2); then minibatch standard deviation, a 3x3 convolution, a dense layer and
the logit (or, class-conditional, a projection on an embedding of the label). Widths are
min(channel_base / resolution, channel_max) at each resolution.

Every layer uses the equalised learning rate (Karras et al. 2018, ProGAN, sec. 4.1): weights are
stored ~ N(0, 1 / m^2) and used as w * m / sqrt(fan_in), biases used as b * m (m: the layer's
learning-rate multiplier). Leaky ReLUs (slope 0.2) are scaled by sqrt(2).
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genzoo import checks
from genzoo.errors import UserError
from genzoo.models.players import WeightsOnly
from genzoo.nets.conv import fold_batch
from genzoo.nets.matmul_conv import conv_3x3, strided_patches_3x3
from genzoo.nets.resample import blur, downsample_2x, upsample_2x

LRELU_SLOPE = 0.2
NOISE_MODES = ("random", "const", "none")
MODCONV_FORMS = ("auto", "matmul", "grouped")


def lrelu(x: jax.Array) -> jax.Array:
  """Leaky ReLU with slope 0.2, times sqrt(2) so that it keeps a unit second moment."""
  return jax.nn.leaky_relu(x, LRELU_SLOPE) * math.sqrt(2.0)


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def square_power_of_two_side(image_shape: tuple[int, ...]) -> int:
  """The side of a square image whose side is a power of 2 of at least 4; otherwise a UserError."""
  height, width = image_shape[0], image_shape[1]
  if height != width or height < 4 or height & (height - 1):
    raise UserError(f"StyleGAN2 needs square images whose side is a power of 2 (at least 4), got "
                    f"{height}x{width}; for 28x28 MNIST set data.pad=2 (32x32)")
  return height


def widths(channel_base: int, channel_max: int):
  """Resolution -> channels: min(channel_base // resolution, channel_max)."""
  return lambda resolution: min(channel_base // resolution, channel_max)


# -- modulated convolution -------------------------------------------------------------------------


def demodulation(weight: jax.Array, styles: jax.Array) -> jax.Array:
  """[N, C_out]: 1 / sqrt(sum over taps and inputs of (w * s_n)^2 + 1e-8), the factor that gives
  every output unit variance for unit-variance inputs (StyleGAN2, eq. 3)."""
  return jax.lax.rsqrt(jnp.square(styles) @ jnp.sum(jnp.square(weight), axis=(0, 1)) + 1e-8)


def modulated_conv_matmul(x: jax.Array, weight: jax.Array, styles: jax.Array, demodulate: bool) -> jax.Array:
  """The form for CPUs: the styles scale the activations instead of the weights, so the whole batch
  shares one kernel and one matmul, conv(x * s_n, w) * d_n ('SAME', kernel 1x1 or 3x3)."""
  modulated = x * styles[:, None, None, :]
  y = conv_3x3(modulated, weight) if weight.shape[0] == 3 else modulated @ weight[0, 0]
  return y * demodulation(weight, styles)[:, None, None, :] if demodulate else y


def modulated_conv_grouped(x: jax.Array, weight: jax.Array, styles: jax.Array, demodulate: bool) -> jax.Array:
  """The form for GPUs: per-example kernels w * s_n (* d_n), run as one grouped convolution with a
  group per example."""
  batch, height, width, in_features = x.shape
  size, out_features = weight.shape[0], weight.shape[-1]
  kernels = weight[None] * styles[:, None, None, :, None]
  if demodulate:
    kernels = kernels * demodulation(weight, styles)[:, None, None, None, :]
  y = jax.lax.conv_general_dilated(
      x.transpose(1, 2, 0, 3).reshape(1, height, width, batch * in_features),
      kernels.transpose(1, 2, 3, 0, 4).reshape(size, size, in_features, batch * out_features),
      window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=batch)
  return y.reshape(height, width, batch, out_features).transpose(2, 0, 1, 3)


MODULATED_CONVS = {"matmul": modulated_conv_matmul, "grouped": modulated_conv_grouped}


def modulated_conv(form: str):
  """The modulated convolution of `form`; "auto" is the matmul form on CPUs, grouped elsewhere."""
  if form == "auto":
    form = "matmul" if jax.default_backend() == "cpu" else "grouped"
  return MODULATED_CONVS[form]


# -- layers ------------------------------------------------------------------------------------


class EqualizedDense(nn.Module):
  """A dense layer with equalised learning rate, computing in its parameters' dtype."""

  features: int
  lr_multiplier: float = 1.0
  bias_init: float = 0.0
  activation: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0 / self.lr_multiplier), (fan_in, self.features))
    bias = self.param("bias", nn.initializers.constant(self.bias_init), (self.features,))
    y = x.astype(kernel.dtype) @ (kernel * (self.lr_multiplier / math.sqrt(fan_in))) + bias * self.lr_multiplier
    return lrelu(y) if self.activation else y


class EqualizedConv(nn.Module):
  """A 1x1 or 3x3 convolution, optionally downsampling 2x (FIR filter, then stride 2), with an
  optional bias and activation; the output is scaled by `gain` (sqrt(1/2) on residual paths)."""

  features: int
  kernel_size: int = 3
  down: bool = False
  use_bias: bool = True
  activation: bool = True
  gain: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    in_features, size = x.shape[-1], self.kernel_size
    kernel = self.param("kernel", nn.initializers.normal(1.0), (size, size, in_features, self.features))
    kernel = kernel / math.sqrt(size * size * in_features)
    if size == 1:
      y = (downsample_2x(x) if self.down else x) @ kernel[0, 0]
    elif self.down:
      y = strided_patches_3x3(blur(x)) @ kernel.reshape(9 * in_features, self.features)
    else:
      y = conv_3x3(x, kernel)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return (lrelu(y) if self.activation else y) * self.gain


class SynthesisLayer(nn.Module):
  """Modulated 3x3 convolution (after a 2x upsampling if `up`), noise, bias, activation."""

  features: int
  up: bool
  noise_mode: str
  modconv: str

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    in_features = x.shape[-1]
    styles = EqualizedDense(in_features, bias_init=1.0, name="affine")(w)
    weight = self.param("kernel", nn.initializers.normal(1.0), (3, 3, in_features, self.features))
    if self.up:
      x = upsample_2x(x)
    x = modulated_conv(self.modconv)(x, weight, styles, demodulate=True)
    x = x + self.noise(x.shape, x.dtype) * self.param("noise_strength", nn.initializers.zeros, ())
    return lrelu(x + self.param("bias", nn.initializers.zeros, (self.features,)))

  def noise(self, shape: tuple[int, ...], dtype) -> jax.Array:
    """Per-pixel N(0, 1) noise [N, H, W, 1] of `dtype`, shared by the channels: fresh from the
    "noise" stream, or the layer's fixed draw (made at initialisation) for reproducible images."""
    fixed = self.variable("noise_const", "noise", lambda: jax.random.normal(self.make_rng("params"), shape[1:3] + (1,)))
    if self.noise_mode == "random":
      return jax.random.normal(self.make_rng("noise"), shape[:3] + (1,), dtype)
    if self.noise_mode == "const":
      return jnp.broadcast_to(fixed.value, shape[:3] + (1,)).astype(dtype)
    return jnp.zeros(shape[:3] + (1,), dtype)


class ToRGB(nn.Module):
  """Modulated 1x1 convolution to the image channels, not demodulated, plus bias."""

  channels: int
  modconv: str

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    in_features = x.shape[-1]
    styles = EqualizedDense(in_features, bias_init=1.0, name="affine")(w) / math.sqrt(in_features)
    weight = self.param("kernel", nn.initializers.normal(1.0), (1, 1, in_features, self.channels))
    y = modulated_conv(self.modconv)(x, weight, styles, demodulate=False)
    return y + self.param("bias", nn.initializers.zeros, (self.channels,))


class MappingNetwork(nn.Module):
  """(z [N, Z] or None, labels [N] or None) -> w [N, w_dim]; with `w_avg_beta`, also the moving
  average of w that truncation pulls towards.

  z and the class embedding (a dense layer of the one-hot label, when `num_classes` > 0) are each
  normalised to unit second moment and concatenated before the `num_layers` dense layers. The
  discriminator's projection head uses the same network without z and without the average."""

  w_dim: int
  num_layers: int
  lr_multiplier: float = 0.01
  w_avg_beta: float | None = None
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: jax.Array | None, labels: jax.Array | None, update_average: bool = False) -> jax.Array:
    parts = [] if z is None else [normalize_2nd_moment(z)]
    if self.num_classes:
      one_hot = jax.nn.one_hot(labels, self.num_classes)
      parts.append(normalize_2nd_moment(EqualizedDense(self.w_dim, name="embed")(one_hot)))
    w = jnp.concatenate(parts, axis=-1)
    for _ in range(self.num_layers):
      w = EqualizedDense(self.w_dim, lr_multiplier=self.lr_multiplier, activation=True)(w)
    if self.w_avg_beta is not None:
      average = self.variable("w_avg", "w_avg", jnp.zeros, (self.w_dim,))
      if update_average and not self.is_initializing():
        average.value = jnp.mean(w, axis=0) + self.w_avg_beta * (average.value - jnp.mean(w, axis=0))
    return w


def check_labels(labels: jax.Array | None, num_classes: int) -> None:
  """A class-conditional player (`num_classes` > 0) needs labels; an unconditional one ignores them."""
  if num_classes and labels is None:
    raise UserError(f"model.num_classes={num_classes} asks for a class-conditional StyleGAN2, but the data "
                    "has no labels; use labelled data or model.num_classes=0")


class SynthesisNetwork(nn.Module):
  """Styles ws [N, num_ws, w_dim] -> images [N, H, W, C]; layer i takes ws[:, i]."""

  image_shape: tuple[int, int, int]
  channel_base: int
  channel_max: int
  noise_mode: str
  modconv: str

  @staticmethod
  def num_ws(side: int) -> int:
    """Two styles per resolution from 8 on, one for the 4x4 convolution and one for the last to-RGB."""
    return 2 * int(math.log2(side)) - 2

  @nn.compact
  def __call__(self, ws: jax.Array) -> jax.Array:
    side, channels = square_power_of_two_side(self.image_shape), self.image_shape[-1]
    width = widths(self.channel_base, self.channel_max)
    const = self.param("const", nn.initializers.normal(1.0), (4, 4, width(4)))
    x = jnp.broadcast_to(const, (ws.shape[0],) + const.shape)
    x = SynthesisLayer(width(4), False, self.noise_mode, self.modconv)(x, ws[:, 0])
    image = ToRGB(channels, self.modconv)(x, ws[:, 1])
    index, resolution = 1, 8
    while resolution <= side:
      x = SynthesisLayer(width(resolution), True, self.noise_mode, self.modconv)(x, ws[:, index])
      x = SynthesisLayer(width(resolution), False, self.noise_mode, self.modconv)(x, ws[:, index + 1])
      image = upsample_2x(image) + ToRGB(channels, self.modconv)(x, ws[:, index + 2])
      index, resolution = index + 2, resolution * 2
    return image


# -- the players ---------------------------------------------------------------------------------

CHANNEL_KEYS = {"channel_base": "model.channel_base", "channel_max": "model.channel_max",
                "num_classes": "model.num_classes"}
CHANNEL_RULES = {"model.channel_base": checks.at_least(4), "model.channel_max": checks.at_least(1),
                 "model.num_classes": checks.at_least(0)}
STYLE_BANDS = ("coarse", "middle", "fine")


def style_levels(side: int) -> np.ndarray:
  """[num_ws]: the resolution level (log2 of the side) each style of a `side`-pixel synthesis
  network drives. Style 0 drives the 4x4 convolution; style i > 0 the two convolutions of level
  (i + 5) // 2 and the to-RGB layer below them; the last drives only the final to-RGB."""
  levels = int(math.log2(side))
  indices = np.arange(SynthesisNetwork.num_ws(side))
  return np.where(indices == 0, 2, np.minimum((indices + 5) // 2, levels))


def style_band(side: int, band: str) -> np.ndarray:
  """[num_ws] bool: the styles of one band (the resolution levels 4x4 ... side split into thirds,
  coarse the lowest; StyleGAN, Karras et al. 2019, sec. 3.1 and fig. 3)."""
  if band not in STYLE_BANDS:
    raise UserError(f"unknown style band {band!r}; known: {list(STYLE_BANDS)}")
  thirds = np.array_split(np.arange(2, int(math.log2(side)) + 1), len(STYLE_BANDS))
  return np.isin(style_levels(side), thirds[STYLE_BANDS.index(band)])


class StyleGAN2Generator(nn.Module):
  """Latents z [..., Z] (with labels [...] when `num_classes` > 0) -> images [..., H, W, C]
  (about [-1, 1]; not squashed, as published).

  In training (`train=True`), with probability `style_mixing_prob` the layers from a random
  crossover on take the w of a second latent (style mixing regularisation, StyleGAN sec. 3.1),
  and the average of w moves towards the batch's. At sampling, `truncation_psi` < 1 pulls w
  towards that average in the first `truncation_cutoff` layers (all if None)."""

  image_shape: tuple[int, int, int]
  w_dim: int = 512
  mapping_layers: int = 8
  channel_base: int = 32768
  channel_max: int = 512
  num_classes: int = 0
  style_mixing_prob: float = 0.9
  truncation_psi: float = 1.0
  truncation_cutoff: int | None = None
  noise_mode: str = "random"
  modconv: str = "auto"
  mapping_lr_multiplier: float = 0.01
  w_avg_beta: float = 0.995

  CONFIG_KEYS: ClassVar[dict[str, str]] = {
      **CHANNEL_KEYS, "w_dim": "model.w_dim", "mapping_layers": "model.mapping_layers",
      "style_mixing_prob": "loss.style_mixing_prob", "truncation_psi": "model.truncation_psi",
      "noise_mode": "model.noise_mode", "modconv": "model.modconv"}
  CONFIG_RULES: ClassVar[dict] = {
      **CHANNEL_RULES, "model.w_dim": checks.at_least(1), "model.mapping_layers": checks.at_least(1),
      "loss.style_mixing_prob": checks.fraction(upper_inclusive=True),
      "model.truncation_psi": checks.NON_NEGATIVE, "model.noise_mode": checks.one_of(NOISE_MODES),
      "model.modconv": checks.one_of(MODCONV_FORMS)}
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ("w_avg",)
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ("noise", "mixing")
  EMA_POLICY: ClassVar = WeightsOnly()
  TRUNCATION_KEY: ClassVar[str] = "model.truncation_psi"

  def __post_init__(self):
    square_power_of_two_side(self.image_shape)  # refused when the player is built, before any run starts
    super().__post_init__()

  def setup(self):
    self.mapping = MappingNetwork(self.w_dim, self.mapping_layers, self.mapping_lr_multiplier, self.w_avg_beta,
                                  self.num_classes)
    self.synthesis = SynthesisNetwork(self.image_shape, self.channel_base, self.channel_max, self.noise_mode,
                                      self.modconv)

  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    z, batch_shape = fold_batch(z, 1)
    if labels is not None:
      labels = labels.reshape(-1)
    return self.synthesize(self.styles(z, labels, train)).reshape(batch_shape + tuple(self.image_shape))

  @property
  def side(self) -> int:
    return square_power_of_two_side(self.image_shape)

  def synthesize(self, ws: jax.Array) -> jax.Array:
    """Styles ws [N, num_ws, w_dim] -> images [N, H, W, C]."""
    if self.noise_mode not in NOISE_MODES:
      raise UserError(f"unknown StyleGAN2 noise mode {self.noise_mode!r}; known: {list(NOISE_MODES)}")
    return self.synthesis(ws)

  def styles(self, z: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
    """ws [N, num_ws, w_dim]: w broadcast to every layer, mixed in training, truncated at sampling."""
    check_labels(labels, self.num_classes)
    num_ws = SynthesisNetwork.num_ws(self.side)
    w = self.mapping(z, labels, update_average=train)
    ws = jnp.broadcast_to(w[:, None], (w.shape[0], num_ws, w.shape[-1]))
    if train and self.style_mixing_prob > 0:
      ws = self.mix_styles(ws, z.shape[-1], labels)
    return self.truncate(ws)

  def mix_styles(self, ws: jax.Array, latent_dim: int, labels: jax.Array | None) -> jax.Array:
    """Layers from a crossover drawn uniformly in [1, num_ws) take a second latent's w (same
    labels), for the whole batch with probability `style_mixing_prob` (as the ADA paper's code does)."""
    z_rng, cut_rng, mix_rng = jax.random.split(self.make_rng("mixing"), 3)
    batch, num_ws, _ = ws.shape
    other = self.mapping(jax.random.normal(z_rng, (batch, latent_dim), ws.dtype), labels)
    cutoff = jax.random.randint(cut_rng, (), 1, num_ws)
    cutoff = jnp.where(jax.random.uniform(mix_rng, ()) < self.style_mixing_prob, cutoff, num_ws)
    return jnp.where(jnp.arange(num_ws)[None, :, None] < cutoff, ws, other[:, None])

  def truncate(self, ws: jax.Array) -> jax.Array:
    """w_avg + psi (w - w_avg) in the first `truncation_cutoff` layers (the truncation trick)."""
    if self.truncation_psi == 1.0:
      return ws
    average = self.mapping.variables["w_avg"]["w_avg"]
    layers = ws.shape[1] if self.truncation_cutoff is None else self.truncation_cutoff
    truncated = average + self.truncation_psi * (ws - average)
    return jnp.where(jnp.arange(ws.shape[1])[None, :, None] < layers, truncated, ws)

  def style_mixing_grid(self, z_rows: jax.Array, z_columns: jax.Array, labels_rows: jax.Array | None,
                        labels_columns: jax.Array | None, band: str) -> jax.Array:
    """Images [R + 1, C + 1, H, W, ch]: the column sources along the top, the row sources down the
    left, and at (r, c) row r's styles with column c's in the `band` layers (StyleGAN fig. 3).
    The corner is black (-1)."""
    rows = self.styles(z_rows, labels_rows, train=False)
    columns = self.styles(z_columns, labels_columns, train=False)
    taken = jnp.asarray(style_band(self.side, band))[None, None, :, None]
    mixed = jnp.where(taken, columns[None], rows[:, None])  # [R, C, num_ws, w_dim]
    num_rows, num_columns = z_rows.shape[0], z_columns.shape[0]
    cells = self.synthesize(mixed.reshape((-1,) + mixed.shape[2:])).reshape(
        (num_rows, num_columns) + tuple(self.image_shape))
    top = jnp.concatenate([-jnp.ones((1,) + tuple(self.image_shape)), self.synthesize(columns)])
    body = jnp.concatenate([self.synthesize(rows)[:, None], cells], axis=1)
    return jnp.concatenate([top[None], body])


def minibatch_stddev(x: jax.Array, group_size: int, num_channels: int) -> jax.Array:
  """Appends `num_channels` feature maps: the standard deviation over groups of consecutive
  examples, averaged over positions and each channel slice (Karras et al. 2018, ProGAN, sec. 3).

  Groups are consecutive examples (the paper's code strides them), because the GAN task shows the
  discriminator its reals then its fakes in one batch: a group never mixes the two when its size
  divides the number of reals. The group size is gcd(batch, `group_size`)."""
  batch, height, width, channels = x.shape
  group = math.gcd(batch, group_size)
  y = x.reshape(batch // group, group, height, width, num_channels, channels // num_channels)
  y = jnp.sqrt(jnp.var(y, axis=1) + 1e-8)  # [groups, H, W, F, c]
  y = jnp.mean(y, axis=(1, 2, 4))  # [groups, F]
  y = jnp.broadcast_to(jnp.repeat(y, group, axis=0)[:, None, None, :], (batch, height, width, num_channels))
  return jnp.concatenate([x, y], axis=-1)


D_ARCHITECTURES = ("resnet", "orig")


class DiscriminatorBlock(nn.Module):
  """A 3x3 convolution, then a downsampling one; with `residual`, beside a downsampling 1x1
  shortcut, both scaled by sqrt(1/2)."""

  inner_features: int
  features: int
  residual: bool

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    gain = math.sqrt(0.5) if self.residual else 1.0
    h = EqualizedConv(self.features, 3, down=True, gain=gain)(EqualizedConv(self.inner_features, 3)(x))
    if not self.residual:
      return h
    return h + EqualizedConv(self.features, 1, down=True, use_bias=False, activation=False, gain=gain,
                             name="shortcut")(x)


class StyleGAN2Discriminator(nn.Module):
  """Images [..., H, W, C] (with labels [...] when `num_classes` > 0) -> one logit per image [...].

  Class-conditional, the last dense layer gives a vector that is projected on an embedding of the
  label (Miyato & Koyama 2018, projection discriminator): a mapping network of the label (without
  z) gives cmap [N, D] and the logit is <h, cmap> / sqrt(D), as in the ADA paper's code.
  `architecture` "orig" drops the residual shortcuts (the ADA paper's CIFAR-10 setting)."""

  channel_base: int = 32768
  channel_max: int = 512
  num_classes: int = 0
  architecture: str = "resnet"
  mbstd_group_size: int = 4
  mbstd_channels: int = 1
  mapping_layers: int = 8

  CONFIG_KEYS: ClassVar[dict[str, str]] = {
      **CHANNEL_KEYS, "architecture": "model.d_architecture", "mbstd_group_size": "model.mbstd_group_size"}
  CONFIG_RULES: ClassVar[dict] = {
      **CHANNEL_RULES, "model.d_architecture": checks.one_of(D_ARCHITECTURES),
      "model.mbstd_group_size": checks.at_least(1)}
  STATE_COLLECTIONS: ClassVar[tuple[str, ...]] = ()

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    del train  # the same function in training and evaluation
    check_labels(labels, self.num_classes)
    resolution = square_power_of_two_side(x.shape[-3:])
    width = widths(self.channel_base, self.channel_max)
    x, batch_shape = fold_batch(x, 3)
    h = EqualizedConv(width(resolution), 1, name="from_rgb")(x)
    while resolution > 4:
      h = DiscriminatorBlock(width(resolution), width(resolution // 2), self.architecture == "resnet")(h)
      resolution //= 2
    h = EqualizedConv(width(4), 3)(minibatch_stddev(h, self.mbstd_group_size, self.mbstd_channels))
    h = EqualizedDense(width(4), activation=True)(h.reshape(h.shape[0], -1))
    if not self.num_classes:
      return EqualizedDense(1)(h)[:, 0].reshape(batch_shape)
    cmap = MappingNetwork(width(4), self.mapping_layers, num_classes=self.num_classes, name="label_mapping")(
        None, labels.reshape(-1))
    projected = jnp.sum(EqualizedDense(width(4))(h) * cmap, axis=-1) / math.sqrt(width(4))
    return projected.reshape(batch_shape)
