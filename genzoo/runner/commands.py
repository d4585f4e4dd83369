"""The commands that read a finished (or interrupted) run: evaluate, sample, interpolate, style_mix."""

import json
import os

import jax
import ml_collections
import numpy as np

from genzoo import checks, tasks
from genzoo import data as datasets
from genzoo.data import spectrogram
from genzoo.config import check_runner_settings
from genzoo.errors import MissingFileError, UserError
from genzoo.runner import config as run_config
from genzoo.runner import audio, images
from genzoo.runner import workdir as run_files
from genzoo.runner.checkpoints import Checkpoints
from genzoo.runner.evaluation import Evaluator
from genzoo.runner.render import Picture, Samples
from genzoo.runner.session import (SAMPLE_STREAM, Session, chief_print, chief_warn, conditional_classes, is_chief,
                                   stream)
from genzoo.runner.writers import save_picture


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


def truncation_overrides(workdir: str, truncation: float | None) -> dict:
  """{the model's truncation key: value} for `--truncation` (nothing if None): StyleGAN2's psi,
  BigGAN's threshold; refused for a run whose generator has no truncation trick."""
  if truncation is None:
    return {}
  checks.check_value("--truncation", truncation, checks.NON_NEGATIVE)
  config = run_config.read_workdir_config(workdir, tasks.backfilled_keys)
  key = tasks.truncation_key(config)
  if key is None:
    raise UserError(f"--truncation sets the truncation trick of a generator that has one (StyleGAN2's psi, BigGAN's "
                    f"threshold); this run's model ({config.get('task')!r} family, "
                    f"model.name={config.get('model', {}).get('name')!r}) has none")
  return {key: truncation}


def truncation_suffix(truncation: float | None) -> str:
  """The file-name mark of a truncated sample or evaluation."""
  return "" if truncation is None else f"_trunc{truncation:g}"


def evaluate(workdir: str, step: int | None = None, overrides: dict | None = None,
             truncation: float | None = None) -> dict:
  """Test metrics of a checkpoint over the whole test split, printed (by process 0) and then
  written to eval_<step>.json (eval_<step>_trunc<value>.json with a `truncation`, the model's
  truncation trick: StyleGAN2's psi, BigGAN's threshold). `overrides` sets `eval.*` keys of the
  stored config for this evaluation, e.g. {"eval.iwae_k": 5000} or {"eval.sample_metrics":
  "fid,kid,modes"}."""
  overrides = overrides or {}
  outside_eval = [key for key in overrides if not key.startswith("eval.")]
  if outside_eval:
    raise UserError(f"genzoo eval changes eval.* keys (and --truncation) only, got {outside_eval}; the rest "
                    "of the config is the run's own")
  config, session, step, state = restore_session(workdir, step, {**overrides,
                                                                 **truncation_overrides(workdir, truncation)})
  results = {"step": step, **({} if truncation is None else {"truncation": truncation}),
             **Evaluator(session, session.test_data)(state)}
  chief_print(json.dumps(results, indent=2))
  if is_chief():
    with run_files.writing_into(workdir, after="; the results are printed above"):
      run_files.write_json(os.path.join(workdir, f"eval_{step}{truncation_suffix(truncation)}.json"), results)
  return results


def requested_classes(text: str, num_classes: int) -> np.ndarray:
  """The classes of `--class`: one ("3"), a comma-separated list ("0,1,2") or "all"; refused for
  an unconditional model (`num_classes` 0) and for a class out of range."""
  if not num_classes:
    raise UserError(f"--class {text} asks for samples of a class, but this run's model is unconditional; train "
                    "a class-conditional one (model.num_classes = the data's classes) to sample by class")
  if text.strip() == "all":
    return np.arange(num_classes)
  try:
    classes = [int(part) for part in text.split(",")]
  except ValueError:
    raise UserError(f"--class takes a class index, a comma-separated list of them or 'all'; got {text!r}") from None
  outside = [label for label in classes if not 0 <= label < num_classes]
  if outside:
    raise UserError(f"class {outside[0]} is out of range: this model generates classes 0 to {num_classes - 1}")
  return np.asarray(classes)


def _save(picture: Picture, path: str) -> None:
  """Writes `picture` (and its sounds beside it, which are listed)."""
  if not is_chief():
    return
  sounds = save_picture(picture, path)[1:]
  if sounds:
    chief_print(f"wrote {len(sounds)} sound files beside it: {', '.join(os.path.basename(p) for p in sounds)}")


def sample(workdir: str, output: str | None, num: int, temperature: float, step: int | None = None,
           truncation: float | None = None, classes: str | None = None, sigma: float | None = None) -> str:
  """Writes a PNG of `num` samples at `temperature` (and `truncation`, for generators with a
  truncation trick), drawn by the renderer of the data's kind; returns its path. `classes`
  (`--class`: "3", "0,1,2" or "all") asks a class-conditional model for `num` samples of each of
  those classes, one row per class when there are several. `sigma` (flows) sets the base's
  standard deviation instead of the temperature (WaveGlow's inference sigma). Audio samples
  are written as WAV files beside the PNG of their spectrograms; a model conditioned on the data
  (a vocoder) re-synthesises the first `num` test examples."""
  checks.check_value("--num", num, checks.at_least(1))
  checks.check_value("--temperature", temperature, checks.NON_NEGATIVE)
  if sigma is not None:
    checks.check_value("--sigma", sigma, checks.NON_NEGATIVE)
  if output is not None:
    run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step, truncation_overrides(workdir, truncation))
  labels = None if classes is None else requested_classes(classes, conditional_classes(session.task))
  if sigma is not None:
    temperature = sigma_temperature(session.task, sigma)
  suffix = truncation_suffix(truncation) + (
      "" if labels is None else f"_class{'all' if classes.strip() == 'all' else '-'.join(map(str, labels))}")
  spread = f"t{temperature:g}" if sigma is None else f"sigma{sigma:g}"
  path = output or os.path.join(workdir, f"samples_{step}_{spread}{suffix}.png")
  run_files.check_output_path(path)
  if labels is None:
    picture = session.render(state, session.sample(state, num, temperature))
  else:
    picture = session.class_grid(state, labels, num, temperature)
  _save(picture, path)
  return path


