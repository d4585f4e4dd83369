"""Glow throughput on 1x32x32 images (MNIST padded), L=3, K=8, 128 hidden channels, batch 64, fp32.

Reports training steps/s and evaluation images/s, and utilisation: the model's matmul FLOP/s
(counted by `glow_forward_flops`; a training step costs 3x the forward pass: forward, and the
backward pass's two matmuls per forward matmul) over this machine's fp32 matmul peak measured in
the same run.

  python benchmarks/flow_throughput.py [--steps 10] [--num-steps-per-level 8]
"""

import argparse
import time

import jax

import _flow_setup as setup


def timed(fn, args, repeats):
  out = fn(*args)
  jax.block_until_ready(out)
  start = time.perf_counter()
  for _ in range(repeats):
    out = fn(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / repeats


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--num-steps-per-level", type=int, default=8)
  parser.add_argument("--batch-size", type=int, default=64)
  args = parser.parse_args()
  task = setup.glow_task(args.num_steps_per_level, batch_size=args.batch_size)
  batch = setup.random_batch(args.batch_size)
  key = jax.random.key(0)
  state = jax.jit(task.init)(key, batch)
  train = jax.jit(task.train_step)
  evaluate = jax.jit(task.eval_step)
  train_seconds = timed(lambda s: train(s, batch, key), (state,), args.steps)
  eval_seconds = timed(lambda s: evaluate(s, batch, key), (state,), args.steps)
  peak = setup.matmul_peak_flops()
  forward = setup.glow_forward_flops(args.num_steps_per_level) * args.batch_size
  train_flops = 3 * forward / train_seconds
  eval_flops = forward / eval_seconds
  print(f"Glow 1x32x32, L=3, K={args.num_steps_per_level}, hidden 128, batch {args.batch_size}, fp32; "
        f"{jax.device_count()} x {jax.devices()[0].platform}; fp32 matmul peak {peak / 1e9:.1f} GFLOP/s")
  print("| phase | rate | model GFLOP/s | utilisation |")
  print("|---|---|---|---|")
  print(f"| train | {1 / train_seconds:.2f} steps/s | {train_flops / 1e9:.1f} | {train_flops / peak:.1%} |")
  print(f"| eval | {args.batch_size / eval_seconds:.1f} images/s | {eval_flops / 1e9:.1f} | {eval_flops / peak:.1%} |")


if __name__ == "__main__":
  main()
