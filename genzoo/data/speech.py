"""Speech synthesised offline: eSpeak NG speaking genzoo's English corpus in several voices.

eSpeak NG (`genzoo/data/espeak.py`) is a formant synthesiser: robotic but intelligible, at
22,050 Hz, 16-bit mono, and here reproducible. `SPEAKERS` vary the voice variant, accent, speaking
rate and pitch, so the data are not one monotone. Every sentence of the corpus is spoken by every
speaker; every tenth sentence is held out for the test split, in all voices, so test utterances
are sentences the model never heard.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from genzoo.data.speech_corpus import SENTENCES

SAMPLE_RATE = 22050
TEST_EVERY = 10  # sentences 9, 19, 29, ... are the test split's
_SYNTHESISER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "espeak.py")


@dataclasses.dataclass(frozen=True)
class Speaker:
  name: str
  voice: str  # an eSpeak NG voice, optionally "+variant"
  words_per_minute: int
  pitch: int  # 0..100, eSpeak's default 50


SPEAKERS = (
    Speaker("us_m3", "en-us+m3", 165, 45),
    Speaker("us_f2", "en-us+f2", 150, 60),
    Speaker("rp_m1", "en-gb-x-rp+m1", 175, 40),
    Speaker("gb_f4", "en+f4", 160, 55),
    Speaker("scottish_m7", "en-gb-scotland+m7", 145, 35),
    Speaker("us_f5_fast", "en-us+f5", 190, 65),
)


def sentence_indices(split: str) -> list[int]:
  """Indices into `SENTENCES` of split "train" or "test"."""
  held_out = split == "test"
  return [index for index in range(len(SENTENCES)) if (index % TEST_EVERY == TEST_EVERY - 1) == held_out]


def utterances(split: str) -> list[tuple[int, int]]:
  """(speaker index, sentence index) of every utterance of a split: each sentence in every voice."""
  return [(speaker, sentence) for sentence in sentence_indices(split) for speaker in range(len(SPEAKERS))]


def synthesise(split: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
  """(int16 waveforms [T_i] at `SAMPLE_RATE`, speaker indices, sentence indices) of the split's
  utterances. Each is seeded by its speaker and sentence, so the result is a pure function of the
  split."""
  order = utterances(split)
  jobs = [[SENTENCES[sentence], SPEAKERS[speaker].voice, SPEAKERS[speaker].words_per_minute, SPEAKERS[speaker].pitch,
           len(SPEAKERS) * sentence + speaker] for speaker, sentence in order]
  with tempfile.TemporaryDirectory() as folder:
    jobs_path, output_path = os.path.join(folder, "jobs.json"), os.path.join(folder, "speech.npz")
    with open(jobs_path, "w", encoding="utf-8") as file:
      json.dump(jobs, file)
    result = subprocess.run([sys.executable, _SYNTHESISER, jobs_path, output_path], capture_output=True, text=True)
    if result.returncode:
      raise RuntimeError(f"synthesising the {split} speech failed:\n{result.stderr[-3000:]}")
    with np.load(output_path) as stored:
      samples, lengths = stored["samples"], stored["lengths"]
  return (np.split(samples, np.cumsum(lengths)[:-1]), np.array([speaker for speaker, _ in order]),
          np.array([sentence for _, sentence in order]))
