"""Chapter 02: scratchnn.activations against keras.activations / keras.layers (values) and
tf.GradientTape (derivatives), in float32 and float64, plus property tests and proof that the
stability check catches the textbook (naive) sigmoid and softmax."""

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import tensorflow as tf

import course
from course.checks import check_activation
from scratchnn import activations as A

EDGE = np.array([0.0, 1e-8, -1e-8, 1.0, -1.0, 20.0, -20.0, 100.0, -100.0])
RNG = np.random.default_rng(2)
# Edge values plus a large random batch, as a 2-D array (batch, features).
BATCH = np.concatenate([np.tile(EDGE, 8), RNG.normal(scale=10.0, size=4096 - 72)]).reshape(64, 64)
TOL = {"float32": 1e-4, "float64": 1e-12}
# TensorFlow evaluates these with float32 constants even for float64 inputs (chapter 02, §4).
LOOSER = {
    ("leaky_relu", "float64"): 1e-6,
    ("leaky_relu_0.01", "float64"): 1e-6,
    ("gelu", "float64"): 1e-8,
    ("gelu_tanh", "float64"): 1e-8,
}

PAIRS = {  # name -> (ours, theirs, our derivative)
    "sigmoid": (A.sigmoid, keras.activations.sigmoid, A.sigmoid_derivative),
    "tanh": (A.tanh, keras.activations.tanh, A.tanh_derivative),
    "relu": (A.relu, keras.activations.relu, A.relu_derivative),
    "relu6": (
        lambda x: A.relu(x, max_value=6.0),
        keras.activations.relu6,
        lambda x: A.relu_derivative(x, max_value=6.0),
    ),
    "leaky_relu": (A.leaky_relu, keras.activations.leaky_relu, A.leaky_relu_derivative),
    "leaky_relu_0.01": (
        lambda x: A.leaky_relu(x, 0.01),
        lambda x: keras.activations.leaky_relu(x, 0.01),
        lambda x: A.leaky_relu_derivative(x, 0.01),
    ),
    "elu": (A.elu, keras.activations.elu, A.elu_derivative),
    "elu_0.5": (
        lambda x: A.elu(x, alpha=0.5),
        lambda x: keras.activations.elu(x, alpha=0.5),
        lambda x: A.elu_derivative(x, alpha=0.5),
    ),
    "selu": (A.selu, keras.activations.selu, A.selu_derivative),
    "gelu": (A.gelu, keras.activations.gelu, A.gelu_derivative),
    "gelu_tanh": (
        lambda x: A.gelu(x, approximate=True),
        lambda x: keras.activations.gelu(x, approximate=True),
        lambda x: A.gelu_derivative(x, approximate=True),
    ),
    "silu": (A.silu, keras.activations.silu, A.silu_derivative),
    "swish": (A.swish, keras.activations.swish, A.swish_derivative),
    "softplus": (A.softplus, keras.activations.softplus, A.softplus_derivative),
    "linear": (A.linear, keras.activations.linear, A.linear_derivative),
}


def keras_value_and_grad(fn, x):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    return y.numpy(), tape.gradient(y, xt).numpy()


def naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naive_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


# --- values and derivatives against Keras ---------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_value_and_derivative_match_keras(name, dtype):
    ours, theirs, derivative = PAIRS[name]
    x = BATCH.astype(dtype)
    y_k, dy_k = keras_value_and_grad(theirs, x)
    tol = LOOSER.get((name, dtype), TOL[dtype])
    check_activation(ours, x, y_k, tol, f"{dtype} {name}")
    keep = np.ones(x.shape, bool)
    if name == "selu" and dtype == "float32":
        # TF picks SELU's derivative branch from the float32 output, which rounds to 0 at -1e-8.
        keep = np.abs(x) > 1e-6
    if name == "relu6":
        keep = x != 6.0  # kink at the clip: a convention, not a value
    assert derivative(x).dtype == x.dtype
    from course import parity

    parity(derivative(x)[keep], dy_k[keep], tol, f"{dtype} {name} derivative")


