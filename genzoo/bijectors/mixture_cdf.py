"""The logistic-mixture CDF transformer of Flow++ (Ho et al. 2019, sec. 3.2, eq. 6), elementwise:

  y = logit(F(x)) * exp(a) + b,   F(x) = sum_k pi_k sigmoid((x - mu_k) * exp(-l_k)),

with mixture weights pi = softmax(logits), log-scales l_k clamped below at -7 as in the paper's
code, and an affine log-scale a (bounded by the caller, e.g. tanh). Everything is computed in log
space, so both tails are exact in float32: with z_k = (x - mu_k) * exp(-l_k),

  logit(F) = logsumexp_k(log pi_k + log sigmoid(z_k)) - logsumexp_k(log pi_k + log sigmoid(-z_k)),
  log|dy/dx| = a + log f(x) - log F - log(1 - F),
  log f(x) = logsumexp_k(log pi_k - l_k + log sigmoid(z_k) + log sigmoid(-z_k)).

The inverse solves logit(F(x)) = t = (y - b) * exp(-a) by bisection in a fixed number of `lax`
iterations. logit(F) lies between min_k z_k and max_k z_k (F is a convex combination of the
components' CDFs), so the root is bracketed by [min_k(mu_k + e^{l_k} t), max_k(mu_k + e^{l_k} t)]
and `num_iterations` halvings leave an interval of width 2^-num_iterations of that bracket: with
the default 64 the root is exact to the floating-point resolution of x in float32 and float64. A
last Newton step from the bisection's midpoint, whose derivative is held constant, gives the
inverse the gradients of the implicit function x(t, theta) (dx/dt = 1 / g'(x)).
The tolerance is checked, not assumed: an entry whose root is not finite or leaves a residual
|logit F(x) - t| above RESIDUAL_TOLERANCE_32 * (1 + |t|) (RESIDUAL_TOLERANCE_64 in float64) is
returned as NaN, never as a wrong number, so that whoever inverts the flow can count it
(`FlowTask.sample_checked`).
"""

import distrax
import jax
import jax.numpy as jnp

MIN_LOG_SCALE = -7.0  # floor on the components' log-scales, as in the Flow++ code
NUM_BISECTION_ITERATIONS = 64
# Largest residual |logit F(x) - t| / (1 + |t|) accepted from the inverse in 64-bit and in narrower
# floats: a root exact to a few units in the last place of x leaves about slope * ulp(x), and the
# log-scale floor bounds the slope by about e^7.
RESIDUAL_TOLERANCE_64, RESIDUAL_TOLERANCE_32 = 1e-9, 1e-3


def _log_mixture_terms(x, logits, means, log_scales):
  """(log F(x), log(1 - F(x)), log f(x)) of the logistic mixture, elementwise over x [...] with
  parameters [..., K]; the forward pass needs all three, the bisection only the first two."""
  z = (x[..., None] - means) * jnp.exp(-log_scales)
  log_pi = jax.nn.log_softmax(logits, axis=-1)
  log_sig, log_sig_neg = jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)
  return (jax.nn.logsumexp(log_pi + log_sig, axis=-1), jax.nn.logsumexp(log_pi + log_sig_neg, axis=-1),
          jax.nn.logsumexp(log_pi - log_scales + log_sig + log_sig_neg, axis=-1))


def logit_mixture_cdf(x, logits, means, log_scales):
  """logit(F(x)) of the logistic mixture."""
  log_cdf, log_survival, _ = _log_mixture_terms(x, logits, means, log_scales)
  return log_cdf - log_survival


def log_dlogit_mixture_cdf(x, logits, means, log_scales):
  """log d/dx logit(F(x)) = log f(x) - log F(x) - log(1 - F(x))."""
  log_cdf, log_survival, log_pdf = _log_mixture_terms(x, logits, means, log_scales)
  return log_pdf - log_cdf - log_survival


