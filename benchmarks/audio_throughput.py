"""WaveGlow throughput: training steps/s and synthesis speed as a real-time factor, fp32.

At the offline size (`experiments/waveglow.py:speech`: segments of 4,096 samples, batch 8) and the
published one (`ljspeech`: segments of 16,000 samples; batch 24 in the paper, here `--ljspeech-batch`,
default 1, since one published step takes about a minute on 2 CPU cores). Synthesis vocodes
`--synthesis-batch` segments at the inference sigma from their mel-spectrograms; the real-time
factor is seconds of audio produced per wall-clock second (above 1: faster than real time).
Utilisation is the model's matmul FLOP/s (read off the jaxprs, backward passes and
rematerialised forwards included) over this machine's fp32 matmul peak, measured before each
round; the table gives medians over rounds and the range of the utilisation.

  python benchmarks/audio_throughput.py [--sizes speech,ljspeech] [--rounds 3] [--steps 2] [--cpu-devices N]

Training and synthesis run as `genzoo train` and `genzoo sample` run them: on a CPU, the batch split
over one device per core, up to the experiment's `train.cpu_devices`.
"""

import argparse
import statistics

import jax

from _measure import (add_cpu_devices_option, comma_subset, load_experiment, matmul_flops,
                      matmul_peak_flops, placed_as_a_run, seconds_per_call)
from genzoo import data
from genzoo.runner.mesh import request_cpu_devices
from genzoo.tasks import make_task
from genzoo.testing import random_batch

SIZES = ("speech", "ljspeech")  # experiments/waveglow.py variants


def phases(variant: str, batch_size: int, synthesis_batch: int, cpu_devices: int | None):
  """(description, {phase: (jitted call, its arguments, matmul FLOPs per call, audio samples it
  synthesises or None)}, sample rate) of one size, placed as `genzoo train` and `genzoo sample` run."""
  config = load_experiment("waveglow", variant)
  config.data.batch_size = batch_size
  spec = data.audio_spec(config.data.segment_length, 22050)
  task = make_task(config, spec)
  key = jax.random.key(0)
  state, batch, parallel = placed_as_a_run(task, key, random_batch(spec, batch_size, key), synthesis_batch,
                                          cpu_devices=cpu_devices)
  given = random_batch(spec, synthesis_batch, jax.random.fold_in(key, 1))[spec.target]
  temperature = config.eval.sample_temperature

  def train(s, b):
    return task.train_step(s, b, key)

  def synthesise(s, g):  # split over the devices as `Session.jit_sample` splits it
    return parallel.split_rows(task.sample(s, key, synthesis_batch, temperature, None, g))

  model = config.model
  description = (f"WaveGlow {variant}: {model.num_flows} flows, WaveNet {model.wavenet_layers} x "
                 f"{model.wavenet_channels}, segments of {spec.x.shape[0]}, {parallel.num_devices} "
                 f"{parallel.platform} device(s)")
  replicated = parallel.replicated
  return description, {
      f"train (batch {batch_size})": (jax.jit(train, out_shardings=replicated), (state, batch),
                                      matmul_flops(train, state, batch), None),
      f"synthesis (batch {synthesis_batch})": (jax.jit(synthesise, out_shardings=replicated), (state, given),
                                               matmul_flops(synthesise, state, given), synthesis_batch * spec.x.size),
  }, spec.x.sample_rate


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", type=comma_subset(SIZES), default=list(SIZES), help=f"comma-separated subset of {SIZES}")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--steps", type=int, default=2, help="timed calls per round and phase")
  parser.add_argument("--ljspeech-batch", type=int, default=1)
  parser.add_argument("--synthesis-batch", type=int, default=4)
  add_cpu_devices_option(parser)
  args = parser.parse_args()
  request_cpu_devices()
  print("| size | phase | rate | real-time factor | model GFLOP/s | utilisation (median, range) |")
  print("|---|---|---|---|---|---|")
  for variant in args.sizes:
    batch_size = args.ljspeech_batch if variant == "ljspeech" else load_experiment("waveglow", variant).data.batch_size
    description, calls, sample_rate = phases(variant, batch_size, args.synthesis_batch, args.cpu_devices)
    for call, arguments, _, _ in calls.values():
      jax.block_until_ready(call(*arguments))  # compile
    seconds = {phase: [] for phase in calls}
    utilisation = {phase: [] for phase in calls}
    for _ in range(args.rounds):
      peak = matmul_peak_flops(repeats=3)
      for phase, (call, arguments, flops, _) in calls.items():
        seconds[phase].append(seconds_per_call(call, arguments, args.steps))
        utilisation[phase].append(flops / seconds[phase][-1] / peak)
    for phase, (_, _, flops, samples) in calls.items():
      median = statistics.median(seconds[phase])
      rate = f"{1 / median:.3f} steps/s" if samples is None else f"{samples / median:,.0f} samples/s"
      real_time = "" if samples is None else f"{samples / median / sample_rate:.2f}"
      print(f"| {description} | {phase} | {rate} | {real_time} | {flops / median / 1e9:.1f} | "
            f"{statistics.median(utilisation[phase]):.1%} ({min(utilisation[phase]):.1%}-"
            f"{max(utilisation[phase]):.1%}) |", flush=True)


if __name__ == "__main__":
  main()
