import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo.errors import UserError
from genzoo.models import stylegan2
from genzoo.nets import resample

FIR = np.array([1.0, 3.0, 3.0, 1.0])


def tiny_generator(**fields):
  return stylegan2.StyleGAN2Generator((8, 8, 1), w_dim=16, mapping_layers=2, channel_base=64, channel_max=16,
                                      **fields)


def generator_variables(generator, key, z):
  return jax.jit(lambda z: generator.init({"params": key, "noise": key, "mixing": key}, z, None, train=False))(z)


def test_demodulated_outputs_have_unit_variance_per_channel(key):
  """For unit-variance inputs, every output channel of a demodulated convolution has unit variance
  whatever the weights and styles (StyleGAN2, eq. 3); away from the zero-padded border."""
  keys = jax.random.split(key, 3)
  x = jax.random.normal(keys[0], (64, 12, 12, 16))
  weight = jax.random.normal(keys[1], (3, 3, 16, 8)) * jnp.linspace(0.1, 3.0, 8)
  styles = jnp.exp(0.5 * jax.random.normal(keys[2], (64, 16)))
  y = stylegan2.modulated_conv_matmul(x, weight, styles, demodulate=True)[:, 1:-1, 1:-1]
  np.testing.assert_allclose(jnp.var(y, axis=(0, 1, 2)), 1.0, atol=0.08)


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("demodulate", [True, False])
def test_cpu_and_gpu_forms_of_the_modulated_convolution_agree(key, size, demodulate):
  keys = jax.random.split(key, 3)
  x = jax.random.normal(keys[0], (3, 6, 6, 5))
  weight = jax.random.normal(keys[1], (size, size, 5, 7))
  styles = jax.random.normal(keys[2], (3, 5))
  np.testing.assert_allclose(stylegan2.modulated_conv_matmul(x, weight, styles, demodulate),
                             stylegan2.modulated_conv_grouped(x, weight, styles, demodulate), atol=1e-4)


def _reference(x: np.ndarray, axis_filter) -> np.ndarray:
  """Applies a 1-D function of a vector along both spatial axes of [B, H, W, C]."""
  x = np.apply_along_axis(axis_filter, 1, x)
  return np.apply_along_axis(axis_filter, 2, x)


def _upsample_1d(v):
  zeros = np.zeros(2 * len(v))
  zeros[::2] = v
  return np.convolve(zeros, FIR / 4.0)[1:2 * len(v) + 1]


