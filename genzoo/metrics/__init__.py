"""Sample-quality metrics: FID, KID and mode coverage, with an offline feature classifier."""

from genzoo.metrics.classifier import ClassifierExtractor, default_features_dir, train_feature_classifier
from genzoo.metrics.distances import frechet_distance, kernel_inception_distance, mode_coverage
from genzoo.metrics.sample_quality import SAMPLE_METRICS, evaluate_samples, parse_metric_names

__all__ = [
    "ClassifierExtractor", "SAMPLE_METRICS", "default_features_dir", "evaluate_samples",
    "frechet_distance", "kernel_inception_distance", "mode_coverage", "parse_metric_names",
    "train_feature_classifier",
]
