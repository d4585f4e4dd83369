"""A finished VAE smoke run shared by the runner tests (copy it before changing anything)."""

import pytest

from genzoo.runner import train as runner


@pytest.fixture(scope="session")
def vae_smoke_run(tmp_path_factory, experiment):
  """(config, workdir) of `experiments/vae.py:smoke` trained to the end: checkpoints at steps 3
  and 6, logs at 2, 4 and 6, an evaluation and a sample grid at 6."""
  root = tmp_path_factory.mktemp("vae_smoke")
  config = experiment("vae", "smoke")
  config.data.data_dir = str(root / "tfds")
  runner.train_and_evaluate(config, str(root / "run"))
  return config, str(root / "run")
