"""A bijector from a pair of functions, for transformations defined elsewhere (e.g. a flow level
whose repeated steps run under `flax.linen.scan`)."""

from collections.abc import Callable

import distrax
import jax

AndLogDet = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


class FunctionBijector(distrax.Bijector):
  """Wraps `forward_and_log_det` and `inverse_and_log_det` callables; the caller guarantees that
  they are mutually inverse and return log-dets summed over `event_ndims_in` axes."""

  def __init__(self, forward_and_log_det: AndLogDet, inverse_and_log_det: AndLogDet,
               event_ndims_in: int = 3, event_ndims_out: int | None = None):
    super().__init__(event_ndims_in=event_ndims_in, event_ndims_out=event_ndims_out)
    self._forward, self._inverse = forward_and_log_det, inverse_and_log_det

  def forward_and_log_det(self, x):
    return self._forward(x)

  def inverse_and_log_det(self, y):
    return self._inverse(y)
