"""Log-mel spectrograms in JAX, their inversion by Griffin-Lim, and the log-mel distance.

The published vocoder features (Shen et al. 2018, Tacotron 2; Prenger et al. 2019, WaveGlow): at
22.05 kHz, the magnitude of a short-time Fourier transform with a 1,024-sample periodic Hann window
and FFT, hop 256, centred frames (the signal reflected by half a window at both ends), through 80
Slaney-style mel filters from 0 to 8 kHz, compressed by the natural log with magnitudes clipped at
1e-5. Waveforms are floats in [-1, 1]. Everything is `jax.jit`-able and differentiable; the filter
bank and window are constants of the settings.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

# Slaney's mel scale (Auditory Toolbox): linear below 1 kHz at 200/3 Hz per mel, logarithmic above
# with 27 mels per factor of 6.4 in frequency.
_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_LOG_START_HZ = 1000.0
_LOG_START_MEL = _LOG_START_HZ / _LINEAR_HZ_PER_MEL
_MELS_PER_LOG_HZ = 27.0 / math.log(6.4)
PCM_FULL_SCALE = 32768.0  # 16-bit PCM values / this: waveforms in [-1, 1)


@dataclasses.dataclass(frozen=True)
class MelSettings:
  """Defaults: the published Tacotron 2 / WaveGlow features."""

  sample_rate: int = 22050
  fft_size: int = 1024  # also the window length
  hop: int = 256
  num_mels: int = 80
  fmin: float = 0.0
  fmax: float = 8000.0
  clip: float = 1e-5  # smallest magnitude before the log

  def __post_init__(self):
    if not 0 < self.hop <= self.fft_size or self.fft_size % 2:
      raise ValueError(f"the FFT size must be even and the hop in 1..fft_size; got fft_size={self.fft_size}, "
                       f"hop={self.hop}")
    if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
      raise ValueError(f"the mel filters must lie in 0..{self.sample_rate / 2} Hz (Nyquist) with fmin < fmax; "
                       f"got fmin={self.fmin}, fmax={self.fmax}")

  @property
  def num_bins(self) -> int:
    return self.fft_size // 2 + 1

  def num_frames(self, num_samples: int) -> int:
    return 1 + num_samples // self.hop


def hz_to_mel(hz):
  """Slaney's mel scale (numpy)."""
  hz = np.asarray(hz, np.float64)
  logarithmic = _LOG_START_MEL + np.log(np.maximum(hz, _LOG_START_HZ) / _LOG_START_HZ) * _MELS_PER_LOG_HZ
  return np.where(hz < _LOG_START_HZ, hz / _LINEAR_HZ_PER_MEL, logarithmic)


def mel_to_hz(mel):
  mel = np.asarray(mel, np.float64)
  logarithmic = _LOG_START_HZ * np.exp((np.maximum(mel, _LOG_START_MEL) - _LOG_START_MEL) / _MELS_PER_LOG_HZ)
  return np.where(mel < _LOG_START_MEL, mel * _LINEAR_HZ_PER_MEL, logarithmic)


@functools.cache
def mel_filterbank(settings: MelSettings) -> np.ndarray:
  """[num_bins, num_mels] triangular filters centred at `num_mels` points equally spaced in mel
  between fmin and fmax (the end points are the outer triangles' feet), each scaled to unit area
  in Hz (Slaney normalisation: height 2 / (upper foot - lower foot))."""
  bin_hz = np.linspace(0.0, settings.sample_rate / 2, settings.num_bins)
  points_hz = mel_to_hz(np.linspace(hz_to_mel(settings.fmin), hz_to_mel(settings.fmax), settings.num_mels + 2))
  lower, centre, upper = points_hz[:-2], points_hz[1:-1], points_hz[2:]
  rising = (bin_hz[:, None] - lower) / (centre - lower)
  falling = (upper - bin_hz[:, None]) / (upper - centre)
  return (np.maximum(0.0, np.minimum(rising, falling)) * 2.0 / (upper - lower)).astype(np.float32)


@functools.cache
def hann_window(size: int) -> np.ndarray:
  """The periodic Hann window (the DFT-even form used for spectral analysis)."""
  return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)).astype(np.float32)


def _frame_starts(num_samples: int, settings: MelSettings) -> np.ndarray:
  return np.arange(settings.num_frames(num_samples)) * settings.hop


def stft(audio: jax.Array, settings: MelSettings = MelSettings()) -> jax.Array:
  """Complex STFT [..., frames, bins] of waveforms [..., T], frames centred at multiples of the hop
  (the waveform reflected by fft_size / 2 at both ends; T must exceed that)."""
  half = settings.fft_size // 2
  if audio.shape[-1] <= half:
    raise ValueError(f"the STFT needs more than {half} samples (half a window), got {audio.shape[-1]}")
  padded = jnp.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(half, half)], mode="reflect")
  indices = _frame_starts(audio.shape[-1], settings)[:, None] + np.arange(settings.fft_size)
  return jnp.fft.rfft(padded[..., indices] * hann_window(settings.fft_size), axis=-1)


