"""Evaluation over a whole split: the task's metrics from exact per-example sums, and the
sample-quality scores of `eval.sample_metrics`. One `Evaluator` serves a whole run: its eval step
compiles once, and the feature extractors and the reference split's features are computed once."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from genzoo import data as datasets
from genzoo import metrics
from genzoo.runner.session import (EVAL_STREAM, METRICS_STREAM, Session, chief_print, conditional_classes, is_chief,
                                   load_split, stream)


class Evaluator:
  """Test metrics of any state of `session`'s task over the whole of `test_data`."""

  def __init__(self, session: Session, test_data: datasets.Split):
    self.session, self.test_data = session, test_data
    self.config = session.config

  @functools.cached_property
  def reference(self) -> metrics.ReferenceSet:
    """The test split that samples are compared with (its features computed once)."""
    return self.reference_set(self.test_data, "test")

  @functools.cached_property
  def class_reference(self) -> metrics.ReferenceSet:
    """The training split, which intra-class FID compares each class's samples with: the
    per-class test sets of the small datasets hold fewer images than the features have dimensions."""
    return self.reference_set(load_split(self.config, "train"), "training")

  def reference_set(self, data: datasets.Split, split: str) -> metrics.ReferenceSet:
    labels = data["label"] if data.spec.num_classes is not None else None
    return metrics.ReferenceSet(f"the {data.name} {split} split", self.unpadded(data[data.spec.target]),
                                data.spec.x.levels, labels)

  def unpadded(self, images: np.ndarray) -> np.ndarray:
    """Images without the `data.pad` border, in the dataset's own frame (which its feature
    classifier is trained on)."""
    pad = self.config.data.get("pad", 0)
    return images[:, pad:images.shape[1] - pad, pad:images.shape[2] - pad] if pad else images

  @functools.cached_property
  def eval_step(self):
    return self.session.jit_eval_step()

  def __call__(self, state) -> dict:
    return {**self.task_metrics(state), **self.sample_metrics(state)}

  def task_metrics(self, state) -> dict:
    """Per-batch sums over the split (the last batch padded and masked), summarised by the task."""
    eval_rng = stream(self.config, EVAL_STREAM)
    batches = datasets.eval_batches(
        self.test_data, self.config.data.eval_batch_size,
        process_index=jax.process_index(), process_count=jax.process_count(),
    )
    sums = None
    for index, local_batch in enumerate(batches):
      batch_sums = self.eval_step(state, self.session.parallel.global_batch(local_batch),
                                  jax.random.fold_in(eval_rng, index))
      sums = batch_sums if sums is None else jax.tree.map(jnp.add, sums, batch_sums)
    return self.session.task.summarize(jax.device_get(sums))

  def sample_metrics(self, state) -> dict:
    """The scores `eval.sample_metrics` lists (nothing if empty) of `eval.metric_samples`
    samples drawn at `eval.sample_temperature`, on images without their `data.pad` border:
    FID/KID/mode coverage against the test split and, for a class-conditional model, class
    consistency and intra-class FID (see `metrics.evaluate_samples`); for a vocoder, the log-mel
    distance of its re-syntheses of test examples. Configs stored before these keys read as empty."""
    names = metrics.parse_metric_names(self.config.eval.get("sample_metrics", ""))
    image_names = tuple(name for name in names if name in metrics.IMAGE_METRICS)
    rng = stream(self.config, METRICS_STREAM)
    temperature = self.config.eval.get("sample_temperature", 1.0)
    scores = self.image_metrics(state, image_names, rng, temperature) if image_names else {}
    if set(names) & set(metrics.RESYNTHESIS_METRICS):
      scores.update(self.resynthesis_metrics(state, jax.random.fold_in(rng, 1), temperature))
    return {**scores, "sample_temperature": temperature} if scores else {}

  def resynthesis_metrics(self, state, rng, temperature: float) -> dict:
    """The log-mel distance of the first `eval.metric_samples` test examples re-synthesised from
    their features, and Griffin-Lim's (see `metrics.resynthesis`). The model's draws and
    Griffin-Lim's initial phases come from two independent streams of `rng`."""
    model_rng, baseline_rng = jax.random.split(rng)

    def resynthesise(index: int, originals: np.ndarray) -> np.ndarray:
      return self.session.sample(state, len(originals), temperature, jax.random.fold_in(model_rng, index),
                                 given=originals).values

    return metrics.resynthesis_scores(
        resynthesise, self.test_data[self.test_data.spec.target], self.test_data.spec.x.sample_rate,
        self.config.eval.get("metric_samples", 1000), self.config.data.eval_batch_size, baseline_rng)

  def image_metrics(self, state, names: tuple[str, ...], rng, temperature: float) -> dict:
    """FID, KID, mode coverage and the class metrics among `names`."""
    num_classes = conditional_classes(self.session.task)

    def generate(index: int, size: int, labels: np.ndarray | None) -> np.ndarray:
      batch_rng = jax.random.fold_in(rng, index)
      if labels is not None:  # each class its own draws
        batch_rng = jax.random.fold_in(batch_rng, 1 + int(labels[0]))
      return self.unpadded(self.session.sample(state, size, temperature, batch_rng, labels).values)

    return metrics.evaluate_samples(
        generate, self.reference, names, num_samples=self.config.eval.get("metric_samples", 1000),
        batch_size=self.config.data.eval_batch_size,
        feature_extractor=self.feature_extractor if {"fid", "kid", "intra_fid"} & set(names) else None,
        classifier=self.classifier if {"modes", "class_consistency"} & set(names) else None,
        num_classes=num_classes, class_reference=self.class_reference if "intra_fid" in names else None)

  @functools.cached_property
  def feature_extractor(self):
    """FID/KID features, per `eval.feature_extractor`: the dataset's classifier (default) or the
    FID Inception-v3 read from `eval.inception_weights`."""
    if self.config.eval.get("feature_extractor", "classifier") == "inception":
      return metrics.InceptionExtractor.load(self.config.eval.get("inception_weights"))
    return self.classifier

  @functools.cached_property
  def classifier(self) -> metrics.ClassifierExtractor:
    """The data's feature classifier, loaded (or trained first)."""
    return load_or_train_feature_extractor(
        self.config.data.name, self.config.eval.get("features_dir"), self.config.data.data_dir)


def load_or_train_feature_extractor(dataset: str, features_dir: str | None, data_dir: str | None):
  """The dataset's feature classifier, trained and cached first if there is none yet."""
  try:
    return metrics.ClassifierExtractor.load(dataset, features_dir)
  except FileNotFoundError:
    chief_print(f"no feature classifier cached for {dataset!r} yet: training one (`genzoo train-features`)")
  if is_chief():
    print(json.dumps(metrics.train_feature_classifier(dataset, features_dir, data_dir=data_dir)), flush=True)
  multihost_utils.sync_global_devices("genzoo:feature_classifier")
  return metrics.ClassifierExtractor.load(dataset, features_dir)
