"""WaveGlow: the whole model's log-determinant against the dense Jacobian, its inverse, the learned
mel upsampling against a transposed convolution written out, and its refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.errors import UserError
from genzoo.models.flow_steps import FIXED_LU_ENTRIES
from genzoo.models.waveglow import MelUpsampler, WaveGlow

# 32 samples in groups of 4; 3 flows with an early output of 1 channel after the first 2; mels of 5
# bands every 8 samples.
TINY = dict(event_shape=(32,), sample_rate=8000, num_flows=3, group=4, early_every=2, early_size=1,
            wavenet_layers=2, wavenet_channels=8, fft_size=16, hop=8, num_mels=5, fmax=4000.0, upsample_kernel=16)


def perturbed(variables, key):
  """Moves every trained parameter off its initialisation (the couplings start as identities)."""
  leaves, tree = jax.tree_util.tree_flatten_with_path(variables)
  keys = jax.random.split(key, len(leaves))
  moved = [leaf if any(getattr(part, "key", None) in FIXED_LU_ENTRIES for part in path)
           else leaf + 0.1 * jax.random.normal(k, leaf.shape, leaf.dtype) for (path, leaf), k in zip(leaves, keys)]
  return jax.tree_util.tree_unflatten(tree, moved)


@pytest.fixture(scope="module")
def tiny():
  model = WaveGlow(**TINY)
  key = jax.random.key(0)
  waveforms = jax.random.randint(key, (2, 32), -3000, 3000).astype(jnp.int16)
  context = model.context_of(waveforms)
  y = (waveforms.astype(jnp.float32) + 0.5) / 65536
  variables = perturbed(jax.jit(model.init)(key, y, context=context), jax.random.key(1))
  return model, variables, y, context


def test_log_det_matches_the_dense_jacobian_and_the_inverse_undoes_the_model(tiny):
  model, variables, y, context = tiny
  z, log_det = model.apply(variables, y, context=context)
  jacobians = jax.vmap(jax.jacfwd(lambda a, c: model.apply(variables, a[None], context=c[None])[0][0]))(y, context)
  np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jacobians)[1], rtol=1e-4, atol=1e-3)
  back, inverse_log_det = model.apply(variables, z, inverse=True, context=context)
  np.testing.assert_allclose(back, y, atol=1e-5)
  np.testing.assert_allclose(inverse_log_det, -log_det, rtol=1e-5)


def test_the_mel_conditions_the_model(tiny):
  model, variables, y, context = tiny
  z, _ = model.apply(variables, y, context=context)
  z_other, _ = model.apply(variables, y, context=context[::-1])
  assert not np.allclose(z, z_other)


def test_training_sigma_scales_the_latents(tiny):
  """A base N(0, sigma^2): latents divided by sigma, log-det lowered by D log sigma."""
  model, variables, y, context = tiny
  z, log_det = model.apply(variables, y, context=context)
  z_half, log_det_half = WaveGlow(**TINY, sigma=0.5).apply(variables, y, context=context)
  np.testing.assert_allclose(z_half, 2 * z, rtol=1e-6)
  np.testing.assert_allclose(log_det_half, log_det + 32 * np.log(2.0), rtol=1e-6)


def test_the_upsampler_is_a_transposed_convolution():
  """out[f * hop + j] = W[j] mel[f] summed over frames f and kernel taps j < kernel, plus the bias."""
  hop, kernel, frames, mels = 4, 12, 5, 3
  upsampler = MelUpsampler(hop, kernel)
  mel = jax.random.normal(jax.random.key(3), (2, frames, mels))
  variables = upsampler.init(jax.random.key(4), mel)
  variables = jax.tree.map(lambda v: v + jax.random.normal(jax.random.key(5), v.shape), variables)
  weight = np.asarray(variables["params"]["kernel"]["kernel"]).reshape(mels, kernel, mels)  # [in, tap, out]
  expected = np.zeros((2, (frames - 1) * hop + kernel, mels))
  for f in range(frames):
    expected[:, f * hop:f * hop + kernel] += np.einsum("ni,ijo->njo", np.asarray(mel[:, f]), weight)
  expected += np.asarray(variables["params"]["bias"])
  np.testing.assert_allclose(upsampler.apply(variables, mel), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fields, message", [
    ({"event_shape": (30,)}, "multiple of 4"),
    ({"num_flows": 7, "early_every": 2, "early_size": 1}, "leave 1 of the 4 grouped channels"),
    ({"upsample_kernel": 12}, "must be a multiple of model.hop=8"),
])
def test_impossible_settings_are_refused(fields, message):
  model = WaveGlow(**{**TINY, **fields})
  length = model.event_shape[0]
  with pytest.raises(UserError, match=message):
    model.init(jax.random.key(0), jnp.zeros((1, length)), context=jnp.zeros((1, length // 8 + 1, 5)))


def test_a_mel_too_short_for_the_waveform_is_refused():
  model = WaveGlow(**TINY)
  with pytest.raises(UserError, match="covers 24 samples, fewer than the 32"):
    model.init(jax.random.key(0), jnp.zeros((1, 32)), context=jnp.zeros((1, 2, 5)))
