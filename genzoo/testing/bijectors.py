"""Bijector conformance kit: `check_bijector` tests a `distrax.Bijector` against genzoo's contract.

The contract (GUIDE §3): `forward_and_log_det` and `inverse_and_log_det` invert each other, return
log|det J| summed over the event axes, support arbitrary leading batch axes, treat every example
independently, trace under `jax.jit` and have finite gradients. A conditional bijector (one
built with a context, `condition=`, batched like its inputs) does all of this for every context,
and each example depends on its own context only. `check_bijector` checks all of
this on a batch of inputs and fails with an `AssertionError` naming the property, the bijector
class and the worst discrepancy. `dense_log_det` is the autodiff reference it uses for log-dets.

Example -- write a bijector, then check it (in float64, and with parameter gradients)::

    import distrax
    import jax.numpy as jnp
    from genzoo.testing import check_bijector

    # y = x * exp(s) + b, elementwise on [H, W, C] image events.
    class Affine(distrax.Bijector):
      def __init__(self, s, b):
        super().__init__(event_ndims_in=3)
        self.s, self.b = s, b

      def forward_and_log_det(self, x):
        return x * jnp.exp(self.s) + self.b, jnp.broadcast_to(self.s, x.shape).sum((-3, -2, -1))

      def inverse_and_log_det(self, y):
        return (y - self.b) * jnp.exp(-self.s), -jnp.broadcast_to(self.s, y.shape).sum((-3, -2, -1))

    params = {"s": jnp.full((4, 4, 2), 0.1), "b": jnp.zeros((4, 4, 2))}
    x = jnp.linspace(-2.0, 2.0, 4 * 4 * 4 * 2).reshape(4, 4, 4, 2)
    check_bijector(lambda p: Affine(p["s"], p["b"]), x, params=params, float64=True)

A conditional coupling on vectors [4] with a context [3] per example (the factory takes both)::

    import jax.numpy as jnp
    from genzoo import bijectors
    from genzoo.testing import check_bijector

    def make(p, condition):
      conditioner = lambda x_a, c: (jnp.tanh(x_a @ p["a"] + c @ p["c"]), x_a @ p["b"])
      return bijectors.Coupling(bijectors.SplitPartition(), conditioner,
                                bijectors.affine_transformer("tanh"), event_ndims=1,
                                condition=condition)

    params = {"a": jnp.full((2, 2), 0.3), "b": jnp.full((2, 2), -0.2), "c": jnp.full((3, 2), 0.5)}
    x, context = jnp.linspace(-2.0, 2.0, 6 * 4).reshape(6, 4), jnp.ones((6, 3))
    check_bijector(make, x, params=params, condition=context)
"""

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import distrax
import jax
import jax.numpy as jnp
import numpy as np

# Default (rtol, atol) per precision; a comparison passes where |actual - expected| <=
# atol + rtol * |expected|. Log-dets are sums over the event, whose rounding error grows with the
# number of terms, so their atol is multiplied by sqrt(event size).
DEFAULT_TOLERANCES = {"float32": (1e-3, 1e-4), "float64": (1e-9, 1e-10)}
# How many examples get the (quadratic-cost) dense-Jacobian log-det check.
NUM_JACOBIAN_EXAMPLES = 2

Factory = Callable[..., distrax.Bijector]  # (params) or (params, condition) -> Bijector


