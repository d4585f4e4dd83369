"""The offline speech: the corpus split and the reproducible synthesiser."""

import numpy as np
import pytest

from genzoo.data import speech
from genzoo.data.speech_corpus import SENTENCES


def test_the_test_sentences_are_a_fixed_tenth_never_trained_on():
  train, test = speech.sentence_indices("train"), speech.sentence_indices("test")
  assert len(test) == 16 and len(train) == 144 and not set(train) & set(test)
  assert sorted(train + test) == list(range(len(SENTENCES))) and test[:2] == [9, 19]
  assert speech.utterances("test")[:len(speech.SPEAKERS) + 1] == [(s, 9) for s in range(len(speech.SPEAKERS))] + [(0, 19)]


@pytest.fixture(scope="module")
def test_speech():
  return speech.synthesise("test")


def test_synthesis_is_a_pure_function_of_the_split(test_speech):
  waveforms, speakers, sentences = test_speech
  assert len(waveforms) == 16 * len(speech.SPEAKERS) and speakers.tolist() == [s for s, _ in speech.utterances("test")]
  again, _, _ = speech.synthesise("test")
  assert all(np.array_equal(a, b) for a, b in zip(waveforms, again))
  assert sentences.tolist() == [sentence for _, sentence in speech.utterances("test")]


def test_speakers_sound_different_at_their_own_rates(test_speech):
  waveforms, speakers, sentences = test_speech
  seconds = np.array([len(w) / speech.SAMPLE_RATE for w in waveforms])
  assert all(w.dtype == np.int16 and np.abs(w.astype(np.int32)).max() > 8000 for w in waveforms)  # not silence
  assert 1.0 < seconds.min() and seconds.max() < 8.0
  first = [w for w, sentence in zip(waveforms, sentences) if sentence == 9]
  assert len({w.tobytes() for w in first}) == len(speech.SPEAKERS)
  fast, slow = (seconds[speakers == speech.SPEAKERS.index(s)].sum() for s in (speech.SPEAKERS[5], speech.SPEAKERS[4]))
  assert fast < 0.85 * slow  # 190 against 145 words a minute
