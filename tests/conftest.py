"""Test set-up: four fake CPU devices, the `slow` marker, a typed PRNG key, the experiment configs
and the `genzoo` command run in-process."""

import os

# Four host devices must be configured before JAX initialises its backends. The tests' programs
# are tiny and compiled once each, so compilation is most of their time, and two XLA:CPU options
# cut it: backend optimisation level 0 (HLO optimisations still run; only LLVM's code generation is
# plainer) and the classic fusion emitters instead of the newer ones (the smoke Glow's train step
# compiles in 2.9 s instead of 8.1 s; the programs compute the same thing). Subprocesses of the
# tests inherit these flags. Neither is set for users' runs, where the run time of the code counts.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0 "
                      "--xla_cpu_use_fusion_emitters=false")
# Keep TensorFlow (used only for dataset preparation) quiet and off any accelerator.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_num_cpu_devices", 4)
# One persistent compilation cache per test run, made by the first process (xdist's controller)
# and inherited through the environment by its workers and by the `genzoo` subprocesses of the
# tests: the many tests that build the same smoke models compile each program once. It is removed
# when the run ends, so every run (and CI's clean checkout) starts cold.
_OWNS_COMPILATION_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWNS_COMPILATION_CACHE:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="genzoo-test-compilation-cache-")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_sessionfinish(session, exitstatus):
  if _OWNS_COMPILATION_CACHE:
    shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
  if config.getoption("--runslow"):
    return
  skip_slow = pytest.mark.skip(reason="slow: pass --runslow to run")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip_slow)


@pytest.fixture
def key():
  return jax.random.key(0)


def load_experiment(name: str, variant: str, overrides: dict | None = None):
  """`get_config(variant)` of experiments/<name>.py, as `--config experiments/<name>.py:variant`,
  with `overrides` ({"section.key": value}) applied as `--config.section.key=value` would."""
  from genzoo.config import load_experiment_file

  config = load_experiment_file(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments",
                                             f"{name}.py"), variant)
  for dotted, value in (overrides or {}).items():
    section, key = dotted.split(".")
    config[section][key] = value
  return config


@pytest.fixture(scope="session")
def experiment():
  return load_experiment


def run_genzoo(*args):
  """Parses `genzoo ARGS` with fresh flag values and runs the command in this process; a user
  error exits (SystemExit) with status 2 after one line on stderr, as the console script does."""
  import sys
  from unittest import mock

  from absl import flags

  from genzoo.runner import cli

  argv = ["genzoo", *args]
  flags.FLAGS.unparse_flags()
  # Config overrides (--config.a.b=v) are read from sys.argv by ml_collections.
  with mock.patch.object(sys, "argv", argv):
    cli.invoke(argv)


@pytest.fixture
def run_cli():
  """`run_genzoo`, with the flags reset afterwards."""
  from absl import flags

  yield run_genzoo
  flags.FLAGS.unparse_flags()
  # ml_collections registers one flag per --config.a.b override it parses; drop them, so the
  # next test may override the same keys.
  for name in [name for name in flags.FLAGS if name.startswith("config.")]:
    delattr(flags.FLAGS, name)


def tree_digest(path: str) -> dict[str, str]:
  """{relative path: sha256} of every file under `path` ({} if it does not exist)."""
  import hashlib

  digests = {}
  for folder, _, files in os.walk(path):
    for name in files:
      full = os.path.join(folder, name)
      with open(full, "rb") as f:
        digests[os.path.relpath(full, path)] = hashlib.sha256(f.read()).hexdigest()
  return digests


@pytest.fixture(scope="session")
def digest():
  """`tree_digest`: to assert that a command left a directory byte-identical."""
  return tree_digest


@pytest.fixture
def user_error(run_cli, capsys):
  """Runs `genzoo ARGS` expecting a user error; returns its one-line message after asserting
  exit status 2, exactly one line on stderr and no traceback."""

  def run(*args):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
      run_cli(*args)
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]

  return run
