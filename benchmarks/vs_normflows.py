"""Glow throughput of genzoo against normflows (PyTorch, CPU) in the same run, interleaved.

    pip install -e ".[bench]"   # torch and normflows, for this script only
    python benchmarks/vs_normflows.py [--shapes benchmark,mnist5k] [--rounds 5] [--calls 3]
        [--torch-threads N] [--dtype float32|bfloat16]

Both libraries build the same multi-scale Glow (per step ActNorm, LU 1x1 convolution, affine
coupling whose conditioner is conv 3x3 -> ReLU -> 1x1 -> ReLU -> zero conv 3x3) at two shapes:
`benchmark` (1x32x32, L=3, K=8, 128 hidden, batch 64: `throughput.py`'s Glow) and
`mnist5k` (`glow.py:mnist5k`'s model on 1x28x28, L=2, K=8, 128 hidden, batch 64). Both trainable
parameter counts are printed: they differ only by genzoo's learned split priors (a zero conv of
the kept half) against normflows' per-position Gaussians. A training step is the forward pass,
the gradient of the batch's mean negative log-likelihood and an Adam update; evaluation is the
log-likelihood of a batch without gradients.

The timings alternate, genzoo then normflows, `--rounds` times per phase (A B A B ...), each
timing `--calls` calls; the table gives the median per-call rate and its range over rounds, and
the ratio of the medians. Threads: genzoo runs as `genzoo train` does on a CPU, with one JAX CPU
device per core and the batch split over them (`genzoo.runner.mesh`; JAX_NUM_CPU_DEVICES=1 keeps
one device); PyTorch gets `--torch-threads`, by default whichever of 1 ... cores trains fastest in
a short trial at the start of the run (printed).
"""

import argparse
import os
import statistics

import jax
import numpy as np

import _flow_setup as setup
from _measure import comma_subset, load_experiment, placed_as_a_run, seconds_per_call
from _peer import peer_glow, peer_trainable_count, quiet_peer_warnings, trainable_count
from genzoo.data import image_spec
from genzoo.runner.mesh import request_cpu_devices
from genzoo.tasks import make_task
from genzoo.testing import random_batch

SHAPES = ("benchmark", "mnist5k")


def genzoo_task(shape: str, dtype: str):
  """(task, [H, W, C], levels, steps per level, hidden) of a shape."""
  if shape == "benchmark":
    task = setup.glow_task(8, compute_dtype=dtype)
    return task, (32, 32, 1), 3, 8, 128
  config = load_experiment("glow", "mnist5k")
  config.model.compute_dtype = dtype
  task = make_task(config, image_spec((28, 28, 1), 256, num_classes=10))
  model = config.model
  return task, (28, 28, 1), model.num_levels, model.num_steps, model.hidden


def genzoo_phases(task, batch):
  """{"train": call, "eval": call} of genzoo's jitted steps placed as `genzoo train` runs them,
  compiled, the trainable count and the mesh."""
  key = jax.random.key(0)
  state, batch, parallel = placed_as_a_run(task, key, batch)
  train = jax.jit(lambda s, b: task.train_step(s, b, key), out_shardings=parallel.replicated)
  evaluate = jax.jit(lambda s, b: task.eval_step(s, b, key), out_shardings=parallel.replicated)
  # A training step returns a new state; timing it on the same state keeps every call identical.
  phases = {"train": lambda: train(state, batch), "eval": lambda: evaluate(state, batch)}
  for call in phases.values():
    jax.block_until_ready(call())
  return phases, trainable_count(state["params"]), parallel


def peer_phases(image_shape, batch, num_levels: int, num_steps: int, hidden: int):
  """{"train": call, "eval": call} of the normflows Glow on the same images, and its trainable count."""
  import torch

  height, width, channels = image_shape
  torch.manual_seed(0)
  model = peer_glow((channels, height, width), num_levels, num_steps, hidden, learned_priors=True)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
  images = torch.from_numpy(batch["image"]).permute(0, 3, 1, 2).float()
  x = (images + torch.rand(images.shape)) / 256.0 - 0.5
  with torch.no_grad():
    model.log_prob(x, None)  # normflows initialises ActNorm from its first batch

  def train():
    loss = -model.log_prob(x, None).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

  def evaluate():
    with torch.no_grad():
      model.log_prob(x, None)

  phases = {"train": train, "eval": evaluate}
  for call in phases.values():
    call()
  return phases, peer_trainable_count(model)


def best_torch_threads(train, calls: int) -> int:
  """The PyTorch thread count, from 1 to the machine's cores, whose training step is fastest."""
  import torch

  seconds = {}
  for threads in range(1, os.cpu_count() + 1):
    torch.set_num_threads(threads)
    train()
    seconds[threads] = seconds_per_call(train, (), calls)
  print("normflows training s/step by threads: " + ", ".join(f"{n}: {s:.3f}" for n, s in seconds.items()))
  return min(seconds, key=seconds.get)


def compare(shape: str, args) -> list[str]:
  import torch

  task, image_shape, num_levels, num_steps, hidden = genzoo_task(shape, args.dtype)
  batch = {**random_batch(task.data, args.batch_size, jax.random.key(0)), "mask": np.ones(args.batch_size, np.float32)}
  ours, our_count, parallel = genzoo_phases(task, batch)
  peer, peer_count = peer_phases(image_shape, batch, num_levels, num_steps, hidden)
  threads = args.torch_threads or best_torch_threads(peer["train"], args.calls)
  torch.set_num_threads(threads)
  print(f"{shape}: {image_shape[2]}x{image_shape[0]}x{image_shape[1]}, L={num_levels}, K={num_steps}, hidden "
        f"{hidden}, batch {args.batch_size}; trainable parameters genzoo {our_count:,}, normflows {peer_count:,}; "
        f"genzoo {args.dtype} on {parallel.num_devices} {parallel.platform} device(s), normflows float32 with "
        f"{threads} thread(s)")
  rows = []
  for phase, unit, per_call in (("train", "steps/s", 1), ("eval", "images/s", args.batch_size)):
    rates = {"genzoo": [], "normflows": []}
    for _ in range(args.rounds):  # A B A B: drift on a shared machine hits both alike
      for library, phases in (("genzoo", ours), ("normflows", peer)):
        rates[library].append(per_call / seconds_per_call(phases[phase], (), args.calls))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    cells = [f"{medians[name]:.2f} ({min(values):.2f}-{max(values):.2f})" for name, values in rates.items()]
    rows.append(f"| {shape} | {phase} ({unit}) | {cells[0]} | {cells[1]} | "
                f"{medians['genzoo'] / medians['normflows']:.2f}x |")
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--shapes", type=comma_subset(SHAPES), default=list(SHAPES),
                      help=f"comma-separated subset of {SHAPES}")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--calls", type=int, default=3, help="timed calls per round, phase and library")
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--torch-threads", type=int, default=0, help="0: the fastest in a trial")
  parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                      help="genzoo's model.compute_dtype (normflows stays float32)")
  args = parser.parse_args()
  request_cpu_devices()
  quiet_peer_warnings()
  rows = [row for shape in args.shapes for row in compare(shape, args)]
  print("| shape | phase | genzoo median (range) | normflows median (range) | genzoo / normflows |")
  print("|---|---|---|---|---|")
  print("\n".join(rows))


if __name__ == "__main__":
  main()
