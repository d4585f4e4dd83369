"""Sample-quality metrics: FID, KID and mode coverage, with an offline feature classifier or the FID
Inception-v3 read from a local weights file; for vocoders, the log-mel distance of re-synthesised
test waveforms (against Griffin-Lim's)."""

from genzoo.metrics.classifier import ClassifierExtractor, default_features_dir, train_feature_classifier
from genzoo.metrics.distances import frechet_distance, kernel_inception_distance, mode_coverage
from genzoo.metrics.inception import InceptionExtractor
from genzoo.metrics.resynthesis import RESYNTHESIS_METRICS, check_resynthesis_metrics, resynthesis_scores
from genzoo.metrics.sample_quality import (
    FEATURE_EXTRACTORS, IMAGE_METRICS, SAMPLE_METRICS, ReferenceSet, check_class_metrics, check_feature_extractor, check_image_metrics, evaluate_samples, parse_metric_names)

__all__ = [
    "ClassifierExtractor", "FEATURE_EXTRACTORS", "IMAGE_METRICS", "InceptionExtractor", "RESYNTHESIS_METRICS",
    "ReferenceSet", "SAMPLE_METRICS", "check_class_metrics", "check_image_metrics", "check_resynthesis_metrics", "check_feature_extractor", "default_features_dir", "evaluate_samples", "frechet_distance",
    "kernel_inception_distance", "mode_coverage", "parse_metric_names", "resynthesis_scores", "train_feature_classifier",
]
