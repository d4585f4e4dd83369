"""Model families behind the task contract (see `genzoo.tasks.base`)."""

import ml_collections

from genzoo.tasks.base import DataInfo, Task
from genzoo.tasks.flow import FlowTask
from genzoo.tasks.gan import GANTask
from genzoo.tasks.vae import VAETask

TASKS = {"vae": VAETask, "flow": FlowTask, "gan": GANTask}


def make_task(config: ml_collections.ConfigDict, data: DataInfo) -> Task:
  """Builds the task named by `config.task` for data described by `data`."""
  if config.task not in TASKS:
    raise ValueError(f"unknown task {config.task!r}; known: {sorted(TASKS)}")
  return TASKS[config.task](config, data)


__all__ = ["DataInfo", "Task", "TASKS", "make_task"]
