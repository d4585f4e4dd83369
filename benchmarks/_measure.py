"""What the benchmarks share: the machine's matmul peak, timing, FLOP counting and experiment configs."""

import argparse
import math
import pathlib
import time

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

from genzoo.config import load_experiment_file
from genzoo.runner.mesh import DataParallel

REPO = pathlib.Path(__file__).resolve().parent.parent


def load_experiment(name: str, variant: str):
  """`get_config(variant)` of experiments/<name>.py, as `--config experiments/<name>.py:variant`."""
  return load_experiment_file(str(REPO / "experiments" / f"{name}.py"), variant)


def comma_subset(known):
  """An argparse `type`: a comma-separated subset of `known`, as a list in the given order."""

  def parse(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    unknown = sorted(set(names) - set(known))
    if unknown:
      raise argparse.ArgumentTypeError(f"unknown {unknown}; known: {list(known)}")
    return names

  return parse


def add_cpu_devices_option(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--cpu-devices", type=int, default=None,
                      help="on a CPU, split the batch over at most this many devices, one per core (0: all; "
                           "default: the experiment's train.cpu_devices, as `genzoo train` does)")


def placed_as_a_run(task, key, batch, *other_batch_sizes: int, cpu_devices: int | None = None):
  """(state, batch, parallel): `batch` split over the data-parallel mesh `genzoo train` would use
  for its size, `other_batch_sizes` and `cpu_devices` (default: the task config's
  `train.cpu_devices`; the script calls `request_cpu_devices` first), and the state
  `task.init(key, batch)` replicated over it. Steps jitted with `out_shardings=parallel.replicated`
  and given the batch as an argument then run as in training (a batch a jitted function closes
  over is a constant to it, and loses its split)."""
  cpu_devices = task.config.train.cpu_devices if cpu_devices is None else cpu_devices
  parallel = DataParallel.for_batches(len(jax.tree.leaves(batch)[0]), *other_batch_sizes, cpu_devices=cpu_devices)
  batch = jax.device_put(batch, parallel.batch)
  state = jax.jit(task.init, out_shardings=parallel.replicated)(key, batch)
  return state, batch, parallel


def matmul_peak_flops(size: int = 2048, repeats: int = 10, dtype=jnp.float32) -> float:
  """Measured square-matmul FLOP/s of this machine in `dtype` (the utilisation denominator)."""
  a = jnp.ones((size, size), dtype)
  matmul = jax.jit(lambda x: x @ x)
  matmul(a).block_until_ready()
  start = time.perf_counter()
  for _ in range(repeats):
    out = matmul(a)
  out.block_until_ready()
  return 2 * size**3 * repeats / (time.perf_counter() - start)


def seconds_per_call(fn, args, repeats: int) -> float:
  start = time.perf_counter()
  for _ in range(repeats):
    out = fn(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / repeats


def equation_flops(eqn) -> float:
  """2 x the multiply-adds of one dot_general or convolution; 0 for anything else."""
  if eqn.primitive.name not in ("dot_general", "conv_general_dilated"):
    return 0.0
  out_size = math.prod(eqn.outvars[0].aval.shape)
  if eqn.primitive.name == "dot_general":
    (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
    lhs_shape = eqn.invars[0].aval.shape
    return 2.0 * out_size * math.prod(lhs_shape[d] for d in lhs_contracting)
  kernel_shape, rhs_spec = eqn.invars[1].aval.shape, eqn.params["dimension_numbers"].rhs_spec
  taps = math.prod(kernel_shape[d] for d in rhs_spec[2:])
  return 2.0 * out_size * kernel_shape[rhs_spec[1]] * taps


def jaxpr_matmul_flops(jaxpr) -> float:
  """Matmul and convolution FLOPs of a jaxpr, nested ones included: a scan counts `length` times
  its body, a cond its costliest branch. While loops (unknown trip count) are refused."""
  total = 0.0
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == "while":
      raise ValueError("cannot count the FLOPs of a while loop: its trip count is unknown")
    total += equation_flops(eqn)
    nested = []
    for value in eqn.params.values():
      for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, jax_core.ClosedJaxpr):
          nested.append(item.jaxpr)
        elif isinstance(item, jax_core.Jaxpr):
          nested.append(item)
    if nested:
      inner = [jaxpr_matmul_flops(sub) for sub in nested]
      total += (max(inner) if eqn.primitive.name == "cond" else sum(inner)) * eqn.params.get("length", 1)
  return total


def matmul_flops(fn, *args) -> float:
  """Matmul and convolution FLOPs (2 per multiply-add) that one call of `fn(*args)` executes,
  backward passes and rematerialised forwards included, read off its jaxpr."""
  return jaxpr_matmul_flops(jax.make_jaxpr(fn)(*args).jaxpr)
