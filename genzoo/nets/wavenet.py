"""WaveGlow's coupling network: a non-causal WaveNet over sequences [..., T, C] (Prenger et al.
2019, sec. 2.2; van den Oord et al. 2016).

A 1x1 convolution lifts x_a to `channels`; each of `layers` layers applies a dilated convolution
(dilation 2**i, kernel 3: a receptive field of 2**(layers + 1) - 1 positions), adds its share of the
context (a 1x1 convolution of the conditioning features, e.g. the upsampled mel spectrogram), gates
it, tanh(a) * sigmoid(b), and feeds a 1x1 convolution whose output splits into a residual (added
to the layer's input) and a skip (summed over layers; the last layer has only the skip). A
zero-initialised 1x1 convolution maps the skips to the coupling's (shift, raw log-scale), so every
coupling starts as the identity. The convolutions carry weight normalisation (Salimans & Kingma
2016), as the released code's do, except the zero-initialised output.

On XLA:CPU the dilated convolution is one matmul over its taps (the input and its two shifted
copies, concatenated on channels), the project's fast form of narrow convolutions.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def dilated_taps(x: jax.Array, dilation: int, kernel_size: int) -> jax.Array:
  """[..., T, C] -> [..., T, kernel_size * C]: at each position t, the inputs at t + (k - centre) *
  dilation for the kernel's k, zeros beyond the ends ('same' padding)."""
  reach = (kernel_size // 2) * dilation
  padded = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(reach, reach), (0, 0)])
  length = x.shape[-2]
  return jnp.concatenate([padded[..., k * dilation:k * dilation + length, :] for k in range(kernel_size)], axis=-1)


def normed_dense(features: int, name: str) -> nn.Module:
  return nn.WeightNorm(nn.Dense(features, name=name), name=f"{name}_weight_norm")


class WaveNetConditioner(nn.Module):
  """(x_a [..., T, C_a], context [..., T, F]) -> (shift, raw log-scale), each [..., T, out_channels]."""

  out_channels: int
  layers: int = 8
  channels: int = 256
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x_a: jax.Array, context: jax.Array) -> tuple[jax.Array, jax.Array]:
    if self.kernel_size % 2 == 0:
      raise ValueError(f"the dilated convolutions need an odd kernel size, got {self.kernel_size}")
    c = self.channels
    h = normed_dense(c, "start")(x_a)
    context = normed_dense(2 * c * self.layers, "context")(context)
    skips = jnp.zeros(h.shape[:-1] + (c,), h.dtype)
    for i in range(self.layers):
      gates = normed_dense(2 * c, f"dilated_{i}")(dilated_taps(h, 2**i, self.kernel_size))
      gates = gates + context[..., 2 * c * i:2 * c * (i + 1)]
      acts = jnp.tanh(gates[..., :c]) * jax.nn.sigmoid(gates[..., c:])
      last = i == self.layers - 1
      res_skip = normed_dense(c if last else 2 * c, f"res_skip_{i}")(acts)
      if last:
        skips = skips + res_skip
      else:
        h, skips = h + res_skip[..., :c], skips + res_skip[..., c:]
    out = nn.Dense(2 * self.out_channels, kernel_init=nn.initializers.zeros, name="end")(skips)
    return out[..., :self.out_channels], out[..., self.out_channels:]
