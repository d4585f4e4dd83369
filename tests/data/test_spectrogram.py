"""Log-mel spectrograms, the inverse STFT and Griffin-Lim against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.data import spectrogram
from genzoo.data.spectrogram import MelSettings

SETTINGS = MelSettings()
RATE = SETTINGS.sample_rate


def tone(hz: float, seconds: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
  return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def test_slaney_mel_scale_is_linear_below_1khz_and_27_mels_per_factor_6_4_above():
  np.testing.assert_allclose(spectrogram.hz_to_mel([0.0, 500.0, 1000.0, 6400.0]), [0.0, 7.5, 15.0, 42.0])
  hz = np.array([30.0, 999.0, 1001.0, 7000.0])
  np.testing.assert_allclose(spectrogram.mel_to_hz(spectrogram.hz_to_mel(hz)), hz)


def test_filters_have_unit_area_in_hz_and_peak_at_their_centres():
  bank = spectrogram.mel_filterbank(SETTINGS)
  assert bank.shape == (513, 80) and np.all(bank >= 0)
  bin_hz = RATE / SETTINGS.fft_size
  points = spectrogram.mel_to_hz(np.linspace(0.0, spectrogram.hz_to_mel(8000.0), 82))
  areas = bank.sum(axis=0) * bin_hz  # Riemann sums over the FFT bins
  wide = (points[2:] - points[:-2]) > 8 * bin_hz  # sampled finely enough for the sum to be close
  assert wide.sum() == 33
  np.testing.assert_allclose(areas[wide], 1.0, rtol=0.011)
  np.testing.assert_allclose(areas, 1.0, rtol=0.06)  # the narrowest span 3.5 bins
  np.testing.assert_allclose(np.argmax(bank, axis=0), np.round(points[1:-1] / bin_hz), atol=1)
  assert not bank[int(np.ceil(8000.0 / bin_hz)) + 1:].any()  # nothing above fmax


def test_stft_of_a_bin_centred_sinusoid_is_half_the_window_sum_at_its_bin():
  k = 40
  magnitude = np.abs(np.asarray(spectrogram.stft(jnp.asarray(tone(k * RATE / SETTINGS.fft_size, amplitude=1.0)))))
  middle = magnitude[5:-5]  # frames away from the reflected ends
  assert magnitude.shape == (SETTINGS.num_frames(RATE // 2), 513)
  np.testing.assert_array_equal(np.argmax(middle, axis=-1), k)
  np.testing.assert_allclose(middle[:, k], SETTINGS.fft_size / 4, rtol=1e-4)  # sum(window) / 2


def test_inverse_stft_inverts_the_stft():
  audio = jax.random.uniform(jax.random.key(0), (2, 3000), minval=-1.0, maxval=1.0)
  back = spectrogram.inverse_stft(spectrogram.stft(audio), 3000)
  np.testing.assert_allclose(back, audio, atol=2e-6)


def test_log_mel_of_a_tone_peaks_in_its_band_and_is_differentiable():
  log_mel = jax.jit(spectrogram.log_mel_spectrogram)(jnp.asarray(tone(1500.0)))
  centres = spectrogram.mel_to_hz(np.linspace(0.0, spectrogram.hz_to_mel(8000.0), 82))[1:-1]
  assert log_mel.shape == (SETTINGS.num_frames(RATE // 2), 80)
  np.testing.assert_array_equal(np.argmax(log_mel[5:-5], axis=-1), np.argmin(np.abs(centres - 1500.0)))
  assert float(jnp.min(log_mel)) >= np.log(SETTINGS.clip)
  grad = jax.grad(lambda audio: jnp.sum(spectrogram.log_mel_spectrogram(audio)))(jnp.asarray(tone(1500.0)))
  assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.max(jnp.abs(grad))) > 0


def test_griffin_lim_converges_to_the_magnitude_it_is_given_and_faster_with_momentum():
  """Two tones and a chirp from random phases: the spectral convergence ||S - |STFT(x)||| / ||S||
  falls with the iterations, and further with the fast algorithm's momentum."""
  t = np.arange(RATE // 2) / RATE
  audio = jnp.asarray(tone(440.0) + tone(2000.0, amplitude=0.2) + 0.3 * np.sin(2 * np.pi * (300 + 2000 * t) * t),
                      jnp.float32)
  magnitude = jnp.abs(spectrogram.stft(audio))
  rebuilt = jax.jit(spectrogram.griffin_lim, static_argnums=(1, 3, 4, 5))

  def convergence(iterations, momentum):
    waveform = rebuilt(magnitude, len(audio), jax.random.key(1), SETTINGS, iterations, momentum)
    return float(jnp.linalg.norm(jnp.abs(spectrogram.stft(waveform)) - magnitude) / jnp.linalg.norm(magnitude))

  classic_1, classic_60, fast_60 = convergence(1, 0.0), convergence(60, 0.0), convergence(60, 0.99)
  assert fast_60 < 0.12 and fast_60 < 0.7 * classic_60 and classic_60 < 0.5 * classic_1, (classic_1, classic_60, fast_60)


def test_magnitude_from_log_mel_is_close_in_log_mel():
  log_mel = spectrogram.log_mel_spectrogram(jnp.asarray(tone(700.0) + tone(3000.0, amplitude=0.1)))
  remapped = jnp.log(jnp.maximum(spectrogram.magnitude_from_log_mel(log_mel) @ spectrogram.mel_filterbank(SETTINGS),
                                 SETTINGS.clip))
  assert float(spectrogram.log_mel_distance(remapped, log_mel)) < 0.5


@pytest.mark.parametrize("fields, message", [
    (dict(fmax=12000.0), r"the mel filters must lie in 0..11025.0 Hz \(Nyquist\) with fmin < fmax; got fmin=0.0, "
                         r"fmax=12000.0"),
    (dict(hop=2048), r"the FFT size must be even and the hop in 1..fft_size; got fft_size=1024, hop=2048"),
])
def test_impossible_settings_are_refused(fields, message):
  with pytest.raises(ValueError, match=message):
    MelSettings(**fields)


def test_a_waveform_shorter_than_half_a_window_is_refused():
  with pytest.raises(ValueError, match=r"the STFT needs more than 512 samples \(half a window\), got 100"):
    spectrogram.stft(jnp.zeros(100))
