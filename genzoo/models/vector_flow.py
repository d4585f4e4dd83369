"""RealNVP on vectors (Dinh et al. 2017, the 2-D experiments of sec. 5): affine couplings that
alternate which half of the entries conditions the other, with MLP conditioners.

Every coupling is the library's generic `bijectors.Coupling` on rank-1 events: a split partition
(flipped every other layer), an MLP conditioner and the tanh-bounded affine transformer with a
learned per-entry scale, so the same flow takes a context (`condition`) or another transformer
without a new class.
"""

from collections.abc import Sequence
from typing import ClassVar

import distrax
import flax.linen as nn
import jax

from genzoo import bijectors, checks
from genzoo.errors import UserError
from genzoo.nets.flow_conditioners import MLPConditioner
from genzoo.nets.precision import COMPUTE_DTYPE_RULE, in_precision


class VectorRealNVP(nn.Module):
  """Vectors [..., D] (D >= 2) <-> latents [..., D] (N(0, I) base).

  `__call__(y)` returns (latents, log_det) of the normalising direction; `__call__(z,
  inverse=True)` returns (vectors, log_det of the inverse).
  """

  event_shape: tuple[int]
  num_couplings: int = 8
  hidden: Sequence[int] = (64, 64)
  compute_dtype: str = "float32"  # what the conditioners compute in (`nets.precision`)

  KINDS: ClassVar[tuple[str, ...]] = ("vector",)  # the data kinds it models
  RNG_STREAMS: ClassVar[tuple[str, ...]] = ()  # random streams its apply draws from
  # The values its config keys (`model.<field>`) accept, checked before anything is built.
  CONFIG_RULES: ClassVar[dict] = {"model.num_couplings": checks.at_least(1),
                                  "model.hidden": checks.NON_EMPTY_POSITIVE_WIDTHS, **COMPUTE_DTYPE_RULE}

  @nn.compact
  def __call__(self, inputs: jax.Array, inverse: bool = False, *, train: bool = False):
    del train  # no dropout or batch statistics: training and evaluation compute the same map
    (dimension,) = self.event_shape
    if dimension < 2:
      raise UserError(f"vector_realnvp needs vectors of at least 2 entries (one half conditions the "
                      f"other), got event shape {tuple(self.event_shape)}")
    couplings = []
    for index in range(self.num_couplings):
      flip = index % 2 == 1
      transformed = dimension - dimension // 2
      tanh_scale = self.param(f"coupling{index}_scale", nn.initializers.ones, (transformed,))
      couplings.append(bijectors.Coupling(
          bijectors.SplitPartition(flip=flip),
          in_precision(MLPConditioner, self.compute_dtype, tuple(self.hidden), transformed, name=f"coupling{index}"),
          bijectors.affine_transformer("tanh", tanh_scale), event_ndims=1))
    flow = distrax.Chain(couplings[::-1])  # a Chain applies its last bijector first
    if inverse:
      return flow.inverse_and_log_det(inputs)
    return flow.forward_and_log_det(inputs)