def check_bijector(
    bijector: distrax.Bijector | Factory,
    x: jax.Array,
    *,
    params: Any = None,
    condition: Any = None,
    float64: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
  """Checks that `bijector` honours the bijector contract on the batch `x`; see the module example.

  Properties checked, in this order (the first failure raises; messages start with the name):
    1. shapes: forward gives `[B, *event_out]` (rank `1 + event_ndims_out`, same total event size)
       and log-dets `[B]`; inverse gives back `x`'s shape; all in `x`'s dtype.
    2. round trip: `inverse(forward(x)) ≈ x` and `forward(inverse(forward(x))) ≈ forward(x)`.
    3. jit: `jax.jit` of `forward_and_log_det` and `inverse_and_log_det` match the eager results.
       The later checks run jitted, which keeps their compile time down.
    4. batch broadcasting: `x` regrouped into two leading batch axes (`[2, B // 2]`, or `[1, B]`
       for odd B) gives the same values, and so does each example alone (`x[i:i+1]`), which
       catches statistics taken across the batch. Same for the inverse at `y = forward(x)`. A
       `condition` is regrouped and sliced with `x`, so an example that reads another example's
       context fails here.
    5. log-det vs Jacobian: for the first 2 examples, the forward log-det equals log|det J| of the
       dense Jacobian of the flattened single-example map (`dense_log_det`; no `vmap` needed).
       Its cost grows with the square of the event size: keep events small (a few hundred).
    6. inverse log-det: the inverse log-det at `y = forward(x)` is minus the forward log-det; and
       method agreement: `forward`, `inverse`, `forward_log_det_jacobian` and
       `inverse_log_det_jacobian` agree with the `*_and_log_det` methods.
    7. finite gradients: the gradients of `sum(y) + sum(log_det)` with respect to `x` (forward) and
       of `sum(x) + sum(inverse log_det)` with respect to `y` (inverse) are finite, and so are
       those with respect to `params` and `condition` when given.

  Args:
    bijector: the `distrax.Bijector` to check or, when `params` is given, a callable
      `params -> distrax.Bijector`, so that parameter gradients are checked too; with a
      `condition`, a callable `(params, condition) -> distrax.Bijector` (params may be None).
    x: inputs `[B, *event_shape_in]`: one batch axis (B >= 2) and `bijector.event_ndims_in` event
      axes. Pick values where the bijector is smooth (e.g. away from a ReLU's kink).
    params: a pytree of float arrays for the factory form; `None` for a plain bijector.
    condition: the context of a conditional bijector, an array `[B, ...]` batched like `x`.
    float64: run every check in float64 with tight tolerances. `x` and the float leaves of
      `params` are cast, but a plain bijector's own arrays are not: pass the factory form (or
      build the bijector from float64 arrays under `jax.enable_x64(True)`) for a full test.
    rtol: relative tolerance replacing the default of `DEFAULT_TOLERANCES`.
    atol: absolute tolerance replacing the default of `DEFAULT_TOLERANCES`.

  Raises:
    AssertionError: a property does not hold; the message names it, the bijector class and the
      worst discrepancy.
    TypeError: `bijector` is not a bijector (or, with `params`, not a factory of bijectors).
    ValueError: `x` is not a batch of at least 2 events of the bijector's input rank.
  """
  dtype = jnp.float64 if float64 else jnp.float32
  precision = jax.enable_x64(True) if float64 else contextlib.nullcontext()
  with precision:
    make = _as_factory(bijector, params, condition)
    params, condition = _cast_floats(params, dtype), _cast_floats(condition, dtype)
    x = jnp.asarray(x, dtype)
    _check_condition(condition, x)
    bij = make(params, condition)
    if not isinstance(bij, distrax.Bijector):
      raise TypeError(f"the factory must return a distrax.Bijector, got {type(bij).__name__}")
    _check_input(bij, x)
    default_rtol, default_atol = DEFAULT_TOLERANCES[jnp.dtype(dtype).name]
    atol = default_atol if atol is None else atol
    check = _Checker(
        name=type(bij).__name__,
        rtol=default_rtol if rtol is None else rtol,
        atol=atol,
        log_det_atol=atol * math.sqrt(math.prod(x.shape[1:])),
    )
    y, log_det = bij.forward_and_log_det(x)
    x_back, inv_log_det = bij.inverse_and_log_det(y)
    _check_shapes(check, bij, x, y, log_det, x_back, inv_log_det)
    _check_round_trip(check, bij, x, y, x_back)
    both_ways = functools.partial(jax.jit(functools.partial(_both_ways, make)), params)
    _check_jit(check, both_ways, condition, x, y, log_det, x_back, inv_log_det)
    _check_batching(check, both_ways, condition, x, y, log_det, x_back, inv_log_det)
    _check_jacobian(check, make, params, condition, x)
    _check_inverse_log_det(check, bij, x, y, log_det, x_back, inv_log_det)
    _check_gradients(check, make, params, condition, x, y)


def _both_ways(make: Factory, params, condition, x, y):
  """`(forward_and_log_det(x), inverse_and_log_det(y))`: one program to jit per batch shape."""
  bij = make(params, condition)
  return bij.forward_and_log_det(x), bij.inverse_and_log_det(y)


def dense_log_det(forward_fn: Callable[[jax.Array], jax.Array], x_single: jax.Array) -> jax.Array:
  """log|det J| of `forward_fn` at one example, from its dense autodiff Jacobian.

  Args:
    forward_fn: maps a batch of one, `[1, *x_single.shape]`, to a batch of one output event of
      the same total size (of any shape); e.g. `bijector.forward`.
    x_single: one input event (no batch axis).

  Returns:
    The scalar log|det J| of the flattened map, via `jax.jacfwd` and `jnp.linalg.slogdet`
    (-inf where J is singular).
  """

  def flat_forward(v):
    return forward_fn(v.reshape((1, *x_single.shape))).reshape(-1)

  jacobian = jax.jacfwd(flat_forward)(x_single.reshape(-1))
  return jnp.linalg.slogdet(jacobian)[1]


@dataclasses.dataclass(frozen=True)
class _Checker:
  """Compares arrays with the run's tolerances and fails with messages naming the bijector."""

  name: str
  rtol: float
  atol: float
  log_det_atol: float

  def error(self, prop: str, detail: str) -> AssertionError:
    return AssertionError(f"{prop} check failed for {self.name}: {detail}")

  def fail(self, prop: str, detail: str):
    raise self.error(prop, detail)

  def close(self, prop: str, what: str, actual, expected, *, log_det: bool = False):
    """Fails `prop` unless `actual` matches `expected` in shape and, within tolerance, in value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
      self.fail(prop, f"{what}: shape {actual.shape}, expected {expected.shape}")
    atol = self.log_det_atol if log_det else self.atol
    worst = _worst_discrepancy(actual, expected, self.rtol, atol)
    if worst:
      self.fail(prop, f"{what}: {worst}")


def _worst_discrepancy(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
  """Describes the element furthest outside tolerance (NaN counts as infinitely far), or ''."""
  actual, expected = actual.astype(np.float64), expected.astype(np.float64)
  with np.errstate(invalid="ignore"):
    diff = np.abs(actual - expected)
    allowed = atol + rtol * np.abs(expected)
    excess = np.where(np.isnan(diff), np.inf, diff / allowed)
  if excess.size == 0 or np.max(excess) <= 1:
    return ""
  i = np.unravel_index(np.argmax(excess), excess.shape)
  num_bad = int(np.sum(excess > 1))
  return (
      f"{num_bad} of {excess.size} values differ; worst at index {tuple(map(int, i))}: "
      f"got {actual[i]:.10g}, expected {expected[i]:.10g} "
      f"(|diff| = {diff[i]:.3g} > tolerance {allowed[i]:.3g})"
  )


def _as_factory(bijector, params, condition) -> Factory:
  """The `(params, condition) -> Bijector` callable for every calling form of `check_bijector`."""
  if condition is not None:
    if isinstance(bijector, distrax.Bijector) or not callable(bijector):
      raise TypeError("with condition=, pass a callable (params, condition) -> distrax.Bijector")
    return bijector
  if params is None:
    if not isinstance(bijector, distrax.Bijector):
      raise TypeError(f"expected a distrax.Bijector (or a factory together with params=), "
                      f"got {type(bijector).__name__}")
    return lambda _, __: bijector
  if isinstance(bijector, distrax.Bijector) or not callable(bijector):
    raise TypeError("with params=, pass a callable params -> distrax.Bijector as the bijector")
  return lambda p, _: bijector(p)


def _check_condition(condition, x: jax.Array) -> None:
  """Rejects a context that is not batched like `x`."""
  if condition is not None and jnp.shape(condition)[:1] != x.shape[:1]:
    raise ValueError(f"condition must be batched like x ([{x.shape[0]}, ...]), got shape {jnp.shape(condition)}")


def _take(condition, rows):
  """The context of examples `rows` (a slice), or None."""
  return None if condition is None else condition[rows]


def _regroup(condition, lead):
  return None if condition is None else condition.reshape(lead + condition.shape[1:])


def _cast_floats(tree, dtype):
  """`tree` with its floating-point leaves cast to `dtype`."""

  def cast(leaf):
    leaf = jnp.asarray(leaf)
    return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

  return jax.tree.map(cast, tree)


def _check_input(bij: distrax.Bijector, x: jax.Array):
  """Rejects inputs that are not a batch of at least 2 events of the bijector's input rank."""
  if x.ndim != 1 + bij.event_ndims_in:
    raise ValueError(
        f"x must be [B, *event_shape_in]: one batch axis and the {bij.event_ndims_in} event axes "
        f"of {type(bij).__name__}, got shape {x.shape}"
    )
  if x.shape[0] < 2:
    raise ValueError(f"x needs a batch of at least 2 examples, got shape {x.shape}")


def _check_shapes(check, bij, x, y, log_det, x_back, inv_log_det):
  """Forward output `[B, *event_out]` of the same total event size, log-dets `[B]`, x's dtype."""
  batch = x.shape[:1]
  if y.ndim != 1 + bij.event_ndims_out or y.shape[:1] != batch:
    check.fail("shapes", f"forward output has shape {y.shape}, expected [{batch[0]}] + "
               f"{bij.event_ndims_out} event axes (event_ndims_out)")
  if math.prod(y.shape[1:]) != math.prod(x.shape[1:]):
    check.fail("shapes", f"forward maps events {x.shape[1:]} to {y.shape[1:]} of another size")
  for what, value, shape in (
      ("forward output", y, y.shape),
      ("forward log-det", log_det, batch),
      ("inverse output", x_back, x.shape),
      ("inverse log-det", inv_log_det, batch),
  ):
    if value.shape != shape:
      check.fail("shapes", f"{what} has shape {value.shape}, expected {shape}")
    if value.dtype != x.dtype:
      hint = ""
      if x.dtype == jnp.float64:
        hint = " (arrays made outside float64 stay float32: pass a factory and params=)"
      check.fail("shapes", f"{what} has dtype {value.dtype}, expected {x.dtype} like x{hint}")


def _check_round_trip(check, bij, x, y, x_back):
  """inverse(forward(x)) returns x, and forward maps it back to y."""
  check.close("round trip", "inverse(forward(x)) vs x", x_back, x)
  check.close("round trip", "forward(inverse(forward(x))) vs forward(x)", bij.forward(x_back), y)


def _check_batching(check, both_ways, condition, x, y, log_det, x_back, inv_log_det):
  """Two leading batch axes, and each example alone, reproduce the batched results."""
  b = x.shape[0]
  lead = (2, b // 2) if b % 2 == 0 else (1, b)
  regrouped = both_ways(_regroup(condition, lead), x.reshape(lead + x.shape[1:]), y.reshape(lead + y.shape[1:]))
  singles = [both_ways(_take(condition, slice(i, i + 1)), x[i:i + 1], y[i:i + 1]) for i in range(b)]
  expected = ((y, log_det), (x_back, inv_log_det))
  for d, direction in enumerate(("forward", "inverse")):
    for k, (what, is_log_det) in enumerate((("output", False), ("log-det", True))):
      want = expected[d][k]
      check.close("batch broadcasting", f"{direction} {what} with batch shape {lead}",
                  regrouped[d][k], want.reshape(lead + want.shape[1:]), log_det=is_log_det)
      check.close("batch broadcasting", f"{direction} {what} example by example vs batched",
                  jnp.concatenate([single[d][k] for single in singles]), want, log_det=is_log_det)


def _check_jacobian(check, make, params, condition, x):
  """The first examples' forward log-dets match `dense_log_det` of the forward map (jitted)."""

  @jax.jit
  def log_dets(p, c, x_single):
    forward_and_log_det = make(p, c).forward_and_log_det

    def forward(v):
      return forward_and_log_det(v)[0]

    return forward_and_log_det(x_single[None])[1][0], dense_log_det(forward, x_single)

  for i in range(min(NUM_JACOBIAN_EXAMPLES, x.shape[0])):
    log_det, expected = log_dets(params, _take(condition, slice(i, i + 1)), x[i])
    check.close("log-det vs Jacobian", f"forward log-det vs log|det J| (slogdet) of example {i}",
                log_det, expected, log_det=True)


def _check_inverse_log_det(check, bij, x, y, log_det, x_back, inv_log_det):
  """The inverse log-det negates the forward one; the single-purpose methods agree with both."""
  check.close("inverse log-det", "inverse log-det at y = forward(x) vs -(forward log-det)",
              inv_log_det, -log_det, log_det=True)
  prop = "method agreement"
  check.close(prop, "forward(x) vs forward_and_log_det(x)", bij.forward(x), y)
  check.close(prop, "inverse(y) vs inverse_and_log_det(y)", bij.inverse(y), x_back)
  check.close(prop, "forward_log_det_jacobian(x) vs forward_and_log_det(x)",
              bij.forward_log_det_jacobian(x), log_det, log_det=True)
  check.close(prop, "inverse_log_det_jacobian(y) vs inverse_and_log_det(y)",
              bij.inverse_log_det_jacobian(y), inv_log_det, log_det=True)


def _check_jit(check, both_ways, condition, x, y, log_det, x_back, inv_log_det):
  """The jitted methods (bijector built inside the trace) match the eager results."""
  try:
    (y_jit, log_det_jit), (x_jit, inv_log_det_jit) = both_ways(condition, x, y)
  except jax.errors.JAXTypeError as err:
    raise check.error("jit", f"tracing under jax.jit raised {type(err).__name__}: {err}") from err
  check.close("jit", "jitted forward output vs eager", y_jit, y)
  check.close("jit", "jitted forward log-det vs eager", log_det_jit, log_det, log_det=True)
  check.close("jit", "jitted inverse output vs eager", x_jit, x_back)
  check.close("jit", "jitted inverse log-det vs eager", inv_log_det_jit, inv_log_det, log_det=True)


def _check_gradients(check, make, params, condition, x, y):
  """Gradients of sum(output) + sum(log-det), both directions, are finite in inputs, params and
  the condition."""
  grads = _gradients(make, params, condition, x, y)
  for method, wrt in (("forward_and_log_det", "x"), ("inverse_and_log_det", "y")):
    grad_params, grad_condition, grad_inputs = grads[method]
    named = [(wrt, grad_inputs)] + [
        (f"{group}{jax.tree_util.keystr(path)}", g)
        for group, tree in (("params", grad_params), ("condition", grad_condition))
        for path, g in jax.tree_util.tree_leaves_with_path(tree)
    ]
    for name, grad in named:
      bad = ~np.isfinite(np.asarray(grad))
      if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        check.fail("finite gradients", f"d(sum(output) + sum(log-det))/d{name} of {method} has "
                   f"{int(bad.sum())} non-finite entries, the first at index {first}")


def _gradients(make, params, condition, x, y):
  """{method: (d/dparams, d/dcondition, d/dinputs)} of sum(output) + sum(log-det), forward at x,
  inverse at y."""

  def summed_outputs(p, c, inputs, method):
    outputs, log_det = getattr(make(p, c), method)(inputs)
    return jnp.sum(outputs) + jnp.sum(log_det)

  grad = jax.grad(summed_outputs, argnums=(0, 1, 2))
  return jax.jit(lambda p, c, u, v: {
      "forward_and_log_det": grad(p, c, u, "forward_and_log_det"),
      "inverse_and_log_det": grad(p, c, v, "inverse_and_log_det"),
  })(params, condition, x, y)
