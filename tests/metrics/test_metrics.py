import json

import numpy as np
import pytest

from genzoo import data as datasets
from genzoo import metrics
from genzoo.metrics import distances


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory):
  """A feature classifier trained briefly on the embedded 8x8 digits, and the test split."""
  root = tmp_path_factory.mktemp("features")
  data_dir = str(root / "tfds")
  meta = metrics.train_feature_classifier("digits", str(root), data_dir=data_dir, steps=150)
  extractor = metrics.ClassifierExtractor.load("digits", str(root))
  return meta, extractor, datasets.load("digits", "test", data_dir=data_dir), str(root)


def test_classifier_is_trained_and_cached(digits_classifier):
  meta, extractor, test, _ = digits_classifier
  assert meta["test_accuracy"] > 0.85 and meta["num_classes"] == 10
  features, classes = extractor.outputs(test["image"], test.spec.x.levels)
  assert features.shape == (359, 128) and classes.shape == (359,)


def test_images_the_classifier_was_not_trained_on_are_refused(digits_classifier):
  _, extractor, test, _ = digits_classifier
  with pytest.raises(ValueError, match=r"the classifier:digits extractor takes \(8, 8, 1\) images of 17 levels; "
                     r"got \(8, 8, 1\) images of 2 levels. Train a classifier on this data"):
    extractor.outputs(test["image"], 2)


def test_real_test_data_covers_every_mode(digits_classifier):
  _, extractor, test, _ = digits_classifier
  _, classes = extractor.outputs(test["image"], test.spec.x.levels)
  coverage = distances.mode_coverage(classes, 10)
  assert coverage["modes_covered"] == 10 and coverage["mode_kl"] < 0.05


def test_mode_coverage_of_a_single_class():
  coverage = distances.mode_coverage(np.full(500, 3), 10)
  assert coverage["modes_covered"] == 1 and coverage["mode_kl"] == pytest.approx(np.log(10))


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
  rng = np.random.default_rng(0)
  features = rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16))
  assert abs(distances.frechet_distance(features, features)) < 1e-6
  noisy = [distances.frechet_distance(features, features + rng.normal(scale=s, size=features.shape))
           for s in (0.1, 0.5, 2.0)]
  assert 0 < noisy[0] < noisy[1] < noisy[2]


def test_fid_of_gaussians_matches_the_closed_form():
  """Isotropic Gaussians: FID = |mu_a - mu_b|^2 + d (s_a - s_b)^2."""
  rng = np.random.default_rng(1)
  a, b = rng.normal(0.0, 1.0, (200_000, 3)), rng.normal(0.5, 2.0, (200_000, 3))
  assert distances.frechet_distance(a, b) == pytest.approx(3 * 0.25 + 3 * 1.0, rel=0.02)


def test_kid_is_unbiased_on_samples_of_one_distribution():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(1000, 32)), rng.normal(size=(1000, 32))
  mean, std = distances.kernel_inception_distance(a, b, subset_size=200, num_subsets=50)
  assert abs(mean) < 3 * std / np.sqrt(50) + 1e-4
  shifted, _ = distances.kernel_inception_distance(a, b + 0.5, subset_size=200, num_subsets=50)
  assert shifted > 10 * std


def test_kid_with_fewer_than_two_samples_is_refused():
  with pytest.raises(ValueError, match=r"KID needs at least 2 samples in each set, got 1 and 5"):
    distances.kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))


def test_fid_with_fewer_samples_than_features_says_what_to_do():
  with pytest.raises(ValueError, match=r"FID needs more samples than feature dimensions: the first set has 100 "
                     r"samples of 128-dimensional features. Use at least 129 samples"):
    distances.frechet_distance(np.zeros((100, 128)), np.zeros((500, 128)))


def test_missing_classifier_and_unknown_metrics_are_explained(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"no feature classifier for dataset 'mnist5k' in .*"
                     r"Train one with `genzoo train-features --dataset mnist5k`"):
    metrics.ClassifierExtractor.load("mnist5k", str(tmp_path))
  with pytest.raises(ValueError, match=r"unknown sample metrics \['is'\]; known: \['fid', 'kid', 'modes', 'class_consistency', 'intra_fid', 'log_mel_distance'\]"):
    metrics.parse_metric_names("fid,is")


@pytest.fixture(scope="module")
def sngan_smoke_run(experiment, digits_classifier, tmp_path_factory):
  """An SN-GAN smoke run scored with FID, KID and modes at its evaluation: (final metrics, workdir)."""
  from genzoo import runner

  *_, features_dir = digits_classifier
  root = tmp_path_factory.mktemp("sngan")
  config = experiment("sngan", "smoke")
  config.data.data_dir = str(root / "tfds")
  config.eval.sample_metrics = "fid,kid,modes"
  config.eval.metric_samples = 200
  config.eval.features_dir = features_dir
  return runner.train_and_evaluate(config, str(root / "run")), str(root / "run")


def test_sample_metrics_of_a_gan_smoke_run(sngan_smoke_run):
  final, workdir = sngan_smoke_run
  assert final["fid"] > 0 and np.isfinite(final["kid"]) and 1 <= final["modes_covered"] <= 10
  assert final["metrics_protocol"] == ("classifier:digits features; 200 samples against the 359 images "
                                       "of the digits test split")
  with open(f"{workdir}/metrics.jsonl") as f:
    logged = json.loads(f.readlines()[-1])
  assert logged["eval/fid"] == final["fid"] and logged["eval/metrics_protocol"] == final["metrics_protocol"]


