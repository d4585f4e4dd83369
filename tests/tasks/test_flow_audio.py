"""WaveGlow through the flow task and the runner: bits per audio sample, previews as spectrograms
and WAV files, `genzoo sample --sigma` and `genzoo vocode`."""

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from genzoo import data, metrics, runner
from genzoo.data.images import tensorflow
from genzoo.errors import UserError
from genzoo.runner import audio
from genzoo.tasks import make_task

SPEECH = data.audio_spec(1024, 22050, num_classes=6)


def test_a_uniform_density_scores_16_bits_per_sample_and_quantising_recovers_the_pcm(experiment):
  dequantizer = make_task(experiment("waveglow", "smoke"), SPEECH).dequantizer
  assert float(dequantizer.loss(dequantizer.log_volume)) == pytest.approx(16.0)
  pcm = jnp.asarray([-32768, -1, 0, 1, 32767], jnp.int16)
  y, _ = dequantizer(None, pcm, jax.random.key(0))
  assert float(y.min()) >= -0.5 and float(y.max()) < 0.5
  np.testing.assert_array_equal(dequantizer.quantize(y), pcm)
  assert dequantizer.quantize(jnp.asarray([-0.7, 0.7])).tolist() == [-32768, 32767]


def test_sigma_is_the_temperature_times_the_training_sigma(experiment):
  config = experiment("waveglow", "smoke", {"model.sigma": 0.5})
  assert make_task(config, SPEECH).temperature_for_sigma(0.3) == pytest.approx(0.6)
  assert make_task(config, SPEECH).padded_length(1001) == 1004  # groups of 4


def mock_utterances(builder, *args, **kwargs):
  """12 'utterances' of 1,500 to 3,000 samples for TFDS's mock data: chirps in noise, of the
  offline speech's features."""
  del args, kwargs
  rng = np.random.default_rng(0)

  def examples():
    for index in range(12):
      length = int(rng.integers(1500, 3000))
      time = np.arange(length) / 22050
      chirp = 8000 * np.sin(2 * np.pi * (200 + 400 * index) * time * (1 + time)) + rng.normal(0, 500, length)
      yield {"speech": chirp.astype(np.int16), "speaker": index % 6, "text": f"utterance {index}"}

  return tensorflow().data.Dataset.from_generator(examples, output_types=builder.info.features.dtype,
                                        output_shapes=builder.info.features.shape)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, experiment):
  """The smoke WaveGlow trained on mock speech: the mechanics, not the sound."""
  folder = tmp_path_factory.mktemp("waveglow")
  config = experiment("waveglow", "smoke")
  config.data.data_dir = str(folder / "tfds")
  workdir = str(folder / "run")
  with tfds.testing.mock_data(as_dataset_fn=mock_utterances):
    final = runner.train_and_evaluate(config, workdir)
    yield workdir, final


def test_evaluation_reports_bits_per_audio_sample_and_log_mel_distances(smoke_run):
  _, final = smoke_run
  assert final["nonfinite_examples"] == 0 and final["num_examples"] > 0
  assert 10.0 < final["bpd"] < 20.0  # nearly untrained: about 16 bits
  assert final["resynthesised_examples"] == 6 and final["sample_temperature"] == 0.6
  assert 0.0 < final["griffin_lim_log_mel_distance"] < final["log_mel_distance"]  # an untrained vocoder: noise


def test_the_log_mel_distance_of_the_originals_is_zero_and_griffin_lim_comes_close():
  time = np.arange(8192) / 22050
  originals = np.stack([8000 * np.sin(2 * np.pi * f * time) for f in (220.0, 440.0, 1000.0)]).astype(np.int16)
  scores = metrics.resynthesis_scores(lambda index, batch: batch, originals, 22050, num_examples=3, batch_size=2,
                                      rng=jax.random.key(0))
  assert scores["log_mel_distance"] < 1e-6 and scores["resynthesised_examples"] == 3
  noise = metrics.resynthesis_scores(lambda index, batch: np.random.default_rng(index).integers(
      -8000, 8000, batch.shape).astype(np.int16), originals, 22050, 3, 2, jax.random.key(0))
  assert 0.0 < scores["griffin_lim_log_mel_distance"] < 0.5 * noise["log_mel_distance"]


def test_previews_are_spectrograms_next_to_the_originals_and_wav_files(smoke_run):
  workdir, _ = smoke_run
  picture = np.asarray(Image.open(os.path.join(workdir, "samples_4.png")))
  assert picture.shape[0] > picture.shape[1] / 2 and picture.std() > 1
  for name in ("samples_4_0.wav", "samples_4_0_original.wav", "samples_4_1.wav"):
    waveform = audio.read_wav(os.path.join(workdir, name), 22050)
    assert waveform.shape == (1024,) and waveform.dtype == np.int16
  original = audio.read_wav(os.path.join(workdir, "samples_4_0_original.wav"), 22050)
  assert np.abs(original).max() > 0 and not np.array_equal(original, audio.read_wav(
      os.path.join(workdir, "samples_4_0.wav"), 22050))


def test_sample_at_a_sigma_and_vocode_a_file_of_any_length(smoke_run, tmp_path, run_cli):
  workdir, _ = smoke_run
  path = runner.sample(workdir, None, num=2, temperature=1.0, sigma=0.0)
  assert path.endswith("samples_4_sigma0.png")
  # At sigma 0 the sample is the flow's inverse of zero latents: the same for the same mel.
  first = audio.read_wav(path.replace(".png", "_0.wav"), 22050)
  again = audio.read_wav(runner.sample(workdir, str(tmp_path / "again.png"), 2, 1.0, sigma=0.0).replace(
      ".png", "_0.wav"), 22050)
  np.testing.assert_array_equal(first, again)
  speech = audio.read_wav(os.path.join(workdir, "samples_4_1_original.wav"), 22050)[:1001]
  audio.save_wav(speech, str(tmp_path / "speech.wav"), 22050)
  run_cli("vocode", f"--workdir={workdir}", f"--input={tmp_path / 'speech.wav'}", f"--output={tmp_path / 'out.wav'}")
  assert audio.read_wav(str(tmp_path / "out.wav"), 22050).shape == (1001,)
  assert os.path.exists(tmp_path / "out.png")


@pytest.mark.parametrize("make_input, message", [
    (lambda path: audio.save_wav(np.zeros(100, np.int16), path, 16000), r"is 1 channel, 16-bit, 16000 Hz; the model "
     r"takes mono 16-bit PCM WAV at 22050 Hz"),
    (lambda path: pathlib.Path(path).write_bytes(b"not a wav file"), "is not a PCM WAV file"),
    (lambda path: None, "does not exist"),
])
def test_vocode_refuses_what_it_cannot_read(smoke_run, tmp_path, make_input, message):
  workdir, _ = smoke_run
  path = str(tmp_path / "in.wav")
  make_input(path)
  with pytest.raises(UserError, match=message):
    runner.vocode(workdir, path, str(tmp_path / "out.wav"))
  assert not os.path.exists(tmp_path / "out.wav")


def test_stereo_and_8_bit_files_are_refused(tmp_path):
  import wave

  for channels, width in ((2, 2), (1, 1)):
    path = str(tmp_path / f"{channels}_{width}.wav")
    with wave.open(path, "wb") as f:
      f.setnchannels(channels)
      f.setsampwidth(width)
      f.setframerate(22050)
      f.writeframes(bytes(8 * channels * width))
    found = f"{channels} channel{'s' * (channels > 1)}, {8 * width}-bit, 22050 Hz"
    with pytest.raises(UserError, match=found):
      audio.read_wav(path, 22050)
