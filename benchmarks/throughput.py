"""Training and evaluation throughput of the likelihood models on 1x32x32 images (MNIST padded),
batch 64: Glow (L=3, K=8, 128 hidden channels), RealNVP (`experiments/realnvp.py:mnist5k`'s
model), Flow++ (`experiments/flowpp.py:mnist5k`'s model and variational dequantiser) and the VAE
(`experiments/vae.py:mnist5k`'s model, whose evaluation includes its importance-weighted bound).
The flows' conditioners compute in `--dtype` (`model.compute_dtype`).

Reports training steps/s and evaluation images/s, and utilisation: the matmul and convolution
FLOP/s each step executes (read off its jaxpr by `_measure.matmul_flops`: backward passes, and
the forward passes that rematerialisation repeats, counted as executed) over this machine's fp32
matmul peak. (For Glow the executed training FLOPs are 4x the forward pass with `model.remat`,
3x without.) Shared machines drift, so each round measures the peak right before timing the
model, and the table gives the median over rounds of the rates and of the per-round utilisation.

  python benchmarks/throughput.py [--model glow|realnvp|flowpp|vae] [--rounds 5] [--steps 3] [--no-remat]
      [--dtype float32|bfloat16] [--cpu-devices N]

The steps run as `genzoo train` runs them: on a CPU, the batch split over one device per core, up
to the experiment's `train.cpu_devices` (the Glow setting as the Glow experiments: all cores).
"""

import argparse
import statistics

import jax

import _flow_setup as setup
from _measure import (add_cpu_devices_option, load_experiment, matmul_flops, matmul_peak_flops,
                      placed_as_a_run, seconds_per_call)
from genzoo.runner.mesh import request_cpu_devices
from genzoo.tasks import make_task


def glow(args):
  """(description, task) of the Glow benchmark setting."""
  task = setup.glow_task(args.num_steps_per_level, batch_size=args.batch_size, remat=args.remat,
                         compute_dtype=args.dtype)
  return f"Glow 1x32x32, L=3, K={args.num_steps_per_level}, hidden 128", task


def experiment_task(name: str, args):
  """(model config, task) of `experiments/<name>.py:mnist5k`'s model on the benchmark's images."""
  config = load_experiment(name, "mnist5k")
  config.data.batch_size = args.batch_size
  if "compute_dtype" in config.model:
    config.model.compute_dtype = args.dtype
  if "remat" in config.model:
    config.model.remat = config.dequantizer.remat = args.remat
  return config.model, make_task(config, setup.IMAGE)


def realnvp(args):
  model, task = experiment_task("realnvp", args)
  return f"RealNVP 1x32x32, {model.num_scales} scales, {model.num_blocks} blocks of {model.hidden}", task


def flowpp(args):
  model, task = experiment_task("flowpp", args)
  return (f"Flow++ 1x32x32, {model.filters} filters, {model.blocks} blocks, {model.components} components, "
          f"variational dequantisation"), task


def vae(args):
  model, task = experiment_task("vae", args)
  return (f"VAE 1x32x32 ({model.architecture} {'-'.join(map(str, model.hidden))}, latent {model.latent_dim}, "
          f"{model.likelihood} likelihood)"), task


MODELS = {"glow": glow, "realnvp": realnvp, "flowpp": flowpp, "vae": vae}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", choices=sorted(MODELS), default="glow")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=3, help="timed calls per round and phase")
  parser.add_argument("--num-steps-per-level", type=int, default=8)
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--remat", action=argparse.BooleanOptionalAction, default=True)
  parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="model.compute_dtype")
  add_cpu_devices_option(parser)
  args = parser.parse_args()
  request_cpu_devices()
  description, task = MODELS[args.model](args)
  key = jax.random.key(0)
  state, batch, parallel = placed_as_a_run(task, key, setup.random_batch(args.batch_size),
                                          cpu_devices=args.cpu_devices)
  steps = {"train": lambda s, b: task.train_step(s, b, key), "eval": lambda s, b: task.eval_step(s, b, key)}
  flops = {phase: matmul_flops(step, state, batch) for phase, step in steps.items()}
  phases = {phase: jax.jit(step, out_shardings=parallel.replicated) for phase, step in steps.items()}
  for step in phases.values():
    jax.block_until_ready(step(state, batch))  # compile
  seconds = {phase: [] for phase in phases}
  utilisation = {phase: [] for phase in phases}
  peaks = []
  for _ in range(args.rounds):
    peaks.append(matmul_peak_flops(repeats=3))
    for phase, step in phases.items():
      seconds[phase].append(seconds_per_call(step, (state, batch), args.steps))
      utilisation[phase].append(flops[phase] / seconds[phase][-1] / peaks[-1])

  print(f"{description}, batch {args.batch_size}, {args.dtype}, remat {args.remat}; "
        f"{parallel.num_devices} {parallel.platform} device(s); fp32 matmul peak "
        f"{statistics.median(peaks) / 1e9:.1f} GFLOP/s (median of {args.rounds} rounds, "
        f"range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f})")
  print("| phase | rate | GFLOP per call | model GFLOP/s | utilisation (median, range) |")
  print("|---|---|---|---|---|")
  for phase, unit, per_call in (("train", "steps/s", 1), ("eval", "images/s", args.batch_size)):
    median_seconds = statistics.median(seconds[phase])
    print(f"| {phase} | {per_call / median_seconds:.2f} {unit} | {flops[phase] / 1e9:.2f} | "
          f"{flops[phase] / median_seconds / 1e9:.1f} | {statistics.median(utilisation[phase]):.1%} "
          f"({min(utilisation[phase]):.1%}-{max(utilisation[phase]):.1%}) |")


if __name__ == "__main__":
  main()
