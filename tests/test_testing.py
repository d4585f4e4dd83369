"""Tests for the bijector conformance kit: good bijectors pass, each kind of bug fails by name."""

import textwrap

import distrax
import jax
import jax.numpy as jnp
import pytest

import genzoo.testing.bijectors
from genzoo.testing import check_bijector, dense_log_det

IMAGE_SHAPE = (4, 4, 2)


# -- well-behaved bijectors ------------------------------------------------------------------------


class SinhArcsinh(distrax.Bijector):
  """y = sinh(a * arcsinh(x) + b), elementwise on rank-3 events (a > 0): a nonlinear bijection."""

  def __init__(self, a, b):
    super().__init__(event_ndims_in=3)
    self.a, self.b = a, b

  def forward_and_log_det(self, x):
    z = self.a * jnp.arcsinh(x) + self.b
    log_dy_dx = jnp.log(self.a * jnp.cosh(z)) - 0.5 * jnp.log1p(x**2)
    return jnp.sinh(z), log_dy_dx.sum((-3, -2, -1))

  def inverse_and_log_det(self, y):
    x = jnp.sinh((jnp.arcsinh(y) - self.b) / self.a)
    return x, -self.forward_and_log_det(x)[1]


class DenseLinear(distrax.Bijector):
  """y = x @ w.T + c on rank-1 events, for an invertible square matrix w."""

  def __init__(self, w, c):
    super().__init__(event_ndims_in=1)
    self.w, self.c = w, c

  def _log_det(self, batch_shape):
    return jnp.full(batch_shape, jnp.linalg.slogdet(self.w)[1])

  def forward_and_log_det(self, x):
    return x @ self.w.T + self.c, self._log_det(x.shape[:-1])

  def inverse_and_log_det(self, y):
    x = jnp.linalg.solve(self.w, (y - self.c)[..., None])[..., 0]
    return x, -self._log_det(y.shape[:-1])


class FlattenAffine(distrax.Bijector):
  """Flattens [H, W, C] events to [H * W * C], then y = z * exp(s) + b: event rank 3 in, 1 out."""

  def __init__(self, s, b, event_shape):
    super().__init__(event_ndims_in=3, event_ndims_out=1)
    self.s, self.b, self.event_shape = s, b, event_shape

  def forward_and_log_det(self, x):
    z = x.reshape(x.shape[:-3] + (-1,))
    return z * jnp.exp(self.s) + self.b, jnp.full(z.shape[:-1], jnp.sum(self.s))

  def inverse_and_log_det(self, y):
    x = ((y - self.b) * jnp.exp(-self.s)).reshape(y.shape[:-1] + self.event_shape)
    return x, jnp.full(y.shape[:-1], -jnp.sum(self.s))


def _normal(key, shape, scale=1.0):
  return scale * jax.random.normal(key, shape)


def block_scalar_affine(key):
  del key  # deterministic parameters

  def factory(p):
    return distrax.Block(distrax.ScalarAffine(p["shift"], p["scale"]), 3)

  return factory, {"shift": jnp.array(0.3), "scale": jnp.array(1.7)}, (4, *IMAGE_SHAPE)


def sinh_arcsinh(key):
  k1, k2 = jax.random.split(key)
  params = {"a": jnp.exp(_normal(k1, IMAGE_SHAPE, 0.2)), "b": _normal(k2, IMAGE_SHAPE, 0.3)}
  return lambda p: SinhArcsinh(p["a"], p["b"]), params, (4, *IMAGE_SHAPE)


def dense_linear(key):
  k1, k2 = jax.random.split(key)
  params = {"w": jnp.eye(6) + _normal(k1, (6, 6), 0.3), "c": _normal(k2, (6,))}
  return lambda p: DenseLinear(p["w"], p["c"]), params, (5, 6)  # odd batch: the [1, B] regrouping


def flatten_affine(key):
  k1, k2 = jax.random.split(key)
  size = 4 * 4 * 2
  params = {"s": _normal(k1, (size,), 0.2), "b": _normal(k2, (size,))}
  return lambda p: FlattenAffine(p["s"], p["b"], IMAGE_SHAPE), params, (4, *IMAGE_SHAPE)


# Two of the good bijectors in each precision: the kit's tolerances must let correct bijectors
# pass in both (the plain bijector below runs in both too).
@pytest.mark.parametrize("case, float64", [(block_scalar_affine, True), (sinh_arcsinh, False), (dense_linear, True),
                                           (flatten_affine, False)],
                         ids=lambda value: value.__name__ if callable(value) else ("float64" if value else "float32"))
def test_good_bijectors_pass_with_parameter_gradients(case, float64, key):
  k_case, k_x = jax.random.split(key)
  factory, params, x_shape = case(k_case)
  x = jax.random.normal(k_x, x_shape)
  check_bijector(factory, x, params=params, float64=float64)


