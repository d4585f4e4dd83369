"""Runner overhead: steps/s of the full runner loop against a bare jitted loop of the same step.

The runner adds host-side batch assembly, host-to-device transfer, the one-step-late metric fetch,
non-finite checks and logging. Both loops run the `experiments/vae.py:mnist5k` train step on the
same data in this process, alternating, and the table reports the runner's share of the bare
loop's speed (the target is at least 95%).

  python benchmarks/runner_overhead.py [--steps 600] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import jax

from genzoo import data as datasets
from genzoo import runner

from _measure import load_experiment


def mnist5k_config(steps: int):
  config = load_experiment("vae", "mnist5k")
  config.train.steps = steps
  config.train.log_every = steps // 6
  config.train.checkpoint_every = steps
  config.train.eval_every = 0
  config.eval.iwae_k = 1  # the final evaluation is not what is measured
  return config


def runner_steps_per_sec(config) -> float:
  """Mean steps/s the runner logged, leaving out the first interval (it holds the compilation)."""
  with tempfile.TemporaryDirectory() as workdir:
    runner.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      rates = [line["steps_per_sec"] for line in map(json.loads, f) if "steps_per_sec" in line]
  return statistics.mean(rates[1:])


def bare_steps_per_sec(config, train_data) -> float:
  """The same jitted step over the same batches, staged on the devices beforehand."""
  session = runner.Session.create(config, train_data.spec)
  step_fn = session.jit_train_step()
  rng = jax.random.key(0)
  num_batches = 16
  batches = [
      session.parallel.global_batch(datasets.train_batch(train_data, s, config.data.batch_size, seed=0))
      for s in range(num_batches)
  ]
  state = session.init_state(batches[0])
  state, metrics = step_fn(state, batches[0], rng)  # compile
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for s in range(config.train.steps):
    state, metrics = step_fn(state, batches[s % num_batches], jax.random.fold_in(rng, s))
  jax.block_until_ready((state, metrics))
  return config.train.steps / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  config = mnist5k_config(args.steps)
  train_data = runner.load_split(config, "train")
  bare, full = [], []
  for _ in range(args.repeats):
    bare.append(bare_steps_per_sec(config, train_data))
    full.append(runner_steps_per_sec(config))
  print(f"devices: {jax.device_count()} x {jax.devices()[0].platform}, batch {config.data.batch_size}, "
        f"{args.steps} steps x {args.repeats} repeats (median)")
  print("| loop | steps/s | ratio |")
  print("|---|---|---|")
  bare_rate, runner_rate = statistics.median(bare), statistics.median(full)
  print(f"| bare jitted step | {bare_rate:.1f} | 1.000 |")
  print(f"| genzoo runner | {runner_rate:.1f} | {runner_rate / bare_rate:.3f} |")


if __name__ == "__main__":
  main()