def test_fir_resampling_is_the_filter_with_zero_padding(key):
  x = np.asarray(jax.random.normal(key, (2, 6, 6, 3)))
  np.testing.assert_allclose(resample.upsample_2x(x), _reference(x, _upsample_1d), atol=1e-5)
  np.testing.assert_allclose(resample.downsample_2x(x), _reference(x, lambda v: np.convolve(v, FIR / 8.0)[2::2][:len(v) // 2]),
                             atol=1e-5)
  np.testing.assert_allclose(resample.blur(x), _reference(x, lambda v: np.convolve(v, FIR / 8.0)[1:len(v) + 2]), atol=1e-5)


def test_truncation_at_psi_zero_gives_the_average_image_for_every_latent(key):
  z = jax.random.normal(key, (4, 8))
  generator = tiny_generator(truncation_psi=0.0, noise_mode="const")
  variables = generator_variables(generator, key, z)
  variables = {**variables, "w_avg": {"mapping": {"w_avg": jax.random.normal(jax.random.fold_in(key, 1), (16,))}}}
  images = jax.jit(lambda variables, z: generator.apply(variables, z, None, train=False))(variables, z)
  np.testing.assert_allclose(images, jnp.broadcast_to(images[:1], images.shape), atol=1e-5)
  assert float(jnp.std(images[0])) > 0  # the average image, not a constant


def test_training_moves_the_average_w_and_mixes_styles_from_a_crossover(key):
  z = jax.random.normal(key, (4, 8))
  generator = tiny_generator(style_mixing_prob=1.0)
  variables = generator_variables(generator, key, z)
  rngs = {"noise": key, "mixing": jax.random.fold_in(key, 2)}
  styles = jax.jit(lambda train: generator.apply(variables, z, None, train, rngs=rngs, mutable=["w_avg"],
                                                method="styles"),
                   static_argnums=0)
  ws, state = styles(True)
  assert float(jnp.abs(state["w_avg"]["mapping"]["w_avg"]).sum()) > 0  # was zero
  same_as_first = jnp.all(jnp.isclose(ws, ws[:, :1]), axis=(0, 2))
  crossover = int(jnp.argmin(same_as_first))
  assert 1 <= crossover < ws.shape[1] and not bool(jnp.any(same_as_first[crossover:]))
  ws_eval, _ = styles(False)
  np.testing.assert_array_equal(ws_eval, jnp.broadcast_to(ws_eval[:, :1], ws_eval.shape))


def test_minibatch_stddev_groups_consecutive_examples(key):
  """Reals then fakes in one batch: the statistic of a group depends on its own examples only."""
  x = jax.random.normal(key, (8, 4, 4, 6))
  y = stylegan2.minibatch_stddev(x, 4, 1)
  y_changed = stylegan2.minibatch_stddev(x.at[5].multiply(3.0), 4, 1)
  np.testing.assert_array_equal(y[:4, ..., -1], y_changed[:4, ..., -1])
  assert not np.allclose(y[4:, ..., -1], y_changed[4:, ..., -1])
  assert stylegan2.minibatch_stddev(x[:6], 4, 1).shape == (6, 4, 4, 7)  # groups of 2 when 4 does not divide 6


def test_discriminator_scores_each_image_and_refuses_other_sides(key):
  discriminator = stylegan2.StyleGAN2Discriminator(channel_base=64, channel_max=16)
  images = jax.random.normal(key, (4, 8, 8, 1))
  scores = jax.jit(lambda images: discriminator.apply(discriminator.init(key, images, None, train=False), images,
                                                      None, train=True))(images)
  assert scores.shape == (4,) and bool(jnp.all(jnp.isfinite(scores)))
  with pytest.raises(UserError, match=r"StyleGAN2 needs square images whose side is a power of 2 \(at least 4\), "
                     r"got 28x28; for 28x28 MNIST set data.pad=2 \(32x32\)"):
    discriminator.init(key, jnp.zeros((2, 28, 28, 1)), None, train=False)


def test_style_bands_split_the_resolutions_into_thirds():
  """At 32x32: style 0 drives 4x4, styles 1-2 8x8, 3-4 16x16, 5-7 32x32 (the last the final to-RGB)."""
  np.testing.assert_array_equal(stylegan2.style_levels(32), [2, 3, 3, 4, 4, 5, 5, 5])
  bands = {band: stylegan2.style_band(32, band) for band in stylegan2.STYLE_BANDS}
  np.testing.assert_array_equal(np.flatnonzero(bands["coarse"]), [0, 1, 2])
  np.testing.assert_array_equal(np.flatnonzero(bands["middle"]), [3, 4])
  np.testing.assert_array_equal(np.flatnonzero(bands["fine"]), [5, 6, 7])
  for side in (8, 64, 1024):  # every style in exactly one band
    np.testing.assert_array_equal(sum(stylegan2.style_band(side, band).astype(int) for band in stylegan2.STYLE_BANDS), 1)
  with pytest.raises(UserError, match=r"unknown style band 'top'; known: \['coarse', 'middle', 'fine'\]"):
    stylegan2.style_band(32, "top")


def test_style_mixing_grid_puts_the_sources_on_its_edges_and_mixes_their_styles(key):
  generator = tiny_generator(noise_mode="const")
  z_rows, z_columns = jax.random.normal(key, (2, 8)), jax.random.normal(jax.random.fold_in(key, 1), (3, 8))
  variables = generator_variables(generator, key, z_rows)
  apply = functools.partial(generator.apply, variables)
  # 8x8: styles [4x4, 8x8, 8x8, 8x8]; the middle band is the 8x8 ones.
  middle = stylegan2.style_band(8, "middle")[:, None]

  @jax.jit
  def grid_and_references():
    grid = apply(z_rows, z_columns, None, None, "middle", method="style_mixing_grid")
    ws_rows, ws_columns = apply(z_rows, None, False, method="styles"), apply(z_columns, None, False, method="styles")
    mixed = jnp.where(middle, ws_columns[2], ws_rows[1])  # row source 1 with column source 2's middle styles
    return (grid, apply(z_columns, train=False), apply(z_rows, train=False),
            apply(mixed[None], method="synthesize")[0])

  grid, columns, rows, cell = grid_and_references()
  assert grid.shape == (3, 4, 8, 8, 1)
  np.testing.assert_array_equal(grid[0, 0], -1.0)
  np.testing.assert_allclose(grid[0, 1:], columns, atol=1e-5)
  np.testing.assert_allclose(grid[1:, 0], rows, atol=1e-5)
  np.testing.assert_allclose(grid[2, 3], cell, atol=1e-5)


def test_class_conditional_players_use_the_label(key):
  """The label enters the mapping network (G) and the projection head (D); each player asks for it."""
  generator = tiny_generator(num_classes=3, noise_mode="const")
  z = jnp.broadcast_to(jax.random.normal(key, (1, 8)), (3, 8))
  labels = jnp.arange(3)
  variables = jax.jit(lambda: generator.init(key, z, labels, train=False))()
  images = jax.jit(lambda labels: generator.apply(variables, z, labels, train=False))(labels)
  assert float(jnp.min(jnp.std(images - images[:1], axis=(1, 2, 3))[1:])) > 0  # one latent, three classes
  discriminator = stylegan2.StyleGAN2Discriminator(channel_base=64, channel_max=16, num_classes=3, mapping_layers=2)
  x = jnp.broadcast_to(images[:1], images.shape)
  d_variables = jax.jit(lambda: discriminator.init(key, x, labels, train=False))()
  logits = jax.jit(lambda labels: discriminator.apply(d_variables, x, labels, train=False))(labels)
  assert len(set(np.round(np.asarray(logits), 6))) == 3  # one image, three classes: three scores
  for player, args in ((generator, (z, None)), (discriminator, (x, None))):
    with pytest.raises(UserError, match=r"model.num_classes=3 asks for a class-conditional StyleGAN2, but the data "
                       r"has no labels"):
      player.init(key, *args, train=False)


def test_discriminator_without_residual_shortcuts_has_none(key):
  images = jax.random.normal(key, (2, 8, 8, 1))
  for architecture, has_shortcut in (("resnet", True), ("orig", False)):
    discriminator = stylegan2.StyleGAN2Discriminator(channel_base=64, channel_max=16, architecture=architecture)
    params = jax.eval_shape(lambda: discriminator.init(key, images, None, train=False))["params"]
    assert ("shortcut" in params["DiscriminatorBlock_0"]) == has_shortcut
