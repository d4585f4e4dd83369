import pathlib

import pytest

from genzoo import tasks
from genzoo.config import load_experiment_file
from genzoo.runner.session import describe_data

EXPERIMENTS = sorted(pathlib.Path(__file__).resolve().parent.parent.joinpath("experiments").glob("*.py"))


def variants(path: pathlib.Path) -> tuple[str, ...]:
  namespace: dict = {}
  exec(compile(path.read_text(), str(path), "exec"), namespace)
  return namespace["VARIANTS"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda path: path.stem)
def test_every_variant_describes_its_data_and_passes_its_checks(path):
  """Every `--config experiments/<file>.py:<variant>` is accepted as it ships: its data can be
  described (from the registry and config.data, nothing read) and the task checks its config."""
  for variant in variants(path):
    config = load_experiment_file(str(path), variant)
    describe_data(config)
    tasks.check_config(config)
