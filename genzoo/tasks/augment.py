"""Differentiable augmentations of every image a GAN discriminator sees.

ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", sec. 2 and
appendix B): each transformation of the pipeline is applied to each image independently with
probability p, with the strengths of the paper's code. Its "bgc" pipeline:
  b (pixel blitting): x-flip, rotation by a multiple of 90 degrees, integer translation by up to
    1/8 of the image;
  g (general geometric): isotropic scaling (log2-normal, std 0.2), rotation (uniform, applied
    before and after the anisotropic scaling, each with probability 1 - sqrt(1 - p) so that some
    rotation happens with probability p), anisotropic scaling (log2-normal, std 0.2), fractional
    translation (normal, std 1/8 of the image);
  c (colour): brightness (normal, std 0.2), contrast (log2-normal, std 0.5), luma flip, hue rotation
    (uniform over the circle), saturation (log2-normal, std 1).
The geometric ones compose into one 3x3 matrix per image (from output pixel to input pixel, about
the image centre) that is applied once by bilinear sampling with mirrored borders; the colour ones
compose into one 4x4 matrix on (r, g, b, 1), and act on the luma of one-channel images. The
paper's code samples through a wavelet-filtered 2x upsampling; genzoo samples bilinearly, which
blurs fractional placements slightly more. Integer placements (flips, 90-degree turns, integer
shifts) are exact either way.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"),
"translation,cutout": a shift by up to 1/8 of the image with zeros filling in, then a zeroed
square of half the image side centred anywhere on the image; always applied (no p).

Images are [N, H, W, C] in [-1, 1]; every function is differentiable with respect to them, and at
p = 0 the ADA pipeline returns them unchanged.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

PIPELINES = {"b": ("blit",), "bg": ("blit", "geometric"), "bgc": ("blit", "geometric", "colour")}
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0
# numpy, not jax, constants: importing genzoo must not start a JAX backend (jax.distributed first).
LUMA_AXIS = np.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)


# -- matrices, one per image ------------------------------------------------------------------------


def translate_2d(tx: jax.Array, ty: jax.Array) -> jax.Array:
  one, zero = jnp.ones_like(tx), jnp.zeros_like(tx)
  return jnp.stack([jnp.stack([one, zero, tx], -1), jnp.stack([zero, one, ty], -1),
                    jnp.stack([zero, zero, one], -1)], -2)


def scale_2d(sx: jax.Array, sy: jax.Array) -> jax.Array:
  zero, one = jnp.zeros_like(sx), jnp.ones_like(sx)
  return jnp.stack([jnp.stack([sx, zero, zero], -1), jnp.stack([zero, sy, zero], -1),
                    jnp.stack([zero, zero, one], -1)], -2)


def rotate_2d(theta: jax.Array) -> jax.Array:
  cos, sin, zero, one = jnp.cos(theta), jnp.sin(theta), jnp.zeros_like(theta), jnp.ones_like(theta)
  return jnp.stack([jnp.stack([cos, -sin, zero], -1), jnp.stack([sin, cos, zero], -1),
                    jnp.stack([zero, zero, one], -1)], -2)


RGB = np.diag([1.0, 1.0, 1.0, 0.0])
CHROMA = RGB - np.outer(LUMA_AXIS, LUMA_AXIS)  # projection of (r, g, b) off the grey axis


def translate_3d(t: jax.Array) -> jax.Array:
  """[N] -> [N, 4, 4]: adds t to r, g and b."""
  return jnp.eye(4) + jnp.zeros((t.shape[0], 4, 4)).at[:, :3, 3].set(t[:, None])


def scale_rgb(s: jax.Array, part: jax.Array = RGB) -> jax.Array:
  """[N] -> [N, 4, 4]: multiplies the `part` of (r, g, b) (all of it, or its chroma) by s."""
  return jnp.eye(4) + part * (s - 1.0)[:, None, None]


def rotate_about_luma(theta: jax.Array) -> jax.Array:
  """[N] -> [N, 4, 4]: rotation of (r, g, b) by theta about the grey axis (Rodrigues' formula)."""
  v = LUMA_AXIS[:3]
  cross = jnp.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
  rotation = (jnp.cos(theta)[:, None, None] * jnp.eye(3) + jnp.sin(theta)[:, None, None] * cross
              + (1.0 - jnp.cos(theta))[:, None, None] * jnp.outer(v, v))
  return jnp.zeros((theta.shape[0], 4, 4)).at[:, :3, :3].set(rotation).at[:, 3, 3].set(1.0)


def _chosen(rng: jax.Array, n: int, probability) -> jax.Array:
  """[N] bools: True with `probability` each."""
  return jax.random.uniform(rng, (n,)) < probability


def _where(chosen: jax.Array, matrices: jax.Array) -> jax.Array:
  """The matrices where chosen, the identity elsewhere."""
  eye = jnp.eye(matrices.shape[-1])
  return jnp.where(chosen[:, None, None], matrices, eye)


def geometric_matrix(rng: jax.Array, n: int, p, size: tuple[int, int], groups: tuple[str, ...]) -> jax.Array:
  """[N, 3, 3] from output to input pixel coordinates (centred), the product of the chosen
  transformations of the "blit" and "geometric" groups."""
  height, width = size
  keys = iter(jax.random.split(rng, 16))
  matrix = jnp.broadcast_to(jnp.eye(3), (n, 3, 3))

  def then(chosen, transformation):
    return matrix @ _where(chosen, transformation)

  if "blit" in groups:
    flip = jnp.floor(jax.random.uniform(next(keys), (n,)) * 2)
    matrix = then(_chosen(next(keys), n, p), scale_2d(1 - 2 * flip, jnp.ones(n)))
    quarter_turns = jnp.floor(jax.random.uniform(next(keys), (n,)) * 4)
    matrix = then(_chosen(next(keys), n, p), rotate_2d(-0.5 * math.pi * quarter_turns))
    shift = jax.random.uniform(next(keys), (n, 2), minval=-XINT_MAX, maxval=XINT_MAX)
    matrix = then(_chosen(next(keys), n, p),
                  translate_2d(jnp.round(shift[:, 0] * width), jnp.round(shift[:, 1] * height)))
  if "geometric" in groups:
    scale = jnp.exp2(SCALE_STD * jax.random.normal(next(keys), (n,)))
    matrix = then(_chosen(next(keys), n, p), scale_2d(scale, scale))
    p_rotation = 1.0 - jnp.sqrt(jnp.clip(1.0 - p, 0.0, 1.0))  # before and after the anisotropic scaling
    theta = jax.random.uniform(next(keys), (n,), minval=-math.pi * ROTATE_MAX, maxval=math.pi * ROTATE_MAX)
    matrix = then(_chosen(next(keys), n, p_rotation), rotate_2d(-theta))
    aniso = jnp.exp2(ANISO_STD * jax.random.normal(next(keys), (n,)))
    matrix = then(_chosen(next(keys), n, p), scale_2d(aniso, 1.0 / aniso))
    theta = jax.random.uniform(next(keys), (n,), minval=-math.pi * ROTATE_MAX, maxval=math.pi * ROTATE_MAX)
    matrix = then(_chosen(next(keys), n, p_rotation), rotate_2d(-theta))
    shift = XFRAC_STD * jax.random.normal(next(keys), (n, 2))
    matrix = then(_chosen(next(keys), n, p), translate_2d(shift[:, 0] * width, shift[:, 1] * height))
  return matrix


def colour_matrix(rng: jax.Array, n: int, p) -> jax.Array:
  """[N, 4, 4] acting on (r, g, b, 1): the chosen colour transformations, applied in order."""
  keys = iter(jax.random.split(rng, 10))
  matrix = jnp.broadcast_to(jnp.eye(4), (n, 4, 4))

  def then(chosen, transformation):
    return _where(chosen, transformation) @ matrix

  matrix = then(_chosen(next(keys), n, p), translate_3d(BRIGHTNESS_STD * jax.random.normal(next(keys), (n,))))
  matrix = then(_chosen(next(keys), n, p), scale_rgb(jnp.exp2(CONTRAST_STD * jax.random.normal(next(keys), (n,)))))
  flip = jnp.floor(jax.random.uniform(next(keys), (n,)) * 2)
  householder = jnp.eye(4) - 2.0 * jnp.outer(LUMA_AXIS, LUMA_AXIS) * flip[:, None, None]
  matrix = then(_chosen(next(keys), n, p), householder)
  theta = jax.random.uniform(next(keys), (n,), minval=-math.pi * HUE_MAX, maxval=math.pi * HUE_MAX)
  matrix = then(_chosen(next(keys), n, p), rotate_about_luma(theta))
  saturation = jnp.exp2(SATURATION_STD * jax.random.normal(next(keys), (n,)))
  matrix = then(_chosen(next(keys), n, p), scale_rgb(saturation, CHROMA))
  return matrix


# -- applying them ----------------------------------------------------------------------------------


def warp(images: jax.Array, matrix: jax.Array) -> jax.Array:
  """Output pixel q samples the input at matrix @ q (centred coordinates), bilinearly, with the
  image mirrored beyond its borders."""
  _, height, width, _ = images.shape
  ys, xs = jnp.meshgrid(jnp.arange(height) - (height - 1) / 2, jnp.arange(width) - (width - 1) / 2, indexing="ij")
  grid = jnp.stack([xs, ys, jnp.ones_like(xs)], axis=-1)  # [H, W, 3]

  def one(image, m):
    source = grid @ m.T
    coordinates = [source[..., 1] + (height - 1) / 2, source[..., 0] + (width - 1) / 2]
    return jax.vmap(lambda channel: jax.scipy.ndimage.map_coordinates(channel, coordinates, order=1, mode="mirror"),
                    in_axes=-1, out_axes=-1)(image)

  return jax.vmap(one)(images, matrix)


def recolour(images: jax.Array, matrix: jax.Array) -> jax.Array:
  """(r, g, b, 1) @ matrix^T per pixel; a one-channel image is its own luma (r = g = b)."""
  if images.shape[-1] == 3:
    return jnp.einsum("nhwc,ndc->nhwd", images, matrix[:, :3, :3]) + matrix[:, None, None, :3, 3]
  luma_gain = jnp.mean(jnp.sum(matrix[:, :3, :3], axis=-1), axis=-1)  # grey in, mean channel out
  return images * luma_gain[:, None, None, None] + jnp.mean(matrix[:, :3, 3], axis=-1)[:, None, None, None]


def ada(images: jax.Array, rng: jax.Array, p, pipeline: str = "bgc") -> jax.Array:
  """The ADA pipeline `pipeline` ("b", "bg" or "bgc") at probability p (a traced scalar)."""
  groups = PIPELINES[pipeline]
  geometric_rng, colour_rng = jax.random.split(rng)
  n, height, width, _ = images.shape
  if "blit" in groups or "geometric" in groups:
    images = warp(images, geometric_matrix(geometric_rng, n, p, (height, width), groups))
  if "colour" in groups:
    images = recolour(images, colour_matrix(colour_rng, n, p))
  return images


def diff_augment(images: jax.Array, rng: jax.Array) -> jax.Array:
  """DiffAugment's "translation,cutout" (Zhao et al. 2020)."""
  shift_rng, cut_rng = jax.random.split(rng)
  n, height, width, _ = images.shape
  shifts = jax.random.randint(shift_rng, (n, 2), -(height // 8), height // 8 + 1)
  rows, columns = jnp.arange(height), jnp.arange(width)

  def translate(image, shift):
    source_rows, source_columns = rows - shift[0], columns - shift[1]
    inside = ((source_rows >= 0) & (source_rows < height))[:, None] & ((source_columns >= 0) & (source_columns < width))[None, :]
    moved = image[jnp.clip(source_rows, 0, height - 1)][:, jnp.clip(source_columns, 0, width - 1)]
    return jnp.where(inside[..., None], moved, 0.0)

  images = jax.vmap(translate)(images, shifts)
  half_h, half_w = height // 2, width // 2  # the square's side; its centre anywhere on the image
  centres = jax.random.randint(cut_rng, (n, 2), 0, jnp.array([height + 1 - half_h % 2, width + 1 - half_w % 2]))
  first = centres - jnp.array([half_h // 2, half_w // 2])
  in_rows = (rows[None, :] >= first[:, :1]) & (rows[None, :] < first[:, :1] + half_h)
  in_columns = (columns[None, :] >= first[:, 1:]) & (columns[None, :] < first[:, 1:] + half_w)
  cut = in_rows[:, :, None] & in_columns[:, None, :]
  return jnp.where(cut[..., None], 0.0, images)
