"""Samples tagged with their kind, and one renderer per kind that turns them into a picture.

The runner, the TensorBoard writer and the CLI draw every sample through `render`: image grids
for images; for vectors, a histogram of the samples next to the model's density (when the task
offers `log_density`); for audio, log-mel spectrograms (next to those of the examples the samples
re-synthesise), with the waveforms themselves to be written as sound files. A new modality adds
its renderer to `RENDERERS`.
"""

import dataclasses
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from genzoo.data import spectrogram
from genzoo.data.spec import Feature
from genzoo.runner import images

LogDensity = Callable[[np.ndarray], np.ndarray]  # points [N, *event_shape] -> log p [N]


@dataclasses.dataclass(frozen=True)
class Samples:
  """Generated values [N, *feature.shape] of the data's target `feature`, and the `references`
  [N, *feature.shape] they were generated from (a vocoder's given examples; None if none)."""

  values: np.ndarray
  feature: Feature
  references: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Picture:
  """A uint8 [H, W, C] picture, shown `scale` times enlarged (small images stay visible), and the
  `sounds` it shows, (name, int16 waveform [T]) pairs at `sample_rate` (audio samples)."""

  pixels: np.ndarray
  scale: int = 1
  sounds: tuple[tuple[str, np.ndarray], ...] = ()
  sample_rate: int | None = None


def render(samples: Samples, columns: int | None = None, log_density: LogDensity | None = None) -> Picture:
  """Draws `samples` with the renderer of their kind. `columns` lays grids out in rows of that
  length (interpolation strips); `log_density` lets renderers of low-dimensional data draw the
  model's density."""
  kind = samples.feature.kind
  if kind not in RENDERERS:
    raise ValueError(f"no renderer for {kind} samples; renderers exist for {sorted(RENDERERS)}")
  return RENDERERS[kind](samples, columns, log_density)


def render_images(samples: Samples, columns: int | None, log_density: LogDensity | None) -> Picture:
  """A grid of the images, `columns` per row (default: as square as possible)."""
  del log_density
  values = samples.values
  columns = columns or int(np.ceil(np.sqrt(len(values))))
  grid = images.grid(images.to_display(values, samples.feature.levels), columns)
  return Picture(grid, images.display_scale(samples.feature.shape[0]))


PANEL = 256  # pixels per side of a vector plot
_BINS = 128
_TITLE = 16  # pixels above each panel for its title
# Anchors of a perceptually ordered dark-to-bright colour map (viridis-like), interpolated.
_COLOURS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)


def render_vectors(samples: Samples, columns: int | None, log_density: LogDensity | None) -> Picture:
  """A histogram of the samples' first two coordinates and, with `log_density` and 2-D data, the
  model's density on the same square window, side by side (brighter = more mass)."""
  del columns
  points = samples.values.reshape((-1, samples.feature.size)).astype(np.float64)
  if points.shape[1] < 2:
    raise ValueError(f"the vector renderer draws 2-D points; these samples have {points.shape[1]} entries")
  low, high = _window(points[:, :2])
  counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=_BINS, range=[[low, high], [low, high]])
  panels = [_panel(counts, "samples" if points.shape[1] == 2 else "samples (entries 0, 1)")]
  if log_density is not None and points.shape[1] == 2:
    centres = low + (np.arange(_BINS) + 0.5) * (high - low) / _BINS
    grid_x, grid_y = np.meshgrid(centres, centres, indexing="ij")
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=-1).astype(samples.feature.dtype)
    log_p = np.asarray(log_density(grid), np.float64).reshape(_BINS, _BINS)
    panels.append(_panel(np.exp(log_p - np.max(log_p)), "model density"))
  return Picture(_joined(panels, axis=1))


def _window(points: np.ndarray) -> tuple[float, float]:
  """A square window holding 99% of the points with a 10% margin."""
  low, high = np.percentile(points, [0.5, 99.5])
  margin = 0.1 * (high - low) or 1.0
  return float(low - margin), float(high + margin)


