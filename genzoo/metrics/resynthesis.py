"""How close a vocoder's re-synthesis of test waveforms comes to them, against the classic baseline.

"log_mel_distance" (`eval.sample_metrics`) scores a model that generates each waveform from
features of a given one (WaveGlow, from its mel-spectrogram): the mean absolute difference of the
published log-mel spectrograms (`data.spectrogram`, in nats) of each re-synthesised test window
and the original. Beside it, the same distance for Griffin & Lim's algorithm (the classic one,
60 iterations from random phases) run on the magnitude the original's mel-spectrogram gives
through the filter bank's pseudo-inverse: what a vocoder without learning makes of the same mels.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genzoo.data import spectrogram
from genzoo.errors import UserError

RESYNTHESIS_METRICS = ("log_mel_distance",)
GRIFFIN_LIM_ITERATIONS = 60

Resynthesise = Callable[[int, np.ndarray], np.ndarray]  # (batch index, int16 originals) -> int16 re-syntheses


def check_resynthesis_metrics(names: tuple[str, ...], conditioned_on_data: bool) -> None:
  """Refuses the resynthesis metrics among `names` for a model that does not generate from given
  examples."""
  asked = [name for name in names if name in RESYNTHESIS_METRICS]
  if asked and not conditioned_on_data:
    raise UserError(f"{' and '.join(asked)} compares re-syntheses of test examples with them, and this model does "
                    "not generate from given examples (a vocoder such as experiments/waveglow.py does)")


def _distances(originals: jax.Array, resynthesised: jax.Array, rng: jax.Array,
               settings: spectrogram.MelSettings) -> tuple[jax.Array, jax.Array]:
  """Summed per-example log-mel distances [2]: of the re-syntheses, and of Griffin-Lim's."""
  reference = spectrogram.pcm_log_mel_spectrogram(originals, settings)
  magnitude = spectrogram.magnitude_from_log_mel(reference, settings)
  baseline = spectrogram.griffin_lim(magnitude, originals.shape[-1], rng, settings,
                                     iterations=GRIFFIN_LIM_ITERATIONS, momentum=0.0)
  per_example = jax.vmap(spectrogram.log_mel_distance)
  return (jnp.sum(per_example(reference, spectrogram.pcm_log_mel_spectrogram(resynthesised, settings))),
          jnp.sum(per_example(reference, spectrogram.log_mel_spectrogram(baseline, settings))))


def resynthesis_scores(resynthesise: Resynthesise, originals: np.ndarray, sample_rate: int, num_examples: int,
                       batch_size: int, rng: jax.Array) -> dict[str, float]:
  """{"log_mel_distance", "griffin_lim_log_mel_distance"}: means over the first `num_examples`
  of the int16 `originals` [N, T] (all of them if fewer), re-synthesised in batches of
  `batch_size` (the last one short)."""
  settings = spectrogram.published_settings(sample_rate)
  distances = jax.jit(_distances, static_argnums=3)
  count = min(num_examples, len(originals))
  totals = np.zeros(2)
  for index, start in enumerate(range(0, count, batch_size)):
    batch = originals[start:min(start + batch_size, count)]
    totals += np.asarray(distances(batch, resynthesise(index, batch), jax.random.fold_in(rng, index), settings))
  return {"log_mel_distance": totals[0] / count, "griffin_lim_log_mel_distance": totals[1] / count,
          "resynthesised_examples": count}
