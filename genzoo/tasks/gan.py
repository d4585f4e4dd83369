"""The GAN family: a generator and a discriminator, each with its own optimiser, behind the task
contract (so the runner does not change).

One training step makes `loss.d_steps` discriminator updates, each on its own chunk of the real
batch (so `data.batch_size` = d_steps x the per-update batch) with fresh fakes, then one
generator update on a batch of the chunk size. An exponential moving average of the generator
weights (decay `loss.ema_decay`, or a half-life of `loss.ema_kimg` thousand images) is kept;
sampling and evaluation use it.

The players follow the interface of `genzoo.models.players`: `generator(z, labels, *, train)` and
`discriminator(x, labels, *, train)` with their declared state collections and random streams,
and the generator's EMA policy (e.g. standing batch-norm statistics). Real images are shown to the
discriminator with their labels, fakes with labels drawn uniformly from the data's classes (None
for unlabelled data). Every image the discriminator sees in training, real or fake, in its loss,
the generator's loss and the regularisers, first passes through the augmentation `loss.augment`
(a key of AUGMENTATIONS: "none", "diffaugment" or "ada", whose probability p adapts to the
discriminator's outputs on reals; see AdaptiveAugmentation).

Config keys read here: `model` (name: a key of MODELS; latent_dim, latent_std, and the keys each
player declares), `loss` (name, d_steps, gp_weight, gp_interval, r1_weight, r1_interval,
pl_weight, pl_interval, pl_decay, pl_batch_shrink, ema_decay, ema_kimg, ema_rampup, augment,
ada_pipeline, ada_p, ada_target, ada_interval, ada_kimg), `optim` (generator) and `d_optim`
(discriminator), see `tasks.common.make_optimizer`; `data.batch_size`, `train.steps`.

Objectives, on discriminator logits (or critic values) for real r and fake f:
  minimax         D: softplus(-r) + softplus(f)  G: -softplus(f)   (Goodfellow et al. 2014, eq. 1)
  non_saturating  D: as minimax                  G: softplus(-f)   (ibid., sec. 3)
  hinge           D: relu(1 - r) + relu(1 + f)   G: -f             (Lim & Ye 2017; Miyato et al. 2018)
  wasserstein     D: f - r                       G: -f             (Arjovsky et al. 2017)
Regularisers of the discriminator: the gradient penalty gp_weight * E[(|grad D(x_hat)| - 1)^2] at
random interpolates x_hat of real and fake images (Gulrajani et al. 2017, eq. 3), and R1,
r1_weight / 2 * E[|grad D(x_real)|^2] (Mescheder et al. 2018, eq. 9); of a style-based generator,
path length regularisation (see PathLengthRegularizer). Each runs at every `*_interval`-th step
only, scaled by the interval (lazy regularisation), and is added to the loss of that step. (The
StyleGAN2 code makes a separate optimiser step of it instead and so corrects Adam's learning rate
and betas by interval / (interval + 1); here the steps are not more frequent, so Adam's settings
are used as given.)
"""

import dataclasses
import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genzoo import checks
from genzoo.config import base_config
from genzoo.errors import UserError
from genzoo.models import players
from genzoo.models import rngs as model_rngs
from genzoo.models.biggan import BigGANDiscriminator, BigGANGenerator, orthogonality_penalty
from genzoo.models.dcgan import DCGANDiscriminator, DCGANGenerator
from genzoo.models.resnet_gan import ResNetDiscriminator, ResNetGenerator
from genzoo.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from genzoo.nets import precision
from genzoo.tasks import augment, common
from genzoo.data.spec import DataSpec
from genzoo.tasks.base import Batch, State

# model.name -> (generator, discriminator) classes following `genzoo.models.players`; each builds
# itself from the model.* keys it declares (CONFIG_KEYS, CONFIG_RULES). Register new pairs here.
MODELS = {
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "resnet": (ResNetGenerator, ResNetDiscriminator),
    "stylegan2": (StyleGAN2Generator, StyleGAN2Discriminator),
    "biggan": (BigGANGenerator, BigGANDiscriminator),
}


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """What every image the discriminator sees passes through: `transform(images, rng)` on images
  [N, H, W, C] in [-1, 1], differentiable. An augmentation has its own part of the training
  state (`init()`, checkpointed; empty here) that `__call__` reads and `observe` updates from the
  discriminator's logits on each real chunk, returning metrics to log."""

  transform: Callable[[jax.Array, jax.Array], jax.Array]

  def init(self) -> dict:
    return {}

  def __call__(self, images: jax.Array, rng: jax.Array, state: dict) -> jax.Array:
    del state
    return self.transform(images, rng)

  def observe(self, state: dict, real_logits: jax.Array) -> tuple[dict, dict]:
    del real_logits
    return state, {}