def test_eval_scores_samples_through_the_cli(sngan_smoke_run, digits_classifier, run_cli, capsys):
  final, workdir = sngan_smoke_run
  *_, features_dir = digits_classifier
  run_cli("eval", f"--workdir={workdir}", "--metrics", "fid,modes", "--features-dir", features_dir)
  printed = json.loads(capsys.readouterr().out)
  assert printed["step"] == 6 and printed["fid"] > 0 and "kid" not in printed
  assert printed["modes_covered"] == final["modes_covered"]  # same checkpoint, same sample stream
  with open(f"{workdir}/eval_6.json") as f:
    assert json.load(f)["fid"] == printed["fid"]


def test_inception_features_without_weights_fail_before_anything_runs(sngan_smoke_run, user_error):
  _, workdir = sngan_smoke_run
  message = user_error("eval", f"--workdir={workdir}", "--metrics", "fid", "--extractor", "inception")
  assert "needs the FID Inception-v3 weights, and no weights file was given" in message


def test_feature_classifier_needs_labels(tmp_path):
  import tensorflow_datasets as tfds  # after distrax: TF imported first makes TFP look for tf_keras

  with tfds.testing.mock_data(num_examples=8):
    with pytest.raises(ValueError, match=r"dataset 'celeb_a' is not labelled images \(image data, no classes\); the feature classifier needs them"):
      metrics.train_feature_classifier("celeb_a", str(tmp_path), data_dir=str(tmp_path / "tfds"), steps=1)
  assert not (tmp_path / "celeb_a").exists()


def test_vae_samples_are_scored_like_gan_samples(experiment, digits_classifier):
  """The runner's sample metrics on an untrained VAE: its samples (the data's levels, as in every
  family) go through the same extractor and give finite scores."""
  from genzoo import runner

  *_, test, features_dir = digits_classifier
  config = experiment("vae", "smoke")
  config.eval.update(sample_metrics="fid,modes", metric_samples=150, features_dir=features_dir)
  session = runner.Session.create(config, test.spec)
  state = session.init_state({"image": test["image"][:40], "label": test["label"][:40]})
  evaluator = runner.Evaluator(session, test)
  scores = evaluator.sample_metrics(state)
  assert np.isfinite(scores["fid"]) and 1 <= scores["modes_covered"] <= 10
  assert scores["metrics_protocol"].startswith("classifier:digits features; 150 samples")
  assert list(evaluator.reference._outputs) == ["classifier:digits"]  # kept for the next evaluation


def images_of_classes(test):
  """generate(index, size, labels): test images of the requested classes (any class if None)."""
  rng = np.random.default_rng(0)
  by_class = {label: test["image"][test["label"] == label] for label in range(10)}

  def generate(index, size, labels):
    labels = rng.integers(0, 10, size) if labels is None else labels
    return np.stack([by_class[int(label)][rng.integers(len(by_class[int(label)]))] for label in labels])

  return generate


def test_class_consistency_is_the_classifiers_accuracy_on_the_requested_classes(digits_classifier):
  meta, extractor, test, _ = digits_classifier
  reference = metrics.ReferenceSet("digits test", test["image"], 17, test["label"])
  faithful = metrics.evaluate_samples(images_of_classes(test), reference, ("class_consistency",), num_samples=200,
                                      batch_size=10, feature_extractor=None, classifier=extractor, num_classes=10)
  assert faithful["class_consistency"] > 0.85 and len(faithful["class_consistency_per_class"]) == 10
  assert faithful["class_metrics_protocol"] == "20 samples of each of 10 classes; consistency by classifier:digits"
  generate = images_of_classes(test)
  ignoring = metrics.evaluate_samples(lambda index, size, labels: generate(index, size, np.zeros(size, int)),
                                      reference, ("class_consistency",), num_samples=200, batch_size=10,
                                      feature_extractor=None, classifier=extractor, num_classes=10)
  assert ignoring["class_consistency"] < 0.2 and ignoring["class_consistency_per_class"][0] > 0.85


class PixelFeatures:
  """A stand-in extractor: the pixels are the features."""

  name = "pixels"

  def outputs(self, images, num_levels):
    return images.reshape(len(images), -1).astype(np.float64), None


def test_intra_class_fid_compares_each_class_with_its_own_images():
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 400)
  centres = 3.0 * np.eye(3, 4)  # class c: Gaussian features around its own centre
  images = (centres[labels] + rng.normal(size=(1200, 4))).reshape(1200, 2, 2, 1)
  reference = metrics.ReferenceSet("gaussians", images, 2, labels)

  def generate(shift):
    return lambda index, size, requested: (centres[(requested + shift) % 3] + rng.normal(size=(size, 4))).reshape(
        size, 2, 2, 1)

  faithful, swapped = (metrics.evaluate_samples(generate(shift), reference, ("intra_fid",), num_samples=600,
                                                batch_size=50, feature_extractor=PixelFeatures(), num_classes=3)
                       for shift in (0, 1))
  assert faithful["intra_fid"] < 0.2 and swapped["intra_fid"] > 10.0
  assert len(faithful["intra_fid_per_class"]) == 3
  with pytest.raises(ValueError, match=r"FID needs more samples than feature dimensions: class 0's samples"):
    metrics.evaluate_samples(generate(0), reference, ("intra_fid",), num_samples=9, batch_size=3,
                             feature_extractor=PixelFeatures(), num_classes=3)