def test_selu_float32_kink_is_a_tensorflow_artefact():
    """The one excluded point above, pinned down: float64 TF agrees with our derivative."""
    x = np.array([-1e-8])
    _, d64 = keras_value_and_grad(keras.activations.selu, x)
    assert A.selu_derivative(x)[0] == pytest.approx(d64[0], rel=1e-12)
    assert A.selu_derivative(x)[0] == pytest.approx(A.SELU_SCALE * A.SELU_ALPHA, rel=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_vjp_match_keras(dtype, axis):
    logits = (RNG.normal(size=(8, 16, 10)) * 30).astype(dtype)
    logits[0, 0] = [1000.0, 999.0, 0.0, -1000.0, 5, 6, 7, 8, 9, 10]
    g = RNG.normal(size=logits.shape).astype(dtype)
    xt = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y_k = keras.activations.softmax(xt, axis=axis)
        loss = tf.reduce_sum(y_k * g)
    check_activation(lambda v: A.softmax(v, axis=axis), logits, y_k.numpy(), TOL[dtype], "softmax")
    from course import parity

    y = A.softmax(logits, axis=axis)
    parity(
        A.softmax_backward(g, y, axis=axis),
        tape.gradient(loss, xt).numpy(),
        TOL[dtype],
        "softmax VJP",
    )


def test_softmax_of_1000_does_not_overflow():
    for dtype in ["float32", "float64"]:
        y = A.softmax(np.array([[1000.0, 1000.0, -1000.0]], dtype=dtype))
        assert y.dtype == dtype and np.all(np.isfinite(y))
        np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]], atol=1e-7)


def test_softmax_vjp_equals_full_jacobian():
    x = RNG.normal(size=7)
    g = RNG.normal(size=7)
    y = A.softmax(x)
    np.testing.assert_allclose(A.softmax_backward(g, y), A.softmax_jacobian(y).T @ g, atol=1e-14)


def test_maxout_and_gradient_match_keras_ops():
    x = RNG.normal(size=(32, 12))
    g = RNG.normal(size=(32, 4))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y_k = keras.ops.max(keras.ops.reshape(xt, (32, 4, 3)), axis=-1)
        loss = tf.reduce_sum(y_k * g)
    np.testing.assert_array_equal(A.maxout(x, 4), y_k.numpy())
    np.testing.assert_array_equal(A.maxout_backward(g, x, 4), tape.gradient(loss, xt).numpy())
    # another axis: channels first
    np.testing.assert_array_equal(A.maxout(x.T, 4, axis=0), A.maxout(x, 4).T)
    with pytest.raises(ValueError):
        A.maxout(x, 5)


def test_prelu_matches_keras_layer_forward_and_backward():
    x = RNG.normal(size=(16, 6))
    alpha = RNG.uniform(-0.5, 0.5, size=6)
    layer = keras.layers.PReLU(dtype="float64")
    layer.build((None, 6))
    layer.alpha.assign(alpha)
    up = RNG.normal(size=(16, 6))
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y_k = layer(xt)
        loss = tf.reduce_sum(y_k * up)
    ours = A.PReLU(alpha_initializer=0.0)
    ours.build(x.shape)
    ours.alpha[:] = alpha
    np.testing.assert_allclose(ours.forward(x), y_k.numpy(), atol=1e-14)
    np.testing.assert_allclose(ours.backward(up), tape.gradient(loss, xt).numpy(), atol=1e-14)
    np.testing.assert_allclose(ours.grads[0], tape.gradient(loss, layer.alpha).numpy(), atol=1e-13)
    assert len(ours.params) == len(ours.grads) == 1 and ours.params[0] is ours.alpha


def test_prelu_default_starts_as_relu_like_keras():
    layer = keras.layers.PReLU()
    layer.build((None, 3))
    np.testing.assert_array_equal(layer.alpha.numpy(), 0.0)
    ours = A.PReLU()
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ours.forward(x), A.relu(x))
    assert ours.alpha.shape == (3,)


# --- Keras's names and defaults ---------------------------------------------------------------


