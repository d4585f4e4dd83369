"""Glow throughput on 1x32x32 images (MNIST padded), L=3, K=8, 128 hidden channels, batch 64, fp32.

Reports training steps/s and evaluation images/s, and utilisation: the model's matmul FLOP/s
(counted by `glow_forward_flops`; a training step costs 3x the forward pass: forward, and the
backward pass's two matmuls per forward matmul; rematerialisation's extra forward is not counted;
`_measure.matmul_flops`, reading the jaxprs, finds the same: 1.00x in evaluation, 3.00x in
training without remat and 4.00x with it)
over this machine's fp32 matmul peak. Shared machines drift, so each round measures the peak
right before timing the model, and the table gives the median over rounds of the rates and of the
per-round utilisation.

  python benchmarks/flow_throughput.py [--rounds 5] [--steps 3] [--no-remat]
"""

import argparse
import statistics

import jax

import _flow_setup as setup
from _measure import matmul_peak_flops, seconds_per_call


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=3, help="timed calls per round and phase")
  parser.add_argument("--num-steps-per-level", type=int, default=8)
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--remat", action=argparse.BooleanOptionalAction, default=True)
  args = parser.parse_args()
  task = setup.glow_task(args.num_steps_per_level, batch_size=args.batch_size, remat=args.remat)
  batch = setup.random_batch(args.batch_size)
  key = jax.random.key(0)
  state = jax.jit(task.init)(key, batch)
  phases = {
      "train": jax.jit(lambda s: task.train_step(s, batch, key)),
      "eval": jax.jit(lambda s: task.eval_step(s, batch, key)),
  }
  flops = setup.glow_forward_flops(args.num_steps_per_level) * args.batch_size
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

  print(f"Glow 1x32x32, L=3, K={args.num_steps_per_level}, hidden 128, batch {args.batch_size}, fp32, "
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
