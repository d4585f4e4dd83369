"""A task compiled on the device mesh: the jitted functions every command uses, the random
streams they draw from, and the data they read."""

import dataclasses
import functools
import sys
from collections.abc import Callable

import jax
import ml_collections
import numpy as np

from genzoo import data as datasets
from genzoo import metrics, tasks
from genzoo.errors import UserError
from genzoo.runner.checkpoints import abstract_with_sharding
from genzoo.runner.mesh import DataParallel
from genzoo.runner.render import Picture, Samples, render

# Independent random streams, each folded with the step or batch index.
INIT_STREAM, TRAIN_STREAM, EVAL_STREAM, SAMPLE_STREAM, METRICS_STREAM = range(5)


def stream(config: ml_collections.ConfigDict, name: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(config.seed), name)


def is_chief() -> bool:
  return jax.process_index() == 0


def chief_print(message: str) -> None:
  if is_chief():
    print(message, flush=True)


def chief_warn(message: str) -> None:
  """A one-line warning on stderr."""
  if is_chief():
    print(message, file=sys.stderr, flush=True)


def conditional_classes(task: tasks.Task) -> int:
  """The number of classes `task` generates on request (`sample(..., labels)`); 0 if unconditional."""
  return getattr(task, "num_classes", 0)


def load_options(config: ml_collections.ConfigDict) -> dict:
  """`config.data`'s options for `datasets.load` and `datasets.describe`."""
  d = config.data
  return dict(data_dir=d.data_dir, n_bits=d.n_bits, binarize=d.binarize, image_size=d.image_size,
              pad=d.pad, seed=config.seed, classes=tuple(d.get("classes", ())), segment_length=d.get("segment_length"),
              stream=d.stream)


def describe_data(config: ml_collections.ConfigDict) -> datasets.DataSpec:
  """The batches' description, from the registry and `config.data` alone (nothing is read)."""
  return datasets.describe(config.data.name, **load_options(config))


def load_split(config: ml_collections.ConfigDict, split: str) -> datasets.Split:
  return datasets.load(config.data.name, split, **load_options(config))


def train_batches(config: ml_collections.ConfigDict, train_data: datasets.Split) -> Callable[[int], dict]:
  """step -> this process's rows of the global training batch of that step; picklable, for the
  prefetching workers (`genzoo.data.prefetch`)."""
  return functools.partial(
      datasets.train_batch, train_data, global_batch_size=config.data.batch_size, seed=config.seed,
      binarize=config.data.binarize, mutation_rate=config.data.get("mutation_rate", 0.0),
      process_index=jax.process_index(), process_count=jax.process_count())


