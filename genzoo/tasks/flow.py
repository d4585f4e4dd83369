"""The flow family: maximum likelihood with an exact log-density, on any data with a flow model for it.

A flow model f maps the continuous variable y to latents z = f(y) with a base density p_Z, so
log p(y) = log p_Z(f(y)) + log|det df/dy| exactly, every pre-processing bijector (centring,
logit) included. Its parts are chosen from the data's description:
  - the dequantiser: discrete data of K levels per entry (images) become y = (x + u) / K with
    u ~ U[0, 1)^D, which gives the bound log P(x) >= E_u[log p(y)] - D log K (Theis et al. 2016),
    reported as bits/dim = (-log P(x)) / (D log 2); continuous data (vectors) are modelled as
    they are, and reported as log-likelihood in nats;
  - the base distribution: a standard normal on the flat latents.

Config keys read here: `model.name` (a key of FLOW_MODELS) and that model's fields, `optim`,
`train.steps`.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from genzoo import checks
from genzoo.config import base_config, smoke_schedule
from genzoo.data.spec import DataSpec, Feature
from genzoo.errors import UserError
from genzoo.models import rngs as model_rngs
from genzoo.models.glow import Glow
from genzoo.models.realnvp import RealNVP
from genzoo.models.vector_flow import VectorRealNVP
from genzoo.tasks import common
from genzoo.tasks.base import Batch, State

# model.name -> a Linen module built as Model(event_shape=..., **the other model.* keys), whose
# `apply(variables, y, inverse=False, *, train)` maps y [..., *event_shape] to flat latents [..., D]
# (and back with inverse=True) with the log-det; its defaults, the data kinds it models (KINDS),
# its random streams (RNG_STREAMS, drawn in training) and its CONFIG_RULES live with it. Register
# a new flow here.
FLOW_MODELS = {"glow": Glow, "realnvp": RealNVP, "vector_realnvp": VectorRealNVP}


_MODEL_STREAM = 1  # folded into a step's key for the model's own random streams


@dataclasses.dataclass(frozen=True)
class StandardNormal:
  """The base distribution N(0, I) on flat latents [..., D]."""

  def log_prob(self, z: jax.Array) -> jax.Array:
    """log N(z; 0, I) summed over the last axis."""
    return jnp.sum(-0.5 * jnp.square(z) - 0.5 * math.log(2.0 * math.pi), axis=-1)

  def sample(self, rng: jax.Array, shape: tuple[int, ...], temperature: float = 1.0) -> jax.Array:
    return temperature * jax.random.normal(rng, shape)


@dataclasses.dataclass(frozen=True)
class UniformDequantizer:
  """Discrete data x in {0, ..., K-1}^D <-> y = (x + u) / K in [0, 1)^D, u ~ U[0, 1)^D."""

  feature: Feature

  def __call__(self, x: jax.Array, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(y, log_correction): log P(x) >= log p(y) + log_correction, with log_correction = -D log K."""
    y = (x.astype(jnp.float32) + jax.random.uniform(rng, x.shape)) / self.feature.levels
    return y, jnp.full(x.shape[:1], -self.feature.size * math.log(self.feature.levels))

  def centre(self, x: jax.Array) -> jax.Array:
    """The centres of x's bins in y."""
    return (x.astype(jnp.float32) + 0.5) / self.feature.levels

  def quantize(self, y: jax.Array) -> jax.Array:
    levels = self.feature.levels
    return jnp.clip(jnp.floor(y * levels), 0, levels - 1).astype(jnp.uint8)

  def loss(self, log_likelihood: jax.Array) -> jax.Array:
    """Bits per dimension."""
    return -log_likelihood / (self.feature.size * math.log(2.0))

  def report(self, mean_log_likelihood: float) -> dict[str, float]:
    return {"bpd": float(self.loss(mean_log_likelihood)), "log_likelihood": mean_log_likelihood}


