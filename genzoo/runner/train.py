"""Training and the commands that read a run: `train_and_evaluate`, `evaluate`, `sample`, `interpolate`.

A run lives in one workdir:
  config.json        the experiment config (a resumed run must match it, see runner.config)
  dataset.json       image shape and grey levels of the data the model was built for
  checkpoints/<step> Orbax checkpoints; training resumes from the latest automatically
  metrics.jsonl      one JSON object per line: {"step": ..., "train/...": ..., "eval/...": ...}
  tensorboard/       the same scalars and the sample grids as TensorBoard events
  samples_<step>.png sample grids
"""

import contextlib
import dataclasses
import datetime
import functools
import json
import os
import shutil
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from genzoo import checks, metrics, tasks
from genzoo import data as datasets
from genzoo.errors import MissingFileError, UserError
from genzoo.runner import config as run_config
from genzoo.runner import images
from genzoo.runner.checkpoints import Checkpoints, abstract_with_sharding
from genzoo.runner.mesh import DataParallel
from genzoo.runner.writers import Progress, RunWriter

DATASET_FILE = "dataset.json"
PROGRESS_METRICS = ("loss", "elbo_bpd", "d_loss", "g_loss")  # shown on the progress line when present
# Independent random streams, each folded with the step or batch index.
INIT_STREAM, TRAIN_STREAM, EVAL_STREAM, SAMPLE_STREAM, METRICS_STREAM = range(5)


class NonFiniteError(UserError):
  """Training met a non-finite loss or gradient and `train.on_nonfinite` is "stop"."""


class WorkdirConflictError(UserError):
  """The workdir holds a run of a different experiment."""


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


def load_split(config: ml_collections.ConfigDict, split: str) -> datasets.ImageData:
  d = config.data
  return datasets.load(
      d.name, split, data_dir=d.data_dir, n_bits=d.n_bits, binarize=d.binarize,
      image_size=d.image_size, pad=d.pad, seed=config.seed,
  )


@dataclasses.dataclass
class Session:
  """A task on a mesh with its jitted functions: what every command needs."""

  config: ml_collections.ConfigDict
  data_info: tasks.DataInfo
  parallel: DataParallel
  task: tasks.Task

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, data_info: tasks.DataInfo,
             parallel: DataParallel | None = None) -> "Session":
    parallel = parallel or DataParallel.over()
    parallel.check_batch_size(config.data.batch_size, "data.batch_size")
    parallel.check_batch_size(config.data.eval_batch_size, "data.eval_batch_size")
    return cls(config, data_info, parallel, tasks.make_task(config, data_info))

  def example_batch(self) -> dict[str, np.ndarray]:
    return {
        "image": np.zeros((1,) + self.data_info.image_shape, np.uint8),
        "label": np.zeros((1,), np.int32),
    }

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

  def evaluate(self, state, test_data: datasets.ImageData, eval_step=None) -> dict[str, float]:
    """Test metrics over the whole split: per-batch sums added up, then summarised by the task."""
    eval_step = eval_step or self.jit_eval_step()
    eval_rng = stream(self.config, EVAL_STREAM)
    batches = datasets.eval_batches(
        test_data, self.config.data.eval_batch_size,
        process_index=jax.process_index(), process_count=jax.process_count(),
    )
    sums = None
    for index, local_batch in enumerate(batches):
      batch_sums = eval_step(state, self.parallel.global_batch(local_batch), jax.random.fold_in(eval_rng, index))
      sums = batch_sums if sums is None else jax.tree.map(jnp.add, sums, batch_sums)
    return {**self.task.summarize(jax.device_get(sums)), **self.sample_metrics(state, test_data)}

  def sample_metrics(self, state, test_data: datasets.ImageData) -> dict:
    """FID/KID/mode coverage of `eval.metric_samples` samples against the test split, as listed
    in `eval.sample_metrics` (nothing if empty). Configs stored before these keys read as empty."""
    names = metrics.parse_metric_names(self.config.eval.get("sample_metrics", ""))
    if not names:
      return {}
    rng = stream(self.config, METRICS_STREAM)

    def generate(index: int, size: int) -> np.ndarray:
      return jax.device_get(self.jit_sample(state, jax.random.fold_in(rng, index), size, 1.0))

    feature_extractor = self.feature_extractor if {"fid", "kid"} & set(names) else None
    return metrics.evaluate_samples(
        generate, test_data.images, test_data.num_levels, names,
        num_samples=self.config.eval.get("metric_samples", 1000),
        batch_size=self.config.data.eval_batch_size, reference_name=f"the {test_data.name} test split",
        feature_extractor=feature_extractor, classifier=self.classifier if "modes" in names else None)

  @functools.cached_property
  def feature_extractor(self):
    """FID/KID features, per `eval.feature_extractor`: the dataset's classifier (default) or the
    FID Inception-v3 read from `eval.inception_weights`; loaded once per session."""
    name = self.config.eval.get("feature_extractor", "classifier")
    if name == "inception":
      return metrics.InceptionExtractor.load(self.config.eval.get("inception_weights"))
    return self.classifier

  @functools.cached_property
  def classifier(self) -> metrics.ClassifierExtractor:
    """The data's feature classifier, loaded (or trained) once per session."""
    return load_or_train_feature_extractor(
        self.config.data.name, self.config.eval.get("features_dir"), self.config.data.data_dir)

  @functools.cached_property
  def jit_sample(self):
    """The task's `sample`, jitted once per session (compiled once per sample count)."""
    return jax.jit(self.task.sample, static_argnums=2, out_shardings=self.parallel.replicated)

  def sample_grid(self, state, num: int, temperature: float = 1.0, rng=None) -> np.ndarray:
    rng = stream(self.config, SAMPLE_STREAM) if rng is None else rng
    samples = np.asarray(jax.device_get(self.jit_sample(state, rng, num, temperature)))
    columns = int(np.ceil(np.sqrt(num)))
    return images.grid(images.to_display(samples, self.data_info.num_levels), columns)


