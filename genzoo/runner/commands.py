"""The commands that read a finished (or interrupted) run: evaluate, sample, interpolate."""

import json
import os

import jax
import ml_collections
import numpy as np

from genzoo import checks, tasks
from genzoo.config import check_runner_settings
from genzoo.errors import MissingFileError, UserError
from genzoo.runner import config as run_config
from genzoo.runner import images, workdir as run_files
from genzoo.runner.checkpoints import Checkpoints
from genzoo.runner.evaluation import Evaluator
from genzoo.runner.render import Samples
from genzoo.runner.session import Session, chief_print, chief_warn, is_chief, load_split


def restore_session(workdir: str, step: int | None, config_overrides: dict | None = None):
  """The config, session and restored state of a run in `workdir`: the checkpoint of `step`, or
  the newest intact one if `step` is None (skipping damaged ones with a warning).
  `config_overrides` maps dotted keys of the stored config to new values (e.g. eval settings)."""
  config = with_overrides(run_config.read_workdir_config(workdir, tasks.backfilled_keys), config_overrides or {})
  check_runner_settings(config)
  tasks.check_config(config)
  session = Session.create(config)
  checkpoints = Checkpoints(workdir)
  try:
    if step is not None:
      return config, session, step, checkpoints.restore(step, session.abstract_state())
    step, state = checkpoints.restore_newest_intact(session.abstract_state(), set_aside_damaged=False, warn=chief_warn)
  finally:
    checkpoints.close()
  if step is None:
    raise MissingFileError(f"{workdir} has no intact checkpoint to read; train first (`genzoo train`)")
  return config, session, step, state


def with_overrides(config: ml_collections.ConfigDict, overrides: dict) -> ml_collections.ConfigDict:
  """`config` with `overrides` ({"eval.iwae_k": 5000, ...}) applied; a key the run's config does not
  have is refused, with the keys of its section."""
  for dotted, value in overrides.items():
    section, _, name = dotted.partition(".")
    if section not in config or name not in config[section]:
      known = sorted(config[section]) if section in config else sorted(config)
      raise UserError(f"this run's config has no key {dotted} (it is a {config.get('task')!r} run); "
                      f"its {section} keys: {known}")
    config[section][name] = value
  return config


def evaluate(workdir: str, step: int | None = None, overrides: dict | None = None) -> dict:
  """Test metrics of a checkpoint over the whole test split, printed (by process 0) and then
  written to eval_<step>.json. `overrides` sets `eval.*` keys of the stored config for this
  evaluation, e.g. {"eval.iwae_k": 5000} or {"eval.sample_metrics": "fid,kid,modes"}."""
  overrides = overrides or {}
  outside_eval = [key for key in overrides if not key.startswith("eval.")]
  if outside_eval:
    raise UserError(f"genzoo eval changes eval.* keys only, got {outside_eval}; the rest of the "
                    "config is the run's own")
  config, session, step, state = restore_session(workdir, step, overrides)
  results = {"step": step, **Evaluator(session, load_split(config, "test"))(state)}
  chief_print(json.dumps(results, indent=2))
  if is_chief():
    with run_files.writing_into(workdir, after="; the results are printed above"):
      run_files.write_json(os.path.join(workdir, f"eval_{step}.json"), results)
  return results


def sample(workdir: str, output: str | None, num: int, temperature: float, step: int | None = None) -> str:
  """Writes a PNG of `num` samples at `temperature`, drawn by the renderer of the data's kind;
  returns its path."""
  checks.check_value("--num", num, checks.at_least(1))
  checks.check_value("--temperature", temperature, checks.NON_NEGATIVE)
  if output is not None:
    run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step)
  path = output or os.path.join(workdir, f"samples_{step}_t{temperature:g}.png")
  run_files.check_output_path(path)
  picture = session.render(state, session.sample(state, num, temperature))
  if is_chief():
    images.save_png(picture.pixels, path, scale=picture.scale)
  return path


def interpolate(workdir: str, output: str | None, num_pairs: int, num_steps: int, step: int | None = None) -> str:
  """Writes a PNG with one row per pair of test examples, walking the latent line between them."""
  checks.check_value("--num-pairs", num_pairs, checks.at_least(1))
  checks.check_value("--num-steps", num_steps, checks.at_least(2))
  if output is not None:
    run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step)
  if not hasattr(session.task, "interpolate"):
    raise UserError(f"the {config.task!r} family does not support interpolation")
  path = output or os.path.join(workdir, f"interpolation_{step}.png")
  run_files.check_output_path(path)
  test_examples = load_split(config, "test")[session.spec.target]
  if 2 * num_pairs > len(test_examples):
    raise UserError(f"--num-pairs={num_pairs} needs {2 * num_pairs} test examples; the split has "
                    f"{len(test_examples)}, so use at most {len(test_examples) // 2}")
  walk = jax.jit(session.task.interpolate, static_argnums=3)
  strips = np.asarray(walk(state, test_examples[0 : 2 * num_pairs : 2], test_examples[1 : 2 * num_pairs : 2], num_steps))
  picture = session.render(state, Samples(strips.reshape((-1,) + strips.shape[2:]), session.spec.x), columns=num_steps)
  if is_chief():
    images.save_png(picture.pixels, path, scale=picture.scale)
  return path
