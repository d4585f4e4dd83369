"""The flow family: maximum likelihood with an exact log-density, on any data with a flow model for it.

A flow model f maps the continuous variable y to latents z = f(y) with a base density p_Z, so
log p(y) = log p_Z(f(y)) + log|det df/dy| exactly, every pre-processing bijector (centring,
logit) included. Its parts are chosen from the data's description:
  - the dequantiser: discrete data of K levels per entry (images) become y = (x + u) / K with
    u ~ U[0, 1)^D, which gives the bound log P(x) >= E_u[log p(y)] - D log K (Theis et al. 2016),
    reported as bits/dim = (-log P(x)) / (D log 2); continuous data (vectors) are modelled as
    they are, and reported as log-likelihood in nats;
  - the base distribution: a standard normal on the flat latents.

With variational dequantisation (Ho et al. 2019, sec. 3.1) u is drawn from a learned flow
q(u | x) instead, trained jointly: log P(x) >= E_q[log p(y) - log q(u | x)] - D log K. Drawing S
noise samples gives the tighter importance-weighted estimate log (1/S) sum_s p(y_s) / q(u_s | x)
(`tasks.importance`; any dequantiser), which evaluation reports when `eval.iwae_k` > 1.

A model conditioned on features of its own data (one with `context_of(x)`: WaveGlow, on the
mel-spectrogram of the waveform) is a flow for every context, log p(y | context(x)) with the
context computed from the clean data; it samples from the contexts of given examples (a vocoder
re-synthesises them), and 16-bit audio is dequantised like images, bits/dim being bits per sample.

Class-conditional (`model.num_classes` > 0, models with that field: Glow), the model is a flow
for every label y and the densities are log p(x | y); samples are drawn for requested classes.
With `loss.class_weight` > 0 the model's class logits (Glow: a classifier of its top latents) add
class_weight x the cross-entropy in bits to the loss (Kingma & Dhariwal 2018, the `weight_y`
of their code); the reported densities do not include it.

Config keys read here: `model.name` (a key of FLOW_MODELS) and that model's fields,
`loss.class_weight`,
`dequantizer.name` (a key of DEQUANTIZERS) and that dequantiser's fields, `optim` (and
`optim.ema_decay`: evaluation and sampling use an exponential moving average of the parameters
when > 0), `train.steps`, `eval.iwae_k` and `eval.iwae_chunk_size`.
"""

import dataclasses
import functools
import math
from typing import ClassVar

import flax.linen as nn
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
from genzoo.models.flowpp import DequantizationFlow, FlowPlusPlus
from genzoo.models.glow import Glow
from genzoo.models.realnvp import RealNVP
from genzoo.models.vector_flow import VectorRealNVP
from genzoo.models.waveglow import WaveGlow
from genzoo.tasks import common, importance
from genzoo.tasks.base import Batch, State

# model.name -> a Linen module built as Model(event_shape=..., **the other model.* keys), whose
# `apply(variables, y, inverse=False, *, train)` maps y [..., *event_shape] to flat latents [..., D]
# (and back with inverse=True) with the log-det; its defaults, the data kinds it models (KINDS),
# its random streams (RNG_STREAMS, drawn in training) and its CONFIG_RULES live with it. Register
# a new flow here.
FLOW_MODELS = {"glow": Glow, "realnvp": RealNVP, "vector_realnvp": VectorRealNVP, "flowpp": FlowPlusPlus,
               "waveglow": WaveGlow}
# Fields a flow model takes from the data's description rather than the config, when it declares them.
DATA_FIELDS = ("event_shape", "sample_rate")


