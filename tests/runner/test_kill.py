"""`kill -9` at random moments of a real `genzoo train` (some while a checkpoint is being written),
then resume: the run must end with exactly the parameters of an uninterrupted one, and its
metrics.jsonl must hold one record of each kind per step."""

import collections
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import chex
import jax
import pytest

from genzoo import runner

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENZOO = os.path.join(os.path.dirname(sys.executable), "genzoo")
# Long enough that kills land between steps and inside saves, not only in start-up.
SCHEDULE = ("--config.train.steps=300", "--config.train.checkpoint_every=20", "--config.train.log_every=10",
            "--config.train.eval_every=100")
KILLS_PER_RUN = 3


def train_command(experiment, workdir, data_dir, *options):
  return [GENZOO, "train", f"--config={os.path.join(REPO, 'experiments', experiment)}.py:smoke",
          f"--config.data.data_dir={data_dir}", f"--workdir={workdir}", *SCHEDULE, *options]


# The killed runs' own options: the VAE's also streams its data from disk, made by two worker
# processes, and must still end as the uninterrupted in-memory run.
KILLED_RUN_OPTIONS = {"vae_streamed": ("--config.data.stream=True", "--config.data.workers=2")}


def run_to_the_end(command, log):
  with open(log, "a") as out:
    assert subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=900).returncode == 0, open(log).read()[-3000:]


def kill_once(command, workdir, log, during_save: bool, rng: random.Random) -> str:
  """Starts `command`, waits until it trains, then SIGKILLs it at a random moment or while a
  checkpoint is being written; returns what the kill interrupted."""
  with open(log, "a") as out:
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
  deadline = time.time() + 600
  while time.time() < deadline and process.poll() is None:
    with open(log) as f:
      training = f.read().count("| ETA") > 0
    if training:
      break
    time.sleep(0.05)
  if during_save:
    while process.poll() is None and not glob.glob(f"{workdir}/checkpoints/*tmp*"):
      time.sleep(0.001)
    what = "a checkpoint save"
  else:
    time.sleep(rng.uniform(0.0, 1.5))
    what = "training"
  if process.poll() is not None:
    return "nothing (the run had ended)"
  os.kill(process.pid, signal.SIGKILL)
  process.wait()
  return what


def records_per_step(workdir):
  with open(f"{workdir}/metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  counts = collections.Counter((r["step"], "eval" if any(k.startswith("eval/") for k in r) else "train") for r in records)
  return counts


@pytest.mark.slow
@pytest.mark.parametrize("case", ["vae", "vae_streamed", "glow", "sngan"])
def test_kill_9_then_resume_ends_as_an_uninterrupted_run(case, tmp_path):
  experiment, options = case.removesuffix("_streamed"), KILLED_RUN_OPTIONS.get(case, ())
  data_dir, log = str(tmp_path / "tfds"), str(tmp_path / "log.txt")
  killed_data_dir = str(tmp_path / "array_record") if options else data_dir
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  run_to_the_end(train_command(experiment, straight, data_dir), log)
  rng = random.Random(experiment)
  killed_command = train_command(experiment, killed, killed_data_dir, *options)
  interrupted = [kill_once(killed_command, killed, log, during_save=i % 2 == 1, rng=rng) for i in range(KILLS_PER_RUN)]
  run_to_the_end(killed_command, log)
  print(f"{case}: kills interrupted {interrupted}")
  straight_state = jax.device_get(runner.restore_session(straight, None)[3])
  killed_state = jax.device_get(runner.restore_session(killed, None)[3])
  chex.assert_trees_all_equal(straight_state, killed_state)
  counts = records_per_step(killed)
  assert max(counts.values()) == 1 and counts == records_per_step(straight)
