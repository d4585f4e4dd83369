"""The VAE family: beta-weighted ELBO training, ELBO/IWAE evaluation, sampling, interpolation;
class-conditional with `model.num_classes` > 0 (every bound is then of log p(x | y), and samples
are drawn for requested classes).

Config keys read here: `model` (VAE architecture, likelihood and classes), `loss.beta`,
`loss.kl_warmup_steps`, `optim` (see `tasks.common.make_optimizer`), `train.steps`,
`eval.iwae_k` and `eval.iwae_chunk_size`.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import optax

from genzoo import checks
from genzoo.models import likelihoods
from genzoo.models.vae import VAE, gaussian_kl_to_standard, log_normal
from genzoo.tasks import common, importance
from genzoo.data.spec import DataSpec
from genzoo.tasks.base import Batch, State

# Burda et al. 2016, sec. 5.2: a latent unit is active when Cov_x(E_q[z_u]) exceeds this.
ACTIVE_UNIT_THRESHOLD = 0.01


@dataclasses.dataclass(frozen=True, eq=False)
class VAETask:
  config: ml_collections.ConfigDict
  data: DataSpec

  PROGRESS_METRICS = ("loss", "elbo_bpd")
  RESUMABLE_KEYS = ()
  BACKFILLED_KEYS = {"model.num_classes": 0}

  def __post_init__(self):
    self.check_config(self.config)
    self.data.require("the vae family", ("image",))
    self.likelihood.check_levels(self.data.x.levels)
    common.check_class_conditioning(self.num_classes, self.data)

  @property
  def num_classes(self) -> int:
    """The classes the VAE is conditioned on (0: unconditional)."""
    return self.config.model.num_classes

  @staticmethod
  def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses unknown names and out-of-range architecture, loss, evaluation and optimiser values."""
    checks.check_model_keys(config, VAE, provided=("image_shape", "num_levels", "params_per_dim"),
                            family_keys=("likelihood",))
    checks.check_config(config, {
        **VAE.CONFIG_RULES,
        "model.likelihood": checks.one_of(likelihoods.LIKELIHOODS),
        "loss.beta": checks.NON_NEGATIVE,
        "loss.kl_warmup_steps": checks.at_least(0),
        "eval.iwae_k": checks.at_least(1),
        "eval.iwae_chunk_size": checks.at_least(1),
        **common.optimizer_rules("optim"),
    })

  @functools.cached_property
  def likelihood(self):
    return likelihoods.get_likelihood(self.config.model.likelihood)

  @functools.cached_property
  def model(self) -> VAE:
    """The VAE of `model.*` (its defaults and rules live with it); the likelihood is the task's."""
    return VAE(image_shape=self.data.x.shape, num_levels=self.data.x.levels,
               params_per_dim=self.likelihood.num_params, **common.module_fields(self.config.model, ("likelihood",)))

  @functools.cached_property
  def optimizer(self) -> optax.GradientTransformation:
    return common.make_optimizer(self.config.optim, self.config.train.steps)

  # -- the task contract -------------------------------------------------------------------------

  def init(self, rng: jax.Array, example_batch: Batch) -> State:
    params = self.model.init(rng, example_batch[self.data.target][:1], self.labels(example_batch, 1))["params"]
    return {"params": params, "opt_state": self.optimizer.init(params), "step": jnp.zeros((), jnp.int32)}

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]:
    beta = self.beta_at(state["step"])

    def loss_fn(params):
      log_px, kl, _ = self.elbo_terms(params, batch[self.data.target], self.labels(batch), rng)
      return jnp.mean(-log_px + beta * kl), (log_px, kl)

    (loss, (log_px, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    new_state, grad_norm, nonfinite = common.apply_gradients(self.optimizer, state, grads, loss)
    elbo = jnp.mean(log_px - kl)
    metrics = {
        "loss": loss,
        "elbo": elbo,
        "elbo_bpd": self.bits_per_dim(elbo),
        "recon": jnp.mean(log_px),
        "kl": jnp.mean(kl),
        "beta": beta,
        "grad_norm": grad_norm,
        "nonfinite": nonfinite,
    }
    return new_state, metrics

  def evaluation_terms(self, params, x: jax.Array, labels: jax.Array | None, rng: jax.Array):
    """(log p(x | z), KL, posterior mean, IWAE_k with k = `eval.iwae_k`) per example, the draws
    of `rng` split between the ELBO and the IWAE bound."""
    elbo_rng, iwae_rng = jax.random.split(rng)
    log_px, kl, posterior_mean = self.elbo_terms(params, x, labels, elbo_rng)
    return log_px, kl, posterior_mean, self.iwae_bound(params, x, labels, iwae_rng, self.config.eval.iwae_k)

  def example_scores(self, state: State, batch: Batch, rng: jax.Array) -> dict[str, jax.Array]:
    """Per-example anomaly scores [N] (higher: less likely under the model): evaluation's bounds
    (same draws for the same key) as bits/dim, "elbo_bpd" and "iwae_bpd". Labels are not used: a
    class-conditional VAE's bounds are marginalised over its classes (still lower bounds of log p(x))."""
    params, x = state["params"], batch[self.data.target]

    def bounds(labels):
      log_px, kl, _, iwae = self.evaluation_terms(params, x, labels, rng)
      return {"elbo_bpd": log_px - kl, "iwae_bpd": iwae}

    return jax.tree.map(self.bits_per_dim, common.marginal_over_classes(bounds, self.num_classes, x.shape[0]))

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict:
    params, x, labels, mask = state["params"], batch[self.data.target], self.labels(batch), batch["mask"]
    log_px, kl, posterior_mean, iwae = self.evaluation_terms(params, x, labels, rng)

    def masked_sum(values):
      return jnp.sum(values * mask.reshape(mask.shape + (1,) * (values.ndim - 1)), axis=0)

    return {
        "count": jnp.sum(mask),
        "elbo": masked_sum(log_px - kl),
        "recon": masked_sum(log_px),
        "kl": masked_sum(kl),
        "iwae": masked_sum(iwae),
        "posterior_mean": masked_sum(posterior_mean),
        "posterior_mean_sq": masked_sum(jnp.square(posterior_mean)),
    }

  def summarize(self, sums: dict) -> dict[str, float]:
    count = sums["count"]
    means = {name: sums[name] / count for name in ("elbo", "recon", "kl", "iwae")}
    posterior_variance = sums["posterior_mean_sq"] / count - jnp.square(sums["posterior_mean"] / count)
    return {
        **{name: float(value) for name, value in means.items()},
        "elbo_bpd": float(self.bits_per_dim(means["elbo"])),
        "iwae_bpd": float(self.bits_per_dim(means["iwae"])),
        "iwae_k": self.config.eval.iwae_k,
        "active_units": int(jnp.sum(posterior_variance > ACTIVE_UNIT_THRESHOLD)),
        "num_examples": int(count),
    }

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0,
             labels: jax.Array | None = None) -> jax.Array:
    """Decoder means at latents drawn from the prior N(0, temperature^2 I) (given the classes
    `labels` [num] when class-conditional; uniform classes if None)."""
    z_rng, label_rng = jax.random.split(rng)
    z = temperature * jax.random.normal(z_rng, (num, self.config.model.latent_dim))
    return self.decode_to_image(state["params"], z, common.sampling_labels(label_rng, num, self.num_classes, labels))

  def interpolate(self, state: State, start: jax.Array, end: jax.Array, num_steps: int) -> jax.Array:
    """Decoder means along the straight line between the posterior means of `start` and `end`."""
    params = state["params"]
    z_start, _ = self.model.apply({"params": params}, start, method=VAE.encode)
    z_end, _ = self.model.apply({"params": params}, end, method=VAE.encode)
    weights = jnp.linspace(0.0, 1.0, num_steps)[None, :, None]
    z = (1.0 - weights) * z_start[:, None, :] + weights * z_end[:, None, :]
    return self.decode_to_image(params, z)

  # -- the bounds ----------------------------------------------------------------------------

  def beta_at(self, step: jax.Array) -> jax.Array:
    """KL weight: `loss.beta`, reached linearly over `loss.kl_warmup_steps` steps."""
    warmup = self.config.loss.kl_warmup_steps
    ramp = 1.0 if warmup == 0 else jnp.minimum(1.0, (step + 1) / warmup)
    return self.config.loss.beta * ramp

  def labels(self, batch: Batch, num: int | None = None) -> jax.Array | None:
    """The batch's labels (the first `num`) for a class-conditional VAE; None otherwise."""
    return batch["label"][:num] if self.num_classes else None

  def elbo_terms(self, params, x: jax.Array, labels: jax.Array | None, rng: jax.Array):
    """One-sample reconstruction term log p(x|z, y) and analytic KL(q(z|x, y) || p(z)), per
    example (y: the labels of a class-conditional VAE, else None)."""
    z_rng, likelihood_rng = jax.random.split(rng)
    mean, log_std = self.model.apply({"params": params}, x, labels, method=VAE.encode)
    z = mean + jnp.exp(log_std) * jax.random.normal(z_rng, mean.shape)
    decoded = self.model.apply({"params": params}, z, labels, method=VAE.decode)
    log_px = self.likelihood.log_prob(decoded, x, self.data.x.levels, likelihood_rng)
    return log_px, gaussian_kl_to_standard(mean, log_std), mean

  def iwae_log_weights(self, params, x: jax.Array, labels: jax.Array | None, rng: jax.Array,
                       num_samples: int) -> jax.Array:
    """log p(x, z_k) - log q(z_k | x) for `num_samples` posterior draws: [num_samples, B], in
    chunks of at most `eval.iwae_chunk_size` (see `tasks.importance`), so memory is bounded
    whatever `num_samples` is."""
    mean, log_std = self.model.apply({"params": params}, x, labels, method=VAE.encode)
    likelihood_rng, chunks_rng = jax.random.split(rng)

    def chunk_log_weights(chunk_rng, chunk):
      z = mean + jnp.exp(log_std) * jax.random.normal(chunk_rng, (chunk,) + mean.shape)
      decoded = self.model.apply({"params": params}, z, labels, method=VAE.decode)
      # One dequantisation draw per image, shared by its samples (a bound for every draw).
      log_px = self.likelihood.log_prob(decoded, x, self.data.x.levels, likelihood_rng)
      zeros = jnp.zeros_like(z)
      return log_px + log_normal(z, zeros, zeros) - log_normal(z, mean, log_std)

    return importance.log_weights(chunk_log_weights, chunks_rng, num_samples, self.config.eval.iwae_chunk_size)

  def iwae_bound(self, params, x: jax.Array, labels: jax.Array | None, rng: jax.Array, num_samples: int) -> jax.Array:
    """IWAE_k = log (1/k) sum_k p(x, z_k) / q(z_k | x) (Burda et al. 2016, eq. 8), per example."""
    return importance.log_mean_exp(self.iwae_log_weights(params, x, labels, rng, num_samples))

  def bits_per_dim(self, log_prob_nats: jax.Array) -> jax.Array:
    return -log_prob_nats / (self.data.x.size * math.log(2.0))

  def decode_to_image(self, params, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    decoded = self.model.apply({"params": params}, z, labels, method=VAE.decode)
    return self.likelihood.mean(decoded, self.data.x.levels)
