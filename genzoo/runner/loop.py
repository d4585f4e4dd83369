"""The training loop: train (resuming from the newest intact checkpoint), log, checkpoint, evaluate
and sample at their intervals. Data order and randomness are functions of the step, so an
interrupted and resumed run ends with exactly the state of an uninterrupted one."""

import json
import os

import jax
import ml_collections

from genzoo import data as datasets
from genzoo import tasks
from genzoo.config import check_runner_settings
from genzoo.data.prefetch import Prefetcher
from genzoo.errors import UserError
from genzoo.runner import workdir as run_files
from genzoo.runner.checkpoints import Checkpoints
from genzoo.runner.evaluation import Evaluator
from genzoo.runner.session import (TRAIN_STREAM, Session, chief_print, chief_warn, is_chief, load_split, stream,
                                   train_batches)
from genzoo.runner.writers import Progress, RunWriter


class NonFiniteError(UserError):
  """Training met a non-finite loss or gradient and `train.on_nonfinite` is "stop"."""


def check_train_batch_fits(config: ml_collections.ConfigDict, train_data: datasets.Split) -> None:
  if config.data.batch_size > train_data.num_examples:
    raise UserError(
        f"data.batch_size={config.data.batch_size} is larger than the {train_data.num_examples} "
        f"training examples of {train_data.name}; use at most {train_data.num_examples}")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> dict:
  """Trains (resuming from the workdir's newest intact checkpoint), evaluates and samples; returns
  the final test metrics (empty if the checkpoint already reached `train.steps`).

  Everything that can fail on the config (values, names, the data, batch sizes, a dry trace of the
  task's `init` on the data's shapes) is checked before the workdir is touched."""
  check_runner_settings(config)
  tasks.check_config(config)
  session = Session.create(config)  # the task, sized from the data's static description
  train_data, test_data = load_split(config, "train"), session.test_data
  check_train_batch_fits(config, train_data)
  abstract_state = session.abstract_state()  # traces init: a model that cannot take this data fails here
  run_files.prepare_workdir(config, workdir, overwrite)
  if is_chief():
    with run_files.writing_into(workdir):
      run_files.write_json(os.path.join(workdir, run_files.DATASET_FILE), session.spec.to_json())

  checkpoints = Checkpoints(workdir, config.train.max_to_keep)
  try:
    start_step, state = checkpoints.restore_newest_intact(abstract_state, set_aside_damaged=True, warn=chief_warn)
    if start_step is None:
      start_step = 0
      state = session.init_state(session.parallel.global_batch(train_batches(config, train_data)(0)))
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

  parallel = session.parallel
  devices = f"{parallel.num_devices} {parallel.platform} device" + ("s" if parallel.num_devices > 1 else "")
  chief_print(f"data-parallel over {devices}, {config.data.batch_size // parallel.num_devices} examples each per step")
  train_step, evaluate = session.jit_train_step(), Evaluator(session, test_data)
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

  def report(done: int, data_wait_seconds: float):
    """Logs the interval's mean train metrics, its speed and its share of time spent waiting for data."""
    rate, seconds = progress.steps_per_sec(done), progress.last_interval_seconds
    interval_steps, averaged = interval.count, interval.pop()
    data_wait = data_wait_seconds / max(seconds, 1e-9)
    writer.scalars(done, {**{f"train/{k}": v for k, v in averaged.items()}, "steps_per_sec": rate,
                          "data_wait_fraction": data_wait})
    chief_print(progress.line(done, rate, {k: averaged[k] for k in session.task.PROGRESS_METRICS}, data_wait))
    skipped = round(averaged["nonfinite"] * interval_steps)
    if skipped:
      chief_warn(f"warning: {skipped} of the last {interval_steps} steps (up to step {done}) had a "
                 "non-finite loss or gradients and were skipped (train.on_nonfinite=skip)")

  final_metrics = {}
  with Prefetcher(train_batches(config, train_data), range(start_step, train.steps), config.data.workers,
                  config.data.prefetch) as batches:
    next_batch = session.parallel.global_batch(next(batches))
    for step in range(start_step, train.steps):
      state, metrics = train_step(state, next_batch, jax.random.fold_in(train_rng, step))
      done = step + 1
      is_last = done == train.steps
      if not is_last:  # placed on the devices while this step runs
        next_batch = session.parallel.global_batch(next(batches))
      if pending is not None:
        settle(pending)
      pending = (done, metrics)
      if not (is_last or _due(done, train.log_every, train.checkpoint_every, train.eval_every, train.sample_every)):
        continue
      settle(pending)
      pending = None
      if _due(done, train.log_every) or is_last:
        report(done, batches.pop_wait_seconds())
      if _due(done, train.checkpoint_every) or is_last:
        checkpoints.save(done, state)
      if _due(done, train.eval_every) or is_last:
        final_metrics = evaluate(state)
        writer.scalars(done, {f"eval/{k}": v for k, v in final_metrics.items()})
        chief_print(f"step {done} test: " + json.dumps(final_metrics))
      if _due(done, train.sample_every) or is_last:
        picture = session.preview(state, train.num_samples)
        writer.picture(done, "samples", picture, os.path.join(workdir, f"samples_{done}.png"))
  return final_metrics


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