@dataclasses.dataclass(frozen=True)
class AdaptiveAugmentation:
  """ADA (Karras et al. 2020, "Training GANs with limited data", sec. 3): the `pipeline` of
  `tasks.augment.ada` at probability p, where p moves towards keeping the overfitting heuristic
  r_t = E[sign(D(x_real))] at `target`: every `interval` discriminator updates, by
  sign(r_t - target) * (real images seen) / (kimg * 1000), so that p can cross [0, 1] in `kimg`
  thousand images. `target` = 0 keeps p at `initial_p` (fixed-p augmentation)."""

  pipeline: str
  initial_p: float
  target: float
  interval: int
  kimg: float

  def init(self) -> dict:
    zero = jnp.zeros((), jnp.float32)
    return {"p": jnp.asarray(self.initial_p, jnp.float32), "sign_sum": zero, "images": zero,
            "updates": jnp.zeros((), jnp.int32)}

  def __call__(self, images: jax.Array, rng: jax.Array, state: dict) -> jax.Array:
    return augment.ada(images, rng, state["p"], self.pipeline)

  def observe(self, state: dict, real_logits: jax.Array) -> tuple[dict, dict]:
    sign_sum = state["sign_sum"] + jnp.sum(jnp.sign(jax.lax.stop_gradient(real_logits)))
    images = state["images"] + real_logits.shape[0]
    updates = state["updates"] + 1
    r_t = sign_sum / images
    due = (updates % self.interval == 0) & (self.target > 0)
    moved = jnp.clip(state["p"] + jnp.sign(r_t - self.target) * images / (self.kimg * 1000), 0.0, 1.0)
    zero = jnp.zeros_like(sign_sum)
    state = {"p": jnp.where(due, moved, state["p"]), "sign_sum": jnp.where(due, zero, sign_sum),
             "images": jnp.where(due, zero, images), "updates": updates}
    return state, {"ada_p": state["p"], "r_t": r_t}


# loss.augment -> the augmentation of everything the discriminator sees, built from the loss config.
# Register new ones here.
AUGMENTATIONS = {
    "none": lambda loss: Augmentation(lambda images, rng: images),
    "diffaugment": lambda loss: Augmentation(augment.diff_augment),
    "ada": lambda loss: AdaptiveAugmentation(loss.ada_pipeline, loss.ada_p, loss.ada_target, loss.ada_interval,
                                             loss.ada_kimg),
}
# The ADA settings of the paper's code (used when loss.augment="ada"): pipeline, initial p, target
# r_t, discriminator updates between adjustments, thousands of images for p to cross [0, 1].
ADA_DEFAULTS = {"loss.ada_pipeline": "bgc", "loss.ada_p": 0.0, "loss.ada_target": 0.6, "loss.ada_interval": 4,
                "loss.ada_kimg": 500.0}
# Generator regularisation and averaging, with the values that leave them off (what runs stored
# before they existed were trained with): path length regularisation (weight, interval, decay of
# its target, batch shrink), and the EMA half-life in thousands of images with its ramp-up (the
# fraction of the images seen that caps the half-life early on), used instead of loss.ema_decay
# when ema_kimg > 0.
GENERATOR_DEFAULTS = {"loss.pl_weight": 0.0, "loss.pl_interval": 4, "loss.pl_decay": 0.01, "loss.pl_batch_shrink": 2,
                      "loss.ema_kimg": 0.0, "loss.ema_rampup": 0.0, "loss.ortho_weight": 0.0}
# Random streams of a step, folded into its key (independent of the splits the step makes).
_LABEL_STREAM, _AUGMENT_STREAM, _PLAYER_STREAM, _PATH_LENGTH_STREAM = 1001, 1002, 1003, 1004


@dataclasses.dataclass(frozen=True)
class Objective:
  """A GAN objective on discriminator logits (or critic values): `discriminator(real, fake)` per
  pair and `generator(fake)` per sample, both to be minimised."""

  discriminator: Callable[[jax.Array, jax.Array], jax.Array]
  generator: Callable[[jax.Array], jax.Array]


def _logistic_discriminator(real, fake):
  return jax.nn.softplus(-real) + jax.nn.softplus(fake)


def _critic_generator(fake):
  return -fake


LOSSES = {  # loss.name -> objective (see the module docstring); register new objectives here
    "minimax": Objective(_logistic_discriminator, lambda fake: -jax.nn.softplus(fake)),
    "non_saturating": Objective(_logistic_discriminator, lambda fake: jax.nn.softplus(-fake)),
    "hinge": Objective(lambda real, fake: jax.nn.relu(1.0 - real) + jax.nn.relu(1.0 + fake), _critic_generator),
    "wasserstein": Objective(lambda real, fake: fake - real, _critic_generator),
}