def _panel(values: np.ndarray, title: str) -> np.ndarray:
  """values [x bin, y bin] >= 0 as a colour image with y pointing up, under its title."""
  scaled = values / values.max() if values.max() > 0 else values
  colours = _colour_map(scaled.T[::-1])
  picture = Image.fromarray(colours).resize((PANEL, PANEL), Image.NEAREST)
  canvas = Image.new("RGB", (PANEL, PANEL + _TITLE), "white")
  canvas.paste(picture, (0, _TITLE))
  ImageDraw.Draw(canvas).text((4, 2), title, fill="black")
  return np.asarray(canvas)


def _colour_map(unit: np.ndarray) -> np.ndarray:
  """[H, W] values in [0, 1] -> uint8 [H, W, 3] colours."""
  position = np.clip(unit, 0.0, 1.0) * (len(_COLOURS) - 1)
  lower = np.minimum(np.floor(position).astype(int), len(_COLOURS) - 2)
  fraction = (position - lower)[..., None]
  return np.round((1 - fraction) * _COLOURS[lower] + fraction * _COLOURS[lower + 1]).astype(np.uint8)


SPECTROGRAM_PIXELS = (3, 2)  # per frame (at least), per mel band
_SPECTROGRAM_WIDTH = 128  # pixels at least, however short the sound
_SPECTROGRAM_RANGE = 10.0  # nats of log-magnitude shown below the loudest band


def render_audio(samples: Samples, columns: int | None, log_density: LogDensity | None) -> Picture:
  """One row per sample: the log-mel spectrogram of its reference (the example it re-synthesises)
  and its own, side by side on one colour scale (low frequencies at the bottom), with the
  waveforms as the picture's sounds ("<index>" and "<index>_original")."""
  del columns, log_density
  rate = samples.feature.sample_rate
  settings = spectrogram.published_settings(rate)
  pairs = [("original", samples.references), ("generated", samples.values)]
  pairs = [(title, values) for title, values in pairs if values is not None]
  log_mels = {title: np.asarray(spectrogram.pcm_log_mel_spectrogram(values, settings)) for title, values in pairs}
  top = max(float(np.max(log_mel)) for log_mel in log_mels.values())
  rows = []
  for index in range(len(samples.values)):
    panels = [_spectrogram_panel(log_mels[title][index], top, title) for title, _ in pairs]
    rows.append(_joined(panels, axis=1))
  pixels = _joined(rows, axis=0)
  sounds = [(f"{index}", value) for index, value in enumerate(samples.values)]
  if samples.references is not None:
    sounds += [(f"{index}_original", value) for index, value in enumerate(samples.references)]
  return Picture(pixels, sounds=tuple(sounds), sample_rate=rate)


def _spectrogram_panel(log_mel: np.ndarray, top: float, title: str) -> np.ndarray:
  """A log-mel spectrogram [frames, bands] as a colour image under its title, `top` brightest."""
  unit = (log_mel - (top - _SPECTROGRAM_RANGE)) / _SPECTROGRAM_RANGE
  frames, bands = log_mel.shape
  size = (frames * max(SPECTROGRAM_PIXELS[0], -(-_SPECTROGRAM_WIDTH // frames)), bands * SPECTROGRAM_PIXELS[1])
  picture = Image.fromarray(_colour_map(unit.T[::-1])).resize(size, Image.NEAREST)
  canvas = Image.new("RGB", (size[0], size[1] + _TITLE), "white")
  canvas.paste(picture, (0, _TITLE))
  ImageDraw.Draw(canvas).text((4, 2), title, fill="black")
  return np.asarray(canvas)


def _joined(pictures: list[np.ndarray], axis: int) -> np.ndarray:
  """Pictures of equal size side by side (axis 1) or stacked (axis 0), 4 white pixels apart."""
  gap_shape = list(pictures[0].shape)
  gap_shape[axis] = 4
  gap = np.full(gap_shape, 255, np.uint8)
  return np.concatenate([part for picture in pictures for part in (picture, gap)][:-1], axis=axis)


RENDERERS = {"image": render_images, "vector": render_vectors, "audio": render_audio}