def invert_logit_mixture_cdf(t, logits, means, log_scales, num_iterations: int = NUM_BISECTION_ITERATIONS):
  """x with logit(F(x)) = t, by bisection in the exact bracket (see the module docstring); NaN
  where the tolerance was not reached."""
  candidates = means + jnp.exp(log_scales) * t[..., None]
  low, high = jnp.min(candidates, axis=-1), jnp.max(candidates, axis=-1)
  low, high = jax.lax.stop_gradient(low), jax.lax.stop_gradient(high)
  params = jax.lax.stop_gradient((logits, means, log_scales))
  target = jax.lax.stop_gradient(t)

  def halve(_, bracket):
    low, high = bracket
    middle = 0.5 * (low + high)
    above = logit_mixture_cdf(middle, *params) > target
    return jnp.where(above, low, middle), jnp.where(above, middle, high)

  low, high = jax.lax.fori_loop(0, num_iterations, halve, (low, high))
  root = jax.lax.stop_gradient(0.5 * (low + high))
  # One Newton step with a constant derivative: the value stays the root (up to the step's
  # correction), the gradients become those of the implicit function.
  log_cdf, log_survival, log_pdf = _log_mixture_terms(root, logits, means, log_scales)
  residual = t - (log_cdf - log_survival)
  slope = jax.lax.stop_gradient(jnp.exp(log_pdf - log_cdf - log_survival))
  x = root + residual / slope
  tolerance = RESIDUAL_TOLERANCE_64 if jnp.finfo(t.dtype).bits == 64 else RESIDUAL_TOLERANCE_32
  converged = jnp.isfinite(x) & (jnp.abs(residual) <= tolerance * (1.0 + jnp.abs(t)))
  return jnp.where(jax.lax.stop_gradient(converged), x, jnp.nan)


class LogisticMixtureCDF(distrax.Bijector):
  """Elementwise `y = logit(F(x)) * exp(log_scale) + shift` (see the module docstring).

  Args:
    logits, means, log_scales: the mixture's parameters [..., K], broadcast against x [...];
      `log_scales` are clamped below at MIN_LOG_SCALE.
    shift, log_scale: the affine map after the inverse sigmoid, broadcast against x.
    num_iterations: bisection steps of the inverse.
  """

  def __init__(self, logits, means, log_scales, shift, log_scale,
               num_iterations: int = NUM_BISECTION_ITERATIONS):
    super().__init__(event_ndims_in=0)
    self.logits, self.means = logits, means
    self.log_scales = jnp.maximum(log_scales, MIN_LOG_SCALE)
    self.shift, self.log_scale = shift, log_scale
    self.num_iterations = num_iterations

  def _mixture(self):
    return self.logits, self.means, self.log_scales

  def forward_and_log_det(self, x):
    log_cdf, log_survival, log_pdf = _log_mixture_terms(x, *self._mixture())  # computed once for both
    y = (log_cdf - log_survival) * jnp.exp(self.log_scale) + self.shift
    # log f and log(1 - F) are both about -|z| in the far tails: cancel them before adding a.
    return y, self.log_scale + (log_pdf - log_cdf - log_survival)

  def inverse_and_log_det(self, y):
    t = (y - self.shift) * jnp.exp(-self.log_scale)
    x = invert_logit_mixture_cdf(t, *self._mixture(), self.num_iterations)
    return x, -(self.log_scale + log_dlogit_mixture_cdf(x, *self._mixture()))


def mixture_cdf_transformer(num_components: int, tanh_scale=1.0):
  """Conditioner parameters -> `LogisticMixtureCDF`, for `Coupling`. The conditioner returns
  2 + 3 * num_components arrays shaped like x_b: the affine log-scale (raw, bounded as
  tanh(raw) * tanh_scale) and shift, then the mixture's logits, means and log-scales."""

  def transformer(params) -> distrax.Bijector:
    raw_log_scale, shift, *mixture = params
    if len(mixture) != 3 * num_components:
      raise ValueError(f"the mixture-CDF transformer takes 2 + 3 * {num_components} parameters per entry, "
                       f"got {2 + len(mixture)}")
    logits, means, log_scales = (jnp.stack(mixture[i * num_components:(i + 1) * num_components], axis=-1)
                                 for i in range(3))
    return LogisticMixtureCDF(logits, means, log_scales, shift, jnp.tanh(raw_log_scale) * tanh_scale)

  return transformer
