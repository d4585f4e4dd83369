"""Two processes x 2 CPU devices through `jax.distributed` on loopback equal one process x 4."""

import os
import socket
import subprocess
import sys

import chex
import jax
import pytest

from genzoo import runner

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(REPO, "experiments", "vae.py") + ":smoke"
GENZOO = os.path.join(os.path.dirname(sys.executable), "genzoo")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def genzoo_train(workdir, data_dir, devices, *extra):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return subprocess.Popen(
      [GENZOO, "train", f"--config={SMOKE}", f"--config.data.data_dir={data_dir}", f"--workdir={workdir}", *extra],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
  )


def finish(process):
  output, _ = process.communicate(timeout=900)
  assert process.returncode == 0, output[-4000:]
  return output


@pytest.mark.slow
def test_two_processes_of_two_devices_equal_one_process_of_four(tmp_path):
  data_dir = str(tmp_path / "tfds")
  single = str(tmp_path / "single")
  finish(genzoo_train(single, data_dir, 4))  # also prepares the dataset before the pair starts

  pair = str(tmp_path / "pair")
  address = f"127.0.0.1:{free_port()}"
  processes = [
      genzoo_train(pair, data_dir, 2, "--multihost", f"--coordinator-address={address}",
                   "--num-processes=2", f"--process-id={index}")
      for index in range(2)
  ]
  outputs = [finish(p) for p in processes]
  assert "step 6/6" in outputs[0] and "step 6/6" not in outputs[1]  # only process 0 reports

  single_params = jax.device_get(runner.restore_session(single, None)[3]["params"])
  pair_params = jax.device_get(runner.restore_session(pair, None)[3]["params"])
  chex.assert_trees_all_close(single_params, pair_params, rtol=1e-5, atol=1e-6)