def test_plain_bijector_passes_in_float32_and_float64(key):
  x = jax.random.normal(key, (4, *IMAGE_SHAPE))
  check_bijector(distrax.Block(distrax.ScalarAffine(0.3, 1.7), 3), x)
  with jax.enable_x64(True):
    bijector = distrax.Block(distrax.ScalarAffine(jnp.float64(0.3), jnp.float64(1.7)), 3)
  check_bijector(bijector, x, float64=True)


@pytest.mark.parametrize("index", [0, 1])
def test_module_docstring_examples_run(index):
  """The plain example and the conditional one; each runs on its own."""
  example = genzoo.testing.bijectors.__doc__.split("::\n")[1 + index].split("\nA conditional")[0]
  exec(textwrap.dedent(example), {})  # noqa: S102 -- our own docstring, kept correct by this test


def test_dense_log_det_of_linear_map(key):
  w = jnp.eye(3) + 0.3 * jax.random.normal(key, (3, 3))
  log_det = dense_log_det(lambda v: v @ w.T, jnp.ones(3))
  assert jnp.allclose(log_det, jnp.linalg.slogdet(w)[1], rtol=1e-5)


# -- broken bijectors: each fails, naming the property ---------------------------------------------


class Scale(distrax.Bijector):
  """y = x * exp(s) + b on rank-1 events: the correct base the broken variants below distort."""

  def __init__(self, s, b):
    super().__init__(event_ndims_in=1)
    self.s, self.b = s, b

  def log_det(self, x):
    return jnp.broadcast_to(self.s, x.shape).sum(-1)

  def forward_and_log_det(self, x):
    return x * jnp.exp(self.s) + self.b, self.log_det(x)

  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(-self.s), -self.log_det(y)


class NegatedLogDet(Scale):
  def forward_and_log_det(self, x):
    return x * jnp.exp(self.s) + self.b, -self.log_det(x)

  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(-self.s), self.log_det(y)


class DoubledLogDet(Scale):
  def forward_and_log_det(self, x):
    return x * jnp.exp(self.s) + self.b, 2 * self.log_det(x)

  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(-self.s), -2 * self.log_det(y)


class NonInverting(Scale):
  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(self.s), -self.log_det(y)


class InverseLogDetNotNegated(Scale):
  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(-self.s), self.log_det(y)


class UnsummedLogDet(Scale):
  def forward_and_log_det(self, x):
    return x * jnp.exp(self.s) + self.b, jnp.broadcast_to(self.s, x.shape)


class PythonBranch(Scale):
  def forward_and_log_det(self, x):
    if jnp.any(jnp.isnan(x)):  # a Python branch on values: fine eagerly, untraceable under jit
      raise ValueError("NaN input")
    return super().forward_and_log_det(x)


class SlightlyOffLogDet(Scale):
  def forward_and_log_det(self, x):
    return x * jnp.exp(self.s) + self.b, self.log_det(x) + 0.01

  def inverse_and_log_det(self, y):
    return (y - self.b) * jnp.exp(-self.s), -self.log_det(y) - 0.01


class SqrtAbsLeaky(distrax.Bijector):
  """y = x + |x| / 2 (slope 1.5 or 0.5) with |x| written sqrt(x**2): NaN gradient at x = 0."""

  def __init__(self):
    super().__init__(event_ndims_in=1)

  def forward_and_log_det(self, x):
    return x + 0.5 * jnp.sqrt(x**2), jnp.log1p(0.5 * jnp.sign(x)).sum(-1)

  def inverse_and_log_det(self, y):
    return jnp.where(y > 0, y / 1.5, y / 0.5), -jnp.log1p(0.5 * jnp.sign(y)).sum(-1)


class BatchNormCoupling(distrax.Bijector):
  """Affine coupling whose conditioner standardises x1 with batch statistics (train-mode BatchNorm).

  It inverts exactly (x1 passes through, so the inverse sees the same statistics) and its
  single-example Jacobian is right: only the batch check can catch it.
  """

  def __init__(self):
    super().__init__(event_ndims_in=1)

  def _conditioner(self, x1):
    batch_axes = tuple(range(x1.ndim - 1))
    z = (x1 - x1.mean(batch_axes)) / (x1.std(batch_axes) + 1.0)
    return z, 0.5 * jnp.tanh(z)

  def forward_and_log_det(self, x):
    x1, x2 = jnp.split(x, 2, axis=-1)
    shift, log_scale = self._conditioner(x1)
    return jnp.concatenate([x1, x2 * jnp.exp(log_scale) + shift], -1), log_scale.sum(-1)

  def inverse_and_log_det(self, y):
    y1, y2 = jnp.split(y, 2, axis=-1)
    shift, log_scale = self._conditioner(y1)
    return jnp.concatenate([y1, (y2 - shift) * jnp.exp(-log_scale)], -1), -log_scale.sum(-1)


