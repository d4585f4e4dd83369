"""WAV files: mono 16-bit PCM, the format of genzoo's audio data, written and read with the
standard library's `wave`."""

import os
import wave

import numpy as np

from genzoo.errors import UserError

SAMPLE_WIDTH = 2  # bytes per sample: 16-bit PCM


def save_wav(waveform: np.ndarray, path: str, sample_rate: int) -> None:
  """Writes int16 samples [T] as a mono 16-bit WAV file at `sample_rate`, atomically."""
  tmp = f"{path}.tmp"
  with wave.open(tmp, "wb") as f:
    f.setnchannels(1)
    f.setsampwidth(SAMPLE_WIDTH)
    f.setframerate(sample_rate)
    f.writeframes(np.asarray(waveform, "<i2").tobytes())
  os.replace(tmp, path)


def read_wav(path: str, sample_rate: int) -> np.ndarray:
  """The int16 samples [T] of a mono 16-bit PCM WAV file at `sample_rate`; anything else is
  refused with what the file is and what is accepted."""
  accepted = f"mono 16-bit PCM WAV at {sample_rate} Hz"
  conversion = f"convert it first, e.g. `ffmpeg -i IN -ac 1 -ar {sample_rate} -sample_fmt s16 OUT.wav`"
  try:
    with wave.open(path, "rb") as f:
      channels, width, rate, frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.readframes(f.getnframes())
  except FileNotFoundError:
    raise UserError(f"{path} does not exist; give a {accepted}") from None
  except (wave.Error, EOFError) as error:
    raise UserError(f"{path} is not a PCM WAV file ({error}); give a {accepted} ({conversion})") from None
  found = f"{channels} channel{'s' * (channels != 1)}, {8 * width}-bit, {rate} Hz"
  if (channels, width, rate) != (1, SAMPLE_WIDTH, sample_rate):
    raise UserError(f"{path} is {found}; the model takes {accepted} ({conversion})")
  return np.frombuffer(frames, "<i2").astype(np.int16)
