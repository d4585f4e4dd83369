"""Input pipeline throughput: training examples/s delivered, in memory and streamed from disk, with
0, 1 and 2 worker processes, next to what the Glow and StyleGAN2 train steps consume here.

Delivery is what the training loop gets: `genzoo.data.prefetch.Prefetcher` over the very batch
function the runner uses (`genzoo.runner.session.train_batches`), for `--steps` consecutive
global batches of `--batch-size`, timed from the first batch to the last (the workers' start-up
left out). The datasets:
  * `mnist5k` in memory, as `experiments/glow.py:mnist5k` reads it (padded to 32x32);
  * `--synthetic` (`genzoo_synthetic64/tenth` by default: 128,117 64x64 RGB images;
    `genzoo_synthetic64/imagenet_size` has ImageNet 64x64's 1,281,167) streamed from its array_record files (`data.stream=True`), each
    batch read and decoded by index. It is built offline into `--data-dir` on first use.
Consumption is training examples/s of the `mnist5k` settings of `experiments/glow.py` and
`experiments/stylegan2.py` on random batches (steps/s times their batch sizes).

`--rss` also trains `experiments/vae.py:mnist5k` on the synthetic data for `--rss-steps` steps,
in memory and streamed with 0 and 2 workers, as `genzoo train` subprocesses, and reports the peak
resident memory of each run's process tree (the training process and its workers, sampled every
0.1 s).

  python benchmarks/input_pipeline.py --data-dir DIR [--synthetic imagenet_size] [--steps 200] [--rss]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jax

from _measure import REPO, load_experiment, seconds_per_call
from genzoo import data
from genzoo.data.prefetch import Prefetcher
from genzoo.runner.session import describe_data, load_split, train_batches
from genzoo.tasks import make_task
from genzoo.testing import random_batch

WORKERS = (0, 1, 2)
CONSUMERS = {"Glow": ("glow", "mnist5k"), "StyleGAN2": ("stylegan2", "mnist5k")}


def delivered_per_second(make_batch, steps: int, workers: int, batch_size: int) -> float:
  """Examples/s the prefetcher delivers after its first batch."""
  with Prefetcher(make_batch, range(steps), workers, depth=max(2, 2 * workers)) as batches:
    next(batches)
    start = time.perf_counter()
    for _ in batches:
      pass
    return (steps - 1) * batch_size / (time.perf_counter() - start)


def pipeline_config(name: str, data_dir: str, batch_size: int, stream: bool):
  config = load_experiment("glow", "mnist5k")
  config.data.update(name=name, data_dir=data_dir, batch_size=batch_size, stream=stream)
  if name != "mnist5k":
    config.data.pad = 0
  return config


def consumed_per_second(experiment: str, variant: str, rounds: int = 3, repeats: int = 5) -> tuple[float, int]:
  """(training examples/s (median over rounds), batch size) of the experiment's train step on
  random batches."""
  config = load_experiment(experiment, variant)
  task = make_task(config, describe_data(config))
  key = jax.random.key(0)
  batch = random_batch(task.data, config.data.batch_size, key)
  state = jax.jit(task.init)(key, batch)
  step = jax.jit(lambda state: task.train_step(state, batch, key)[0])
  jax.block_until_ready(step(state))
  seconds = statistics.median(seconds_per_call(step, (state,), repeats) for _ in range(rounds))
  return config.data.batch_size / seconds, config.data.batch_size


def peak_tree_rss(command: list[str]) -> tuple[float, int]:
  """(peak resident GiB of the process and its descendants, exit code) of `command`."""
  import psutil  # pylint: disable=g-import-not-at-top

  process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  root, peak = psutil.Process(process.pid), 0
  while process.poll() is None:
    try:
      tree = [root, *root.children(recursive=True)]
      peak = max(peak, sum(member.memory_info().rss for member in tree))
    except psutil.NoSuchProcess:
      pass
    time.sleep(0.1)
  return peak / 2**30, process.returncode


def rss_rows(name: str, data_dir: str, steps: int) -> list[str]:
  genzoo = os.path.join(os.path.dirname(sys.executable), "genzoo")
  rows = []
  streamed = ["--config.data.stream=True"]
  runs = {"in memory": [], "streamed, no workers": streamed, "streamed, 2 workers": [*streamed, "--config.data.workers=2"]}
  for label, options in runs.items():
    with tempfile.TemporaryDirectory(dir=REPO / "runs" if (REPO / "runs").is_dir() else None) as workdir:
      command = [genzoo, "train", f"--config={REPO / 'experiments' / 'vae.py'}:mnist5k", f"--workdir={workdir}",
                 f"--config.data.name={name}", f"--config.data.data_dir={data_dir}", "--config.data.pad=0",
                 f"--config.train.steps={steps}", "--config.train.eval_every=0", "--config.train.sample_every=0",
                 "--config.eval.iwae_k=1", "--config.eval.iwae_chunk_size=1", *options]
      start = time.perf_counter()
      peak, code = peak_tree_rss(command)
      rows.append(f"| {label} | {peak:.2f} | {time.perf_counter() - start:.0f} | {code} |")
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", required=True, help="where the synthetic dataset is (or gets) prepared")
  parser.add_argument("--synthetic", choices=("tenth", "imagenet_size"), default="tenth",
                      help="the config of genzoo_synthetic64")
  parser.add_argument("--steps", type=int, default=200, help="global batches delivered per measurement")
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--rss", action="store_true", help="also the peak memory of training runs")
  parser.add_argument("--rss-steps", type=int, default=100)
  args = parser.parse_args()

  synthetic = f"genzoo_synthetic64/{args.synthetic}"
  rows = []
  for name, stream in (("mnist5k", False), (synthetic, True)):
    config = pipeline_config(name, args.data_dir, args.batch_size, stream)
    make_batch = train_batches(config, load_split(config, "train"))
    for workers in WORKERS:
      rate = delivered_per_second(make_batch, args.steps, workers, args.batch_size)
      where = "streamed from array_record" if stream else "in memory"
      rows.append(f"| delivered: `{name}`, {where} | {workers} | {rate:,.0f} |")
  for model, (experiment, variant) in CONSUMERS.items():
    rate, batch_size = consumed_per_second(experiment, variant)
    rows.append(f"| consumed: {model} train step (`{experiment}.py:{variant}`, batch {batch_size}) | | {rate:,.0f} |")
  print(f"batch {args.batch_size}, {args.steps} batches per row; {os.cpu_count()} CPUs")
  print("| pipeline | workers | examples/s |")
  print("|---|---|---|")
  print("\n".join(rows))
  if args.rss:
    print(f"\n`vae.py:mnist5k` on `{synthetic}` ({data.describe(synthetic).x.shape}), "
          f"{args.rss_steps} steps and a final evaluation")
    print("| run | peak RSS of the process tree (GiB) | wall s | exit code |")
    print("|---|---|---|---|")
    print("\n".join(rss_rows(synthetic, args.data_dir, args.rss_steps)))


if __name__ == "__main__":
  main()
