"""Sample-quality metrics of any model family: FID, KID and mode coverage of generated images
against a dataset split, in the features of an extractor (see `metrics.classifier`)."""

from collections.abc import Callable

import numpy as np

from genzoo.metrics import distances

SAMPLE_METRICS = ("fid", "kid", "modes")


def parse_metric_names(text: str) -> tuple[str, ...]:
  """'fid,kid' -> ('fid', 'kid'); '' -> (); unknown names are refused."""
  names = tuple(name.strip() for name in text.split(",") if name.strip())
  unknown = [name for name in names if name not in SAMPLE_METRICS]
  if unknown:
    raise ValueError(f"unknown sample metrics {unknown}; known: {list(SAMPLE_METRICS)} (comma-separated)")
  return names


def evaluate_samples(generate: Callable[[int, int], np.ndarray], reference_images: np.ndarray,
                     num_levels: int, extractor, names: tuple[str, ...], num_samples: int,
                     batch_size: int, reference_name: str) -> dict:
  """Scores `num_samples` images from `generate(batch_index, size)` (uint8, the data's levels)
  against `reference_images`. The result records the protocol next to the numbers: extractor,
  sample count and reference split."""
  samples = np.concatenate([
      np.asarray(generate(index, min(batch_size, num_samples - start)))
      for index, start in enumerate(range(0, num_samples, batch_size))])
  fake_features, fake_classes = extractor.outputs(samples, num_levels)
  real_features, _ = extractor.outputs(reference_images, num_levels)
  results = {}
  if "fid" in names:
    results["fid"] = distances.frechet_distance(real_features, fake_features)
  if "kid" in names:
    results["kid"], results["kid_std"] = distances.kernel_inception_distance(real_features, fake_features)
  if "modes" in names:
    results.update(distances.mode_coverage(fake_classes, extractor.num_classes))
    results["num_classes"] = extractor.num_classes
  results["metrics_protocol"] = (
      f"{extractor.name} features; {num_samples} samples against the {len(reference_images)} "
      f"images of {reference_name}")
  return results
