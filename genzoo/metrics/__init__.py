"""Sample-quality metrics: FID, KID and mode coverage, with an offline feature classifier or the FID
Inception-v3 read from a local weights file."""

from genzoo.metrics.classifier import ClassifierExtractor, default_features_dir, train_feature_classifier
from genzoo.metrics.distances import frechet_distance, kernel_inception_distance, mode_coverage
from genzoo.metrics.inception import InceptionExtractor
from genzoo.metrics.sample_quality import (
    FEATURE_EXTRACTORS, SAMPLE_METRICS, ReferenceSet, check_class_metrics, check_feature_extractor, evaluate_samples, parse_metric_names)

__all__ = [
    "ClassifierExtractor", "FEATURE_EXTRACTORS", "InceptionExtractor", "ReferenceSet", "SAMPLE_METRICS",
    "check_class_metrics", "check_feature_extractor", "default_features_dir", "evaluate_samples", "frechet_distance",
    "kernel_inception_distance", "mode_coverage", "parse_metric_names", "train_feature_classifier",
]
