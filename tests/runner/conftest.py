"""A finished VAE smoke run shared by the runner tests (copy it before changing anything)."""

import pytest

from genzoo import data as datasets
from genzoo import runner


@pytest.fixture(scope="session")
def vae_smoke_run(tmp_path_factory, experiment):
  """(config, workdir) of `experiments/vae.py:smoke` trained to the end: checkpoints at steps 3
  and 6, logs at 2, 4 and 6, an evaluation and a sample grid at 6."""
  root = tmp_path_factory.mktemp("vae_smoke")
  config = experiment("vae", "smoke")
  config.data.data_dir = str(root / "tfds")
  runner.train_and_evaluate(config, str(root / "run"))
  return config, str(root / "run")


@pytest.fixture
def interrupted_run(monkeypatch):
  """`interrupted_run(config, workdir, step)` trains until training batch `step` is asked for and
  is interrupted there (KeyboardInterrupt), as a crash would leave the workdir."""

  def run(config, workdir, step):
    real_batch = datasets.train_batch

    def crash_at(data, batch_step, *args, **kwargs):
      if batch_step == step:
        raise KeyboardInterrupt("simulated crash")
      return real_batch(data, batch_step, *args, **kwargs)

    with monkeypatch.context() as patch:
      patch.setattr(datasets, "train_batch", crash_at)
      with pytest.raises(KeyboardInterrupt):
        runner.train_and_evaluate(config, workdir)

  return run
