"""Sample-quality metrics of any model family: FID, KID and mode coverage of generated images
against a dataset split, in the features of an extractor (`metrics.classifier` trained by genzoo,
or `metrics.inception` with a local weights file)."""

import dataclasses
from collections.abc import Callable

import numpy as np

from genzoo.errors import UserError
from genzoo.metrics import distances, inception

SAMPLE_METRICS = ("fid", "kid", "modes")
FEATURE_EXTRACTORS = ("classifier", "inception")


def parse_metric_names(text: str) -> tuple[str, ...]:
  """'fid,kid' -> ('fid', 'kid'); '' -> (); unknown names are refused."""
  names = tuple(name.strip() for name in text.split(",") if name.strip())
  unknown = [name for name in names if name not in SAMPLE_METRICS]
  if unknown:
    raise UserError(f"unknown sample metrics {unknown}; known: {list(SAMPLE_METRICS)} (comma-separated)")
  return names


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
  _outputs: dict = dataclasses.field(default_factory=dict, repr=False)

  def outputs(self, extractor) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, predicted classes or None) of the images in `extractor`'s features."""
    if extractor.name not in self._outputs:
      self._outputs[extractor.name] = extractor.outputs(self.images, self.num_levels)
    return self._outputs[extractor.name]


def evaluate_samples(generate: Callable[[int, int], np.ndarray], reference: ReferenceSet,
                     names: tuple[str, ...], num_samples: int, batch_size: int,
                     feature_extractor, classifier=None) -> dict:
  """Scores `num_samples` images from `generate(batch_index, batch_size)` (uint8, the data's
  levels; every batch has the same size, so the sampler compiles once) against `reference`: FID
  and KID in the features of `feature_extractor` (the dataset's classifier or Inception-v3), mode
  coverage with `classifier`'s predicted classes. The result records the protocol next to the
  numbers: extractor, sample count and reference split."""
  if "modes" in names and classifier is None:
    raise UserError("mode coverage needs the dataset's feature classifier (`genzoo train-features`)")
  num_batches = -(-num_samples // batch_size)
  samples = np.concatenate([np.asarray(generate(index, batch_size)) for index in range(num_batches)])[:num_samples]
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
      f"{' and '.join(dict.fromkeys(extractors))} features; {num_samples} samples against the "
      f"{len(reference.images)} images of {reference.name}")
  return results
