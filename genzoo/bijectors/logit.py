"""Logit pre-processing (Dinh et al. 2017, RealNVP, sec. 4.1).

Data x in [0, 1) are moved away from the boundary and mapped to the real line:
  p = alpha + (1 - 2 alpha) x,   y = logit(p) = log p - log(1 - p),
  log|det J| = sum [log(1 - 2 alpha) - log p - log(1 - p)].
"""

import distrax
import jax
import jax.numpy as jnp

from genzoo.bijectors._events import IMAGE_EVENT_NDIMS, check_event_ndims, sum_event
from genzoo.errors import UserError


class Logit(distrax.Bijector):
  """`y = logit(alpha + (1 - 2 alpha) x)` elementwise on events in [0, 1) of rank `event_ndims`;
  RealNVP uses alpha = 0.05."""

  def __init__(self, alpha: float = 0.05, event_ndims: int = IMAGE_EVENT_NDIMS):
    check_event_ndims(event_ndims, 0, "Logit")
    super().__init__(event_ndims_in=event_ndims)
    if not 0.0 <= alpha < 0.5:
      raise UserError(f"Logit alpha must be in [0, 0.5), got {alpha}")
    self.alpha = alpha

  def _log_det(self, p):
    return sum_event(jnp.log1p(-2.0 * self.alpha) - jnp.log(p) - jnp.log1p(-p), self.event_ndims_in)

  def forward_and_log_det(self, x):
    p = self.alpha + (1.0 - 2.0 * self.alpha) * x
    return jnp.log(p) - jnp.log1p(-p), self._log_det(p)

  def inverse_and_log_det(self, y):
    p = jax.nn.sigmoid(y)
    return (p - self.alpha) / (1.0 - 2.0 * self.alpha), -self._log_det(p)