def test_leaky_relu_layer_and_function_defaults_differ():
    """keras.layers.LeakyReLU defaults to 0.3, keras.activations.leaky_relu to 0.2; we mirror
    the function."""
    assert keras.layers.LeakyReLU().negative_slope == pytest.approx(0.3)
    assert (
        inspect.signature(keras.activations.leaky_relu).parameters["negative_slope"].default == 0.2
    )
    assert inspect.signature(A.leaky_relu).parameters["negative_slope"].default == 0.2
    x = np.array([-10.0, -1.0, 2.0], dtype="float32")
    np.testing.assert_allclose(A.leaky_relu(x), keras.activations.leaky_relu(x).numpy())
    np.testing.assert_allclose(
        A.leaky_relu(x, negative_slope=0.3), keras.layers.LeakyReLU()(x).numpy()
    )
    assert not np.allclose(A.leaky_relu(x), keras.layers.LeakyReLU()(x).numpy())


@pytest.mark.parametrize(
    "name",
    [
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "softplus",
        "softmax",
        "sigmoid",
        "tanh",
        "linear",
    ],
)
def test_signature_mirrors_keras(name):
    ours = inspect.signature(getattr(A, name)).parameters
    theirs = inspect.signature(getattr(keras.activations, name)).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]


def test_selu_constants_match_keras():
    x = np.array([1.0, -50.0])
    y = keras.activations.selu(x).numpy()
    assert A.SELU_SCALE == pytest.approx(y[0], rel=1e-12)
    assert A.SELU_SCALE * A.SELU_ALPHA == pytest.approx(-y[1], rel=1e-12)
    assert round(A.SELU_ALPHA, 8) == 1.67326324 and round(A.SELU_SCALE, 8) == 1.05070099


def test_gelu_default_is_exact():
    assert inspect.signature(A.gelu).parameters["approximate"].default is False
    x = np.array([-1.5, 0.5, 2.0])
    exact = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(A.gelu(x), exact, rtol=1e-14)
    assert np.abs(A.gelu(x, approximate=True) - exact).max() > 1e-5


def test_registry_covers_the_elementwise_activations():
    assert A.get("swish") is A.silu and A.get("softmax") is A.softmax
    for name, (f, d) in A.ACTIVATIONS.items():
        assert A.get(name) is f and A.get_derivative(name) is d


# --- the stability check proves its own power -------------------------------------------------

SIGMOID_X = np.array([-100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0], dtype="float32")
LOGITS = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])


def test_naive_sigmoid_fails_the_check_with_a_clear_message():
    expected = keras.activations.sigmoid(SIGMOID_X).numpy()
    with pytest.raises(
        AssertionError, match=r"overflow encountered in exp.*float32 inputs.*exp\(\)"
    ):
        check_activation(naive_sigmoid, SIGMOID_X, expected, 1e-6, "naive sigmoid")


def test_stable_sigmoid_passes_the_same_check():
    expected = keras.activations.sigmoid(SIGMOID_X).numpy()
    check_activation(A.sigmoid, SIGMOID_X, expected, 1e-6, "stable sigmoid")


def test_naive_softmax_fails_the_check_with_a_clear_message():
    expected = keras.activations.softmax(LOGITS).numpy()
    with pytest.raises(AssertionError, match=r"overflow encountered in exp"):
        check_activation(naive_softmax, LOGITS, expected, 1e-6, "naive softmax")


def test_naive_softmax_fails_even_without_floating_point_traps():
    """Without NumPy's traps it returns NaN, which course.parity reports as non-finite."""
    expected = keras.activations.softmax(LOGITS).numpy()
    with np.errstate(all="ignore"):
        got = naive_softmax(LOGITS)
    from course import parity

    with pytest.raises(AssertionError, match="non-finite"):
        parity(got, expected, 1e-6, "naive softmax")


def test_stable_softmax_passes_the_same_check():
    expected = keras.activations.softmax(LOGITS).numpy()
    check_activation(A.softmax, LOGITS, expected, 1e-6, "stable softmax")


def test_check_rejects_a_wrong_value_and_a_changed_dtype():
    x = np.linspace(-3, 3, 11, dtype="float32")
    with pytest.raises(AssertionError, match="max"):
        check_activation(lambda v: A.tanh(v) + 1e-3, x, np.tanh(x), 1e-5, "shifted tanh")
    with pytest.raises(AssertionError, match="dtype changed"):
        check_activation(lambda v: np.tanh(v.astype("float64")), x, np.tanh(x), 1e-5, "upcast tanh")


