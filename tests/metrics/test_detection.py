"""Detection statistics against cases computed by hand."""

import numpy as np
import pytest

from genzoo.errors import UserError
from genzoo.metrics import detection


def test_perfect_and_inverted_separation():
  inside, outside = np.arange(20.0), np.arange(100.0, 110.0)
  assert detection.separation(inside, outside) == {"auroc": 1.0, "aupr_out": 1.0, "aupr_in": 1.0, "fpr95": 0.0}
  inverted = detection.separation(outside, inside)
  assert inverted["auroc"] == 0.0
  assert inverted["fpr95"] == 1.0


def test_ties_count_half_and_are_never_split():
  # in [0, 1, 2, 3], out [2, 5]: out 2 beats 0 and 1 and ties 2 (2.5 of 4), out 5 beats all 4.
  assert detection.auroc([0, 1, 2, 3], [2, 5]) == pytest.approx(6.5 / 8)
  # All tied: chance, precision at the single threshold is the positives' share, every out accepted.
  tied = detection.separation(np.ones(6), np.ones(2))
  assert tied["auroc"] == 0.5
  assert tied["aupr_out"] == pytest.approx(2 / 8)
  assert tied["aupr_in"] == pytest.approx(6 / 8)
  assert tied["fpr95"] == 1.0


def test_average_precision_by_hand():
  # Scores high to low: 5 (pos), 4 (neg), 3 (pos), 2 (neg): AP = 1/2 * 1 + 1/2 * 2/3.
  assert detection.average_precision([5, 3], [4, 2]) == pytest.approx(0.5 + 1 / 3)
  # A tie between a positive and a negative at the top: one point, precision 1/2, recall 1/2.
  assert detection.average_precision([5, 1], [5, 0]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_false_positive_rate_at_95_percent_of_the_in_examples():
  inside = np.arange(1.0, 101.0)  # the threshold that accepts 95 of 100 is 95
  assert detection.fpr_at_tpr(inside, [94.0, 95.0, 95.5, 200.0]) == 0.5  # 94 and 95 (a tie) are accepted
  assert detection.fpr_at_tpr(inside, [96.0]) == 0.0


def test_scores_that_cannot_be_separated_are_refused():
  with pytest.raises(UserError, match="1 of the 3 out-of-distribution scores are not finite"):
    detection.auroc([1.0, 2.0], [1.0, np.nan, 3.0])
  with pytest.raises(UserError, match="no in-distribution scores to separate"):
    detection.separation([], [1.0])


def test_typicality_flags_batches_far_from_the_entropy_in_either_direction():
  """Out scores half far below and half far above the in scores' mean: raw likelihood is at
  chance, the typicality test separates them (Nalisnick et al. 2019's point)."""
  rng = np.random.default_rng(0)
  reference, inside = rng.normal(2.0, 0.1, 500), rng.normal(2.0, 0.1, 500)
  outside = np.concatenate([rng.normal(1.5, 0.1, 250), rng.normal(2.5, 0.1, 250)])
  assert detection.auroc(inside, outside) == pytest.approx(0.5, abs=0.05)
  single = detection.typicality_test(reference, inside, outside, batch_size=1)
  assert single["auroc"] > 0.99 and single["in_flagged"] < 0.03 and single["out_flagged"] > 0.97
  assert single["in_batches"] == 500 and single["out_batches"] == 500
  assert detection.typicality_test(reference, inside, outside, batch_size=5)["in_batches"] == 100


def test_a_simple_image_compresses_shorter_than_noise():
  from genzoo.metrics import complexity

  rng = np.random.default_rng(0)
  constant = np.full((3, 28, 28, 1), 200, np.uint8)
  noise = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
  for codec in complexity.CODECS:
    assert np.all(complexity.compressed_bits(constant, codec) < complexity.compressed_bits(noise, codec) / 3)
  with pytest.raises(UserError, match=r"unknown codec 'flif'; lossless codecs: \['png', 'jpeg2000'\]"):
    complexity.compressed_bits(constant, "flif")