def load_or_train_feature_extractor(dataset: str, features_dir: str | None, data_dir: str | None):
  """The dataset's feature classifier, trained and cached first if there is none yet."""
  try:
    return metrics.ClassifierExtractor.load(dataset, features_dir)
  except FileNotFoundError:
    chief_print(f"no feature classifier cached for {dataset!r} yet: training one (`genzoo train-features`)")
  if is_chief():
    print(json.dumps(metrics.train_feature_classifier(dataset, features_dir, data_dir=data_dir)), flush=True)
  multihost_utils.sync_global_devices("genzoo:feature_classifier")
  return metrics.ClassifierExtractor.load(dataset, features_dir)


def prepare_workdir(config: ml_collections.ConfigDict, workdir: str, overwrite: bool) -> None:
  """Refuses a workdir holding a different experiment unless `overwrite`, which moves it aside."""
  stored_path = os.path.join(workdir, run_config.CONFIG_FILE)
  if os.path.exists(stored_path):
    stored = run_config.read_json(stored_path, "the run's experiment config")
    differences = run_config.trajectory_differences(stored, run_config.to_plain_dict(config))
    if differences and not overwrite:
      raise WorkdirConflictError(
          f"workdir {workdir} holds a run of a different config ({'; '.join(differences)}); use "
          "another --workdir, or pass --overwrite to move the old run aside and start anew")
    if differences and is_chief():
      stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
      backup = f"{os.path.normpath(workdir)}.replaced-{stamp}"
      shutil.move(workdir, backup)
      print(f"--overwrite: moved the previous run in {workdir} to {backup}", flush=True)
  multihost_utils.sync_global_devices("genzoo:prepare_workdir")
  if is_chief():
    with writing_into(workdir):
      os.makedirs(workdir, exist_ok=True)
      write_json(os.path.join(workdir, run_config.CONFIG_FILE), run_config.to_plain_dict(config))