# --- properties (Hypothesis) ---------------------------------------------------------------------

FINITE = st.floats(-200, 200, allow_nan=False, width=64)
ARRAYS = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=FINITE
)
SMOOTH = ["sigmoid", "tanh", "elu", "gelu", "silu", "softplus"]


@settings(max_examples=60, deadline=None)
@given(ARRAYS)
def test_sigmoid_properties(x):
    with np.errstate(over="raise", invalid="raise"):
        s = A.sigmoid(x)
        t = A.sigmoid(-x)
    assert s.shape == x.shape and np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + t, 1.0, atol=1e-15)
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(ARRAYS, st.floats(-500, 500, allow_nan=False))
def test_softmax_properties(x, shift):
    with np.errstate(over="raise", invalid="raise"):
        y = A.softmax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(y >= 0)
    np.testing.assert_allclose(A.softmax(x + shift), y, atol=1e-12)  # shift invariance
    at_argmax_x = np.take_along_axis(y, np.argmax(x, axis=-1)[..., None], axis=-1)[..., 0]
    assert np.array_equal(at_argmax_x, y.max(axis=-1))  # monotonic: argmax(x) is a top class of y


@settings(max_examples=40, deadline=None)
@given(ARRAYS)
def test_identities(x):
    np.testing.assert_allclose(A.softplus(x) - A.softplus(-x), x, atol=1e-12)
    np.testing.assert_allclose(A.relu(x) - A.relu(-x), x, atol=0)
    np.testing.assert_allclose(A.leaky_relu(x, 0.3), A.relu(x) - 0.3 * A.relu(-x), atol=1e-12)
    np.testing.assert_allclose(A.silu(x), x * A.sigmoid(x), atol=0)
    np.testing.assert_allclose(A.selu(x), A.SELU_SCALE * A.elu(x, A.SELU_ALPHA), atol=0)
    assert np.abs(A.gelu(x, approximate=True) - A.gelu(x)).max(initial=0) < 1e-3


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-8, 8, allow_nan=False)),
    st.sampled_from(SMOOTH + ["gelu_tanh", "relu", "leaky_relu", "selu"]),
)
def test_derivative_matches_finite_differences(x, name):
    if name == "gelu_tanh":
        f, d = (
            (lambda v: A.gelu(v, approximate=True)),
            (lambda v: A.gelu_derivative(v, approximate=True)),
        )
    else:
        f, d = A.ACTIVATIONS[name]
    x = x[np.abs(x) > 1e-4]  # keep away from the kinks of the piecewise ones
    h = 1e-6
    numerical = (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(d(x), numerical, atol=1e-7, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=8),
        elements=st.floats(-100, 100, allow_nan=False, width=32),
    ),
    st.sampled_from(
        ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus"]
    ),
)
def test_random_float32_inputs_match_keras(x, name):
    ours, theirs, _ = PAIRS[name]
    y = ours(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, theirs(x).numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"negative_slope": 0.1},
        {"max_value": 3.0},
        {"threshold": 0.5},
        {"negative_slope": 0.1, "threshold": -1.0},
        {"negative_slope": 0.2, "max_value": 4.0, "threshold": 0.5},
    ],
)
def test_relu_arguments_match_keras(kwargs):
    x = BATCH.astype("float64")
    y_k, dy_k = keras_value_and_grad(lambda v: keras.activations.relu(v, **kwargs), x)
    np.testing.assert_allclose(A.relu(x, **kwargs), y_k, atol=1e-6)
    kinks = [kwargs.get("threshold", 0.0), kwargs.get("max_value", np.inf)]
    keep = ~np.isin(x, kinks)
    np.testing.assert_allclose(A.relu_derivative(x, **kwargs)[keep], dy_k[keep], atol=1e-6)