@dataclasses.dataclass(frozen=True)
class Continuous:
  """Continuous data, modelled as it is: y = x."""

  feature: Feature

  def __call__(self, x: jax.Array, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
    del rng
    return x.astype(jnp.float32), jnp.zeros(x.shape[:1])

  def centre(self, x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)

  def quantize(self, y: jax.Array) -> jax.Array:
    return y

  def loss(self, log_likelihood: jax.Array) -> jax.Array:
    """Negative log-likelihood in nats per dimension."""
    return -log_likelihood / self.feature.size

  def report(self, mean_log_likelihood: float) -> dict[str, float]:
    return {"log_likelihood": mean_log_likelihood, "nll_per_dim": float(self.loss(mean_log_likelihood))}


def dequantizer_for(feature: Feature) -> UniformDequantizer | Continuous:
  return Continuous(feature) if feature.levels is None else UniformDequantizer(feature)


def check_finite_input(y) -> None:
  """Raises on non-finite values in a concrete input; traced inputs pass (their NaNs propagate
  to the log-likelihood, which `eval_step` counts and `summarize` reports)."""
  if isinstance(y, jax.core.Tracer):
    return
  bad = int(np.size(y) - np.count_nonzero(np.isfinite(np.asarray(y))))
  if bad:
    raise UserError(f"log_prob got {bad} non-finite input values (NaN or inf); the flow's "
                     "inputs must be finite")


@dataclasses.dataclass(frozen=True, eq=False)
class FlowTask:
  config: ml_collections.ConfigDict
  data: DataSpec

  PROGRESS_METRICS = ("loss",)  # bits/dim (discrete data) or nats/dim (continuous) of the batch
  RESUMABLE_KEYS = ("model.remat",)  # memory versus recomputation: the same parameters and updates
  BACKFILLED_KEYS = {}

  def __post_init__(self):
    self.check_config(self.config)
    self.data.require(f"the {self.config.model.name!r} flow model", FLOW_MODELS[self.config.model.name].KINDS)

  @staticmethod
  def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses unknown model names and out-of-range architecture and optimiser values."""
    checks.check_config(config, {"model.name": checks.one_of(FLOW_MODELS)})
    model_class = FLOW_MODELS[config.model.name]
    checks.check_model_keys(config, model_class, provided=("event_shape",))
    checks.check_config(config, {**model_class.CONFIG_RULES, **common.optimizer_rules("optim")})

  @functools.cached_property
  def model(self):
    keys = {key: value for key, value in self.config.model.items() if key != "name"}
    return FLOW_MODELS[self.config.model.name](event_shape=self.data.x.shape, **keys)

  @functools.cached_property
  def dequantizer(self) -> UniformDequantizer | Continuous:
    return dequantizer_for(self.data.x)

  @functools.cached_property
  def prior(self) -> StandardNormal:
    return StandardNormal()

  @functools.cached_property
  def optimizer(self) -> optax.GradientTransformation:
    return common.make_optimizer(self.config.optim, self.config.train.steps)

  def apply(self, params, inputs: jax.Array, *, inverse: bool = False, train: bool = False,
            rng: jax.Array | None = None):
    """The flow model in either direction; in training its random streams draw from `rng`."""
    rngs = model_rngs(self.model, rng) if train else {}
    return self.model.apply({"params": params}, inputs, inverse, train=train, rngs=rngs)

  def log_prob(self, params, y: jax.Array, *, train: bool = False, rng: jax.Array | None = None) -> jax.Array:
    """Exact log-density of the model's continuous variable y, per example."""
    check_finite_input(y)
    z, log_det = self.apply(params, y, train=train, rng=rng)
    return self.prior.log_prob(z) + log_det

  def log_likelihood_bound(self, params, x: jax.Array, rng: jax.Array, *, train: bool = False) -> jax.Array:
    """log P(x) in nats per example: exact for continuous data, the dequantisation bound for
    discrete data."""
    y, log_correction = self.dequantizer(x, rng)
    return self.log_prob(params, y, train=train, rng=jax.random.fold_in(rng, _MODEL_STREAM)) + log_correction

  # -- the task contract -------------------------------------------------------------------------

  def init(self, rng: jax.Array, example_batch: Batch) -> State:
    """ActNorm layers initialise from `example_batch` (use a real batch, not zeros)."""
    init_rng, noise_rng = jax.random.split(rng)
    y, _ = self.dequantizer(example_batch[self.data.target], noise_rng)
    params = self.model.init(init_rng, y)["params"]
    return {"params": params, "opt_state": self.optimizer.init(params), "step": jnp.zeros((), jnp.int32)}

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]:
    def loss_fn(params):
      log_likelihood = self.log_likelihood_bound(params, batch[self.data.target], rng, train=True)
      return jnp.mean(self.dequantizer.loss(log_likelihood))

    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    new_state, grad_norm, nonfinite = common.apply_gradients(self.optimizer, state, grads, loss)
    return new_state, {"loss": loss, "grad_norm": grad_norm, "nonfinite": nonfinite}

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict:
    log_likelihood = self.log_likelihood_bound(state["params"], batch[self.data.target], rng)
    finite = jnp.isfinite(log_likelihood)
    mask = batch["mask"]
    return {
        "count": jnp.sum(mask),
        "log_likelihood": jnp.sum(jnp.where(finite, log_likelihood, 0.0) * mask),
        "nonfinite": jnp.sum(jnp.where(finite, 0.0, mask)),
    }

  def summarize(self, sums: dict) -> dict[str, float]:
    """Test log-likelihood (and bits/dim for discrete data) over the whole split; NaN (with the
    count) if any example was not finite."""
    count, nonfinite = float(sums["count"]), float(sums["nonfinite"])
    mean = float(sums["log_likelihood"]) / count if not nonfinite else float("nan")
    return {**self.dequantizer.report(mean), "nonfinite_examples": int(nonfinite), "num_examples": int(count)}

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0) -> jax.Array:
    """Data from latents drawn from the base at `temperature`, quantised back to the data's
    levels where the data are discrete."""
    z = self.prior.sample(rng, (num, self.data.x.size), temperature)
    return self.dequantizer.quantize(self.decode(state["params"], z))

  def log_density(self, state: State, points: jax.Array) -> jax.Array:
    """The model's log-density at points y of its continuous variable [N, *event_shape]: the data's
    density for continuous data (for discrete data, that of the dequantised y in [0, 1)^D)."""
    return self.log_prob(state["params"], points)

  def interpolate(self, state: State, start: jax.Array, end: jax.Array, num_steps: int) -> jax.Array:
    """Decodes the straight line between the latents of (bin-centred) `start` and `end`."""
    params = state["params"]
    z_start, z_end = (self.apply(params, self.dequantizer.centre(x))[0] for x in (start, end))
    weights = jnp.linspace(0.0, 1.0, num_steps)[None, :, None]
    z = (1.0 - weights) * z_start[:, None, :] + weights * z_end[:, None, :]
    return self.dequantizer.quantize(self.decode(params, z))

  def decode(self, params, z: jax.Array) -> jax.Array:
    """The model's variable y [..., *event_shape] for latents z [..., D]."""
    y, _ = self.apply(params, z.reshape((-1, z.shape[-1])), inverse=True)
    return y.reshape(z.shape[:-1] + self.data.x.shape)


