"""The data-parallel mesh a run uses: how many CPU devices genzoo asks JAX for, and how many of
them a run's batch sizes let it split over (the tests run on 4 fake CPU devices)."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from genzoo.errors import UserError
from genzoo.runner import mesh
from genzoo.runner.session import Session


@pytest.mark.parametrize("batch_sizes, cpu_devices, expected", [
    ((64, 100), 0, 4), ((10, 10), 0, 2), ((64, 9), 0, 1), ((12, 6), 0, 3),
    ((64, 100), 1, 1), ((64, 100), 2, 2), ((12, 6), 2, 2), ((64, 100), 16, 4)])
def test_a_cpu_run_splits_over_the_most_devices_that_divide_its_batches(batch_sizes, cpu_devices, expected):
  assert jax.device_count() == 4
  parallel = mesh.DataParallel.for_batches(*batch_sizes, cpu_devices=cpu_devices)
  assert parallel.num_devices == expected
  assert parallel.platform == "cpu"
  for size in batch_sizes:
    parallel.check_batch_size(size, "data.batch_size")


def test_a_session_takes_its_mesh_from_the_config_batch_sizes_and_cpu_devices(experiment):
  config = experiment("glow", "smoke", {"data.batch_size": 10, "data.eval_batch_size": 20})
  assert config.train.cpu_devices == 0  # the image flows gain from a device per core
  assert Session.create(config).parallel.num_devices == 2
  config = experiment("vae", "smoke", {"data.batch_size": 16, "data.eval_batch_size": 16})
  assert config.train.cpu_devices == 1  # the others do not (README: Training)
  assert Session.create(config).parallel.num_devices == 1
  config.train.cpu_devices = 2
  assert Session.create(config).parallel.num_devices == 2


def test_a_batch_the_mesh_cannot_split_is_refused_with_the_count():
  with pytest.raises(UserError, match=r"data.batch_size 10 is not divisible by the number of devices \(4\); "
                                      r"use a multiple of 4"):
    mesh.DataParallel.over().check_batch_size(10, "data.batch_size")


@pytest.mark.parametrize("environ", [{"JAX_NUM_CPU_DEVICES": "1"},
                                     {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}])
def test_the_users_device_count_stands(environ):
  assert mesh.request_cpu_devices(environ) is None


def test_without_a_users_choice_genzoo_asks_for_one_cpu_device_per_core_up_to_a_cap():
  environ = {name: value for name, value in os.environ.items() if name not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
  program = ("from genzoo.runner import mesh; asked = mesh.request_cpu_devices(); import jax; "
             "print(asked, mesh.usable_cores(), jax.device_count())")
  result = subprocess.run([sys.executable, "-c", program], env=environ, capture_output=True, text=True, check=True)
  asked, cores, devices = map(int, result.stdout.split())
  assert asked == devices == min(cores, mesh.MAX_CPU_DEVICES)


@pytest.mark.parametrize("name", ["glow", "dcgan"])
def test_samples_are_split_over_the_devices_and_do_not_depend_on_the_split(experiment, name):
  config = experiment(name, "smoke", {"data.batch_size": 8, "data.eval_batch_size": 8, "train.cpu_devices": 0})
  split, single = Session.create(config), Session.create(config, parallel=mesh.DataParallel.over(jax.devices()[:1]))
  assert split.parallel.num_devices == 4
  state, single_state = (session.init_state(session.example_batch()) for session in (split, single))
  np.testing.assert_allclose(split.sample(state, 8).values, single.sample(single_state, 8).values, rtol=1e-5, atol=1e-5)
  assert split.sample(state, 6).values.shape[0] == 6  # a count the devices do not divide: every device draws all


def test_rows_the_devices_divide_are_split_over_them():
  parallel = mesh.DataParallel.over()
  draw = jax.jit(lambda rng, num: parallel.split_rows(jax.random.normal(rng, (num, 3))), static_argnums=1)
  assert draw(jax.random.key(0), 8).sharding.is_equivalent_to(parallel.batch, 2)
  assert draw(jax.random.key(0), 6).sharding.is_fully_replicated