def sigma_temperature(task, sigma: float) -> float:
  """The temperature of `task`'s prior that samples at base standard deviation `sigma`."""
  if not hasattr(task, "temperature_for_sigma"):
    raise UserError("--sigma sets a flow's base standard deviation; this run's family has none (use --temperature)")
  return task.temperature_for_sigma(sigma)


def vocode(workdir: str, input_path: str, output: str, step: int | None = None, sigma: float | None = None) -> str:
  """Re-synthesises the mono 16-bit WAV file `input_path` with a run's vocoder (a model
  conditioned on features of the waveform: WaveGlow from its mel-spectrogram) at base standard
  deviation `sigma` (default: `eval.sample_temperature` times the training sigma), writes the
  result to the WAV file `output` and a PNG of both spectrograms beside it, prints the log-mel
  distance between them; returns `output`."""
  if sigma is not None:
    checks.check_value("--sigma", sigma, checks.NON_NEGATIVE)
  if not output.endswith(".wav"):
    raise UserError(f"--output {output!r} must name a .wav file")
  run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step)
  if not getattr(session.task, "conditioned_on_data", False):
    raise UserError(f"the run in {workdir} does not generate from features of a given waveform; vocoding needs a run "
                    "of a vocoder such as experiments/waveglow.py")
  feature = session.spec.x
  waveform = audio.read_wav(input_path, feature.sample_rate)
  length = session.task.padded_length(len(waveform))
  spec = datasets.audio_spec(length, feature.sample_rate)
  vocoder = Session.create(config, spec=spec, parallel=session.parallel)
  given = np.pad(waveform, (0, length - len(waveform)))[None]
  temperature = (config.eval.get("sample_temperature", 1.0) if sigma is None
                 else sigma_temperature(vocoder.task, sigma))
  padded = vocoder.sample(state, 1, temperature, given=given)
  samples = Samples(padded.values[:, :len(waveform)], feature, references=waveform[None])
  settings = spectrogram.published_settings(feature.sample_rate)
  distance = float(spectrogram.log_mel_distance(*(spectrogram.pcm_log_mel_spectrogram(x, settings)
                                                  for x in (samples.values, samples.references))))
  picture = session.render(state, samples)
  if is_chief():
    audio.save_wav(samples.values[0], output, feature.sample_rate)
    images.save_png(picture.pixels, f"{os.path.splitext(output)[0]}.png", scale=picture.scale)
  chief_print(f"log-mel distance to the input: {distance:.4f} nats ({len(waveform) / feature.sample_rate:.2f} s)")
  return output


def style_mix(workdir: str, output: str | None, band: str, sources: int, step: int | None = None,
              truncation: float | None = None) -> str:
  """Writes a PNG of a style-mixing grid: `sources` column sources along the top, as many row
  sources down the left, and in each cell its row's styles with its column's in the `band`
  layers ("coarse", "middle" or "fine"); returns its path."""
  checks.check_value("--sources", sources, checks.at_least(1))
  if output is not None:
    run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step, truncation_overrides(workdir, truncation))
  if not hasattr(session.task, "style_mixing_grid"):
    raise UserError(f"the {config.task!r} family has no styles to mix")
  path = output or os.path.join(workdir, f"style_mixing_{step}_{band}.png")
  run_files.check_output_path(path)
  grid = jax.jit(session.task.style_mixing_grid, static_argnums=(2, 3))(
      state, stream(config, SAMPLE_STREAM), sources, band)
  picture = session.render(state, Samples(np.asarray(grid), session.spec.x), columns=sources + 1)
  _save(picture, path)
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
  if conditional_classes(session.task):
    raise UserError("interpolation walks one model's latent space between two test images; a class-conditional "
                    "model maps each class with its own function, so it has no single line between images of two "
                    "classes (sample it by class with `genzoo sample --class`)")
  path = output or os.path.join(workdir, f"interpolation_{step}.png")
  run_files.check_output_path(path)
  test_examples = session.test_data[session.spec.target]
  if 2 * num_pairs > len(test_examples):
    raise UserError(f"--num-pairs={num_pairs} needs {2 * num_pairs} test examples; the split has "
                    f"{len(test_examples)}, so use at most {len(test_examples) // 2}")
  walk = jax.jit(session.task.interpolate, static_argnums=3)
  strips = np.asarray(walk(state, test_examples[0 : 2 * num_pairs : 2], test_examples[1 : 2 * num_pairs : 2], num_steps))
  picture = session.render(state, Samples(strips.reshape((-1,) + strips.shape[2:]), session.spec.x), columns=num_steps)
  _save(picture, path)
  return path
