"""Sample-quality metrics of any model family: FID, KID and mode coverage of generated images
against a dataset split, in the features of an extractor (`metrics.classifier` trained by genzoo,
or `metrics.inception` with a local weights file); and for class-conditional models, class
consistency and intra-class FID of the samples generated for each requested class."""

import dataclasses
from collections.abc import Callable

import numpy as np

from genzoo.errors import UserError
from genzoo.metrics.resynthesis import RESYNTHESIS_METRICS
from genzoo.metrics import distances, inception

IMAGE_METRICS = ("fid", "kid", "modes", "class_consistency", "intra_fid")
SAMPLE_METRICS = IMAGE_METRICS + RESYNTHESIS_METRICS
CLASS_METRICS = ("class_consistency", "intra_fid")  # of class-conditional models only
Generate = Callable[[int, int, np.ndarray | None], np.ndarray]
FEATURE_EXTRACTORS = ("classifier", "inception")


def parse_metric_names(text: str) -> tuple[str, ...]:
  """'fid,kid' -> ('fid', 'kid'); '' -> (); unknown names are refused."""
  names = tuple(name.strip() for name in text.split(",") if name.strip())
  unknown = [name for name in names if name not in SAMPLE_METRICS]
  if unknown:
    raise UserError(f"unknown sample metrics {unknown}; known: {list(SAMPLE_METRICS)} (comma-separated)")
  return names


def check_image_metrics(names: tuple[str, ...], kind: str) -> None:
  """Refuses the image metrics among `names` for data of another `kind`."""
  asked = [name for name in names if name in IMAGE_METRICS]
  if asked and kind != "image":
    raise UserError(f"{' and '.join(asked)} score generated images, and this model generates {kind} data")


def check_class_metrics(names: tuple[str, ...], num_classes: int) -> None:
  """Refuses the class metrics among `names` for an unconditional model (`num_classes` 0)."""
  asked = [name for name in names if name in CLASS_METRICS]
  if asked and not num_classes:
    raise UserError(f"{' and '.join(asked)} score samples generated for requested classes, but this model is "
                    "unconditional; set model.num_classes to the data's classes to train a class-conditional one")


def check_feature_extractor(name: str, inception_weights: str | None = None) -> None:
  """Refuses an unknown extractor name, and "inception" without its weights file."""
  if name not in FEATURE_EXTRACTORS:
    raise UserError(f"unknown feature extractor {name!r}; known: {list(FEATURE_EXTRACTORS)}")
  if name == "inception":
    inception.check_weights_file(inception_weights)


@dataclasses.dataclass(eq=False)
class ReferenceSet:
  """The real images samples are compared with. Their features are computed once per extractor
  and kept, so a run that scores its samples at every evaluation reads them once."""

  name: str
  images: np.ndarray
  num_levels: int
  labels: np.ndarray | None = None
  _outputs: dict = dataclasses.field(default_factory=dict, repr=False)

  def outputs(self, extractor) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, predicted classes or None) of the images in `extractor`'s features."""
    if extractor.name not in self._outputs:
      self._outputs[extractor.name] = extractor.outputs(self.images, self.num_levels)
    return self._outputs[extractor.name]

  def class_features(self, extractor, label: int) -> np.ndarray:
    """The features of the images of class `label`."""
    if self.labels is None:
      raise UserError(f"intra-class FID needs labelled reference images; {self.name} has no labels")
    features, _ = self.outputs(extractor)
    return features[self.labels == label]