def objective(name: str) -> Objective:
  """The objective `loss.name` names (see the module docstring)."""
  if name not in LOSSES:
    raise UserError(f"unknown loss.name {name!r}; known: {list(LOSSES)}")
  return LOSSES[name]


def input_gradient_norms(critic, x: jax.Array) -> jax.Array:
  """|d critic(x_i) / d x_i|_2 per example, for a critic that treats examples independently."""
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(x)
  return jnp.sqrt(jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=-1) + 1e-12)


def gradient_penalty(critic, real: jax.Array, fake: jax.Array, rng: jax.Array) -> jax.Array:
  """E[(|grad critic(x_hat)| - 1)^2], x_hat = e x_real + (1 - e) x_fake, e ~ U[0, 1] per example."""
  e = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1))
  return jnp.mean(jnp.square(input_gradient_norms(critic, e * real + (1.0 - e) * fake) - 1.0))


def r1_penalty(critic, real: jax.Array) -> jax.Array:
  """E[|grad critic(x_real)|^2] (to be weighted by r1_weight / 2)."""
  return jnp.mean(jnp.square(input_gradient_norms(critic, real)))


@dataclasses.dataclass(frozen=True)
class Regularizer:
  """A penalty added to the discriminator's loss: `weight * penalty(critic, real, fake, rng)`,
  computed at every `interval`-th training step. Lazy regularisation (Karras et al. 2020,
  StyleGAN2, sec. 3.1) computes it every k-th step only and scales it by k to keep its strength.
  Its value is logged as the train metric `name`."""

  name: str
  weight: float
  penalty: Callable[..., jax.Array]
  interval: int = 1

  def __call__(self, critic, real, fake, rng, step) -> jax.Array:
    """The weighted penalty at training step `step` (0 at the steps in between)."""
    return at_interval(self.interval, step, lambda: self.interval * self.weight * self.penalty(critic, real, fake, rng),
                       lambda: jnp.zeros(()))


def at_interval(interval: int, step: jax.Array, compute: Callable, skip: Callable):
  """compute() at every `interval`-th training step and skip() at the others (both return the
  same structure); traced once either way."""
  if interval == 1:
    return compute()
  return jax.lax.cond(step % interval == 0, compute, skip)


@dataclasses.dataclass(frozen=True)
class PathLengthRegularizer:
  """Path length regularisation of a style-based generator (StyleGAN2, sec. 3.2, eq. 4):
  weight * E[(|J_w^T y| - a)^2] with y ~ N(0, I) / sqrt(H W) an image-shaped projection and a the
  moving average of the lengths (`decay` per regularised step), on a batch `batch_shrink` times
  smaller than the generator's, every `interval`-th step and scaled by it. The average is part of
  the training state; the penalty and the average are logged as `pl` and `pl_mean`."""

  weight: float
  interval: int
  decay: float
  batch_shrink: int

  def init(self) -> dict:
    return {"mean": jnp.zeros((), jnp.float32)}

  def __call__(self, path_lengths: Callable[[], jax.Array], step: jax.Array, state: dict) -> tuple[jax.Array, dict]:
    """(weighted penalty, new state) at training step `step`; `path_lengths()` gives |J_w^T y| per example."""

    def compute():
      lengths = path_lengths()
      mean = state["mean"] + self.decay * (jnp.mean(jax.lax.stop_gradient(lengths)) - state["mean"])
      return self.interval * self.weight * jnp.mean(jnp.square(lengths - mean)), {"mean": mean}

    return at_interval(self.interval, step, compute, lambda: (jnp.zeros(()), state))


def regularizers(loss: ml_collections.ConfigDict) -> tuple[Regularizer, ...]:
  """The discriminator regularisers a config asks for (those with a non-zero weight)."""
  available = (
      Regularizer("gp", loss.gp_weight, gradient_penalty, loss.gp_interval),
      Regularizer("r1", 0.5 * loss.r1_weight, lambda critic, real, fake, rng: r1_penalty(critic, real),
                  loss.r1_interval),
  )
  return tuple(regularizer for regularizer in available if regularizer.weight)


