"""Task conformance kit: `check_task` tests a model family's task against the task contract.

The contract (`genzoo.tasks.base`): pure, jit-able `init`, `train_step`, `eval_step` and `sample`
(and optionally `interpolate` and `log_density`) over a pytree state, shaped by the data's
`DataSpec`. `check_task` runs a task for a few steps on random batches of its spec and checks,
failing with an `AssertionError` that names the property and the task:

  1. contract: `init` gives a state with an int32 "step"; `train_step` keeps the state's
     structure, shapes and dtypes, counts the step and reports scalar metrics with "nonfinite";
     `eval_step` gives sums over the batch, which `summarize` turns into plain numbers; `sample` gives
     `[num, *spec.x.shape]` of the target's dtype within its levels (also given labels, for a
     class-conditional task; from given examples, for a task `conditioned_on_data`);
     `interpolate` (where an unconditional task not conditioned on the data has it) and `log_density`
     (where it has it and the data are continuous) give their documented shapes, the
     log-densities finite; `example_scores` (where it has it) gives finite scores [batch] that do
     not depend on the labels and, for an unconditional task, average to the summary's value of
     the same name on the same batch and key.
  2. compile once: each of `train_step` and `eval_step`, jitted, traces once for new batches,
     keys and states.
  3. resume equals uninterrupted: the state after one step, serialised and read back (what a
     checkpoint does), continues bit for bit like the state that was never saved.
  4. sharded equals single-device: the same steps on a data-parallel mesh over `devices` give
     the single-device state and metrics (within float tolerance).

Example, on the VAE family's smoke config::

    from genzoo import tasks
    from genzoo.data import image_spec
    from genzoo.testing import check_task

    task = tasks.make_task(config, image_spec((8, 8, 1), 17, num_classes=10))
    check_task(task, batch_size=8)
"""

import chex
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from genzoo.data.spec import DataSpec

# Default (rtol, atol) of the sharded-versus-single-device comparison: the reductions run in other
# orders, so values agree to rounding.
SHARDED_TOLERANCE = (1e-4, 1e-5)


def random_batch(spec: DataSpec, batch_size: int, key: jax.Array) -> dict[str, np.ndarray]:
  """A batch of every key of `spec`: uniform levels for discrete data (signed ones centred on 0),
  standard normal values for continuous data, uniform classes for labels."""
  batch = {}
  for index, (name, feature) in enumerate(spec.features.items()):
    subkey = jax.random.fold_in(key, index)
    shape = (batch_size,) + feature.shape
    if feature.num_classes is not None:
      values = jax.random.randint(subkey, shape, 0, feature.num_classes)
    elif feature.levels is not None:
      low, high = feature.value_range
      values = jax.random.randint(subkey, shape, low, high + 1)
    else:
      values = jax.random.normal(subkey, shape)
    batch[name] = np.asarray(values, feature.dtype)
  return batch


def check_task(task, *, batch_size: int = 8, num_steps: int = 2, seed: int = 0, devices=None,
               sharded_tolerance: tuple[float, float] = SHARDED_TOLERANCE) -> None:
  """Checks `task` against the task contract; see the module docstring.

  Args:
    task: a built task (`genzoo.tasks.make_task(config, spec)`); its `data` is the spec.
    batch_size: global batch size of the steps, divisible by the number of `devices` and by any
      chunking the task does (the GAN's `loss.d_steps`).
    num_steps: training steps run (at least 2: one before and one after the resumption).
    seed: seeds the batches and keys.
    devices: the devices of the sharded run (default: all local devices); with one device the
      sharded comparison is skipped.
    sharded_tolerance: (rtol, atol) of that comparison. Adam turns rounding noise into steps of
      the full learning rate where a gradient is zero in exact arithmetic (a bias right before a
      batch norm), so such models need an atol of a few learning rates.
  """
  name = type(task).__name__
  spec = task.data
  key = jax.random.key(seed)

  def batch(step: int) -> dict:
    return random_batch(spec, batch_size, jax.random.fold_in(key, step))

  state = jax.jit(task.init)(jax.random.fold_in(key, 1_000_000), batch(0))
  _check_state(name, state)
  train_step = jax.jit(chex.assert_max_traces(task.train_step, n=1))
  eval_step = jax.jit(chex.assert_max_traces(task.eval_step, n=1))
  try:
    states, metrics = _run(train_step, state, batch, key, num_steps)
    sums = [eval_step(s, dict(batch(100 + i), mask=np.ones(batch_size, np.float32)), key)
            for i, s in enumerate(states[-2:])]
  except AssertionError as error:
    raise AssertionError(f"compile once check failed for {name}: {error}") from error
  finally:
    chex.clear_trace_counter()
  _check_train_outputs(name, state, states, metrics)
  _check_eval(name, task, sums[-1])
  _check_example_scores(name, task, states[-1], dict(batch(101), mask=np.ones(batch_size, np.float32)), key,
                        task.summarize(jax.device_get(sums[-1])))
  _check_sample(name, task, states[-1], spec, key, batch)
  _check_resume(name, train_step, states, batch, key)
  _check_sharded(name, task, state, states[-1], metrics[-1], batch, key, num_steps, devices, sharded_tolerance)


