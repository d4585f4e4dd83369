"""The accelerator check: every family's training throughput at its paper setting, in float32 and
bfloat16, as utilisation of the accelerator's matmul peak of that dtype measured in the same run,
with each train step's compile time, then the task kit (its sharded-equals-single-device
comparison included) on the accelerator; one table at the end.

    pip install -e ".[test]"          # the README's install, plus JAX's build for the accelerator
    python benchmarks/gpu_check.py [--families vae,glow,...] [--rounds 3] [--steps 5] [--smoke]

Families and settings (`experiments/<file>.py:<variant>`, random batches of the experiment's data
description, so nothing is downloaded): VAE `vae.py:cifar10`, Glow `glow.py:cifar10`, RealNVP
`realnvp.py:cifar10`, Flow++ `flowpp.py:cifar10`, DCGAN `dcgan.py:cifar10`, StyleGAN2
`stylegan2.py:cifar10`, BigGAN `biggan.py:cifar10` and WaveGlow `waveglow.py:ljspeech`.
bfloat16 is `model.compute_dtype` (the flows' conditioners, the GANs' players); a family without it
is measured in float32 only. A training call is `--steps` consecutive steps; the FLOPs are the step's matmuls
and convolutions read off its jaxpr (`_measure.matmul_flops`, as executed; a GAN's lazy
regularisers at their intervals, as `gan_throughput.py` counts them). The peaks are square
matmuls of `--peak-size` in each dtype (float32 matmuls run at the backend's default precision,
TF32 on recent NVIDIA GPUs, as the models' do). `--smoke` runs the `smoke` variants instead, to
check the script itself on a CPU.
"""

import argparse
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

from _measure import REPO, comma_subset, load_experiment, matmul_flops, matmul_peak_flops, seconds_per_call
from gan_throughput import step_flops, task_with_loss
from genzoo.runner.session import describe_data
from genzoo.testing import random_batch

FAMILIES = {"vae": ("vae", "cifar10"), "glow": ("glow", "cifar10"), "realnvp": ("realnvp", "cifar10"),
            "flowpp": ("flowpp", "cifar10"), "dcgan": ("dcgan", "cifar10"), "stylegan2": ("stylegan2", "cifar10"),
            "biggan": ("biggan", "cifar10"), "waveglow": ("waveglow", "ljspeech")}
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def family_config(family: str, dtype: str, smoke: bool):
  """The family's experiment config in `dtype`, or None when the family has no compute_dtype."""
  experiment, variant = FAMILIES[family]
  config = load_experiment(experiment, "smoke" if smoke else variant)
  if dtype != "float32":
    if "compute_dtype" not in config.model:
      return None
    config.model.compute_dtype = dtype
  return config


def measure(config, rounds: int, steps: int) -> dict:
  """Training steps/s (median over rounds), matmul FLOPs per step and compile seconds."""
  spec = describe_data(config)
  key = jax.random.key(0)
  batch = jax.device_put(random_batch(spec, config.data.batch_size, key))

  task_for = task_with_loss(config, spec)
  task = task_for()
  state = jax.jit(task.init)(key, batch)
  if config.task == "gan":
    flops = step_flops(task_for, batch, key)
  else:
    flops = matmul_flops(lambda s, b: task.train_step(s, b, key), state, batch)
  step = jax.jit(lambda s, b: task.train_step(s, b, key)[0])  # the batch an argument, as in training
  start = time.perf_counter()
  compiled = step.lower(state, batch).compile()
  compile_seconds = time.perf_counter() - start

  def run(s, b):
    for _ in range(steps):
      s = compiled(s, b)
    return s

  jax.block_until_ready(run(state, batch))
  seconds = [seconds_per_call(run, (state, batch), 1) / steps for _ in range(rounds)]
  return {"steps_per_second": 1 / statistics.median(seconds), "flops": flops, "compile_seconds": compile_seconds}


def task_kit() -> str:
  """Runs the task kit (sharded against single device over this machine's devices); its summary."""
  result = subprocess.run(
      [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/tasks/test_task_conformance.py"],
      cwd=REPO, capture_output=True, text=True)
  lines = result.stdout.strip().splitlines()
  return lines[-1] if lines else result.stderr.strip().splitlines()[-1]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--families", type=comma_subset(FAMILIES), default=list(FAMILIES),
                      help=f"comma-separated subset of {list(FAMILIES)}")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--steps", type=int, default=5, help="consecutive steps per timed call")
  parser.add_argument("--peak-size", type=int, default=8192)
  parser.add_argument("--smoke", action="store_true", help="the smoke variants, to check the script on a CPU")
  parser.add_argument("--no-task-kit", dest="task_kit", action="store_false")
  args = parser.parse_args()
  device = jax.devices()[0]
  peaks = {name: matmul_peak_flops(args.peak_size, dtype=dtype) for name, dtype in DTYPES.items()}
  print(f"{jax.device_count()} x {device.platform} ({device.device_kind}); matmul peak at {args.peak_size}: "
        + ", ".join(f"{name} {peak / 1e12:.1f} TFLOP/s" for name, peak in peaks.items()), flush=True)
  rows = []
  for family in args.families:
    for dtype in DTYPES:
      config = family_config(family, dtype, args.smoke)
      if config is None:
        continue
      result = measure(config, args.rounds, args.steps)
      utilisation = result["flops"] * result["steps_per_second"] / peaks[dtype]
      experiment, variant = FAMILIES[family]
      rows.append(f"| {family} | `{experiment}.py:{'smoke' if args.smoke else variant}` | {dtype} | "
                  f"{config.data.batch_size} | {result['steps_per_second']:.2f} | {result['flops'] / 1e9:.1f} | "
                  f"{utilisation:.1%} | {result['compile_seconds']:.1f} |")
      print(rows[-1], flush=True)
  print("| family | setting | compute dtype | batch | train steps/s | GFLOP per step | utilisation of the dtype's peak | compile s |")
  print("|---|---|---|---|---|---|---|---|")
  print("\n".join(rows))
  if args.task_kit:
    print(f"task kit on {device.platform}: {task_kit()}")


if __name__ == "__main__":
  main()
