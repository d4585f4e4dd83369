"""WaveGlow (Prenger et al., ICASSP 2019): a Glow-style flow over raw waveforms, conditioned on
their mel-spectrograms.

The waveform y [T] (dequantised 16-bit PCM in [-0.5, 0.5), scaled to [-1, 1) as the paper's audio
is) is grouped into [T / group, group] (8 consecutive samples per position, sec. 2.1) and passes
`num_flows` flows, each an invertible 1x1 convolution over the group's channels (sec. 2.4; here in
Glow's LU form, so its log-determinant is a sum) followed by an affine coupling
x_b -> x_b * exp(log_s) + t whose (t, log_s) come from a WaveNet-like network of x_a and the mel
context (`nets.wavenet.WaveNetConditioner`: dilated convolutions, gated tanh-sigmoid units,
residual and skip paths, zero-initialised output, sec. 2.2). Every `early_every` flows,
`early_size` channels leave the flow as latents (early outputs, sec. 2.3; the last channels
here, the first in the released code: the same model up to a fixed permutation, which the next
1x1 convolution absorbs). The mel-spectrogram
[F, num_mels] is upsampled to the waveform's rate by a learned transposed convolution (kernel
`upsample_kernel`, stride `hop`, as the released code), trimmed to T and grouped like the
waveform, then handed to every coupling.

Training maximises log p(y | mel) under a base N(0, sigma^2 I) (sec. 2.5): written here as the
flow's last bijector z -> z / sigma (log-det -D log sigma), so the base stays N(0, I) and
sampling at the paper's inference sigma s is sampling at temperature s / sigma. The flows of a
level run under `nn.scan` with stacked parameters, so compile time does not grow with their
number.
"""

import math
from typing import ClassVar

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from genzoo import bijectors, checks
from genzoo.data.spectrogram import MelSettings, pcm_log_mel_spectrogram
from genzoo.errors import UserError
from genzoo.models import flow_steps
from genzoo.nets.precision import COMPUTE_DTYPE_RULE, in_precision
from genzoo.nets.wavenet import WaveNetConditioner

EVENT_NDIMS = 2  # the flows see [T / group, channels]


class WaveGlowFlow(nn.Module):
  """One flow: invertible 1x1 convolution, then the WaveNet-conditioned affine coupling; the body
  that `flow_steps.scanned_steps` repeats."""

  layers: int
  channels: int
  kernel_size: int
  compute_dtype: str = "float32"
  reverse: bool = False

  @nn.compact
  def __call__(self, carry, context):
    """`context`: the grouped, upsampled mel [N, T / group, group * num_mels]."""
    depth = carry[0].shape[-1]
    conv = flow_steps.lu_conv(self, depth, event_ndims=EVENT_NDIMS)
    conditioner = in_precision(WaveNetConditioner, self.compute_dtype, depth - depth // 2, self.layers, self.channels,
                               self.kernel_size)
    coupling = bijectors.Coupling(bijectors.SplitPartition(), conditioner, bijectors.affine_transformer("exp"),
                                  event_ndims=EVENT_NDIMS, condition=context)
    return flow_steps.run_step(distrax.Chain([coupling, conv]), carry, self.reverse), None


class MelUpsampler(nn.Module):
  """Mel frames [N, F, M] -> [N, (F + kernel / hop - 1) * hop, M]: a transposed convolution over
  time with stride `hop`, written as one matmul per frame (to `kernel` output samples) and an
  overlap-add of the kernel's `kernel / hop` blocks.

  Initialised as the released code's transposed convolution is (PyTorch's default): weights
  uniform in +-1 / sqrt(M * kernel). The log-mel values are large (about -11 to 2), so the
  context starts small (standard deviation about 0.2 on speech) and the couplings' gates, which
  add it to the waveform's features, start far from saturation."""

  hop: int
  kernel: int

  @nn.compact
  def __call__(self, mel: jax.Array) -> jax.Array:
    *batch, frames, num_mels = mel.shape
    blocks = self.kernel // self.hop
    fan_in_scale = 1.0 / (3.0 * self.kernel)  # variance 1 / (3 M kernel): uniform in +-1 / sqrt(M kernel)
    per_frame = nn.DenseGeneral((blocks, self.hop, num_mels), use_bias=False, name="kernel",
                                kernel_init=nn.initializers.variance_scaling(fan_in_scale, "fan_in", "uniform"))(mel)
    shifted = [jnp.pad(per_frame[..., b, :, :], [(0, 0)] * len(batch) + [(b, blocks - 1 - b), (0, 0), (0, 0)])
               for b in range(blocks)]
    bias = self.param("bias", nn.initializers.zeros, (num_mels,))
    return sum(shifted).reshape(tuple(batch) + ((frames + blocks - 1) * self.hop, num_mels)) + bias


