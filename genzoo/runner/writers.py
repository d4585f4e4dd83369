"""Run outputs: `metrics.jsonl`, TensorBoard events, PNG images and a progress line.

Only the chief process (index 0) writes; the others get a writer that does nothing, so the
train loop has no `if process_index == 0` branches.
"""

import json
import os
import time

import numpy as np

from genzoo.data.spectrogram import PCM_FULL_SCALE
from genzoo.runner import audio
from genzoo.runner import images as image_utils
from genzoo.runner.render import Picture

METRICS_FILE = "metrics.jsonl"


class RunWriter:
  """Appends one JSON object per line to `metrics.jsonl` and mirrors scalars to TensorBoard.

  A run resumed from the checkpoint at `start_step` logs again the steps after it that a crash
  interrupted, so both logs first forget everything past `start_step`: `metrics.jsonl` keeps only
  its whole records up to that step, and TensorBoard is told to purge later events (its
  `purge_step`). Every step therefore has one value in each log, however often the run crashed.
  """

  def __init__(self, workdir: str, enabled: bool = True, start_step: int = 0):
    self.workdir = workdir
    self.enabled = enabled
    self._tensorboard = None
    if enabled:
      from tensorboardX import SummaryWriter

      truncate_metrics(os.path.join(workdir, METRICS_FILE), start_step)
      tensorboard_dir = os.path.join(workdir, "tensorboard")
      resumed = os.path.isdir(tensorboard_dir)
      self._tensorboard = SummaryWriter(tensorboard_dir, purge_step=start_step + 1 if resumed else None)

  def scalars(self, step: int, metrics: dict[str, float]) -> None:
    if not self.enabled:
      return
    with open(os.path.join(self.workdir, METRICS_FILE), "a") as f:
      f.write(json.dumps({"step": step, **metrics}) + "\n")  # one write: a crash cuts at most this line
    for name, value in metrics.items():
      if isinstance(value, (int, float)):  # text (a metric's protocol) goes to metrics.jsonl only
        self._tensorboard.add_scalar(name, value, step)
    self._tensorboard.flush()

  def picture(self, step: int, name: str, picture: Picture, path: str) -> None:
    """Writes a rendered picture to `path` (PNG, enlarged by its scale) with its sounds beside it
    (`save_picture`), and all of them to TensorBoard."""
    if not self.enabled:
      return
    save_picture(picture, path)
    self._tensorboard.add_image(name, picture.pixels, step, dataformats="HWC")
    for sound_name, waveform in picture.sounds:
      self._tensorboard.add_audio(f"{name}/{sound_name}", waveform.astype(np.float32) / PCM_FULL_SCALE, step,
                                  sample_rate=picture.sample_rate)
    self._tensorboard.flush()

  def close(self) -> None:
    if self._tensorboard is not None:
      self._tensorboard.close()


def save_picture(picture: Picture, path: str) -> list[str]:
  """Writes `picture` to the PNG `path` and each of its sounds to a WAV file named after it
  (samples_100.png: samples_100_0.wav, samples_100_0_original.wav, ...); returns the paths."""
  image_utils.save_png(picture.pixels, path, scale=picture.scale)
  stem = os.path.splitext(path)[0]
  paths = [path]
  for name, waveform in picture.sounds:
    paths.append(f"{stem}_{name}.wav")
    audio.save_wav(waveform, paths[-1], picture.sample_rate)
  return paths


def truncate_metrics(path: str, last_step: int) -> None:
  """Rewrites `path` (atomically) keeping its whole JSON records of steps <= `last_step`; a line
  half-written by a crash, and records of steps a resumed run repeats, are dropped."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    original = f.read()
  steps = [(line, _step_of(line)) for line in original.split("\n")]
  kept = "".join(f"{line}\n" for line, step in steps if step is not None and step <= last_step)
  if kept != original:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
      f.write(kept)
    os.replace(tmp, path)


def _step_of(line: str) -> int | None:
  """The step of one `metrics.jsonl` record, or None for a line that is not a whole record."""
  try:
    return int(json.loads(line)["step"])
  except (ValueError, KeyError, TypeError):
    return None


class Progress:
  """Steps per second since the last report and an ETA for the remaining steps."""

  def __init__(self, start_step: int, total_steps: int):
    self.total_steps = total_steps
    self._last_step = start_step
    self._last_time = time.perf_counter()
    self.last_interval_seconds = 0.0  # the wall time between the last two reports

  def steps_per_sec(self, step: int) -> float:
    now = time.perf_counter()
    self.last_interval_seconds = max(now - self._last_time, 1e-9)
    rate = (step - self._last_step) / self.last_interval_seconds
    self._last_step, self._last_time = step, now
    return rate

  def line(self, step: int, rate: float, metrics: dict[str, float], data_wait: float) -> str:
    """The progress line; `data_wait` is the share of the interval spent waiting for batches."""
    remaining = (self.total_steps - step) / rate if rate > 0 else float("inf")
    eta = time.strftime("%H:%M:%S", time.gmtime(remaining)) if np.isfinite(remaining) else "?"
    shown = " ".join(f"{name}={value:.4g}" for name, value in metrics.items())
    return (f"step {step}/{self.total_steps} | {shown} | {rate:.2f} steps/s | {data_wait:.0%} waiting for data | "
            f"ETA {eta}")