@dataclasses.dataclass
class Session:
  """A task on a mesh with its jitted functions: what every command needs."""

  config: ml_collections.ConfigDict
  spec: datasets.DataSpec
  parallel: DataParallel
  task: tasks.Task

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, spec: datasets.DataSpec | None = None,
             parallel: DataParallel | None = None) -> "Session":
    """The session of `config`, on data described by `spec` (by default `describe_data(config)`)."""
    spec = spec or describe_data(config)
    parallel = parallel or DataParallel.for_batches(config.data.batch_size, config.data.eval_batch_size,
                                                    cpu_devices=config.train.cpu_devices)
    parallel.check_batch_size(config.data.batch_size, "data.batch_size")
    parallel.check_batch_size(config.data.eval_batch_size, "data.eval_batch_size")
    datasets.check_mutation(config.data.get("mutation_rate", 0.0), spec.x.levels)
    task = tasks.make_task(config, spec)
    names = metrics.parse_metric_names(config.eval.get("sample_metrics", ""))
    metrics.check_image_metrics(names, spec.x.kind)
    metrics.check_class_metrics(names, conditional_classes(task))
    metrics.check_resynthesis_metrics(names, getattr(task, "conditioned_on_data", False))
    return cls(config, spec, parallel, task)

  def example_batch(self) -> dict[str, np.ndarray]:
    return self.spec.example_batch()

  def init_state(self, example_batch):
    """Initial state, born replicated; data-dependent initialisers see `example_batch`."""
    init = jax.jit(self.task.init, out_shardings=self.parallel.replicated)
    return init(stream(self.config, INIT_STREAM), example_batch)

  def abstract_state(self):
    abstract = jax.eval_shape(self.task.init, stream(self.config, INIT_STREAM), self.example_batch())
    return abstract_with_sharding(abstract, self.parallel.replicated)

  def jit_train_step(self):
    p = self.parallel
    return jax.jit(
        self.task.train_step,
        in_shardings=(p.replicated, p.batch, p.replicated),
        out_shardings=(p.replicated, p.replicated),
        donate_argnums=0,
    )

  def jit_eval_step(self):
    p = self.parallel
    return jax.jit(
        self.task.eval_step,
        in_shardings=(p.replicated, p.batch, p.replicated),
        out_shardings=p.replicated,
    )

  @functools.cached_property
  def jit_sample(self):
    """The task's `sample_checked` (its `sample` with no failures counted if it has none), jitted
    once per session (compiled once per sample count, and with labels or without), its samples
    split over the mesh's devices (`DataParallel.split_rows`)."""
    checked = getattr(self.task, "sample_checked", None)
    if checked is None:
      checked = lambda state, rng, num, temperature, labels, given=None: (
          self.task.sample(state, rng, num, temperature, labels), 0)

    def split_sample(state, rng, num, *rest):
      values, failures = checked(state, rng, num, *rest)
      return self.parallel.split_rows(values), failures

    return jax.jit(split_sample, static_argnums=2, out_shardings=self.parallel.replicated)

  def given_examples(self, num: int) -> np.ndarray | None:
    """The examples a task `conditioned_on_data` generates from: the first `num` test examples
    (the same ones every time, so samples of a run's steps compare); None for other tasks."""
    if not getattr(self.task, "conditioned_on_data", False):
      return None
    test = self.test_data[self.spec.target]
    if num > len(test):
      raise UserError(f"this model generates from the features of given test examples, and the test split has "
                      f"{len(test)}; ask for at most {len(test)} samples")
    return test[:num]

  @functools.cached_property
  def test_data(self) -> datasets.Split:
    """The test split, read once per session: evaluation, interpolation and the given examples
    of a task conditioned on the data all use it."""
    return load_split(self.config, "test")

  @functools.cached_property
  def jit_example_scores(self):
    """The task's `example_scores` on a batch laid out over the mesh, jitted once per session;
    None if the task has none."""
    example_scores = getattr(self.task, "example_scores", None)
    p = self.parallel
    return None if example_scores is None else jax.jit(
        example_scores, in_shardings=(p.replicated, p.batch, p.replicated), out_shardings=p.replicated)

  @functools.cached_property
  def jit_log_density(self):
    """The task's `log_density`, jitted once per session; None if the task has none."""
    log_density = getattr(self.task, "log_density", None)
    return None if log_density is None else jax.jit(log_density, out_shardings=self.parallel.replicated)

  def sample(self, state, num: int, temperature: float = 1.0, rng=None, labels: np.ndarray | None = None,
             given: np.ndarray | None = None) -> Samples:
    """`num` samples at `temperature`, tagged with the data's target feature; with `labels` [num],
    of those classes (a class-conditional task only; see `conditional_classes`); a task
    conditioned on the data generates from the `given` examples [num, ...] (default: the first
    `num` test examples), which come with the samples as their references."""
    rng = stream(self.config, SAMPLE_STREAM) if rng is None else rng
    labels = None if labels is None else np.asarray(labels, np.int32)
    given = self.given_examples(num) if given is None else given
    values, failures = jax.device_get(self.jit_sample(state, rng, num, temperature, labels, given))
    if failures:
      chief_warn(f"{int(failures)} of {np.size(values)} sampled values could not be computed (not finite: a "
                 "numerical inverse short of its tolerance, or an overflow in the inverse) and are shown as 0")
    return Samples(np.asarray(values), self.spec.x, references=given)

  def class_grid(self, state, classes: np.ndarray, per_class: int, temperature: float = 1.0) -> Picture:
    """`per_class` samples of each of `classes` from a class-conditional task, one row per class
    (a single class: a square grid)."""
    samples = self.sample(state, per_class * len(classes), temperature, labels=np.repeat(classes, per_class))
    return self.render(state, samples, columns=per_class if len(classes) > 1 else None)

  def preview(self, state, num: int) -> Picture:
    """The picture of `num` samples a run shows as it trains, drawn at `eval.sample_temperature`
    (as the scored ones): for a class-conditional task, one row per class."""
    num_classes, temperature = conditional_classes(self.task), self.config.eval.get("sample_temperature", 1.0)
    if num_classes:
      return self.class_grid(state, np.arange(num_classes), max(1, num // num_classes), temperature)
    return self.render(state, self.sample(state, num, temperature))

  def render(self, state, samples: Samples, columns: int | None = None) -> Picture:
    """`samples` drawn by their kind's renderer, with the model's density where it can show it."""
    log_density = None if self.jit_log_density is None else functools.partial(self._log_density, state)
    return render(samples, columns, log_density)

  def _log_density(self, state, points: np.ndarray) -> np.ndarray:
    return np.asarray(jax.device_get(self.jit_log_density(state, points)))
