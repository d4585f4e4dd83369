"""Audio datasets read through TFDS: 16-bit PCM speech at 22,050 Hz.

* `speech`: genzoo's offline speech (`genzoo/data/speech.py`), built on first use.
* `ljspeech`: LJSpeech 1.1 (Ito 2017, one speaker, 13,100 clips, 24 hours) from TFDS, for users
  with the data. TFDS has one split; its first 13,000 clips are genzoo's train split and the last
  100 the test split.

A train split holds whole utterances (`Ragged`); every training batch takes one segment of
`data.segment_length` samples out of each example at an offset drawn from (seed, step) (shorter
utterances whole, then zeros), as WaveGlow trains. A test split holds every utterance cut into
consecutive windows of `data.segment_length` samples, the end of each utterance that fills no
whole window left out, so evaluation sees fixed shapes and scores each audio sample at most once.
With `stream=True` the train split's utterances are read by index from disk, batch by batch
(`genzoo.data.streaming`); the test split, whose windows need every utterance's length, is read
into memory either way.
"""

import dataclasses

import numpy as np

from genzoo.data import streaming
from genzoo.data.images import SPLITS, in_file_order, prepared_builder
from genzoo.data.spec import DataSpec, audio_spec
from genzoo.data.splits import IMAGE_OPTIONS, LoadOptions, Ragged, Split, check_classes, refuse_options
from genzoo.errors import UserError


@dataclasses.dataclass(frozen=True)
class TFDSAudio:
  """How to read one TFDS dataset of waveforms.

  Attributes:
    tfds_name: name (with config) passed to `tfds.builder`.
    sample_rate: samples per second as stored.
    segment_length: default samples per training segment and evaluation window.
    speech_key: the TFDS feature holding the int16 waveform.
    label_key: a TFDS class-label feature given as the `label` (the speaker), or None.
    num_classes: classes of that label.
    train_split: TFDS split used for "train".
    test_split: TFDS split used for "test".
    offline: whether genzoo builds the data itself (no download needed).
  """

  tfds_name: str
  sample_rate: int
  segment_length: int
  speech_key: str = "speech"
  label_key: str | None = None
  num_classes: int | None = None
  train_split: str = "train"
  test_split: str = "test"
  offline: bool = False

  def describe(self, name: str, options: LoadOptions) -> DataSpec:
    """The batches `load` gives with `options`, from the registry alone; refuses bad options."""
    refuse_options(name, f"a dataset of speech at {self.sample_rate} Hz", options, IMAGE_OPTIONS)
    length = self.segment_length if options.segment_length is None else options.segment_length
    if length < 1:
      raise UserError(f"data.segment_length must be at least 1 sample, got {length}")
    check_classes(name, options.classes, self.num_classes)
    return audio_spec(length, self.sample_rate, self.num_classes)

  def load(self, name: str, split: str, options: LoadOptions) -> Split:
    """Reads a whole split into host memory (see the module docstring), preparing the TFDS
    dataset first if needed."""
    spec = self.describe(name, options)
    if options.stream and split == "train":
      return self.streamed_train(name, spec, options)
    waveforms, labels = self._read_split(name, split, options.data_dir)
    if options.classes:
      kept = np.flatnonzero(np.isin(labels, options.classes))
      waveforms, labels = [waveforms[i] for i in kept], labels[kept]
    labelled = {"label": labels} if self.num_classes is not None else {}
    if split == "train":
      return Split({"audio": Ragged.from_list(waveforms, np.int16), **labelled}, spec, name)
    length = spec.x.shape[0]
    counts = np.array([len(waveform) // length for waveform in waveforms])
    if not counts.sum():
      raise UserError(f"no {name} {split} utterance is as long as one evaluation window of data.segment_length="
                      f"{length} samples (the longest has {max(map(len, waveforms), default=0)})")
    windows = np.concatenate([waveform[:count * length].reshape(count, length)
                              for waveform, count in zip(waveforms, counts) if count])
    return Split({"audio": windows, **{key: np.repeat(values, counts) for key, values in labelled.items()}},
                 spec, name)

  def streamed_train(self, name: str, spec: DataSpec, options: LoadOptions) -> Split:
    """The train split's utterances read by index from its array_record files, each batch's
    segments cut as from the in-memory split (of `options.classes` only, if given)."""
    builder = prepared_builder(name, self.tfds_name, options.data_dir, self.offline, AUDIO_DATASETS,
                               file_format=streaming.RANDOM_ACCESS_FORMAT)
    source = streaming.data_source(builder, name, self.train_split)
    if options.classes:
      source = streaming.of_classes(builder, self.train_split, source, self.label_key, options.classes)
    examples = streaming.RandomAccessExamples(source, self.utterances)
    return Split(streaming.columns(examples, spec, variable_length=("audio",)), spec, name)

  def utterances(self, examples: list[dict]) -> dict:
    """Examples as read from TFDS -> {"audio": int16 waveforms [T_i], "label": int32 [N] (-1 without labels)}."""
    labels = [int(example[self.label_key]) if self.label_key else -1 for example in examples]
    return {"audio": [np.asarray(example[self.speech_key], np.int16).reshape(-1) for example in examples],
            "label": np.array(labels, np.int32)}

  def _read_split(self, name: str, split: str, data_dir: str | None) -> tuple[list[np.ndarray], np.ndarray]:
    """(int16 waveforms, int32 labels (-1 without labels)) of every utterance of a split."""
    if split not in SPLITS:
      raise UserError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    builder = prepared_builder(name, self.tfds_name, data_dir, self.offline, AUDIO_DATASETS)
    tfds_split = self.train_split if split == "train" else self.test_split
    if streaming.has_random_access(builder):
      source = streaming.data_source(builder, name, tfds_split)
      read = self.utterances([example for chunk in streaming.in_chunks(source) for example in chunk])
    else:
      dataset = builder.as_dataset(split=tfds_split, shuffle_files=False, read_config=in_file_order(tfds))
      read = self.utterances(list(tfds.as_numpy(dataset)))
    return read["audio"], read["label"]


AUDIO_DATASETS: dict[str, TFDSAudio] = {
    # WaveGlow's segments: 16,000 samples (0.73 s) at 22,050 Hz (Prenger et al. 2019, sec. 3).
    "speech": TFDSAudio("genzoo_speech", 22050, 16000, label_key="speaker", num_classes=6, offline=True),
    "ljspeech": TFDSAudio("ljspeech", 22050, 16000, train_split="train[:13000]", test_split="train[13000:]"),
}
