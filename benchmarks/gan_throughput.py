"""GAN training throughput on 32x32x3 images; one step = the model's discriminator updates
(`loss.d_steps`) and one generator update. Models: the DCGAN and ResNet pairs at the
`experiments/dcgan.py:cifar10` widths (batch 64), StyleGAN2 at the `experiments/stylegan2.py:mnist5k`
widths (batch 32, ADA on; `--paper-size` for the `cifar10` setting, widths up to 512, batch 64), and
BigGAN at the `experiments/biggan.py:mnist5k` widths (64 channels, class-conditional, 2
discriminator updates of 32; `--paper-size` for its `cifar10` setting, 256 channels, 4 updates of
50).

Reports G+D steps/s and utilisation: the step's matmul and convolution FLOP/s (read off the
jitted step's jaxpr by `_measure.matmul_flops`, so the backward passes are counted as executed)
over this machine's matmul peak in the players' compute dtype (`--dtype`, `model.compute_dtype`,
float32 by default). Lazy regularisers (StyleGAN2's R1 every 16 steps, path
lengths every 4) are included: a timed call is one whole cycle of steps (16), and the FLOPs are
the cycle's mean per step. Each round measures the peak right before timing the step, and the
table gives medians and ranges over rounds, as `throughput.py` does.

  python benchmarks/gan_throughput.py [--rounds 5] [--steps 5] [--model dcgan|resnet|stylegan2|biggan] [--paper-size]
      [--dtype float32|bfloat16] [--cpu-devices N]

The steps run as `genzoo train` runs them: on a CPU, the batch split over one device per core, up
to the experiment's `train.cpu_devices`.
"""

import argparse
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from genzoo.data import image_spec
from genzoo.runner.mesh import request_cpu_devices
from genzoo.tasks import make_task

from _measure import (add_cpu_devices_option, load_experiment, matmul_flops, matmul_peak_flops,
                      placed_as_a_run, seconds_per_call)

IMAGE = image_spec((32, 32, 3), 256, num_classes=10)


def random_batch(batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  return {"image": rng.integers(0, 256, (batch_size,) + IMAGE.x.shape, dtype=np.uint8),
          "label": np.zeros((batch_size,), np.int32), "mask": np.ones((batch_size,), np.float32)}


# --model -> (experiment, variant, paper-size variant)
MODELS = {"dcgan": ("dcgan", "cifar10", "cifar10"), "resnet": ("dcgan", "cifar10", "cifar10"),
          "stylegan2": ("stylegan2", "mnist5k", "cifar10"), "biggan": ("biggan", "mnist5k", "cifar10")}


REGULARIZERS = ("gp", "r1", "pl")  # loss.<name>_weight and loss.<name>_interval


def active_regularizers(loss) -> dict[str, int]:
  """name -> interval of the regularisers a loss config weights."""
  return {name: loss[f"{name}_interval"] for name in REGULARIZERS if loss[f"{name}_weight"]}


def task_with_loss(config, spec):
  """`task_for(**loss)`: the task of `config` on data `spec` with some `loss.*` keys changed, as
  `step_flops` builds it for each regulariser."""

  def task_for(**loss):
    changed = config.copy_and_resolve_references()
    changed.loss.update(loss)
    return make_task(changed, spec)

  return task_for


def step_flops(task_for, batch, key) -> float:
  """Mean matmul FLOPs per step over a cycle of lazy regularisation: the step's FLOPs without
  regularisers, plus each regulariser's cost (measured at interval 1) over its interval."""
  def flops(*kept):
    loss = {f"{name}_interval": 1 for name in REGULARIZERS}
    loss.update({f"{name}_weight": 0.0 for name in REGULARIZERS if name not in kept})
    task = task_for(**loss)
    state = jax.eval_shape(task.init, key, batch)
    return matmul_flops(lambda state: task.train_step(state, batch, key), state)

  bare = flops()
  intervals = active_regularizers(task_for().config.loss)
  return bare + sum((flops(name) - bare) / interval for name, interval in intervals.items())


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
  parser.add_argument("--batch-size", type=int, default=None, help="default: the experiment's")
  parser.add_argument("--model", choices=tuple(MODELS), default="dcgan")
  parser.add_argument("--paper-size", action="store_true", help="stylegan2, biggan: the cifar10 setting's widths")
  parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="model.compute_dtype")
  add_cpu_devices_option(parser)
  args = parser.parse_args()
  request_cpu_devices()
  experiment, variant, paper_variant = MODELS[args.model]
  config = load_experiment(experiment, paper_variant if args.paper_size else variant)
  config.model.name = args.model
  config.data.pad = 0
  config.data.batch_size = args.batch_size or config.data.batch_size
  config.model.compute_dtype = args.dtype

  task_for = task_with_loss(config, IMAGE)
  task = task_for()
  key = jax.random.key(0)
  state, batch, parallel = placed_as_a_run(task, key, random_batch(config.data.batch_size),
                                          cpu_devices=args.cpu_devices)
  flops = step_flops(task_for, batch, key)
  step = jax.jit(lambda state, batch: task.train_step(state, batch, key)[0], out_shardings=parallel.replicated)
  cycle_length = max(active_regularizers(config.loss).values(), default=1)

  def cycle(state, batch):
    for _ in range(cycle_length):
      state = step(state, batch)
    return state

  jax.block_until_ready(cycle(state, batch))  # compile

  seconds, utilisation, peaks = [], [], []
  for _ in range(args.rounds):
    peaks.append(matmul_peak_flops(repeats=3, dtype=jnp.dtype(args.dtype)))
    seconds.append(seconds_per_call(cycle, (state, batch), args.steps) / cycle_length)
    utilisation.append(flops / seconds[-1] / peaks[-1])

  median_seconds = statistics.median(seconds)
  widths = ", ".join(f"{key} {value}" for key, value in config.model.items()
                     if key in ("g_width", "d_width", "channel_base", "channel_max", "width"))
  print(f"GAN {args.model} ({widths}), 32x32x3, batch {config.data.batch_size} in {config.loss.d_steps} "
        f"discriminator update(s), {args.dtype}, loss.augment "
        f"{config.loss.augment}, cycle of {cycle_length} steps; {parallel.num_devices} {parallel.platform} device(s); "
        f"{flops / 1e9:.2f} GFLOP per G+D step; {args.dtype} matmul peak {statistics.median(peaks) / 1e9:.1f} "
        f"GFLOP/s (median of {args.rounds} rounds, range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f})")
  print("| G+D steps/s | model GFLOP/s | utilisation (median, range) |")
  print("|---|---|---|")
  print(f"| {1 / median_seconds:.2f} | {flops / median_seconds / 1e9:.1f} | {statistics.median(utilisation):.1%} "
        f"({min(utilisation):.1%}-{max(utilisation):.1%}) |")


if __name__ == "__main__":
  main()