# -- experiment configs --------------------------------------------------------------------------


def experiment_config(variant: str, experiment: str, variants: tuple[str, ...], model: dict,
                      grad_clip_norm: float) -> ml_collections.ConfigDict:
  """What the flow experiment files share: Adam at 1e-3 with 200 warm-up steps, batch 64, and the
  data and schedule of the embedded-data variants (mnist5k: 3,000 steps; digits: 1,500; smoke: 4
  steps of batch 16). The experiment file then sets its model sizes and `paper_schedule`s."""
  checks.check_variant(variant, experiment, variants)
  config = base_config()
  config.task = "flow"
  config.model = ml_collections.ConfigDict(model)
  config.data.batch_size = 64
  config.data.eval_batch_size = 200
  config.optim.learning_rate = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip_norm = grad_clip_norm
  if variant in ("mnist5k", "digits"):
    config.data.name = variant
    config.train.steps = 3000 if variant == "mnist5k" else 1500
    config.train.log_every = 100
    config.train.checkpoint_every = 500
    if variant == "mnist5k":
      config.train.eval_every = 1000
  elif variant == "smoke":
    config.data.name = "digits"
    config.data.batch_size = 16
    config.data.eval_batch_size = 40
    smoke_schedule(config, num_samples=16)
  return config


def paper_schedule(config: ml_collections.ConfigDict, dataset: str, train_steps: int) -> None:
  """Dataset and the long-run schedule of the paper-setting variants."""
  config.data.name = dataset
  config.train.steps = train_steps
  config.train.log_every = 500
  config.train.checkpoint_every = 5000
  config.train.eval_every = 20_000
  config.train.sample_every = 5000