@contextlib.contextmanager
def writing_into(folder: str, after: str = ""):
  """Turns a failure to write into `folder` (read-only, full, not a folder) into a `UserError`;
  `after` tells what was already done (e.g. that results were printed)."""
  try:
    yield
  except OSError as error:
    reason = error.strerror or type(error).__name__
    raise UserError(f"cannot write into {folder}: {reason} ({error.filename}){after}") from error


def write_json(path: str, value) -> None:
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)


def read_data_info(workdir: str) -> tasks.DataInfo:
  path = os.path.join(workdir, DATASET_FILE)
  stored = run_config.read_json(path, "the image shape and levels the model was built for")
  return tasks.DataInfo(tuple(stored["image_shape"]), stored["num_levels"])


def check_train_batch_fits(config: ml_collections.ConfigDict, train_data: datasets.ImageData) -> None:
  if config.data.batch_size > train_data.num_examples:
    raise UserError(
        f"data.batch_size={config.data.batch_size} is larger than the {train_data.num_examples} "
        f"training examples of {train_data.name}; use at most {train_data.num_examples}")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> dict:
  """Trains (resuming from the workdir's newest intact checkpoint), evaluates and samples; returns
  the final test metrics (empty if the checkpoint already reached `train.steps`).

  Everything that can fail on the config (values, names, the data, batch sizes, a dry trace of the
  task's `init` on the data's shapes) is checked before the workdir is touched."""
  run_config.check_runner_settings(config)
  tasks.check_config(config)
  train_data, test_data = load_split(config, "train"), load_split(config, "test")
  check_train_batch_fits(config, train_data)
  data_info = tasks.DataInfo(train_data.shape, train_data.num_levels)
  session = Session.create(config, data_info)
  abstract_state = session.abstract_state()  # traces init: a model that cannot take these images fails here
  prepare_workdir(config, workdir, overwrite)
  if is_chief():
    with writing_into(workdir):
      write_json(os.path.join(workdir, DATASET_FILE), dataclasses.asdict(data_info))

  checkpoints = Checkpoints(workdir, config.train.max_to_keep)
  try:
    start_step, state = checkpoints.restore_newest_intact(abstract_state, set_aside_damaged=True, warn=chief_warn)
    if start_step is None:
      start_step = 0
      state = session.init_state(session.parallel.global_batch(local_train_batch(config, train_data, 0)))
    else:
      chief_print(f"resuming from the checkpoint at step {start_step} in {workdir}")
    writer = RunWriter(workdir, enabled=is_chief(), start_step=start_step)
    try:
      return _train_loop(session, workdir, train_data, test_data, checkpoints, writer, start_step, state)
    finally:
      writer.close()
  finally:
    checkpoints.close()


