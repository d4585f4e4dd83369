"""Flow throughput on 1x32x32 images (MNIST padded), batch 64, fp32: Glow (L=3, K=8, 128 hidden
channels) or Flow++ (`experiments/flowpp.py:mnist5k`'s model and variational dequantiser).

Reports training steps/s and evaluation images/s, and utilisation: the model's matmul FLOP/s over
this machine's fp32 matmul peak. A training step costs 3x the forward pass (forward, and the
backward pass's two matmuls per forward matmul; rematerialisation's extra forward is not counted).
Glow's forward FLOPs are counted by hand (`glow_forward_flops`; `_measure.matmul_flops`, reading
the jaxprs, finds the same: 1.00x in evaluation, 3.00x in training without remat and 4.00x with
it); Flow++'s are read off its evaluation step's jaxpr by `_measure.matmul_flops`. Shared
machines drift, so each round measures the peak right before timing the model, and the table
gives the median over rounds of the rates and of the per-round utilisation.

  python benchmarks/flow_throughput.py [--model glow|flowpp] [--rounds 5] [--steps 3] [--no-remat]
"""

import argparse
import statistics

import jax

import _flow_setup as setup
from _measure import load_experiment, matmul_flops, matmul_peak_flops, seconds_per_call
from genzoo.tasks import make_task


def glow(args):
  """(description, task, forward FLOPs per image) of the Glow benchmark setting."""
  task = setup.glow_task(args.num_steps_per_level, batch_size=args.batch_size, remat=args.remat)
  description = f"Glow 1x32x32, L=3, K={args.num_steps_per_level}, hidden 128"
  return description, task, lambda state, batch, key: setup.glow_forward_flops(args.num_steps_per_level)


def flowpp(args):
  """(description, task, forward FLOPs per image) of Flow++ at `flowpp.py:mnist5k`'s sizes."""
  config = load_experiment("flowpp", "mnist5k")
  config.data.batch_size = args.batch_size
  config.model.remat = config.dequantizer.remat = args.remat
  task = make_task(config, setup.IMAGE)
  model = config.model
  description = (f"Flow++ 1x32x32, {model.filters} filters, {model.blocks} blocks, {model.components} components, "
                 f"variational dequantisation")
  return description, task, lambda state, batch, key: matmul_flops(
      lambda s: task.eval_step(s, batch, key), state) / args.batch_size


MODELS = {"glow": glow, "flowpp": flowpp}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", choices=sorted(MODELS), default="glow")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=3, help="timed calls per round and phase")
  parser.add_argument("--num-steps-per-level", type=int, default=8)
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--remat", action=argparse.BooleanOptionalAction, default=True)
  args = parser.parse_args()
  description, task, forward_flops = MODELS[args.model](args)
  batch = setup.random_batch(args.batch_size)
  key = jax.random.key(0)
  state = jax.jit(task.init)(key, batch)
  phases = {
      "train": jax.jit(lambda s: task.train_step(s, batch, key)),
      "eval": jax.jit(lambda s: task.eval_step(s, batch, key)),
  }
  flops = forward_flops(state, batch, key) * args.batch_size
  flops = {"train": 3 * flops, "eval": flops}
  for step in phases.values():
    jax.block_until_ready(step(state))  # compile
  seconds = {phase: [] for phase in phases}
  utilisation = {phase: [] for phase in phases}
  peaks = []
  for _ in range(args.rounds):
    peaks.append(matmul_peak_flops(repeats=3))
    for phase, step in phases.items():
      seconds[phase].append(seconds_per_call(step, (state,), args.steps))
      utilisation[phase].append(flops[phase] / seconds[phase][-1] / peaks[-1])

  print(f"{description}, batch {args.batch_size}, fp32, "
        f"remat {args.remat}; {jax.device_count()} x {jax.devices()[0].platform}; fp32 matmul peak "
        f"{statistics.median(peaks) / 1e9:.1f} GFLOP/s (median of {args.rounds} rounds, "
        f"range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f})")
  print("| phase | rate | model GFLOP/s | utilisation (median, range) |")
  print("|---|---|---|---|")
  for phase, unit, per_call in (("train", "steps/s", 1), ("eval", "images/s", args.batch_size)):
    median_seconds = statistics.median(seconds[phase])
    print(f"| {phase} | {per_call / median_seconds:.2f} {unit} | {flops[phase] / median_seconds / 1e9:.1f} | "
          f"{statistics.median(utilisation[phase]):.1%} ({min(utilisation[phase]):.1%}-"
          f"{max(utilisation[phase]):.1%}) |")


if __name__ == "__main__":
  main()