@dataclasses.dataclass(frozen=True, eq=False)
class GANTask:
  config: ml_collections.ConfigDict
  data: DataSpec

  PROGRESS_METRICS = ("d_loss", "g_loss")
  RESUMABLE_KEYS = ()
  # Keys added after runs were stored, with the value a stored run without them was trained with.
  BACKFILLED_KEYS = {"loss.gp_interval": 1, "loss.r1_interval": 1, "loss.augment": "none", **ADA_DEFAULTS,
                     **GENERATOR_DEFAULTS, "model.compute_dtype": "float32"}

  def __post_init__(self):
    self.check_config(self.config)
    self.data.require("the gan family", ("image",))
    loss = self.config.loss
    if self.config.data.batch_size % loss.d_steps:
      raise UserError(
          f"loss.d_steps={loss.d_steps} must divide data.batch_size={self.config.data.batch_size}: "
          "each discriminator update takes its own chunk of the batch")
    if loss.pl_weight and not hasattr(self.generator, "synthesize"):
      raise UserError(f"loss.pl_weight={loss.pl_weight} regularises the path lengths of a style-based generator; "
                      f"model.name={self.config.model.name!r} has no style space (use 0, or model.name='stylegan2')")
    for player in (self.generator, self.discriminator):
      common.check_class_conditioning(getattr(player, "num_classes", 0), self.data)

  @staticmethod
  def truncation_key(config: ml_collections.ConfigDict) -> str | None:
    """The config key of the generator's truncation trick (None if it has none)."""
    return getattr(MODELS[config.model.name][0], "TRUNCATION_KEY", None) if config.model.name in MODELS else None

  @staticmethod
  def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses unknown names and out-of-range model, loss and optimiser values."""
    checks.check_config(config, {"model.name": checks.one_of(MODELS)})
    generator_class, discriminator_class = MODELS[config.model.name]
    checks.check_config(config, {
        **generator_class.CONFIG_RULES,
        **discriminator_class.CONFIG_RULES,
        "model.latent_dim": checks.at_least(1),
        "model.latent_std": checks.NON_NEGATIVE,
        "loss.name": checks.one_of(LOSSES),
        "loss.d_steps": checks.at_least(1),
        "loss.gp_weight": checks.NON_NEGATIVE,
        "loss.r1_weight": checks.NON_NEGATIVE,
        "loss.gp_interval": checks.at_least(1),
        "loss.r1_interval": checks.at_least(1),
        "loss.augment": checks.one_of(AUGMENTATIONS),
        "loss.ada_pipeline": checks.one_of(augment.PIPELINES),
        "loss.ada_p": checks.fraction(upper_inclusive=True),
        "loss.ada_target": checks.fraction(upper_inclusive=False),
        "loss.ada_interval": checks.at_least(1),
        "loss.ada_kimg": checks.POSITIVE,
        "loss.ema_decay": checks.fraction(upper_inclusive=True),
        "loss.ema_kimg": checks.NON_NEGATIVE,
        "loss.ema_rampup": checks.NON_NEGATIVE,
        "loss.pl_weight": checks.NON_NEGATIVE,
        "loss.pl_interval": checks.at_least(1),
        "loss.pl_decay": checks.fraction(upper_inclusive=True),
        "loss.pl_batch_shrink": checks.at_least(1),
        "loss.ortho_weight": checks.NON_NEGATIVE,
        **precision.COMPUTE_DTYPE_RULE,
        **common.optimizer_rules("optim"),
        **common.optimizer_rules("d_optim"),
    })

  @property
  def num_classes(self) -> int:
    """The classes the generator is conditioned on (0: unconditional)."""
    return getattr(self.generator, "num_classes", 0)

  @functools.cached_property
  def objective(self) -> Objective:
    return objective(self.config.loss.name)

  @functools.cached_property
  def regularizers(self) -> tuple[Regularizer, ...]:
    return regularizers(self.config.loss)

  @functools.cached_property
  def path_length(self) -> PathLengthRegularizer | None:
    loss = self.config.loss
    if not loss.pl_weight:
      return None
    return PathLengthRegularizer(loss.pl_weight, loss.pl_interval, loss.pl_decay, loss.pl_batch_shrink)

  @functools.cached_property
  def generator(self) -> nn.Module:
    generator_class, _ = MODELS[self.config.model.name]
    return players.build(generator_class, self.config, image_shape=self.data.x.shape)

  @functools.cached_property
  def discriminator(self) -> nn.Module:
    _, discriminator_class = MODELS[self.config.model.name]
    return players.build(discriminator_class, self.config)

  @functools.cached_property
  def optimizers(self) -> dict[str, optax.GradientTransformation]:
    steps = self.config.train.steps
    return {"generator": common.make_optimizer(self.config.optim, steps),
            "discriminator": common.make_optimizer(self.config.d_optim, steps)}

  @functools.cached_property
  def augmentation(self):
    return AUGMENTATIONS[self.config.loss.augment](self.config.loss)

  # -- the task contract -------------------------------------------------------------------------

  def init(self, rng: jax.Array, example_batch: Batch) -> State:
    g_rng, d_rng = jax.random.split(rng)
    z = jnp.zeros((2, self.config.model.latent_dim))
    labels = self.fake_labels(g_rng, 2)
    g_vars = self.generator.init({"params": g_rng, **model_rngs(self.generator, g_rng)}, z, labels, train=False)
    d_vars = self.discriminator.init(
        d_rng, self.to_signed(example_batch[self.data.target][:1]), self.real_labels(example_batch, 1), train=False)
    params = {"generator": g_vars.pop("params"), "discriminator": d_vars.pop("params")}
    return {
        "params": params,
        "model_state": {"generator": dict(g_vars), "discriminator": dict(d_vars)},
        "opt_state": {name: self.optimizers[name].init(params[name]) for name in params},
        "ema_generator": params["generator"],
        "step": jnp.zeros((), jnp.int32),
        # Only what has state adds it, so that runs stored without these restore as they are.
        **({"augment": augment_state} if (augment_state := self.augmentation.init()) else {}),
        **({"path_length": self.path_length.init()} if self.path_length else {}),
    }

  def train_step(self, state: State, batch: Batch, rng: jax.Array) -> tuple[State, dict]:
    d_steps = self.config.loss.d_steps
    real_chunks = self.to_signed(batch[self.data.target]).reshape((d_steps, -1) + self.data.x.shape)
    label_chunks = self.real_labels(batch, batch[self.data.target].shape[0])
    if label_chunks is not None:
      label_chunks = label_chunks.reshape((d_steps, -1))
    d_rng, g_rng = jax.random.split(rng)

    updated, d_metrics = jax.lax.scan(lambda carry, inputs: self.discriminator_update(carry, *inputs),
                                      state, (real_chunks, label_chunks, jax.random.split(d_rng, d_steps)))
    updated, g_metrics = self.generator_update(updated, real_chunks.shape[1], g_rng)
    finite = common.all_finite(d_metrics["d_loss"], d_metrics["d_grad_norm"], g_metrics["g_loss"],
                               g_metrics["g_grad_norm"], updated["params"])
    new_state, nonfinite = common.commit_if_finite(state, updated, finite)
    return new_state, {**jax.tree.map(jnp.mean, d_metrics), **g_metrics, "nonfinite": nonfinite}

  def eval_step(self, state: State, batch: Batch, rng: jax.Array) -> dict:
    """Discriminator outputs on test images and on as many EMA-generator samples (masked sums)."""
    mask = batch["mask"]
    real = self.discriminate(state, self.to_signed(batch[self.data.target]), self.real_labels(batch, mask.shape[0]))
    fake_labels = self.fake_labels(rng, mask.shape[0])
    fake = self.discriminate(state, self.generate_ema(state, rng, mask.shape[0], 1.0, fake_labels), fake_labels)
    d_loss = self.objective.discriminator(real, fake)
    return {"count": jnp.sum(mask), "d_real": jnp.sum(real * mask), "d_fake": jnp.sum(fake * mask),
            "d_loss": jnp.sum(d_loss * mask)}

  def example_scores(self, state: State, batch: Batch, rng: jax.Array) -> dict[str, jax.Array]:
    """Per-example anomaly scores [N]: the discriminator's logit, negated ("negative_d_logit",
    higher: less real to it). A heuristic, not a likelihood: D is trained to tell the data from
    the current generator's samples, not from everything else. Labels are not used: a
    class-conditional discriminator is scored with the class it finds most real."""
    del rng  # the discriminator is deterministic in evaluation
    images = self.to_signed(batch[self.data.target])
    if not self.num_classes:
      logits = self.discriminate(state, images, None)
    else:
      logits = jnp.max(jax.lax.map(
          lambda label: self.discriminate(state, images, jnp.full(images.shape[:1], label, jnp.int32)),
          jnp.arange(self.num_classes)), axis=0)
    return {"negative_d_logit": -logits}

  def summarize(self, sums: dict) -> dict[str, float]:
    count = sums["count"]
    return {**{name: float(sums[name] / count) for name in ("d_real", "d_fake", "d_loss")},
            "num_examples": int(count)}

  def sample(self, state: State, rng: jax.Array, num: int, temperature: float = 1.0,
             labels: jax.Array | None = None) -> jax.Array:
    """EMA-generator images at latents N(0, temperature^2 I), in the data's levels; of the classes
    `labels` [num] for a class-conditional generator (uniform classes if None)."""
    labels = self.fake_labels(rng, num) if labels is None else jnp.asarray(labels, jnp.int32)
    return self.to_levels(self.generate_ema(state, rng, num, temperature, labels))

  # -- the two players --------------------------------------------------------------------------

  def discriminator_update(self, state: State, real: jax.Array, real_labels: jax.Array | None,
                           rng: jax.Array) -> tuple[State, dict]:
    z_rng, penalty_rng = jax.random.split(rng)
    fake_labels = self.fake_labels(z_rng, real.shape[0])
    fake, _ = self.generate(state["params"]["generator"], state, z_rng, real.shape[0], fake_labels, train=True)
    fake = jax.lax.stop_gradient(fake)
    real_rng, fake_rng = jax.random.split(jax.random.fold_in(rng, _AUGMENT_STREAM))
    augment_state = state.get("augment", {})
    real, fake = self.augmentation(real, real_rng, augment_state), self.augmentation(fake, fake_rng, augment_state)
    labels = None if real_labels is None else jnp.concatenate([real_labels, fake_labels])

    def loss_fn(d_params):
      logits, d_state = self.apply_player(
          self.discriminator, {"params": d_params, **state["model_state"]["discriminator"]},
          jnp.concatenate([real, fake]), labels, train=True, mutable=list(self.discriminator.STATE_COLLECTIONS))
      real_logits, fake_logits = jnp.split(logits, 2)
      loss = jnp.mean(self.objective.discriminator(real_logits, fake_logits))
      # The regularisers' critic sees one set of labels: the reals' for R1, and for penalties at
      # mixtures of reals and fakes those of the reals as well.
      critic = functools.partial(self.discriminate, {**state, "params": {**state["params"], "discriminator": d_params}},
                                 labels=real_labels)
      penalties = {regularizer.name: regularizer(critic, real, fake, penalty_rng, state["step"])
                   for regularizer in self.regularizers}
      total = functools.reduce(jnp.add, penalties.values(), loss)
      observed, augment_metrics = self.augmentation.observe(augment_state, real_logits)
      return total, (d_state, observed, {"d_loss": loss, "d_real": jnp.mean(real_logits),
                                         "d_fake": jnp.mean(fake_logits), **penalties, **augment_metrics})

    (_, (d_state, observed, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state["params"]["discriminator"])
    state = self.apply_update(state, "discriminator", grads)
    state["model_state"] = {**state["model_state"], "discriminator": {**state["model_state"]["discriminator"], **d_state}}
    if observed:
      state["augment"] = observed
    return state, {**metrics, "d_grad_norm": optax.tree.norm(grads)}

  def generator_update(self, state: State, batch_size: int, rng: jax.Array) -> tuple[State, dict]:
    labels = self.fake_labels(rng, batch_size)
    augment_rng = jax.random.fold_in(rng, _AUGMENT_STREAM)

    def loss_fn(g_params):
      fake, g_state = self.generate(g_params, state, rng, batch_size, labels, train=True)
      logits = self.discriminate(state, self.augmentation(fake, augment_rng, state.get("augment", {})), labels)
      loss = jnp.mean(self.objective.generator(logits))
      total, metrics = loss, {"g_loss": loss}
      if self.config.loss.ortho_weight:
        metrics["ortho"] = self.config.loss.ortho_weight * orthogonality_penalty(g_params)
        total = total + metrics["ortho"]
      if self.path_length is None:
        return total, (g_state, {}, metrics)
      num = max(1, batch_size // self.path_length.batch_shrink)
      lengths = functools.partial(self.path_lengths, g_params, state, jax.random.fold_in(rng, _PATH_LENGTH_STREAM), num)
      penalty, path_length = self.path_length(lengths, state["step"], state["path_length"])
      return total + penalty, (g_state, path_length, {**metrics, "pl": penalty, "pl_mean": path_length["mean"]})

    (_, (g_state, path_length, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state["params"]["generator"])
    state = self.apply_update(state, "generator", grads)
    state["model_state"] = {**state["model_state"], "generator": {**state["model_state"]["generator"], **g_state}}
    if path_length:
      state["path_length"] = path_length
    decay = self.ema_decay(state["step"])
    state["ema_generator"] = optax.incremental_update(
        state["params"]["generator"], state["ema_generator"], 1.0 - decay)
    return state, {**metrics, "g_grad_norm": optax.tree.norm(grads), "ema_decay": decay}

  def path_lengths(self, g_params, state: State, rng: jax.Array, num: int) -> jax.Array:
    """|J_w^T y| per example [num]: the length of the gradient with respect to the styles of the
    images' projection on y ~ N(0, I) / sqrt(H W), styles drawn as in training (mixed)."""
    z_rng, noise_rng = jax.random.split(rng)
    variables = {"params": g_params, **state["model_state"]["generator"]}
    rngs = model_rngs(self.generator, jax.random.fold_in(rng, _PLAYER_STREAM))
    ws, _ = self.apply_player(self.generator, variables, self.latents(z_rng, num, 1.0), self.fake_labels(z_rng, num),
                              True, method="styles", rngs=rngs, mutable=list(self.generator.STATE_COLLECTIONS))
    height, width = self.data.x.shape[:2]
    projection = jax.random.normal(noise_rng, (num,) + self.data.x.shape) / jnp.sqrt(height * width)
    grads = jax.grad(lambda ws: jnp.sum(
        self.apply_player(self.generator, variables, ws, method="synthesize", rngs=rngs) * projection))(ws)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=-1), axis=-1))

  def ema_decay(self, step: jax.Array) -> jax.Array:
    """The generator average's decay at `step`: `loss.ema_decay` (lowered early on), or with
    `loss.ema_kimg` > 0 the decay of a half-life of ema_kimg thousand images, capped at
    `loss.ema_rampup` times the images seen so far when that is > 0 (as in the ADA paper's code)."""
    loss, images_per_step = self.config.loss, self.config.data.batch_size
    if not loss.ema_kimg:
      return common.ema_decay_at(loss.ema_decay, step)
    half_life = loss.ema_kimg * 1000.0
    if loss.ema_rampup:
      half_life = jnp.minimum(half_life, (step + 1) * images_per_step * loss.ema_rampup)
    return 0.5 ** (images_per_step / half_life)

  def apply_update(self, state: State, player: str, grads) -> State:
    """One optimiser step of `player`, unguarded: `train_step` checks the whole step at once."""
    params, opt_state, _ = common.optimizer_step(
        self.optimizers[player], state["params"][player], state["opt_state"][player], grads)
    return {**state, "params": {**state["params"], player: params},
            "opt_state": {**state["opt_state"], player: opt_state}}

  def generate(self, g_params, state: State, rng: jax.Array, num: int, labels: jax.Array | None, train: bool,
               temperature: float = 1.0):
    """(images in [-1, 1], updated generator state collections) from the given weights."""
    z = self.latents(rng, num, temperature)
    return self.apply_player(self.generator, {"params": g_params, **state["model_state"]["generator"]}, z, labels,
                             train=train, mutable=list(self.generator.STATE_COLLECTIONS),
                             rngs=model_rngs(self.generator, jax.random.fold_in(rng, _PLAYER_STREAM)))

  def generate_ema(self, state: State, rng: jax.Array, num: int, temperature: float,
                   labels: jax.Array | None) -> jax.Array:
    """EMA-generator images in [-1, 1]."""
    stats_rng, z_rng = jax.random.split(rng)
    return self.apply_player(self.generator, self.ema_variables(state, stats_rng),
                             self.latents(z_rng, num, temperature), labels, train=False,
                             rngs=model_rngs(self.generator, jax.random.fold_in(rng, _PLAYER_STREAM)))

  def ema_variables(self, state: State, stats_rng: jax.Array) -> dict:
    """The variables the generator's EMA policy makes of the averaged weights (e.g. with standing
    batch-norm statistics, taken on latents drawn from `stats_rng`)."""
    return self.generator.EMA_POLICY.sampling_variables(
        self.generator, {"params": state["ema_generator"], **state["model_state"]["generator"]},
        lambda num: (self.latents(stats_rng, num, 1.0), self.fake_labels(stats_rng, num)), self.apply_player)

  def style_mixing_grid(self, state: State, rng: jax.Array, num: int, band: str) -> jax.Array:
    """A style-mixing grid of the EMA generator, in the data's levels [(num + 1)^2, H, W, C]: `num`
    column sources along the top, `num` row sources down the left, and in the cells each row's
    styles with its column's in the `band` ("coarse", "middle" or "fine") layers."""
    if not hasattr(self.generator, "style_mixing_grid"):
      raise UserError(f"model.name={self.config.model.name!r} has no styles to mix; style mixing needs a "
                      "style-based generator (model.name='stylegan2')")
    rows_rng, columns_rng = jax.random.split(jax.random.fold_in(rng, _PLAYER_STREAM))
    images = self.apply_player(
        self.generator, self.ema_variables(state, jax.random.split(rng)[0]), self.latents(rows_rng, num, 1.0),
        self.latents(columns_rng, num, 1.0), self.fake_labels(rows_rng, num), self.fake_labels(columns_rng, num), band,
        method="style_mixing_grid", rngs=model_rngs(self.generator, rng))
    return self.to_levels(images.reshape((-1,) + images.shape[2:]))

  def apply_player(self, player: nn.Module, variables: dict, *args, **kwargs):
    """`player.apply(variables, *args, **kwargs)` computing in `model.compute_dtype`, with float32
    outputs and updated state (`nets.precision.apply_in`)."""
    return precision.apply_in(self.config.model.compute_dtype, player, variables, *args, **kwargs)

  def real_labels(self, batch: Batch, num: int) -> jax.Array | None:
    """The batch's labels [num], or None for unlabelled data."""
    return None if self.data.num_classes is None else batch["label"][:num]

  def fake_labels(self, rng: jax.Array, num: int) -> jax.Array | None:
    """Labels for `num` fakes, uniform over the data's classes; None for unlabelled data."""
    if self.data.num_classes is None:
      return None
    return jax.random.randint(jax.random.fold_in(rng, _LABEL_STREAM), (num,), 0, self.data.num_classes)

  def latents(self, rng: jax.Array, num: int, temperature: float) -> jax.Array:
    """z ~ N(0, (latent_std * temperature)^2 I). latent_std = 0 turns the noise off: a generator
    collapsed to a single output by construction, the reference case of the mode-collapse metrics."""
    std = self.config.model.latent_std * temperature
    return std * jax.random.normal(rng, (num, self.config.model.latent_dim))

  def discriminate(self, state: State, images: jax.Array, labels: jax.Array | None) -> jax.Array:
    """Discriminator logits with its current state collections, not updating them."""
    return self.apply_player(
        self.discriminator, {"params": state["params"]["discriminator"], **state["model_state"]["discriminator"]},
        images, labels, train=False)

  # -- pixels ------------------------------------------------------------------------------------

  def to_signed(self, images: jax.Array) -> jax.Array:
    """uint8 levels {0, ..., K-1} -> [-1, 1]."""
    return images.astype(jnp.float32) / (self.data.x.levels - 1) * 2.0 - 1.0

  def to_levels(self, images: jax.Array) -> jax.Array:
    """[-1, 1] -> the nearest of the data's levels, uint8."""
    levels = jnp.round((images + 1.0) / 2.0 * (self.data.x.levels - 1))
    return jnp.clip(levels, 0, self.data.x.levels - 1).astype(jnp.uint8)