def _train_loop(session: Session, workdir, train_data, test_data, checkpoints, writer, start_step, state) -> dict:
  config, train = session.config, session.config.train
  if start_step >= train.steps:
    chief_print(
        f"nothing to train: the checkpoint at step {start_step} already reaches train.steps="
        f"{train.steps}; raise --config.train.steps to train longer, or run `genzoo eval`"
    )
    return {}

  train_step, eval_step = session.jit_train_step(), session.jit_eval_step()
  train_rng = stream(config, TRAIN_STREAM)
  progress = Progress(start_step, train.steps)
  interval = MetricAverager()
  pending = None  # (step, device metrics) of the step dispatched last, fetched one step later

  def settle(pending_metrics):
    step, device_metrics = pending_metrics
    metrics = jax.device_get(device_metrics)
    if metrics["nonfinite"] and train.on_nonfinite == "stop":
      last = checkpoints.latest_step()
      raise NonFiniteError(
          f"step {step}: the loss or gradients were not finite. The update was not applied and "
          f"the last checkpoint ({'step ' + str(last) if last else 'none yet'}) is untouched. "
          "Lower optim.learning_rate, set optim.grad_clip_norm, or set train.on_nonfinite=skip "
          "to skip such steps."
      )
    interval.add(metrics)

  final_metrics = {}
  for step in range(start_step, train.steps):
    local_batch = local_train_batch(config, train_data, step)
    state, metrics = train_step(state, session.parallel.global_batch(local_batch),
                                jax.random.fold_in(train_rng, step))
    if pending is not None:
      settle(pending)
    pending = (step + 1, metrics)
    done = step + 1
    is_last = done == train.steps
    if not (is_last or _due(done, train.log_every, train.checkpoint_every, train.eval_every, train.sample_every)):
      continue
    settle(pending)
    pending = None
    if _due(done, train.log_every) or is_last:
      rate = progress.steps_per_sec(done)
      interval_steps, averaged = interval.count, interval.pop()
      writer.scalars(done, {**{f"train/{k}": v for k, v in averaged.items()}, "steps_per_sec": rate})
      chief_print(progress.line(done, rate, {k: averaged[k] for k in PROGRESS_METRICS if k in averaged}))
      skipped = round(averaged["nonfinite"] * interval_steps)
      if skipped:
        chief_warn(f"warning: {skipped} of the last {interval_steps} steps (up to step {done}) had a "
                   "non-finite loss or gradients and were skipped (train.on_nonfinite=skip)")
    if _due(done, train.checkpoint_every) or is_last:
      checkpoints.save(done, state)
    if _due(done, train.eval_every) or is_last:
      final_metrics = session.evaluate(state, test_data, eval_step)
      writer.scalars(done, {f"eval/{k}": v for k, v in final_metrics.items()})
      chief_print(f"step {done} test: " + json.dumps(final_metrics))
    if _due(done, train.sample_every) or is_last:
      grid = session.sample_grid(state, train.num_samples)
      writer.image(done, "samples", grid, os.path.join(workdir, f"samples_{done}.png"),
                   scale=images.display_scale(session.data_info.image_shape[0]))
  return final_metrics


def local_train_batch(config: ml_collections.ConfigDict, train_data: datasets.ImageData, step: int):
  """This process's rows of the global training batch of `step`."""
  return datasets.train_batch(
      train_data, step, config.data.batch_size, seed=config.seed, binarize=config.data.binarize,
      process_index=jax.process_index(), process_count=jax.process_count(),
  )


def _due(step: int, *intervals: int) -> bool:
  return any(every > 0 and step % every == 0 for every in intervals)


class MetricAverager:
  """Host-side running means of the train metrics since the last report."""

  def __init__(self):
    self._sums, self.count = {}, 0

  def add(self, metrics: dict) -> None:
    for name, value in metrics.items():
      self._sums[name] = self._sums.get(name, 0.0) + float(value)
    self.count += 1

  def pop(self) -> dict[str, float]:
    means = {name: total / self.count for name, total in self._sums.items()}
    self._sums, self.count = {}, 0
    return means


def restore_session(workdir: str, step: int | None, config_overrides: dict | None = None):
  """The config, session and restored state of a run in `workdir`: the checkpoint of `step`, or
  the newest intact one if `step` is None (skipping damaged ones with a warning).
  `config_overrides` maps dotted keys of the stored config to new values (e.g. eval settings)."""
  config = run_config.read_workdir_config(workdir)
  for dotted, value in (config_overrides or {}).items():
    section, name = dotted.split(".")
    config[section][name] = value
  run_config.check_runner_settings(config)
  tasks.check_config(config)
  session = Session.create(config, read_data_info(workdir))
  checkpoints = Checkpoints(workdir)
  try:
    if step is not None:
      return config, session, step, checkpoints.restore(step, session.abstract_state())
    step, state = checkpoints.restore_newest_intact(session.abstract_state(), set_aside_damaged=False, warn=chief_warn)
  finally:
    checkpoints.close()
  if step is None:
    raise MissingFileError(f"{workdir} has no intact checkpoint to read; train first (`genzoo train`)")
  return config, session, step, state


