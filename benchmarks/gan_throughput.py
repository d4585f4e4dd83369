"""GAN training throughput: DCGAN (the `experiments/dcgan.py:cifar10` networks) on 32x32x3 images,
batch 64, fp32; one step = one discriminator update and one generator update.

Reports G+D steps/s and utilisation: the step's matmul and convolution FLOP/s (read off the
jitted step's jaxpr by `_measure.matmul_flops`, so the backward passes are counted as executed)
over this machine's fp32 matmul peak. Each round measures the peak right before timing the step,
and the table gives medians and ranges over rounds, as `flow_throughput.py` does.

  python benchmarks/gan_throughput.py [--rounds 5] [--steps 5] [--model dcgan|resnet]
"""

import argparse
import statistics

import jax
import numpy as np

from genzoo.data import image_spec
from genzoo.tasks import make_task

from _measure import load_experiment, matmul_flops, matmul_peak_flops, seconds_per_call

IMAGE = image_spec((32, 32, 3), 256, num_classes=10)


def random_batch(batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  return {"image": rng.integers(0, 256, (batch_size,) + IMAGE.x.shape, dtype=np.uint8),
          "label": np.zeros((batch_size,), np.int32), "mask": np.ones((batch_size,), np.float32)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--model", choices=("dcgan", "resnet"), default="dcgan")
  args = parser.parse_args()
  config = load_experiment("dcgan", "cifar10")
  config.model.name = args.model
  config.data.batch_size = args.batch_size
  task = make_task(config, IMAGE)
  batch = random_batch(args.batch_size)
  key = jax.random.key(0)
  state = jax.jit(task.init)(key, batch)
  step = jax.jit(lambda state: task.train_step(state, batch, key)[0])
  flops = matmul_flops(lambda state: task.train_step(state, batch, key), state)
  jax.block_until_ready(step(state))  # compile

  seconds, utilisation, peaks = [], [], []
  for _ in range(args.rounds):
    peaks.append(matmul_peak_flops(repeats=3))
    seconds.append(seconds_per_call(step, (state,), args.steps))
    utilisation.append(flops / seconds[-1] / peaks[-1])

  median_seconds = statistics.median(seconds)
  print(f"GAN {args.model} (g_width {config.model.g_width}, d_width {config.model.d_width}), 32x32x3, "
        f"batch {args.batch_size}, fp32; {jax.device_count()} x {jax.devices()[0].platform}; "
        f"{flops / 1e9:.2f} GFLOP per G+D step; fp32 matmul peak {statistics.median(peaks) / 1e9:.1f} "
        f"GFLOP/s (median of {args.rounds} rounds, range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f})")
  print("| G+D steps/s | model GFLOP/s | utilisation (median, range) |")
  print("|---|---|---|")
  print(f"| {1 / median_seconds:.2f} | {flops / median_seconds / 1e9:.1f} | {statistics.median(utilisation):.1%} "
        f"({min(utilisation):.1%}-{max(utilisation):.1%}) |")


if __name__ == "__main__":
  main()