class WaveGlow(nn.Module):
  """Dequantised waveforms [..., T] in [-0.5, 0.5) <-> flat latents [..., T] (N(0, I) base), given
  their log-mel spectrograms `context` [..., F, num_mels] (`context_of` computes them from the
  16-bit waveforms). `__call__(y, context=mel)` returns (latents, log_det);
  `__call__(z, inverse=True, context=mel)` returns (waveforms, log_det of the inverse)."""

  event_shape: tuple[int]
  sample_rate: int
  num_flows: int = 12
  group: int = 8
  early_every: int = 4
  early_size: int = 2
  wavenet_layers: int = 8
  wavenet_channels: int = 256
  kernel_size: int = 3
  sigma: float = 1.0
  fft_size: int = 1024
  hop: int = 256
  num_mels: int = 80
  fmax: float = 8000.0
  upsample_kernel: int = 1024
  remat: bool = True
  compute_dtype: str = "float32"  # what the WaveNets compute in (`nets.precision`)

  KINDS: ClassVar[tuple[str, ...]] = ("audio",)
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()
  CONFIG_RULES: ClassVar[dict] = {
      "model.num_flows": checks.at_least(1), "model.group": checks.at_least(2), "model.early_every": checks.at_least(1),
      "model.early_size": checks.at_least(1), "model.wavenet_layers": checks.at_least(1),
      "model.wavenet_channels": checks.at_least(1), "model.kernel_size": checks.at_least(1),
      "model.sigma": checks.POSITIVE, "model.hop": checks.at_least(1), "model.num_mels": checks.at_least(1),
      "model.upsample_kernel": checks.at_least(1), **COMPUTE_DTYPE_RULE}
  BACKFILLED_FIELDS: ClassVar[dict] = {}

  @property
  def mel_settings(self) -> MelSettings:
    return MelSettings(sample_rate=self.sample_rate, fft_size=self.fft_size, hop=self.hop, num_mels=self.num_mels,
                       fmax=self.fmax)

  @property
  def length_multiple(self) -> int:
    """Waveform lengths the model takes are multiples of this."""
    return self.group

  def context_of(self, waveforms: jax.Array) -> jax.Array:
    """The conditioning of 16-bit waveforms [..., T]: their log-mel spectrograms [..., F, num_mels]."""
    return pcm_log_mel_spectrogram(waveforms, self.mel_settings)

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False, context: jax.Array):
    del train  # no dropout: training and evaluation compute the same map
    self._check_fields()
    grouped_context = self._grouped_context(context)
    flow = distrax.Chain([
        distrax.Block(distrax.ScalarAffine(shift=0.0, scale=1.0 / self.sigma), 1),
        bijectors.MultiScale((self.event_shape[0] // self.group, self.group), self._levels(inverse, grouped_context)),
        bijectors.GroupSamples(self.group),
        distrax.Block(distrax.ScalarAffine(shift=0.0, scale=2.0), 1),
    ])
    return flow.inverse_and_log_det(inputs) if inverse else flow.forward_and_log_det(inputs)

  def _check_fields(self) -> None:
    length = self.event_shape[0]
    if length % self.group:
      raise UserError(f"WaveGlow groups {self.group} samples per position, so the waveform length must be a multiple "
                      f"of {self.group}; got {length} (set data.segment_length)")
    if self.upsample_kernel % self.hop:
      raise UserError(f"model.upsample_kernel={self.upsample_kernel} must be a multiple of model.hop={self.hop}")
    left = self.group - self.early_size * (self._num_levels() - 1)
    if left < 2:
      raise UserError(f"{self.num_flows} flows with early outputs of {self.early_size} channels every "
                      f"{self.early_every} flows leave {left} of the {self.group} grouped channels for the last "
                      "flows; a coupling needs at least 2: use a larger model.group, fewer early outputs or "
                      "smaller ones")

  def _num_levels(self) -> int:
    return math.ceil(self.num_flows / self.early_every)

  def _grouped_context(self, mel: jax.Array) -> jax.Array:
    """The mel upsampled to the waveform's rate and grouped like it: [..., T / group, group * num_mels]."""
    length = self.event_shape[0]
    upsampled = MelUpsampler(self.hop, self.upsample_kernel, name="upsample")(mel)
    if upsampled.shape[-2] < length:
      raise UserError(f"a mel-spectrogram of {mel.shape[-2]} frames covers {upsampled.shape[-2]} samples, fewer "
                      f"than the {length} of the waveform")
    upsampled = upsampled[..., :length, :]
    return upsampled.reshape(upsampled.shape[:-2] + (length // self.group, self.group * upsampled.shape[-1]))

  def _levels(self, inverse: bool, context: jax.Array) -> list[bijectors.Level]:
    levels = []
    for index in range(self._num_levels()):
      num_flows = min(self.early_every, self.num_flows - index * self.early_every)
      flows = flow_steps.scanned_steps(WaveGlowFlow, num_flows, inverse, self.remat, name=f"level{index}",
                                       layers=self.wavenet_layers, channels=self.wavenet_channels,
                                       kernel_size=self.kernel_size, compute_dtype=self.compute_dtype)
      is_last = index == self._num_levels() - 1
      levels.append(bijectors.Level(flow_steps.one_way_bijector(flows, inverse, context, event_ndims=EVENT_NDIMS),
                                    squeeze=False, split=not is_last, split_channels=self.early_size))
    return levels