def evaluate_samples(generate: Generate, reference: ReferenceSet, names: tuple[str, ...], num_samples: int,
                     batch_size: int, feature_extractor, classifier=None, num_classes: int = 0,
                     class_reference: ReferenceSet | None = None) -> dict:
  """Scores generated images against `reference`. `generate(batch_index, batch_size, labels)`
  returns uint8 images in the data's levels (every batch has the same size, so the sampler
  compiles once); `labels` [batch_size] asks a class-conditional model for those classes, None
  for its own draw. FID and KID use the features of `feature_extractor` (the dataset's classifier
  or Inception-v3) and mode coverage `classifier`'s predicted classes, on `num_samples` images.
  The class metrics of a model conditioned on `num_classes` classes score `num_samples /
  num_classes` images per class (see `class_metrics`) against `class_reference`. The result
  records the protocol next to the numbers: extractor, sample count and reference split."""
  if ("modes" in names or "class_consistency" in names) and classifier is None:
    raise UserError("mode coverage and class consistency need the dataset's feature classifier "
                    "(`genzoo train-features`)")
  results = {}
  pooled = [name for name in names if name not in CLASS_METRICS]
  if pooled:
    samples = generate_many(generate, num_samples, batch_size, None)
    results.update(pooled_metrics(samples, reference, pooled, feature_extractor, classifier))
  if set(CLASS_METRICS) & set(names):
    results.update(class_metrics(generate, class_reference or reference, names, -(-num_samples // max(num_classes, 1)),
                                 batch_size, num_classes, feature_extractor, classifier))
  return results


def generate_many(generate: Generate, num_samples: int, batch_size: int, label: int | None) -> np.ndarray:
  """`num_samples` images in batches of `batch_size` (of class `label`, or the model's own draw)."""
  labels = None if label is None else np.full((batch_size,), label, np.int32)
  num_batches = -(-num_samples // batch_size)
  return np.concatenate([np.asarray(generate(index, batch_size, labels)) for index in range(num_batches)])[:num_samples]


def pooled_metrics(samples: np.ndarray, reference: ReferenceSet, names: list[str], feature_extractor,
                   classifier) -> dict:
  """FID, KID and mode coverage of `samples` (as `names` asks) against the whole of `reference`."""
  results = {}
  scores_features = "fid" in names or "kid" in names
  if scores_features:
    fake_features, _ = feature_extractor.outputs(samples, reference.num_levels)
    real_features, _ = reference.outputs(feature_extractor)
    if "fid" in names:
      results["fid"] = distances.frechet_distance(real_features, fake_features)
    if "kid" in names:
      results["kid"], results["kid_std"] = distances.kernel_inception_distance(real_features, fake_features)
  if "modes" in names:
    _, classes = classifier.outputs(samples, reference.num_levels)
    results.update(distances.mode_coverage(classes, classifier.num_classes))
    results["num_classes"] = classifier.num_classes
  extractors = [extractor.name for extractor, used in (
      (feature_extractor, scores_features), (classifier, "modes" in names)) if used]
  results["metrics_protocol"] = (
      f"{' and '.join(dict.fromkeys(extractors))} features; {len(samples)} samples against the "
      f"{len(reference.images)} images of {reference.name}")
  return results


def class_metrics(generate: Generate, reference: ReferenceSet, names: tuple[str, ...], per_class: int,
                  batch_size: int, num_classes: int, feature_extractor, classifier) -> dict:
  """For a model conditioned on `num_classes` classes, `per_class` samples of each class:
    class consistency: the fraction the dataset's classifier assigns to the requested class
      (per class and the mean over classes);
    intra-class FID: the FID of each class's samples against `reference`'s images of that class
      (Miyato & Koyama 2018, sec. 5), per class and the mean."""
  check_class_metrics(names, num_classes)
  consistency, intra_fid = [], []
  for label in range(num_classes):
    samples = generate_many(generate, per_class, batch_size, label)
    if "class_consistency" in names:
      _, predicted = classifier.outputs(samples, reference.num_levels)
      consistency.append(float(np.mean(predicted == label)))
    if "intra_fid" in names:
      real_features = reference.class_features(feature_extractor, label)
      fake_features, _ = feature_extractor.outputs(samples, reference.num_levels)
      distances.check_enough_samples(real_features, f"class {label} of {reference.name}")
      distances.check_enough_samples(fake_features, f"class {label}'s samples (eval.metric_samples / {num_classes})")
      intra_fid.append(distances.frechet_distance(real_features, fake_features))
  results = {}
  if consistency:
    results.update(class_consistency=float(np.mean(consistency)), class_consistency_per_class=consistency)
  if intra_fid:
    results.update(intra_fid=float(np.mean(intra_fid)), intra_fid_per_class=intra_fid)
  parts = [f"{per_class} samples of each of {num_classes} classes"]
  if consistency:
    parts.append(f"consistency by {classifier.name}")
  if intra_fid:
    parts.append(f"intra-class FID in {feature_extractor.name} features against each class of {reference.name}")
  results["class_metrics_protocol"] = "; ".join(parts)
  return results