def _scale_params(key):
  k1, k2 = jax.random.split(key)
  return {"s": 0.3 * jax.random.normal(k1, (5,)), "b": jax.random.normal(k2, (5,))}


@pytest.mark.parametrize(
    "cls, match",
    [
        (NegatedLogDet, "log-det vs Jacobian check failed for NegatedLogDet"),
        (DoubledLogDet, "log-det vs Jacobian check failed for DoubledLogDet"),
        (NonInverting, r"round trip check failed for NonInverting: inverse\(forward\(x\)\) vs x"),
        (InverseLogDetNotNegated, "inverse log-det check failed for InverseLogDetNotNegated"),
        (
            UnsummedLogDet,
            r"shapes check failed for UnsummedLogDet: forward log-det has shape \(4, 5\)",
        ),
        (PythonBranch, "jit check failed for PythonBranch: .*TracerBoolConversionError"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_broken_bijector_fails_naming_the_property(cls, match, key):
  k_params, k_x = jax.random.split(key)
  params = _scale_params(k_params)
  x = jax.random.normal(k_x, (4, 5))
  with pytest.raises(AssertionError, match=match):
    check_bijector(lambda p: cls(p["s"], p["b"]), x, params=params)


def test_failure_message_shows_the_worst_discrepancy(key):
  params = _scale_params(key)
  x = jax.random.normal(key, (4, 5))
  match = r"worst at index \(\d+, \d+\): got .*, expected .*tolerance"
  with pytest.raises(AssertionError, match=match):
    check_bijector(NonInverting(params["s"], params["b"]), x)


def test_batch_statistics_fail_the_batch_check(key):
  x = jax.random.normal(key, (4, 4))
  with pytest.raises(AssertionError, match="batch broadcasting check failed for BatchNormCoupling"):
    check_bijector(BatchNormCoupling(), x)


def test_nan_input_gradient_fails(key):
  x = jax.random.normal(key, (4, 3)).at[3, 1].set(0.0)  # not in the 2 Jacobian-checked examples
  match = r"finite gradients check failed for SqrtAbsLeaky: .*/dx"
  with pytest.raises(AssertionError, match=match):
    check_bijector(SqrtAbsLeaky(), x)


def test_nan_parameter_gradient_fails(key):
  params = _scale_params(key)
  params["s"] = params["s"].at[2].set(0.0)
  x = jax.random.normal(key, (4, 5))

  def factory(p):
    return Scale(jnp.sqrt(p["s"] ** 2), p["b"])  # |s| whose gradient is NaN at s = 0

  match = r"finite gradients check failed for Scale: .*/dparams\['s'\]"
  with pytest.raises(AssertionError, match=match):
    check_bijector(factory, x, params=params)


def test_explicit_tolerances_override_defaults(key):
  params = _scale_params(key)
  x = jax.random.normal(key, (4, 5))
  bijector = SlightlyOffLogDet(params["s"], params["b"])
  with pytest.raises(AssertionError, match="log-det vs Jacobian"):
    check_bijector(bijector, x)
  check_bijector(bijector, x, rtol=0.1, atol=0.1)


def test_float64_rejects_a_float32_bijector(key):
  x = jax.random.normal(key, (4, *IMAGE_SHAPE))
  match = "shapes check failed for Block: .*dtype float32.*factory"
  with pytest.raises(AssertionError, match=match):
    check_bijector(distrax.Block(distrax.ScalarAffine(0.3, 1.7), 3), x, float64=True)


# -- bad input -------------------------------------------------------------------------------------


def test_rejects_x_without_a_batch_axis():
  with pytest.raises(ValueError, match=r"x must be \[B, \*event_shape_in\].*3 event axes"):
    check_bijector(distrax.Block(distrax.ScalarAffine(0.0, 1.0), 3), jnp.zeros(IMAGE_SHAPE))


def test_rejects_a_batch_of_one():
  with pytest.raises(ValueError, match="at least 2 examples"):
    check_bijector(distrax.Block(distrax.ScalarAffine(0.0, 1.0), 1), jnp.zeros((1, 3)))


def test_rejects_a_non_bijector():
  with pytest.raises(TypeError, match="expected a distrax.Bijector"):
    check_bijector(lambda v: v, jnp.zeros((2, 3)))


def test_params_need_a_factory():
  with pytest.raises(TypeError, match="with params=, pass a callable"):
    check_bijector(distrax.ScalarAffine(0.0, 1.0), jnp.zeros((2,)), params={"a": jnp.ones(())})