def _run(train_step, state, batch, key, num_steps, first_step: int = 0):
  states, metrics = [state], []
  for step in range(first_step, num_steps):
    state, step_metrics = train_step(state, batch(step), jax.random.fold_in(key, step))
    states.append(state)
    metrics.append(step_metrics)
  return states, metrics


def _fail(prop: str, name: str, detail: str):
  raise AssertionError(f"{prop} check failed for {name}: {detail}")


def _check_state(name, state) -> None:
  if not isinstance(state, dict) or "step" not in state:
    _fail("contract", name, f"init must return a dict state holding 'step', got {type(state).__name__}")
  if state["step"].shape != () or state["step"].dtype != jnp.int32:
    _fail("contract", name, f"state['step'] must be an int32 scalar, got {state['step'].dtype} {state['step'].shape}")


def _check_train_outputs(name, initial, states, metrics) -> None:
  expected = jax.tree.structure(initial)
  for step, (state, step_metrics) in enumerate(zip(states[1:], metrics), start=1):
    if jax.tree.structure(state) != expected:
      _fail("contract", name, f"train_step changed the state's structure at step {step}")
    for before, after in zip(jax.tree.leaves(initial), jax.tree.leaves(state)):
      if (before.shape, before.dtype) != (after.shape, after.dtype):
        _fail("contract", name, f"train_step changed a state leaf from {before.dtype}{before.shape} to "
              f"{after.dtype}{after.shape}")
    if int(state["step"]) != step:
      _fail("contract", name, f"state['step'] is {int(state['step'])} after {step} train steps")
    if "nonfinite" not in step_metrics:
      _fail("contract", name, "train metrics lack 'nonfinite'")
    shapes = {key: np.shape(value) for key, value in step_metrics.items() if np.shape(value) != ()}
    if shapes:
      _fail("contract", name, f"train metrics must be scalars, got shapes {shapes}")
    if float(step_metrics["nonfinite"]):
      _fail("contract", name, f"train step {step} was not finite on random data")


def _check_eval(name, task, sums) -> None:
  summary = task.summarize(jax.device_get(sums))
  wrong = {key: type(value).__name__ for key, value in summary.items()
           if not isinstance(value, (int, float, str))}
  if wrong:
    _fail("contract", name, f"summarize must return plain numbers, got {wrong}")


def _check_example_scores(name, task, state, evaluated_batch, key, summary) -> None:
  """`evaluated_batch` and `key` are those of the last `eval_step` of the run, `summary` its summary."""
  if not hasattr(task, "example_scores"):
    return
  example_scores = jax.jit(task.example_scores)
  scores = jax.device_get(example_scores(state, evaluated_batch, key))
  size = len(evaluated_batch["mask"])
  for score, values in scores.items():
    if np.shape(values) != (size,) or not np.all(np.isfinite(values)):
      _fail("contract", name, f"example_scores gave {score} of shape {np.shape(values)} for a batch of {size}, "
            f"finite: {bool(np.all(np.isfinite(values)))}")
  if "label" in evaluated_batch:
    relabelled = dict(evaluated_batch, label=(evaluated_batch["label"] + 1) % task.data.num_classes)
    moved = [score for score, values in jax.device_get(example_scores(state, relabelled, key)).items()
             if not np.array_equal(values, scores[score])]
    if moved:
      _fail("contract", name, f"example_scores {moved} changed with the labels; scores must not read them")
  if getattr(task, "num_classes", 0):
    return  # evaluation conditions on the labels, the scores marginalise over them
  for score in set(scores) & set(summary):
    if not np.isclose(np.mean(scores[score]), summary[score], rtol=1e-5, atol=1e-5):
      _fail("contract", name, f"the mean of example_scores' {score} is {np.mean(scores[score])}, but evaluation "
            f"of the same batch reports {summary[score]}")


