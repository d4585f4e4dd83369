"""Glow train-step compile time against depth: K = 4, 8, 16, 32 steps per level (L=3, 1x32x32).

The K steps of a level run under `nn.scan`, so compile time should stay flat in K; the table
reports each time as a ratio to K=4 (the target: K=32 at most 1.5x).

  python benchmarks/compile_time.py
"""

import time

import jax

import _flow_setup as setup


def compile_seconds(num_steps: int) -> float:
  task = setup.glow_task(num_steps)
  batch = setup.random_batch(64)
  key = jax.random.key(0)
  state = jax.eval_shape(task.init, key, batch)
  start = time.perf_counter()
  jax.jit(task.train_step).lower(state, batch, key).compile()
  return time.perf_counter() - start


def main():
  depths = (4, 8, 16, 32)
  seconds = {k: compile_seconds(k) for k in depths}
  print("| K | compile s | ratio to K=4 |")
  print("|---|---|---|")
  for k in depths:
    print(f"| {k} | {seconds[k]:.1f} | {seconds[k] / seconds[4]:.2f} |")


if __name__ == "__main__":
  main()