def inverse_stft(spectrum: jax.Array, num_samples: int, settings: MelSettings = MelSettings()) -> jax.Array:
  """Waveforms [..., num_samples] whose `stft` is closest to `spectrum` [..., frames, bins] in the
  least-squares sense (Griffin & Lim 1984, eq. 6): windowed overlap-add divided by the summed
  squared window. It inverts `stft` exactly."""
  half, window = settings.fft_size // 2, hann_window(settings.fft_size)
  frames = jnp.fft.irfft(spectrum, n=settings.fft_size, axis=-1) * window
  positions = (_frame_starts(num_samples, settings)[:, None] + np.arange(settings.fft_size)).reshape(-1)
  length = num_samples + 2 * half
  summed = jnp.zeros(spectrum.shape[:-2] + (length,), frames.dtype).at[..., positions].add(
      frames.reshape(spectrum.shape[:-2] + (-1,)))
  window_sum = np.zeros(length, np.float32)
  np.add.at(window_sum, positions, np.tile(window**2, len(positions) // settings.fft_size))
  return (summed / np.maximum(window_sum, 1e-8))[..., half:half + num_samples]


def log_mel_spectrogram(audio: jax.Array, settings: MelSettings = MelSettings()) -> jax.Array:
  """log(max(mel-filtered STFT magnitude, clip)) [..., frames, num_mels] of waveforms [..., T]."""
  magnitude = jnp.abs(stft(audio, settings))
  return jnp.log(jnp.maximum(magnitude @ mel_filterbank(settings), settings.clip))


def pcm_log_mel_spectrogram(pcm: jax.Array, settings: MelSettings = MelSettings()) -> jax.Array:
  """`log_mel_spectrogram` of 16-bit PCM waveforms [..., T] (integers, full scale 32768)."""
  return log_mel_spectrogram(jnp.asarray(pcm).astype(jnp.float32) / PCM_FULL_SCALE, settings)


def published_settings(sample_rate: int) -> MelSettings:
  """The published features at `sample_rate`, fmax lowered to the Nyquist frequency if above it."""
  return MelSettings(sample_rate=sample_rate, fmax=min(MelSettings.fmax, sample_rate / 2))


def log_mel_distance(log_mel_a: jax.Array, log_mel_b: jax.Array) -> jax.Array:
  """Mean absolute difference of two log-mel spectrograms (nats), over every frame and band; the
  shorter of the two sets the frames compared."""
  frames = min(log_mel_a.shape[-2], log_mel_b.shape[-2])
  return jnp.mean(jnp.abs(log_mel_a[..., :frames, :] - log_mel_b[..., :frames, :]))


def magnitude_from_log_mel(log_mel: jax.Array, settings: MelSettings = MelSettings()) -> jax.Array:
  """An STFT magnitude [..., frames, bins] for a log-mel spectrogram: the least-squares solution
  through the filter bank's pseudo-inverse, clipped at zero."""
  pseudo_inverse = np.linalg.pinv(mel_filterbank(settings).astype(np.float64)).astype(np.float32)
  return jnp.maximum(jnp.exp(log_mel) @ pseudo_inverse, 0.0)


def griffin_lim(magnitude: jax.Array, num_samples: int, rng: jax.Array, settings: MelSettings = MelSettings(),
                iterations: int = 60, momentum: float = 0.99) -> jax.Array:
  """Waveforms [..., num_samples] with the STFT magnitude [..., frames, bins], by Griffin & Lim's
  (1984) alternating projections from random phases: keep the magnitude, take the phase of the
  STFT of the least-squares waveform, repeat (60 iterations, as Tacotron's vocoder). With
  `momentum` > 0 each phase is extrapolated from the previous STFT (Perraudin et al. 2013, "A fast
  Griffin-Lim algorithm", alpha = 0.99); 0 is the classic algorithm."""
  phase = jnp.exp(2j * jnp.pi * jax.random.uniform(rng, magnitude.shape))

  def project(_, carry):
    phase, previous = carry
    rebuilt = stft(inverse_stft(magnitude * phase, num_samples, settings), settings)
    extrapolated = rebuilt - momentum / (1.0 + momentum) * previous
    return extrapolated / jnp.maximum(jnp.abs(extrapolated), 1e-8), rebuilt

  phase, _ = jax.lax.fori_loop(0, iterations, project, (phase, jnp.zeros_like(phase)))
  return inverse_stft(magnitude * phase, num_samples, settings)
