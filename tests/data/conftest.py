"""Shared fixtures for the data tests: one prepared TFDS directory for the embedded datasets."""

import pytest


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory) -> str:
  """A data_dir in which `digits` and `mnist5k` are prepared (once per session, offline)."""
  return str(tmp_path_factory.mktemp("tfds"))
