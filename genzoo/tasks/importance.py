"""Importance-sampling bounds on log-likelihoods, drawn in chunks so memory stays bounded.

For K draws u_k ~ q(u | x) and log weights log w_k = log p(x, u_k) - log q(u_k | x),
  log (1/K) sum_k w_k  <=  log p(x)  in expectation (Burda et al. 2016, eq. 8),
and the bound tightens as K grows. The VAE's IWAE bound (u = z, the latents) uses it; a flow with
variational dequantisation (u the dequantisation noise) bounds log P(x) the same way.
"""

import math
from collections.abc import Callable

import jax

# rng, number of draws -> log weights [draws, B]
ChunkLogWeights = Callable[[jax.Array, int], jax.Array]


def largest_divisor_at_most(n: int, limit: int) -> int:
  """The largest divisor of `n` that is <= `limit` (so `n` draws split into equal chunks)."""
  return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def log_weights(chunk_log_weights: ChunkLogWeights, rng: jax.Array, num_samples: int, chunk_size: int) -> jax.Array:
  """`num_samples` log weights [num_samples, B]: chunks of at most `chunk_size` draws, vectorised
  within a chunk and run one after another under `lax.map`, each with its own key."""
  chunk = largest_divisor_at_most(num_samples, chunk_size)
  per_chunk = jax.lax.map(lambda key: chunk_log_weights(key, chunk), jax.random.split(rng, num_samples // chunk))
  return per_chunk.reshape((num_samples,) + per_chunk.shape[2:])


def log_mean_exp(log_weights_: jax.Array) -> jax.Array:
  """log (1/K) sum_k exp(log w_k) over the leading axis: the importance-sampling bound."""
  return jax.nn.logsumexp(log_weights_, axis=0) - math.log(log_weights_.shape[0])
