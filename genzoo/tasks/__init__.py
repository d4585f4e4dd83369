"""Model families behind the task contract (see `genzoo.tasks.base`)."""

import ml_collections

from genzoo import config
from genzoo.errors import UserError
from genzoo.data.spec import DataSpec
from genzoo.tasks.base import Task
from genzoo.tasks.flow import FlowTask
from genzoo.tasks.gan import GANTask
from genzoo.tasks.vae import VAETask

TASKS = {"vae": VAETask, "flow": FlowTask, "gan": GANTask}


def task_class(config: ml_collections.ConfigDict) -> type:
  """The family named by `config.task`."""
  if config.get("task") not in TASKS:
    raise UserError(f"unknown task {config.get('task')!r}; known: {sorted(TASKS)}")
  return TASKS[config.task]


def backfilled_keys(stored: dict) -> dict:
  """The keys that a stored config may predate, with the values such runs used: the runner's
  (`genzoo.config.BACKFILLED_KEYS`), the family's (`BACKFILLED_KEYS`) and its model's (the
  `BACKFILLED_FIELDS` of the class that the family's `stored_model_class(stored)` names, if it
  has one); {} for an unknown family, which `check_config` then reports."""
  family = TASKS.get(stored.get("task"))
  if family is None:
    return {}
  model_class = family.stored_model_class(stored) if hasattr(family, "stored_model_class") else None
  model_fields = getattr(model_class, "BACKFILLED_FIELDS", {})
  return {**config.BACKFILLED_KEYS, **family.BACKFILLED_KEYS,
          **{f"model.{name}": value for name, value in model_fields.items()}}


def truncation_key(config: ml_collections.ConfigDict) -> str | None:
  """The config key of the model's truncation trick (a GAN generator's), None if it has none."""
  family = TASKS.get(config.get("task"))
  return family.truncation_key(config) if hasattr(family, "truncation_key") else None


def check_config(config: ml_collections.ConfigDict) -> None:
  """Checks `config.task` and the family's own keys, before any data is loaded."""
  task_class(config).check_config(config)


def make_task(config: ml_collections.ConfigDict, spec: DataSpec) -> Task:
  """Builds the task named by `config.task` for data described by `spec`."""
  return task_class(config)(config, spec)


__all__ = ["backfilled_keys", "Task", "TASKS", "check_config", "make_task", "task_class", "truncation_key"]