_MODEL_STREAM = 1  # folded into a step's key for the model's own random streams
_IMPORTANCE_STREAM = 2  # folded into an evaluation key for the importance-weighted estimate


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
  """Discrete data x in {0, ..., K-1}^D <-> y = (x + u) / K in [0, 1)^D, u ~ U[0, 1)^D (signed
  data, 16-bit PCM in {-K/2, ..., K/2 - 1}: y in [-1/2, 1/2)).

  A dequantiser has `init(rng, x)` (its parameters, or None: `LEARNED` says which) and
  `__call__(params, x, rng, train=False) -> (y, log_correction)`, one draw with
  log P(x) >= E[log p(y) + log_correction]."""

  feature: Feature

  LEARNED: ClassVar[bool] = False
  LOSS_NAME: ClassVar[str] = "bpd"  # what `loss` reports

  def init(self, rng: jax.Array, x: jax.Array) -> None:
    del rng, x

  def __call__(self, params, x: jax.Array, rng: jax.Array, *, train: bool = False) -> tuple[jax.Array, jax.Array]:
    """(y, log_correction) with log_correction = -D log K."""
    del params, train
    y = (x.astype(jnp.float32) + jax.random.uniform(rng, x.shape)) / self.feature.levels
    return y, jnp.full(x.shape[:1], self.log_volume)

  @property
  def log_volume(self) -> float:
    """-D log K: the log-volume of one bin of y."""
    return -self.feature.size * math.log(self.feature.levels)

  def centre(self, x: jax.Array) -> jax.Array:
    """The centres of x's bins in y."""
    return (x.astype(jnp.float32) + 0.5) / self.feature.levels

  def quantize(self, y: jax.Array) -> jax.Array:
    low, high = self.feature.value_range
    return jnp.clip(jnp.floor(y * self.feature.levels), low, high).astype(self.feature.dtype)

  def loss(self, log_likelihood: jax.Array) -> jax.Array:
    """Bits per dimension."""
    return -log_likelihood / (self.feature.size * math.log(2.0))

  def report(self, mean_log_likelihood: float) -> dict[str, float]:
    return {self.LOSS_NAME: float(self.loss(mean_log_likelihood)), "log_likelihood": mean_log_likelihood}


@dataclasses.dataclass(frozen=True)
class VariationalDequantizer(UniformDequantizer):
  """Discrete data x <-> y = (x + u) / K with u ~ q(u | x), the learned conditional flow `flow`
  (a Linen module whose `apply(variables, x, eps, train=...)` maps standard normal noise eps of
  x's shape to (u in (0, 1)^D, log q(u | x)), e.g. `models.flowpp.DequantizationFlow`);
  log_correction = -D log K - log q(u | x)."""

  flow: nn.Module

  LEARNED: ClassVar[bool] = True

  def init(self, rng: jax.Array, x: jax.Array):
    init_rng, noise_rng = jax.random.split(rng)
    return self.flow.init(init_rng, x, jax.random.normal(noise_rng, x.shape))["params"]

  def __call__(self, params, x: jax.Array, rng: jax.Array, *, train: bool = False) -> tuple[jax.Array, jax.Array]:
    noise_rng, stream_rng = jax.random.split(rng)
    rngs = model_rngs(self.flow, stream_rng) if train else {}
    u, log_q = self.flow.apply({"params": params}, x, jax.random.normal(noise_rng, x.shape), train=train, rngs=rngs)
    return (x.astype(jnp.float32) + u) / self.feature.levels, self.log_volume - log_q


@dataclasses.dataclass(frozen=True)
class Continuous:
  """Continuous data, modelled as it is: y = x."""

  feature: Feature

  LEARNED: ClassVar[bool] = False
  LOSS_NAME: ClassVar[str] = "nll_per_dim"

  def init(self, rng: jax.Array, x: jax.Array) -> None:
    del rng, x

  def __call__(self, params, x: jax.Array, rng: jax.Array, *, train: bool = False) -> tuple[jax.Array, jax.Array]:
    del params, rng, train
    return x.astype(jnp.float32), jnp.zeros(x.shape[:1])

  def centre(self, x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)

  def quantize(self, y: jax.Array) -> jax.Array:
    return y

  def loss(self, log_likelihood: jax.Array) -> jax.Array:
    """Negative log-likelihood in nats per dimension."""
    return -log_likelihood / self.feature.size

  def report(self, mean_log_likelihood: float) -> dict[str, float]:
    return {"log_likelihood": mean_log_likelihood, self.LOSS_NAME: float(self.loss(mean_log_likelihood))}


Dequantizer = UniformDequantizer | VariationalDequantizer | Continuous

# dequantizer.name -> the Linen module of its learned flow, built as Module(event_shape=...,
# levels=..., **the other dequantizer.* keys), or None for a dequantiser without parameters.
# Continuous data are modelled as they are whatever the name; learned dequantisers need discrete data.
DEQUANTIZERS = {"uniform": None, "variational": DequantizationFlow}


