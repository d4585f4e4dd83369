"""eSpeak NG through its C API, speaking reproducibly; run as a script by `genzoo.data.speech`.

The `espeakng-loader` wheel (a dependency) ships the library and its voice data. eSpeak NG keeps
state from one utterance to the next that no call resets (an utterance's samples change with what
was spoken before it), and seeds its noise from the clock. So each utterance is spoken by a forked
child of a process that has started the library but spoken nothing, with the utterance's own
noise seed: the same (text, voice, rate, pitch, seed) always gives the same samples.

This file imports nothing of genzoo (running it does not import JAX or TensorFlow):

  python espeak.py JOBS.json OUT.npz

JOBS.json is a list of [text, voice, words per minute, pitch 0..100, seed]; OUT.npz gets the
int16 samples of all utterances concatenated ("samples") and their lengths ("lengths").
"""

import ctypes
import json
import os
import sys

import numpy as np

SAMPLE_RATE = 22050

# speak_lib.h: synchronous output hands the samples to a callback.
_SYNCHRONOUS_OUTPUT = 2
_RATE, _PITCH = 1, 3  # espeak_PARAMETER
_POSITION_IN_CHARACTERS, _UTF8 = 1, 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Engine:
  """The process's eSpeak NG, started and silent."""

  def __init__(self):
    import espeakng_loader  # pylint: disable=g-import-not-at-top

    self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
    self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                      ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = self.lib.espeak_Initialize(_SYNCHRONOUS_OUTPUT, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate != SAMPLE_RATE:
      raise RuntimeError(f"eSpeak NG failed to start or speaks at {rate} Hz, not {SAMPLE_RATE} Hz")
    self.chunks: list[bytes] = []
    self.on_samples = _CALLBACK(self._collect)  # referenced for as long as the library holds it
    self.lib.espeak_SetSynthCallback(self.on_samples)

  def _collect(self, samples, count, _events) -> int:
    if count > 0:
      self.chunks.append(ctypes.string_at(samples, 2 * count))
    return 0  # go on

  def _speak_here(self, text: str, voice: str, words_per_minute: int, pitch: int, seed: int) -> bytes:
    encoded = text.encode()
    self.lib.espeak_ng_SetRandSeed(seed)
    failed = (self.lib.espeak_SetVoiceByName(voice.encode())
              or self.lib.espeak_SetParameter(_RATE, words_per_minute, 0)
              or self.lib.espeak_SetParameter(_PITCH, pitch, 0)
              or self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POSITION_IN_CHARACTERS, 0, _UTF8, None, None)
              or self.lib.espeak_Synchronize())
    if failed:
      raise RuntimeError(f"eSpeak NG error {failed} speaking {text!r} with voice {voice!r}")
    return b"".join(self.chunks)

  def speak(self, text: str, voice: str, words_per_minute: int, pitch: int, seed: int) -> np.ndarray:
    """int16 samples [T] of one utterance, spoken by a forked child from the silent state."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
      os.close(read_end)
      status = 1
      try:
        with os.fdopen(write_end, "wb") as pipe:
          pipe.write(self._speak_here(text, voice, words_per_minute, pitch, seed))
        status = 0
      finally:
        os._exit(status)  # pylint: disable=protected-access  (a forked child must not run the parent's exit handlers)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
      samples = pipe.read()
    _, status = os.waitpid(child, 0)
    if status:
      raise RuntimeError(f"eSpeak NG failed speaking {text!r} with voice {voice!r} (child status {status})")
    return np.frombuffer(samples, np.int16)


def main(jobs_path: str, output_path: str) -> None:
  with open(jobs_path, encoding="utf-8") as file:
    jobs = json.load(file)
  engine = Engine()
  waveforms = [engine.speak(*job) for job in jobs]
  np.savez(output_path, samples=np.concatenate(waveforms), lengths=np.array([len(w) for w in waveforms]))


if __name__ == "__main__":
  main(*sys.argv[1:])
