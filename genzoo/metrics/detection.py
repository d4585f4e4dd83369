"""How well an anomaly score separates out-of-distribution examples from in-distribution ones.

Convention: a score is higher for an example that looks more anomalous (bits/dim, a negative
log-likelihood, ...). AUROC and AUPR-out treat the out-of-distribution examples as the positives;
AUPR-in and the false-positive rate at 95% true positives treat the in-distribution examples as the
positives, as the out-of-distribution literature reports them (Hendrycks & Gimpel 2017). Ties
between scores are never broken in anyone's favour. All run on the host in float64 (numpy).
"""

import numpy as np
from scipy import stats

from genzoo.errors import UserError

TRUE_POSITIVE_RATE = 0.95


def _finite(scores, name: str) -> np.ndarray:
  scores = np.asarray(scores, np.float64).ravel()
  if not scores.size:
    raise UserError(f"no {name} scores to separate")
  if not np.all(np.isfinite(scores)):
    raise UserError(f"{np.sum(~np.isfinite(scores))} of the {scores.size} {name} scores are not finite; "
                    "a detector needs a finite score for every example")
  return scores


def _checked(in_scores, out_scores) -> tuple[np.ndarray, np.ndarray]:
  return _finite(in_scores, "in-distribution"), _finite(out_scores, "out-of-distribution")


def auroc(in_scores, out_scores) -> float:
  """Area under the ROC curve: P(out score > in score) + P(tie) / 2, from the Mann-Whitney U
  statistic on mid-ranks. 1: every out example scores above every in example; 0.5: chance or all
  tied; 0: inverted."""
  in_scores, out_scores = _checked(in_scores, out_scores)
  ranks = stats.rankdata(np.concatenate([in_scores, out_scores]))  # ties share their mean rank
  rank_sum = ranks[in_scores.size:].sum()
  u = rank_sum - out_scores.size * (out_scores.size + 1) / 2
  return float(u / (in_scores.size * out_scores.size))


def average_precision(positive_scores, negative_scores) -> float:
  """Area under the precision-recall curve of flagging scores >= t as positive, as average
  precision: sum over the distinct scores t (high to low) of (recall(t) - recall(t_prev)) *
  precision(t), so examples with tied scores enter the curve together."""
  positive_scores, negative_scores = _finite(positive_scores, "positive"), _finite(negative_scores, "negative")
  scores = np.concatenate([positive_scores, negative_scores])
  is_positive = np.concatenate([np.ones(positive_scores.size), np.zeros(negative_scores.size)])
  thresholds, inverse = np.unique(-scores, return_inverse=True)  # ascending -score: high scores first
  true_positives = np.cumsum(np.bincount(inverse, weights=is_positive, minlength=thresholds.size))
  flagged = np.cumsum(np.bincount(inverse, minlength=thresholds.size))
  recall = true_positives / positive_scores.size
  precision = true_positives / flagged
  return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def fpr_at_tpr(in_scores, out_scores, true_positive_rate: float = TRUE_POSITIVE_RATE) -> float:
  """The fraction of out examples accepted as in-distribution when the threshold accepts
  `true_positive_rate` of the in examples: t is the smallest score with at least that fraction
  of in scores <= t, and every out score <= t counts as a false positive (ties included)."""
  in_scores, out_scores = _checked(in_scores, out_scores)
  needed = int(np.ceil(true_positive_rate * in_scores.size))
  threshold = np.sort(in_scores)[max(needed, 1) - 1]
  return float(np.mean(out_scores <= threshold))


def separation(in_scores, out_scores) -> dict[str, float]:
  """AUROC, AUPR-out, AUPR-in and FPR at 95% TPR of one detector on one out-set."""
  return {"auroc": auroc(in_scores, out_scores),
          "aupr_out": average_precision(out_scores, in_scores),
          "aupr_in": average_precision(-np.asarray(in_scores, np.float64), -np.asarray(out_scores, np.float64)),
          "fpr95": fpr_at_tpr(in_scores, out_scores)}


# -- detectors on top of per-example scores --------------------------------------------------------

TYPICALITY_QUANTILE = 0.99  # of the in-distribution statistic: the test's threshold
BOOTSTRAP_BATCHES = 1000


def batch_means(scores: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
  """The means of `scores` over disjoint random batches of `batch_size` (the remainder dropped)."""
  num_batches = len(scores) // batch_size
  if not num_batches:
    raise UserError(f"typicality batches of {batch_size} need at least {batch_size} examples, got {len(scores)}")
  return rng.permutation(scores)[:num_batches * batch_size].reshape(num_batches, batch_size).mean(axis=1)


def typicality_test(reference: np.ndarray, inside: np.ndarray, outside: np.ndarray, batch_size: int,
                    seed: int = 0) -> dict[str, float]:
  """The typicality test of Nalisnick et al. 2019 ("Detecting out-of-distribution inputs to deep
  generative models using typicality", sec. 3): a batch of M inputs is atypical when its mean
  score (e.g. bits/dim, an estimate of the per-example entropy rate) is far from the model's
  entropy, estimated by the mean over held-out in-distribution `reference` scores:
  statistic |mean_M - H|. The threshold is the 0.99 quantile of the statistic over bootstrap
  batches of the reference. Returns the separation of in and out batches (disjoint batches of
  `inside` and `outside`) with the threshold and the fractions of in and out batches flagged."""
  reference = _finite(reference, "reference")
  inside, outside = _checked(inside, outside)
  rng = np.random.default_rng([seed, batch_size])
  entropy = reference.mean()
  bootstrap = rng.choice(reference, (BOOTSTRAP_BATCHES, batch_size)).mean(axis=1)
  threshold = float(np.quantile(np.abs(bootstrap - entropy), TYPICALITY_QUANTILE))
  in_statistic = np.abs(batch_means(inside, batch_size, rng) - entropy)
  out_statistic = np.abs(batch_means(outside, batch_size, rng) - entropy)
  return {**separation(in_statistic, out_statistic), "threshold": threshold,
          "in_flagged": float(np.mean(in_statistic > threshold)), "out_flagged": float(np.mean(out_statistic > threshold)),
          "in_batches": len(in_statistic), "out_batches": len(out_statistic)}