def evaluate(workdir: str, step: int | None = None, iwae_k: int | None = None,
             sample_metrics: str | None = None, features_dir: str | None = None,
             feature_extractor: str | None = None, inception_weights: str | None = None) -> dict:
  """Test metrics of a checkpoint over the whole test split, printed (by process 0) and then
  written to eval_<step>.json. `sample_metrics` ("fid,kid,modes" or a subset) adds sample-quality
  scores, with FID/KID in the features of `feature_extractor` ("classifier" or "inception",
  reading `inception_weights`)."""
  overrides = {"eval.iwae_k": iwae_k, "eval.sample_metrics": sample_metrics, "eval.features_dir": features_dir,
               "eval.feature_extractor": feature_extractor, "eval.inception_weights": inception_weights}
  overrides = {key: value for key, value in overrides.items() if value is not None}
  stored = run_config.read_workdir_config(workdir)
  if iwae_k is not None:
    checks.check_value("--iwae-k", iwae_k, checks.at_least(1))
  if iwae_k is not None and "iwae_k" not in stored.eval:
    raise UserError(f"--iwae-k applies to runs with an importance-weighted bound (the 'vae' family); "
                    f"{workdir} holds a {stored.get('task')!r} run")
  if sample_metrics is not None:
    metrics.parse_metric_names(sample_metrics)  # refuse bad names before restoring anything
  if feature_extractor is not None:
    metrics.check_feature_extractor(feature_extractor, inception_weights)
  config, session, step, state = restore_session(workdir, step, overrides)
  results = {"step": step, **session.evaluate(state, load_split(config, "test"))}
  chief_print(json.dumps(results, indent=2))
  if is_chief():
    with writing_into(workdir, after="; the results are printed above"):
      write_json(os.path.join(workdir, f"eval_{step}.json"), results)
  return results


def check_output_path(path: str) -> None:
  """Refuses an output file in a folder that does not exist or cannot be written."""
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise MissingFileError(f"cannot write {path}: the folder {folder} does not exist; create it first")
  if not os.access(folder, os.W_OK):
    raise UserError(f"cannot write {path}: the folder {folder} is not writable; choose another --output")


def sample(workdir: str, output: str | None, num: int, temperature: float, step: int | None = None) -> str:
  """Writes a PNG grid of `num` samples at `temperature`; returns its path."""
  checks.check_value("--num", num, checks.at_least(1))
  checks.check_value("--temperature", temperature, checks.NON_NEGATIVE)
  if output is not None:
    check_output_path(output)
  config, session, step, state = restore_session(workdir, step)
  path = output or os.path.join(workdir, f"samples_{step}_t{temperature:g}.png")
  check_output_path(path)
  grid = session.sample_grid(state, num, temperature)
  if is_chief():
    images.save_png(grid, path, scale=images.display_scale(session.data_info.image_shape[0]))
  return path


def interpolate(workdir: str, output: str | None, num_pairs: int, num_steps: int, step: int | None = None) -> str:
  """Writes a PNG with one row per pair of test images, walking the latent line between them."""
  checks.check_value("--num-pairs", num_pairs, checks.at_least(1))
  checks.check_value("--num-steps", num_steps, checks.at_least(2))
  if output is not None:
    check_output_path(output)
  config, session, step, state = restore_session(workdir, step)
  if not hasattr(session.task, "interpolate"):
    raise UserError(f"the {config.task!r} family does not support interpolation")
  path = output or os.path.join(workdir, f"interpolation_{step}.png")
  check_output_path(path)
  test_images = load_split(config, "test").images
  if 2 * num_pairs > len(test_images):
    raise UserError(f"--num-pairs={num_pairs} needs {2 * num_pairs} test images; the split has "
                    f"{len(test_images)}, so use at most {len(test_images) // 2}")
  walk = jax.jit(session.task.interpolate, static_argnums=3)
  strips = np.asarray(walk(state, test_images[0 : 2 * num_pairs : 2], test_images[1 : 2 * num_pairs : 2], num_steps))
  flat = strips.reshape((-1,) + strips.shape[2:])
  grid = images.grid(images.to_display(flat, session.data_info.num_levels), columns=num_steps)
  if is_chief():
    images.save_png(grid, path, scale=images.display_scale(session.data_info.image_shape[0]))
  return path