# -- experiment configs --------------------------------------------------------------------------

GAN_VARIANTS = ("mnist5k", "mnist5k_collapsed", "cifar10", "celeb_a", "smoke")


def experiment_config(variant: str, experiment: str, *, loss: str, d_norm: str, learning_rate: float,
                      betas: tuple[float, float], d_steps: int = 1, gp_weight: float = 0.0,
                      batch_size: int = 64, paper_steps: int = 100_000,
                      known_variants: tuple[str, ...] = GAN_VARIANTS) -> ml_collections.ConfigDict:
  """The config of `experiments/<experiment>.py:<variant>` for a GAN objective.

  Variants: mnist5k (small DCGAN on the embedded digits, scored with FID/KID/modes), its
  mnist5k_collapsed twin (latent_std = 0: one output for every latent), cifar10 (32x32) and
  celeb_a (64x64) with the objective's published optimiser settings, and smoke (tests).
  `known_variants` is what the experiment file accepts (its own extra variants start from one of
  these), for the error on any other name."""
  checks.check_variant(variant, experiment, known_variants)
  config = base_config()
  config.task = "gan"
  config.model = ml_collections.ConfigDict(
      dict(name="dcgan", latent_dim=128, latent_std=1.0, g_width=128, d_width=64, d_norm=d_norm,
           compute_dtype="float32"))  # what the players compute in (nets.precision)
  config.loss = ml_collections.ConfigDict(
      dict(name=loss, d_steps=d_steps, gp_weight=gp_weight, gp_interval=1, r1_weight=0.0, r1_interval=1,
           ema_decay=0.999, augment="none",
           **{key.removeprefix("loss."): value for key, value in {**ADA_DEFAULTS, **GENERATOR_DEFAULTS}.items()}))
  config.optim.learning_rate = learning_rate
  config.optim.b1, config.optim.b2 = betas
  config.d_optim = ml_collections.ConfigDict(config.optim.to_dict())
  config.data.batch_size = batch_size * d_steps  # each discriminator update takes its own chunk
  config.train.steps = paper_steps
  config.train.log_every, config.train.checkpoint_every = 500, 5000
  config.train.eval_every, config.train.sample_every = 10_000, 5000
  if variant in ("mnist5k", "mnist5k_collapsed"):
    config.data.name = "mnist5k"
    config.model.update(latent_dim=64, g_width=32, d_width=32)
    config.train.steps = 2000
    config.train.log_every, config.train.checkpoint_every = 100, 500
    config.train.eval_every, config.train.sample_every = 1000, 500
    config.eval.sample_metrics = "fid,kid,modes"
    if variant == "mnist5k_collapsed":
      config.model.latent_std = 0.0
  elif variant == "cifar10":
    config.data.name = "cifar10"
  elif variant == "celeb_a":
    config.data.name = "celeb_a"
    config.data.image_size = 64
    config.model.d_width = 128
  elif variant == "smoke":
    config.data.name = "digits"
    config.data.batch_size = 16 * d_steps
    config.data.eval_batch_size = 120
    config.model.update(latent_dim=8, g_width=8, d_width=8)
    config.train.steps = 6
    config.train.log_every, config.train.checkpoint_every, config.train.num_samples = 3, 3, 4
  return config
