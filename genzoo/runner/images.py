"""Image grids and PNG files."""

import os

import numpy as np
from PIL import Image


def to_display(images: np.ndarray, num_levels: int) -> np.ndarray:
  """Spreads images of levels {0, ..., K-1} over the 8-bit range 0..255."""
  return (images.astype(np.int32) * 255 // (num_levels - 1)).astype(np.uint8)


def grid(images: np.ndarray, columns: int, padding: int = 2) -> np.ndarray:
  """Tiles uint8 images [N, H, W, C] into one [rows*(H+p)+p, columns*(W+p)+p, C] image."""
  num, height, width, depth = images.shape
  rows = -(-num // columns)
  out = np.full(
      (rows * (height + padding) + padding, columns * (width + padding) + padding, depth),
      255, np.uint8,
  )
  for index, image in enumerate(images):
    top = padding + (index // columns) * (height + padding)
    left = padding + (index % columns) * (width + padding)
    out[top : top + height, left : left + width] = image
  return out


def save_png(image: np.ndarray, path: str, scale: int = 1) -> None:
  """Writes a uint8 [H, W, 1 or 3] image, enlarged `scale` times, atomically."""
  picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
  if scale > 1:
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
  tmp = f"{path}.tmp"
  picture.save(tmp, format="PNG")
  os.replace(tmp, path)


def display_scale(height: int) -> int:
  """An integer enlargement that makes small images (8x8 digits) visible."""
  return max(1, 64 // height)
