"""Input complexity: the length of an image compressed by a lossless codec, for the complexity
correction of likelihood scores (Serra et al. 2020, "Input complexity and out-of-distribution
detection with likelihood-based generative models", eq. 2: S(x) = -log2 p(x) - L(x)).

The codecs run offline through Pillow: PNG (DEFLATE of filtered rows) and lossless JPEG 2000
(the paper's best single codec with FLIF, which Pillow lacks). Images are compressed as their grey
levels (uint8, one or three channels), as the model sees them.
"""

import io

import numpy as np
from PIL import Image

from genzoo.errors import UserError

_CODEC_OPTIONS = {
    "png": dict(format="PNG", optimize=True),
    "jpeg2000": dict(format="JPEG2000", irreversible=False),  # the reversible 5/3 wavelet: lossless
}
CODECS = tuple(_CODEC_OPTIONS)


def check_codec(codec: str) -> None:
  if codec not in _CODEC_OPTIONS:
    raise UserError(f"unknown codec {codec!r}; lossless codecs: {list(CODECS)}")


def compressed_bits(images: np.ndarray, codec: str) -> np.ndarray:
  """L(x) in bits [N] of uint8 images [N, H, W, C] (C = 1 or 3), compressed one by one."""
  check_codec(codec)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"expected uint8 images [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
  lengths = np.empty(len(images), np.float64)
  for index, image in enumerate(images):
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, **_CODEC_OPTIONS[codec])
    lengths[index] = 8 * buffer.tell()
  return lengths
