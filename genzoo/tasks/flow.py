"""The flow family: maximum likelihood on dequantised images, exact bits/dim, sampling.

For K = `num_levels` levels per sub-pixel and D = H*W*C, uniform dequantisation y = (x + u) / K,
u ~ U[0, 1)^D, gives the bound log P(x) >= E_u[log p(y)] - D log K (Theis et al. 2016), and
bits/dim = (-log p(y) + D log K) / (D log 2). log p(y) = log N(f(y); 0, I) + log|det df/dy| is
exact, every pre-processing bijector (centring, logit) included.

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
from genzoo.config import base_config
from genzoo.errors import UserError
from genzoo.models.glow import Glow
from genzoo.models.realnvp import RealNVP
from genzoo.tasks import common
from genzoo.tasks.base import Batch, DataInfo, State

# model.name -> a Linen module built as Model(image_shape=..., **the other model.* keys); its
# defaults and its CONFIG_RULES live with it. Register a new flow here.
FLOW_MODELS = {"glow": Glow, "realnvp": RealNVP}


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
  """log N(z; 0, I) summed over the last axis."""
  return jnp.sum(-0.5 * jnp.square(z) - 0.5 * math.log(2.0 * math.pi), axis=-1)


def check_finite_input(y) -> None:
  """Raises on non-finite values in a concrete input; traced inputs pass (their NaNs propagate
  to the log-likelihood, which `eval_step` counts and `summarize` reports)."""
  if isinstance(y, jax.core.Tracer):
    return
  bad = int(np.size(y) - np.count_nonzero(np.isfinite(np.asarray(y))))
  if bad:
    raise UserError(f"log_prob got {bad} non-finite input values (NaN or inf); the flow's "
                     "inputs must be finite dequantised images in [0, 1)")


@dataclasses.dataclass(frozen=True, eq=False)
class FlowTask:
  config: ml_collections.ConfigDict
  data: DataInfo

  PROGRESS_METRICS = ("loss",)  # bits/dim of the training batch
  RESUMABLE_KEYS = ("model.remat",)  # memory versus recomputation: the same parameters and updates

  def __post_init__(self):
    self.check_config(self.config)

  @staticmethod
  def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses unknown model names and out-of-range architecture and optimiser values."""
    checks.check_config(config, {"model.name": checks.one_of(FLOW_MODELS)})
    model_class = FLOW_MODELS[config.model.name]
    checks.check_model_keys(config, model_class, provided=("image_shape",))
    checks.check_config(config, {**model_class.CONFIG_RULES, **common.optimizer_rules("optim")})

  @functools.cached_property
  def model(self):
    keys = {key: value for key, value in self.config.model.items() if key != "name"}
    return FLOW_MODELS[self.config.model.name](image_shape=self.data.image_shape, **keys)

  @functools.cached_property
  def optimizer(self) -> optax.GradientTransformation:
    return common.make_optimizer(self.config.optim, self.config.train.steps)

  def dequantize(self, x: jax.Array, rng: jax.Array) -> jax.Array:
    return (x.astype(jnp.float32) + jax.random.uniform(rng, x.shape)) / self.data.num_levels

  def log_prob(self, params, y: jax.Array) -> jax.Array:
    """Exact log-density of dequantised images y in [0, 1)^D, per example."""
    check_finite_input(y)
    z, log_det = self.model.apply({"params": params}, y)
    return standard_normal_log_prob(z) + log_det

  def log_likelihood_bound(self, params, x: jax.Array, rng: jax.Array) -> jax.Array:
    """The dequantisation bound on log P(x) in nats for images of levels {0, ..., K-1}."""
    return self.log_prob(params, self.dequantize(x, rng)) - self.data.num_dims * math.log(self.data.num_levels)

  def bits_per_dim(self, log_likelihood: jax.Array) -> jax.Array:
    return -log_likelihood / (self.data.num_dims * math.log(2.0))

  # -- the task contract -------------------------------------------------------------------------

  def init(self, rng: jax.Array, example_batch: Batch) -> State:
    """ActNorm layers initialise from `example_batch` (use a real batch, not zeros)."""
    init_rng, noise_rng = jax.random.split(rng)
    params = self.model.init(init_rng, self.dequantize(example_batch["image"], noise_rng))["params"]
    return {"params": params, "opt_state": self.optimizer.init(params), "step": jnp.zeros((), jnp.int32)}

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]:
    def loss_fn(params):
      return jnp.mean(self.bits_per_dim(self.log_likelihood_bound(params, batch["image"], rng)))

    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    new_state, grad_norm, nonfinite = common.apply_gradients(self.optimizer, state, grads, loss)
    return new_state, {"loss": loss, "bpd": loss, "grad_norm": grad_norm, "nonfinite": nonfinite}

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict:
    log_likelihood = self.log_likelihood_bound(state["params"], batch["image"], rng)
    finite = jnp.isfinite(log_likelihood)
    mask = batch["mask"]
    return {
        "count": jnp.sum(mask),
        "log_likelihood": jnp.sum(jnp.where(finite, log_likelihood, 0.0) * mask),
        "nonfinite": jnp.sum(jnp.where(finite, 0.0, mask)),
    }

  def summarize(self, sums: dict) -> dict[str, float]:
    """Test bits/dim over the whole split; NaN (with the count) if any example was not finite."""
    count, nonfinite = float(sums["count"]), float(sums["nonfinite"])
    mean = float(sums["log_likelihood"]) / count if not nonfinite else float("nan")
    return {
        "bpd": float(self.bits_per_dim(mean)),
        "log_likelihood": mean,
        "nonfinite_examples": int(nonfinite),
        "num_examples": int(count),
    }

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0) -> jax.Array:
    """Images from latents drawn from N(0, temperature^2 I), quantised back to the data's levels."""
    z = temperature * jax.random.normal(rng, (num, self.data.num_dims))
    return self.to_levels(self.decode(state["params"], z))

  def interpolate(self, state: State, start: jax.Array, end: jax.Array, num_steps: int) -> jax.Array:
    """Decodes the straight line between the latents of bin-centred `start` and `end` images."""
    params = state["params"]
    z_start, z_end = (self.model.apply({"params": params}, self.centre_of_bins(x))[0] for x in (start, end))
    weights = jnp.linspace(0.0, 1.0, num_steps)[None, :, None]
    z = (1.0 - weights) * z_start[:, None, :] + weights * z_end[:, None, :]
    return self.to_levels(self.decode(params, z))

  def decode(self, params, z: jax.Array) -> jax.Array:
    """Images y in (about) [0, 1) for latents z [..., D]."""
    images, _ = self.model.apply({"params": params}, z.reshape((-1, z.shape[-1])), inverse=True)
    return images.reshape(z.shape[:-1] + self.data.image_shape)

  def centre_of_bins(self, x: jax.Array) -> jax.Array:
    return (x.astype(jnp.float32) + 0.5) / self.data.num_levels

  def to_levels(self, y: jax.Array) -> jax.Array:
    levels = self.data.num_levels
    return jnp.clip(jnp.floor(y * levels), 0, levels - 1).astype(jnp.uint8)


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
    config.optim.warmup_steps = 0
    config.train.steps = 4
    config.train.log_every = 2
    config.train.checkpoint_every = 2
    config.train.num_samples = 16
  return config


def paper_schedule(config: ml_collections.ConfigDict, dataset: str, train_steps: int) -> None:
  """Dataset and the long-run schedule of the paper-setting variants."""
  config.data.name = dataset
  config.train.steps = train_steps
  config.train.log_every = 500
  config.train.checkpoint_every = 5000
  config.train.eval_every = 20_000
  config.train.sample_every = 5000