NAN_CASES = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 1.0}),
    ("relu", {"threshold": 0.25}),
    ("relu", {"negative_slope": 0.1, "max_value": 1.0, "threshold": 0.25}),
]
NAN_CASES += [
    (name, {})
    for name in ["leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "tanh", "softplus"]
]


@pytest.mark.parametrize("name, kwargs", NAN_CASES)
def test_nan_and_inf_come_out_where_keras_puts_them(name, kwargs):
    """A diverged network must look diverged: NaN goes through tf.nn.relu (a NumPy
    where(x > 0, x, 0) would silently turn it into 0 and hide the divergence)."""
    x = np.array([np.nan, -np.inf, -1.0, 0.5, 2.0, np.inf])
    ours = getattr(A, name)(x, **kwargs)
    theirs = np.asarray(getattr(keras.activations, name)(x, **kwargs))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs)
    infinite = np.isinf(theirs)
    np.testing.assert_array_equal(ours[infinite], theirs[infinite])
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-7)


# --- the chapter's helpers (course/explorers/ch02.py) --------------------------------------------


def test_gradient_through_depth_orders_the_activations():
    from course.explorers.ch02 import gradient_through_depth

    first = {
        name: gradient_through_depth(name, depth=20)[0] for name in ["sigmoid", "relu", "selu"]
    }
    assert first["sigmoid"] < 1e-8 < first["relu"] < 0.1 < first["selu"]
    assert gradient_through_depth("linear", depth=5, weight_std=1 / 8.0).shape == (5,)


def test_figures_and_explorer_build(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.explorers.ch02 import (
        activation_explorer,
        plot_activation_grid,
        plot_activation_view,
    )

    fig = plot_activation_grid(list(A.ACTIVATIONS))
    assert len([ax for ax in fig.axes if ax.get_visible()]) == len(A.ACTIVATIONS)
    fig2 = plot_activation_view("gelu", depth=5)
    assert "gelu" in fig2.axes[0].get_title()
    activation_explorer("tanh", depth=4)
    plt.close("all")


@pytest.mark.parametrize(
    "layer, ours",
    [
        (lambda: keras.layers.ELU(alpha=0.5), lambda x: A.elu(x, alpha=0.5)),
        (
            lambda: keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
            lambda x: A.relu(x, negative_slope=0.1, max_value=6.0, threshold=0.5),
        ),
        (lambda: keras.layers.LeakyReLU(negative_slope=0.01), lambda x: A.leaky_relu(x, 0.01)),
        (lambda: keras.layers.Softmax(axis=1), lambda x: A.softmax(x, axis=1)),
        (lambda: keras.layers.Activation("selu"), A.selu),
        (lambda: keras.layers.Activation("swish"), A.swish),
        (lambda: keras.layers.Activation("gelu"), A.gelu),
    ],
    ids=[
        "ELU",
        "ReLU-args",
        "LeakyReLU-0.01",
        "Softmax-axis1",
        "Activation-selu",
        "Activation-swish",
        "Activation-gelu",
    ],
)
def test_keras_activation_layers_match(layer, ours):
    x = BATCH.astype("float32")
    np.testing.assert_allclose(ours(x), layer()(x).numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "name", ["relu", "tanh", "sigmoid", "selu", "gelu", "silu", "softplus", "elu", "softmax"]
)
def test_activation_layer_matches_keras_forward_and_backward(name):
    x = RNG.normal(size=(8, 5)) * 2
    up = RNG.normal(size=(8, 5))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y_k = keras.layers.Activation(name, dtype="float64")(xt)
        loss = tf.reduce_sum(y_k * up)
    ours = A.Activation(name)
    assert ours.build((None, 5)) == (None, 5) and ours.params == [] and ours.get_weights() == []
    tol = 1e-7 if name == "gelu" else 1e-12  # TF's float64 erf is ~5e-9 from SciPy's (TOL above)
    course.parity(ours.forward(x), y_k.numpy(), tol, f"Activation({name!r}) forward")
    course.parity(
        ours.backward(up), tape.gradient(loss, xt).numpy(), tol, f"Activation({name!r}) backward"
    )


def test_activation_layer_names_the_choices_and_checks_the_gradient_shape():
    with pytest.raises(ValueError, match="unknown activation 'rleu'; choose from .*'relu'"):
        A.Activation("rleu")
    layer = A.Activation("relu")
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expects grad of shape \(2, 3\), got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
