"""Where a training step's time goes: matmuls and convolutions against everything else, from a
profile of the jitted step.

    python benchmarks/profile_step.py --config experiments/glow.py:mnist5k [--steps 5] [--top 8]
        [--batch-size N] [--config.KEY=VALUE ...]

The experiment's task trains on random batches of its data description (nothing is read), and
`--steps` calls of its jitted training step are traced with `jax.profiler`, XLA's per-operation
trace events switched on (`--xla_cpu_enable_xprof_traceme`; GPUs trace their kernels anyway).
Each event of one of the step's HLO operations is classed by the compiled HLO: **matmul** for a
dot or a convolution, or a fusion whose computation holds one (XLA:CPU hands most dots to
YNNPACK as `ynn_fusion`s); **rest** for every other operation; loops and calls (while,
conditional, call) are left out, since the operations inside them have their own events.
Durations are summed over the executor's threads, so the shares are of operation time, not of
wall time. The table gives the matmul share, then the rest grouped by the JAX primitive that
XLA recorded as each operation's source (the last part of its `op_name`: `select_n` for the
backward pass of a ReLU, `concatenate` and `pad` for the shifted taps of a convolution written as
a matmul, ...), the `--top` costliest first, with the scope of its costliest operation.
"""

import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

# Before jax is imported: the flag asks XLA:CPU for an event per operation.
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_cpu_enable_xprof_traceme=true"])

import jax
from absl import app, flags
from ml_collections import config_flags

from genzoo.runner.session import describe_data
from genzoo.tasks import make_task
from genzoo.testing.tasks import random_batch

_CONFIG = config_flags.DEFINE_config_file("config", None, "an experiment, e.g. experiments/glow.py:mnist5k")
_STEPS = flags.DEFINE_integer("steps", 5, "traced training steps")
_TOP = flags.DEFINE_integer("top", 8, "primitives of the other operations listed")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "default: the experiment's data.batch_size")

MATMUL_OPCODES = ("dot", "convolution")
CONTAINER_OPCODES = ("while", "conditional", "call")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*? ([a-z][\w\-]*)\(")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OP_NAME = re.compile(r'op_name="([^"]*)"')


class Operation(collections.namedtuple("Operation", "opcode computation calls op_name")):
  """One HLO instruction: its opcode, the computation it is in, the one it calls, its source."""


def parse_hlo(text: str) -> dict[str, Operation]:
  """Instruction name -> Operation, for every instruction of a compiled module's text."""
  operations, computation = {}, None
  for line in text.splitlines():
    header = _COMPUTATION.match(line)
    if header and "=" not in line.split("{")[0]:
      computation = header.group(1)
      continue
    instruction = _INSTRUCTION.match(line)
    if instruction:
      calls, op_name = _CALLS.search(line), _OP_NAME.search(line)
      operations[instruction.group(1)] = Operation(
          instruction.group(2), computation, calls and calls.group(1), op_name and op_name.group(1))
  return operations


def classify(operations: dict[str, Operation]) -> dict[str, str]:
  """Instruction name -> "matmul", "rest" or "container" (see the module docstring)."""
  computations_with_matmuls = {op.computation for op in operations.values() if op.opcode in MATMUL_OPCODES}

  def kind(op: Operation) -> str:
    if op.opcode in CONTAINER_OPCODES:
      return "container"
    if op.opcode in MATMUL_OPCODES or (op.opcode == "fusion" and op.calls in computations_with_matmuls):
      return "matmul"
    return "rest"

  return {name: kind(op) for name, op in operations.items()}


def traced_durations(trace_dir: str) -> collections.Counter:
  """Event name -> summed duration (microseconds) of the complete events of a perfetto trace."""
  (path,) = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
  with gzip.open(path) as f:
    events = json.load(f)["traceEvents"]
  durations = collections.Counter()
  for event in events:
    if event.get("ph") == "X":
      durations[event["name"]] += event.get("dur", 0.0)
  return durations


def primitive(op_name: str | None) -> str:
  """The JAX primitive of a framework op name, e.g. "pad" of ".../GlowConditioner_0/Conv3x3_0/pad"."""
  return (op_name or "?").split("/")[-1]


def scope(op_name: str | None) -> str:
  """The last scopes of a framework op name before its primitive, e.g. "GlowConditioner_0/Conv3x3_0"."""
  return "/".join((op_name or "?").split("/")[-3:-1])


def main(argv):
  del argv
  config = _CONFIG.value
  if config is None:
    raise app.UsageError("--config is required, e.g. --config experiments/glow.py:mnist5k")
  config.data.batch_size = _BATCH_SIZE.value or config.data.batch_size
  task = make_task(config, describe_data(config))
  key = jax.random.key(0)
  batch = random_batch(task.data, config.data.batch_size, key)
  state = jax.jit(task.init)(key, batch)
  step = jax.jit(lambda state: task.train_step(state, batch, key)[0])
  kinds = classify(operations := parse_hlo(step.lower(state).compile().as_text()))
  jax.block_until_ready(step(state))
  with tempfile.TemporaryDirectory() as trace_dir:
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
      for _ in range(_STEPS.value):
        state = jax.block_until_ready(step(state))
    durations = {name: seconds for name, seconds in traced_durations(trace_dir).items()
                 if kinds.get(name, "container") != "container"}
  if not durations:
    sys.exit("the trace has no events of the step's operations: this backend's profiler does not record them")
  total = sum(durations.values())
  by_kind = collections.Counter()
  for name, seconds in durations.items():
    by_kind[kinds[name]] += seconds
  print(f"{config.task} {config.model.get('name', config.task)}, batch {config.data.batch_size}, {_STEPS.value} steps on {jax.device_count()} x "
        f"{jax.devices()[0].platform}: {total / 1e3 / _STEPS.value:.1f} ms of operation time per step, "
        f"**{by_kind['matmul'] / total:.0%} in matmuls and convolutions**, {by_kind['rest'] / total:.0%} in the rest")
  by_primitive, costliest = collections.Counter(), {}
  for name in sorted((name for name in durations if kinds[name] == "rest"), key=durations.get, reverse=True):
    by_primitive[primitive(operations[name].op_name)] += durations[name]
    costliest.setdefault(primitive(operations[name].op_name), name)
  print("| other operations, by primitive | share | costliest one's scope |")
  print("|---|---|---|")
  for name, seconds in by_primitive.most_common(_TOP.value):
    print(f"| {name} | {seconds / total:.1%} | {scope(operations[costliest[name]].op_name)} |")


if __name__ == "__main__":
  app.run(main)