def dequantizer_for(feature: Feature, dequantizer_config: ml_collections.ConfigDict) -> Dequantizer:
  """The dequantiser that `dequantizer_config` (the config's `dequantizer` section) names for
  data described by `feature`."""
  if feature.levels is None:
    return Continuous(feature)
  flow_class = DEQUANTIZERS[dequantizer_config.name]
  if flow_class is None:
    return UniformDequantizer(feature)
  fields = common.module_fields(dequantizer_config, exclude=("name",))
  return VariationalDequantizer(feature, flow_class(event_shape=feature.shape, levels=feature.levels, **fields))


def data_fields(model_class: type, feature: Feature) -> dict:
  """The `DATA_FIELDS` that `model_class` declares, from the data's target `feature`."""
  declared = {field.name for field in dataclasses.fields(model_class)}
  return {name: getattr(feature, "shape" if name == "event_shape" else name) for name in DATA_FIELDS if name in declared}


def takes_labels(model_class: type) -> bool:
  """Whether a flow model can be class-conditional: it declares a `num_classes` field and takes
  `labels` in its apply."""
  return "num_classes" in {field.name for field in dataclasses.fields(model_class)}


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
  RESUMABLE_KEYS = ("model.remat", "dequantizer.remat")  # memory versus recomputation: the same updates
  # Keys added after runs were stored, with the value a stored run without them was trained with.
  BACKFILLED_KEYS = {"dequantizer.name": "uniform", "optim.ema_decay": 0.0, "eval.iwae_k": 1,
                     "eval.iwae_chunk_size": 8, "model.num_classes": 0, "loss.class_weight": 0.0,
                     "model.compute_dtype": "float32"}

  def __post_init__(self):
    self.check_config(self.config)
    self.data.require(f"the {self.config.model.name!r} flow model", FLOW_MODELS[self.config.model.name].KINDS)
    if self.data.x.levels is None and DEQUANTIZERS[self.config.dequantizer.name] is not None:
      raise UserError(f"dequantizer.name={self.config.dequantizer.name!r} dequantises discrete data, but "
                      f"{self.data.target!r} is continuous; use dequantizer.name='uniform' (continuous data "
                      "are modelled as they are)")
    common.check_class_conditioning(self.num_classes, self.data)

  @staticmethod
  def stored_model_class(stored: dict) -> type | None:
    """The flow model a stored config (plain data) names, None if it names none we know."""
    return FLOW_MODELS.get(stored.get("model", {}).get("name"))

  @staticmethod
  def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses unknown model and dequantiser names and out-of-range architecture, dequantiser,
    optimiser and evaluation values."""
    checks.check_config(config, {"model.name": checks.one_of(FLOW_MODELS),
                                 "dequantizer.name": checks.one_of(DEQUANTIZERS)})
    model_class = FLOW_MODELS[config.model.name]
    checks.check_model_keys(config, model_class, provided=DATA_FIELDS + ("num_classes",),
                            family_keys=("name", "num_classes"))
    dequantizer_class = DEQUANTIZERS[config.dequantizer.name]
    checks.check_model_keys(config, dequantizer_class, provided=("event_shape", "levels"), section="dequantizer")
    checks.check_config(config, {
        **model_class.CONFIG_RULES,
        **getattr(dequantizer_class, "CONFIG_RULES", {}),
        **common.optimizer_rules("optim"),
        "optim.ema_decay": checks.fraction(upper_inclusive=False),
        "eval.iwae_k": checks.at_least(1),
        "eval.iwae_chunk_size": checks.at_least(1),
        "loss.class_weight": checks.NON_NEGATIVE,
    })
    num_classes, class_weight = config.model.get("num_classes", 0), config.get("loss", {}).get("class_weight", 0.0)
    if num_classes and not takes_labels(model_class):
      conditional = [name for name, model in FLOW_MODELS.items() if takes_labels(model)]
      raise UserError(f"model.num_classes={num_classes} asks for a class-conditional flow, but the "
                      f"{config.model.name!r} model is unconditional; class-conditional flows: {conditional}")
    if class_weight and not num_classes:
      raise UserError(f"loss.class_weight={class_weight} weights a class-prediction loss, which needs a "
                      "class-conditional model (model.num_classes > 0)")

  @property
  def num_classes(self) -> int:
    """The classes the flow is conditioned on (0: unconditional)."""
    return self.config.model.get("num_classes", 0)

  @functools.cached_property
  def model(self):
    classes = {"num_classes": self.num_classes} if self.num_classes else {}
    model_class = FLOW_MODELS[self.config.model.name]
    return model_class(**data_fields(model_class, self.data.x), **classes,
                       **common.module_fields(self.config.model, ("name", "num_classes")))

  @property
  def conditioned_on_data(self) -> bool:
    """Whether the model generates an example given features of it (WaveGlow: a waveform given
    its mel-spectrogram), which the model's `context_of` computes from the clean data."""
    return hasattr(self.model, "context_of")

  def context(self, x: jax.Array) -> jax.Array | None:
    """What the model is conditioned on for the clean data x (None: nothing)."""
    return self.model.context_of(x) if self.conditioned_on_data else None

  @functools.cached_property
  def dequantizer(self) -> Dequantizer:
    return dequantizer_for(self.data.x, self.config.dequantizer)

  @functools.cached_property
  def prior(self) -> StandardNormal:
    return StandardNormal()

  @functools.cached_property
  def optimizer(self) -> optax.GradientTransformation:
    return common.make_optimizer(self.config.optim, self.config.train.steps)

  # -- the trainable parameters: the flow's, and a learned dequantiser's -------------------------
  # Without a learned dequantiser the parameters are the flow's own tree, the layout of every run
  # stored before dequantisers could learn; with one they are {"flow": ..., "dequantizer": ...}.

  def flow_params(self, params):
    return params["flow"] if self.dequantizer.LEARNED else params

  def dequantizer_params(self, params):
    return params["dequantizer"] if self.dequantizer.LEARNED else None

  def evaluated_params(self, state: State):
    """The parameters that evaluation and sampling use: their moving average when
    `optim.ema_decay` > 0, else the trained ones."""
    return state.get("ema_params", state["params"])

  # -- densities ---------------------------------------------------------------------------------

  def apply(self, flow_params, inputs: jax.Array, *, inverse: bool = False, train: bool = False,
            rng: jax.Array | None = None, labels: jax.Array | None = None, context: jax.Array | None = None,
            class_logits: bool = False):
    """The flow model in either direction (given `labels` [N] when class-conditional, and the
    `context` of a model conditioned on the data); in training its random streams draw from `rng`.
    With `class_logits`, the forward direction also returns the model's class logits
    [N, num_classes]."""
    rngs = model_rngs(self.model, rng) if train else {}
    conditioning = self.conditioning(labels, context)
    if not class_logits:
      return self.model.apply({"params": flow_params}, inputs, inverse, train=train, rngs=rngs, **conditioning)
    (z, log_det), sown = self.model.apply({"params": flow_params}, inputs, False, train=train, rngs=rngs,
                                          mutable=["intermediates"], **conditioning)
    return z, log_det, sown["intermediates"]["class_logits"][0]

  def conditioning(self, labels: jax.Array | None, context: jax.Array | None) -> dict:
    """The model's conditioning keyword arguments."""
    return {**({"labels": labels} if self.num_classes else {}), **({} if context is None else {"context": context})}

  def log_prob(self, flow_params, y: jax.Array, *, train: bool = False, rng: jax.Array | None = None,
               labels: jax.Array | None = None, context: jax.Array | None = None, class_logits: bool = False):
    """Exact log-density of the model's continuous variable y, per example (log p(y | labels)
    when class-conditional, log p(y | context) when conditioned on the data); with
    `class_logits`, (that, the model's class logits)."""
    check_finite_input(y)
    z, log_det, *logits = self.apply(flow_params, y, train=train, rng=rng, labels=labels, context=context,
                                     class_logits=class_logits)
    log_p = self.prior.log_prob(z) + log_det
    return (log_p, logits[0]) if class_logits else log_p

  def log_likelihood_bound(self, params, x: jax.Array, rng: jax.Array, *, labels: jax.Array | None = None,
                           train: bool = False, class_logits: bool = False):
    """log P(x) (log P(x | labels) when class-conditional, log P(x | context of x) when
    conditioned on the data) in nats per example, from one dequantisation draw: exact for
    continuous data, the dequantisation bound for discrete data. With `class_logits`, (that, the
    model's class logits)."""
    y, log_correction = self.dequantizer(self.dequantizer_params(params), x, rng, train=train)
    density = self.log_prob(self.flow_params(params), y, train=train, rng=jax.random.fold_in(rng, _MODEL_STREAM),
                            labels=labels, context=self.context(x), class_logits=class_logits)
    if class_logits:
      return density[0] + log_correction, density[1]
    return density + log_correction

  def labels(self, batch: Batch) -> jax.Array | None:
    """The batch's labels for a class-conditional flow; None otherwise."""
    return batch["label"] if self.num_classes else None

  def importance_weighted(self, params, x: jax.Array, rng: jax.Array, num_samples: int,
                          labels: jax.Array | None = None) -> jax.Array:
    """log (1/S) sum_s p(y_s) / q(u_s | x) over S = `num_samples` dequantisation draws, per
    example: a bound on log P(x) that tightens as S grows (Burda et al. 2016, eq. 8; Ho et al.
    2019, sec. 3.1), drawn in chunks of at most `eval.iwae_chunk_size` (see `tasks.importance`)."""

    def chunk_log_weights(chunk_rng, chunk):
      draws = jax.random.split(chunk_rng, chunk)
      return jax.vmap(lambda draw: self.log_likelihood_bound(params, x, draw, labels=labels))(draws)

    return importance.log_mean_exp(
        importance.log_weights(chunk_log_weights, rng, num_samples, self.config.eval.iwae_chunk_size))

  # -- the task contract -------------------------------------------------------------------------

  def init(self, rng: jax.Array, example_batch: Batch) -> State:
    """ActNorm layers initialise from `example_batch` (use a real batch, not zeros)."""
    init_rng, noise_rng = jax.random.split(rng)
    x = example_batch[self.data.target]
    dequantizer_params = self.dequantizer.init(jax.random.fold_in(init_rng, 1), x)
    y, _ = self.dequantizer(dequantizer_params, x, noise_rng)
    conditioning = self.conditioning(self.labels(example_batch), self.context(x))
    flow_params = self.model.init(init_rng, y, **conditioning)["params"]
    params = {"flow": flow_params, "dequantizer": dequantizer_params} if self.dequantizer.LEARNED else flow_params
    state = {"params": params, "opt_state": self.optimizer.init(params), "step": jnp.zeros((), jnp.int32)}
    if self.config.optim.ema_decay:
      state["ema_params"] = params
    return state

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]:
    class_weight, labels = self.config.get("loss", {}).get("class_weight", 0.0), self.labels(batch)

    def loss_fn(params):
      outputs = self.log_likelihood_bound(params, batch[self.data.target], rng, labels=labels, train=True,
                                          class_logits=bool(class_weight))
      if not class_weight:
        return jnp.mean(self.dequantizer.loss(outputs)), {}
      log_likelihood, logits = outputs
      class_bits = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels)) / math.log(2.0)
      loss = jnp.mean(self.dequantizer.loss(log_likelihood))
      return loss + class_weight * class_bits, {"class_bits": class_bits,
                                                "class_accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}

    (loss, extra_metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    new_state, grad_norm, nonfinite = common.apply_gradients(self.optimizer, state, grads, loss)
    if self.config.optim.ema_decay:
      decay = common.ema_decay_at(self.config.optim.ema_decay, state["step"])
      new_state["ema_params"] = optax.incremental_update(new_state["params"], state["ema_params"], 1.0 - decay)
    return new_state, {"loss": loss, "grad_norm": grad_norm, "nonfinite": nonfinite, **extra_metrics}

  def example_log_likelihoods(self, params, x: jax.Array, rng: jax.Array,
                              labels: jax.Array | None) -> dict[str, jax.Array]:
    """The estimates evaluation reports, per example in nats: "log_likelihood" from one
    dequantisation draw and, with `eval.iwae_k` > 1, the importance-weighted "iw_log_likelihood"."""
    estimates = {"log_likelihood": self.log_likelihood_bound(params, x, rng, labels=labels)}
    if self.config.eval.iwae_k > 1:
      estimates["iw_log_likelihood"] = self.importance_weighted(
          params, x, jax.random.fold_in(rng, _IMPORTANCE_STREAM), self.config.eval.iwae_k, labels)
    return estimates

  def example_scores(self, state: State, batch: Batch, rng: jax.Array) -> dict[str, jax.Array]:
    """Per-example anomaly scores [N] (higher: less likely under the model): evaluation's
    estimates (`example_log_likelihoods`, same draws for the same key) as bits/dim ("bpd",
    "iw_bpd"; "nll_per_dim" for continuous data). Labels are not used: a class-conditional flow
    scores log p(x) marginalised over its classes."""
    params, x = self.evaluated_params(state), batch[self.data.target]
    estimates = common.marginal_over_classes(
        lambda labels: self.example_log_likelihoods(params, x, rng, labels), self.num_classes, x.shape[0])
    return {name.replace("log_likelihood", self.dequantizer.LOSS_NAME): self.dequantizer.loss(value)
            for name, value in estimates.items()}

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict:
    params, x, labels, mask = self.evaluated_params(state), batch[self.data.target], self.labels(batch), batch["mask"]
    estimates = self.example_log_likelihoods(params, x, rng, labels)
    sums = {"count": jnp.sum(mask)}
    for name, values in estimates.items():
      finite = jnp.isfinite(values)
      sums[name] = jnp.sum(jnp.where(finite, values, 0.0) * mask)
      sums[f"{name}_nonfinite"] = jnp.sum(jnp.where(finite, 0.0, mask))
    return sums

  def summarize(self, sums: dict) -> dict[str, float]:
    """Test log-likelihood (and bits/dim for discrete data) over the whole split, from one
    dequantisation draw and, with `eval.iwae_k` > 1, the importance-weighted estimate (keys
    prefixed "iw_"); NaN (with the count) if any example was not finite."""
    count = float(sums["count"])

    def mean(name):
      return float(sums[name]) / count if not float(sums[f"{name}_nonfinite"]) else float("nan")

    summary = {**self.dequantizer.report(mean("log_likelihood")),
               "nonfinite_examples": int(sums["log_likelihood_nonfinite"]), "num_examples": int(count)}
    if "iw_log_likelihood" in sums:
      summary.update({f"iw_{key}": value for key, value in self.dequantizer.report(mean("iw_log_likelihood")).items()})
      summary.update(iwae_k=self.config.eval.iwae_k, iw_nonfinite_examples=int(sums["iw_log_likelihood_nonfinite"]))
    return summary

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0,
             labels: jax.Array | None = None, given: jax.Array | None = None) -> jax.Array:
    """Data from latents drawn from the base at `temperature`, quantised back to the data's
    levels where the data are discrete; of the classes `labels` [num] when class-conditional
    (uniform classes if None); for a model conditioned on the data, one for the features of
    each of the `given` examples [num, ...] (a vocoder re-synthesises them from their mels)."""
    return self.sample_checked(state, rng, num, temperature, labels, given)[0]

  def sample_checked(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0,
                     labels: jax.Array | None = None, given: jax.Array | None = None):
    """(`sample`'s values, how many of their entries the inverse could not compute): a flow
    inverse returns NaN where it fails (a root finder short of its tolerance) and may overflow
    (a latent far out in the tails through contracting couplings), and those entries are counted
    here; quantised, they read as level 0."""
    z_rng, label_rng = jax.random.split(rng) if self.num_classes else (rng, None)
    z = self.prior.sample(z_rng, (num, self.data.x.size), temperature)
    labels = common.sampling_labels(label_rng, num, self.num_classes, labels)
    y = self.decode(self.flow_params(self.evaluated_params(state)), z, labels, self.given_context(given, num))
    return self.dequantizer.quantize(y), jnp.sum(~jnp.isfinite(y))

  def temperature_for_sigma(self, sigma: float) -> float:
    """The temperature that samples the base at standard deviation `sigma` in the scale the model
    was trained with: WaveGlow trains under N(0, model.sigma^2) and the paper samples at sigma
    0.6; the other flows train under N(0, I), where sigma is the temperature."""
    return sigma / getattr(self.model, "sigma", 1.0)

  def padded_length(self, length: int) -> int:
    """The shortest example length >= `length` that the model generates (WaveGlow: a multiple of
    its group), for re-synthesising examples of any length."""
    multiple = getattr(self.model, "length_multiple", 1)
    return -(-length // multiple) * multiple

  def given_context(self, given: jax.Array | None, num: int) -> jax.Array | None:
    """The context of `num` `given` examples for a model conditioned on the data (None for the others)."""
    if not self.conditioned_on_data:
      return None
    if given is None or given.shape[0] != num:
      raise UserError(f"the {self.config.model.name!r} model generates examples from features of given ones (its "
                      f"conditioning); sampling {num} needs {num} given examples")
    return self.context(given)

  def log_density(self, state: State, points: jax.Array) -> jax.Array:
    """The model's log-density at points y of its continuous variable [N, *event_shape]: the data's
    density for continuous data (for discrete data, that of the dequantised y in [0, 1)^D)."""
    return self.log_prob(self.flow_params(self.evaluated_params(state)), points)

  def interpolate(self, state: State, start: jax.Array, end: jax.Array, num_steps: int) -> jax.Array:
    """Decodes the straight line between the latents of (bin-centred) `start` and `end`."""
    if self.conditioned_on_data:
      raise UserError(f"the {self.config.model.name!r} model generates an example from features of it, so its latent "
                      "line between two examples has no conditioning to decode with")
    flow_params = self.flow_params(self.evaluated_params(state))
    z_start, z_end = (self.apply(flow_params, self.dequantizer.centre(x))[0] for x in (start, end))
    weights = jnp.linspace(0.0, 1.0, num_steps)[None, :, None]
    z = (1.0 - weights) * z_start[:, None, :] + weights * z_end[:, None, :]
    return self.dequantizer.quantize(self.decode(flow_params, z))

  def decode(self, flow_params, z: jax.Array, labels: jax.Array | None = None,
             context: jax.Array | None = None) -> jax.Array:
    """The model's variable y [..., *event_shape] for latents z [..., D] (and labels [N] of z
    [N, D] when class-conditional, the context [N, ...] when conditioned on the data)."""
    y, _ = self.apply(flow_params, z.reshape((-1, z.shape[-1])), inverse=True, labels=labels, context=context)
    return y.reshape(z.shape[:-1] + self.data.x.shape)


# -- experiment configs --------------------------------------------------------------------------


def family_config(model: dict) -> ml_collections.ConfigDict:
  """`base_config()` with the flow family's own keys at their defaults and the given `model`:
  uniform dequantisation, no parameter averaging, evaluation from one dequantisation draw."""
  config = base_config()
  config.task = "flow"
  # num_classes > 0: class-conditional (Glow); compute_dtype: what the conditioners compute in (nets.precision)
  config.model = ml_collections.ConfigDict({"num_classes": 0, "compute_dtype": "float32", **model})
  config.dequantizer = ml_collections.ConfigDict(dict(name="uniform"))
  config.optim.ema_decay = 0.0  # > 0: evaluate and sample with a moving average of the parameters
  config.eval.iwae_k = 1  # dequantisation draws of the importance-weighted estimate (1: the bound only)
  config.eval.iwae_chunk_size = 8  # draws evaluated at once
  config.loss = ml_collections.ConfigDict(dict(class_weight=0.0))  # > 0: class-prediction loss (conditional)
  return config


def experiment_config(variant: str, experiment: str, variants: tuple[str, ...], model: dict,
                      grad_clip_norm: float) -> ml_collections.ConfigDict:
  """What the flow experiment files share: Adam at 1e-3 with 200 warm-up steps, batch 64, and the
  data and schedule of the embedded-data variants (mnist5k: 3,000 steps; digits: 1,500; smoke: 4
  steps of batch 16; a "_conditional" variant has its base variant's data and schedule), on a
  CPU split over a device per core. The experiment file then sets its model sizes and
  `paper_schedule`s."""
  checks.check_variant(variant, experiment, variants)
  variant = variant.removesuffix("_conditional")
  config = family_config(model)
  config.data.batch_size = 64
  config.data.eval_batch_size = 200
  config.optim.learning_rate = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip_norm = grad_clip_norm
  config.train.cpu_devices = 0  # half of an image flow's step is element-wise work: every core gets a device
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