def _check_sample(name, task, state, spec, key, batch) -> None:
  feature = spec.x
  num_classes = getattr(task, "num_classes", 0)
  requests = {"sample(num=3)": None}
  if num_classes:
    requests["sample(num=3, labels)"] = jnp.asarray([0, num_classes - 1, 0], jnp.int32)
  given = batch(0)[spec.target][:3] if getattr(task, "conditioned_on_data", False) else None
  for call, labels in requests.items():
    samples = jax.jit(task.sample, static_argnums=2)(state, key, 3, 1.0, labels, *([] if given is None else [given]))
    if samples.shape != (3,) + feature.shape or samples.dtype != jnp.dtype(feature.dtype):
      _fail("contract", name, f"{call} gave {samples.dtype}{samples.shape}, expected "
            f"{feature.dtype}{(3,) + feature.shape}")
    if feature.levels is not None and not feature.value_range[0] <= int(jnp.min(samples)) <= int(jnp.max(samples)) \
        <= feature.value_range[1]:
      _fail("contract", name, f"samples span {int(jnp.min(samples))}..{int(jnp.max(samples))}, beyond the "
            f"{feature.levels} levels {feature.value_range}")
  if hasattr(task, "interpolate") and not num_classes and given is None:
    examples = batch(0)[spec.target]
    walk = jax.jit(task.interpolate, static_argnums=3)(state, examples[:2], examples[2:4], 3)
    if walk.shape != (2, 3) + feature.shape:
      _fail("contract", name, f"interpolate(2 pairs, 3 steps) gave shape {walk.shape}")
  if hasattr(task, "log_density") and feature.levels is None:
    points = jax.random.normal(key, (5,) + feature.shape)
    log_p = jax.jit(task.log_density)(state, points)
    if log_p.shape != (5,) or not bool(jnp.all(jnp.isfinite(log_p))):
      _fail("contract", name, f"log_density of 5 points gave {log_p.shape}, finite: {bool(jnp.all(jnp.isfinite(log_p)))}")


def _check_resume(name, train_step, states, batch, key) -> None:
  """One step, a save and a load, then the rest, as a resumed run does."""
  saved = flax.serialization.to_bytes(jax.device_get(states[1]))
  restored = flax.serialization.from_bytes(jax.device_get(states[1]), saved)
  resumed, _ = _run(train_step, restored, batch, key, len(states) - 1, first_step=1)
  mismatch = _first_mismatch(states[-1], resumed[-1], np.array_equal)
  if mismatch:
    _fail("resume equals uninterrupted", name, f"state{mismatch} differs after resuming from the step-1 state")


def _check_sharded(name, task, initial, single_state, single_metrics, batch, key, num_steps, devices,
                   tolerance) -> None:
  from genzoo.runner.mesh import DataParallel  # the runner's own mesh: the kit checks what runs

  devices = jax.local_devices() if devices is None else list(devices)
  if len(devices) < 2:
    return
  parallel = DataParallel.over(devices)
  train_step = jax.jit(task.train_step, in_shardings=(parallel.replicated, parallel.batch, parallel.replicated),
                       out_shardings=(parallel.replicated, parallel.replicated))
  state = jax.device_put(initial, parallel.replicated)
  states, metrics = _run(lambda s, b, k: train_step(s, parallel.global_batch(b), k), state, batch, key, num_steps)
  rtol, atol = tolerance

  def close(want, got):
    if np.issubdtype(want.dtype, np.floating):
      return np.allclose(got, want, rtol=rtol, atol=atol)
    return np.array_equal(got, want)

  for what, expected, actual in (("state", single_state, states[-1]), ("metrics", single_metrics, metrics[-1])):
    mismatch = _first_mismatch(expected, actual, close)
    if mismatch:
      worst = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0.0))
                  for a, b in zip(jax.tree.leaves(jax.device_get(expected)), jax.tree.leaves(jax.device_get(actual))))
      _fail("sharded equals single-device", name, f"{what}{mismatch} differs on {len(devices)} devices "
            f"(rtol {rtol}, atol {atol}; the largest difference of any {what} value is {worst:.3g})")


def _first_mismatch(expected, actual, same) -> str:
  """The key path of the first leaf where `same(expected, actual)` fails, or ''."""
  leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(expected))
  for (path, want), got in zip(leaves, jax.tree.leaves(jax.device_get(actual))):
    if not same(np.asarray(want), np.asarray(got)):
      return jax.tree_util.keystr(path)
  return ""
