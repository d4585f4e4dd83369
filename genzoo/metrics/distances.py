"""Sample-quality statistics on feature vectors: FID, KID and mode coverage.

All run on the host in float64 (numpy): they are computed once per evaluation, on a few thousand
vectors, and FID's matrix square root needs the precision.
"""

import numpy as np

from genzoo.errors import UserError


def check_enough_samples(features: np.ndarray, what: str) -> None:
  """FID's covariance of d-dimensional features is singular with d or fewer samples."""
  count, dim = features.shape
  if count <= dim:
    raise UserError(
        f"FID needs more samples than feature dimensions: {what} has {count} samples of "
        f"{dim}-dimensional features. Use at least {dim + 1} samples (eval.metric_samples, or a "
        "larger reference split), or an extractor with fewer features.")


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and (unbiased) covariance of [N, d] features."""
  features = np.asarray(features, np.float64)
  return features.mean(axis=0), np.cov(features, rowvar=False)


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
  values, vectors = np.linalg.eigh(matrix)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """FID (Heusel et al. 2017, eq. 6) between Gaussians fitted to two feature sets:
    |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)),
  with tr (C_a C_b)^(1/2) = tr (C_a^(1/2) C_b C_a^(1/2))^(1/2), a symmetric form whose square root
  is computed from eigenvalues."""
  check_enough_samples(features_a, "the first set")
  check_enough_samples(features_b, "the second set")
  mean_a, cov_a = gaussian_statistics(features_a)
  mean_b, cov_b = gaussian_statistics(features_b)
  root_a = psd_sqrt(cov_a)
  cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
  trace_sqrt = np.sum(np.sqrt(np.clip(cross, 0.0, None)))
  return float(np.sum(np.square(mean_a - mean_b)) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """k(x, y) = (x . y / d + 1)^3, the kernel of KID."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
  """The unbiased estimator of the squared MMD with `polynomial_kernel` (Gretton et al. 2012, eq. 3)."""
  m, n = len(x), len(y)
  k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
               - 2.0 * k_xy.mean())


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, subset_size: int = 1000,
                              num_subsets: int = 100, seed: int = 0) -> tuple[float, float]:
  """KID (Binkowski et al. 2018): mean and standard deviation of the unbiased MMD^2 over
  `num_subsets` random subsets of min(subset_size, N) vectors drawn from each set. Unbiased, so
  it can come out negative when the sets come from the same distribution."""
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  size = min(subset_size, len(a), len(b))
  if size < 2:
    raise UserError(f"KID needs at least 2 samples in each set, got {len(a)} and {len(b)}")
  rng = np.random.default_rng(seed)
  estimates = [unbiased_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
               for _ in range(num_subsets)]
  return float(np.mean(estimates)), float(np.std(estimates))


def mode_coverage(predicted_classes: np.ndarray, num_classes: int, min_fraction: float = 0.1) -> dict[str, float]:
  """How many classes a sample covers, from a classifier's predictions.

  A class counts as covered when it receives at least `min_fraction` of its uniform share
  (N / num_classes) of the samples, so a few misclassified images of a collapsed generator do not
  count. Also returns KL(p_generated || uniform) = log K - H(p), in nats: 0 for a balanced sample,
  log K for a single class."""
  counts = np.bincount(np.asarray(predicted_classes), minlength=num_classes).astype(np.float64)
  share = counts / counts.sum()
  covered = int(np.sum(counts >= min_fraction * counts.sum() / num_classes))
  nonzero = share[share > 0]
  return {"modes_covered": covered, "mode_kl": float(np.log(num_classes) + np.sum(nonzero * np.log(nonzero)))}
