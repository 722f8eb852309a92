"""Chapter 00 ↔ scratchnn.foundations: unit, gradient-check, Keras parity and property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import course
from scratchnn.foundations import (
    ACTIVATIONS,
    Dense,
    Sequential,
    binary_crossentropy_with_logits,
    glorot_uniform,
    sgd_step,
    sigmoid,
    train,
)

ACTIVATION_NAMES = sorted(ACTIVATIONS)


def make_mlp(sizes=(5, 4, 1), activation="tanh", fan_in=3, seed=0):
    np.random.seed(seed)
    layers = [Dense(n, activation) for n in sizes[:-1]] + [Dense(sizes[-1])]
    model = Sequential(layers)
    model.build((None, fan_in))
    return model


def loss_and_backprop(model, x, y):
    loss, grad = binary_crossentropy_with_logits(y, model.forward(x))
    model.backward(grad)
    return loss, [g.copy() for g in model.grads]


def toy_batch(seed, batch, fan_in=3):
    """x (batch, fan_in) standard normal, y (batch, 1) in {0, 1}."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, fan_in)), rng.integers(0, 2, size=(batch, 1)).astype(float)


def numerical_grads(model, x, y):
    f = lambda _: binary_crossentropy_with_logits(y, model.forward(x))[0]
    return [course.numerical_gradient(f, p) for p in model.params]


# --- the layer ------------------------------------------------------------------------------


def test_dense_forward_is_x_at_kernel_plus_bias():
    layer = Dense(2)
    layer.set_weights([np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -0.5])])
    y = layer.forward(np.array([[1.0, 0.0, -1.0]]))
    np.testing.assert_allclose(y, [[1 - 5 + 0.5, 2 - 6 - 0.5]])


def test_kernel_layout_is_fan_in_by_fan_out_like_keras():
    layer = Dense(7)
    layer.forward(np.zeros((2, 3)))
    assert layer.kernel.shape == (3, 7) and layer.bias.shape == (7,)


def test_glorot_uniform_bounds_and_std():
    np.random.seed(0)
    w = glorot_uniform((200, 300))
    limit = np.sqrt(6 / 500)
    assert np.abs(w).max() <= limit
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)  # std of U(-l, l) is l/√3


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is fine
        s = sigmoid(np.array([-1000.0, -20.0, 0.0, 20.0, 1000.0]))
    np.testing.assert_allclose(
        s, [0.0, 2.0611536e-09, 0.5, 1 - 2.0611536e-09, 1.0], rtol=1e-7, atol=1e-300
    )


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_derivatives_match_finite_differences(name):
    f, df = ACTIVATIONS[name]
    z = np.array([-2.0, -0.7, 0.3, 1.5])  # away from ReLU's kink at 0
    numeric = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(df(z), numeric, rtol=1e-6, atol=1e-9)


# --- clear errors ---------------------------------------------------------------------------


def test_wrong_input_shape_names_expected_and_actual():
    layer = Dense(4)
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3\), got \(2, 5\)"):
        layer.forward(np.zeros((2, 5)))


def test_wrong_gradient_shape_names_expected_and_actual():
    layer = Dense(4)
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expects grad of shape \(2, 4\), got \(4, 2\)"):
        layer.backward(np.zeros((4, 2)))


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="forward before backward"):
        Dense(2).backward(np.zeros((1, 2)))


def test_unknown_activation_lists_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        Dense(2, activation="swishy")


def test_set_weights_rejects_wrong_shapes():
    model = make_mlp()
    weights = model.get_weights()
    weights[0] = weights[0].T
    with pytest.raises(ValueError, match=r"Dense.set_weights: array 0 should have shape \(3, 5\)"):
        model.set_weights(weights)


# --- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_backprop_matches_numerical_gradient(activation):
    x, y = toy_batch(1, 6)
    model = make_mlp(activation=activation)
    _, backprop = loss_and_backprop(model, x, y)
    for g, g_num in zip(backprop, numerical_grads(model, x, y)):
        assert course.relative_error(g, g_num) < 1e-6


def test_input_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 3)), np.array([[0.0], [1.0], [1.0], [0.0]])
    model = make_mlp()
    _, grad = binary_crossentropy_with_logits(y, model.forward(x))
    dx = model.backward(grad)
    num = course.numerical_gradient(
        lambda xx: binary_crossentropy_with_logits(y, model.forward(xx))[0], x.copy()
    )
    assert course.relative_error(dx, num) < 1e-7


def _no_activation_derivative(self, grad):
    x, z = self._cache
    self.grads = [x.T @ grad, grad.sum(axis=0)]  # BUG: forgot * f'(z)
    return grad @ self.kernel.T


def _scrambled_kernel_gradient(self, grad):
    x, z = self._cache
    dz = grad * ACTIVATIONS[self.activation][1](z)
    self.grads = [(dz.T @ x).T[::-1], dz.sum(axis=0)]  # BUG: rows in the wrong order
    return dz @ self.kernel.T


@pytest.mark.parametrize("buggy_backward", [_no_activation_derivative, _scrambled_kernel_gradient])
def test_gradient_check_catches_a_buggy_backward(monkeypatch, buggy_backward):
    """The check must fail on a buggy backward pass: a test that cannot fail proves nothing."""
    x, y = toy_batch(3, 6)
    model = make_mlp()
    monkeypatch.setattr(Dense, "backward", buggy_backward)
    _, backprop = loss_and_backprop(model, x, y)
    with pytest.raises(AssertionError, match="relative error"):
        course.gradient_check(backprop[0], numerical_grads(model, x, y)[0], tol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 6),
    fan_in=st.integers(1, 5),
    hidden=st.integers(1, 6),
    activation=st.sampled_from(ACTIVATION_NAMES),
    seed=st.integers(0, 2**16),
)
def test_property_backprop_equals_finite_differences_for_any_shape(
    batch, fan_in, hidden, activation, seed
):
    x, y = toy_batch(seed, batch, fan_in)
    model = make_mlp(sizes=(hidden, 1), activation=activation, fan_in=fan_in, seed=seed)
    if activation == "relu":  # finite differences are undefined at ReLU's kink
        pre = x @ model.params[0] + model.params[1]
        if np.min(np.abs(pre)) < 1e-4:
            return
    _, backprop = loss_and_backprop(model, x, y)
    for g, g_num in zip(backprop, numerical_grads(model, x, y)):
        assert course.relative_error(g, g_num) < 1e-6


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 8), fan_in=st.integers(1, 6), units=st.integers(1, 6))
def test_property_shapes(batch, fan_in, units):
    layer = Dense(units, "relu")
    y = layer.forward(np.ones((batch, fan_in)))
    dx = layer.backward(np.ones_like(y))
    assert y.shape == (batch, units) and dx.shape == (batch, fan_in)
    assert [g.shape for g in layer.grads] == [(fan_in, units), (units,)]


# --- training -------------------------------------------------------------------------------


def test_sgd_step_updates_in_place():
    p, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    sgd_step([p], [g], learning_rate=0.1)
    np.testing.assert_allclose(p, [0.95, 2.1])


def test_training_on_moons_learns():
    from course.datasets import moons

    x, y = moons()
    np.random.seed(0)
    model = Sequential([Dense(16, "tanh"), Dense(16, "tanh"), Dense(1)])
    history = train(model, x, y, learning_rate=0.5, epochs=300)
    assert history[-1] < 0.5 * history[0]
    assert np.mean((model.forward(x) > 0) == y) > 0.9


# --- parity with Keras ------------------------------------------------------------------------

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def keras_mlp(sizes, activation, fan_in, dtype):
    layers = [keras.Input(shape=(fan_in,), dtype=dtype)]
    layers += [keras.layers.Dense(n, activation=activation, dtype=dtype) for n in sizes[:-1]]
    layers += [keras.layers.Dense(sizes[-1], dtype=dtype)]
    return keras.Sequential(layers)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_forward_matches_keras_float32(activation):
    model = make_mlp(activation=activation)
    km = keras_mlp((5, 4, 1), activation, 3, "float32")
    km.set_weights(model.get_weights())
    x = np.random.default_rng(5).normal(size=(32, 3))
    course.parity(model.forward(x), km(x.astype("float32")), tol=1e-6, label=activation)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_backprop_matches_gradient_tape_float64(activation):
    x, y = toy_batch(6, 8)
    model = make_mlp(activation=activation)
    loss, backprop = loss_and_backprop(model, x, y)
    km = keras_mlp((5, 4, 1), activation, 3, "float64")
    km.set_weights(model.get_weights())
    bce = keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64")
    with tf.GradientTape() as tape:
        keras_loss = bce(y, km(x))
    assert float(keras_loss) == pytest.approx(loss, abs=1e-12)
    for g, g_tape in zip(backprop, tape.gradient(keras_loss, km.trainable_weights)):
        course.parity(g, g_tape, tol=1e-12)


@settings(max_examples=10, deadline=None)
@given(
    batch=st.integers(1, 5),
    fan_in=st.integers(1, 4),
    hidden=st.integers(1, 5),
    seed=st.integers(0, 999),
)
def test_property_one_sgd_step_matches_keras(batch, fan_in, hidden, seed):
    x, y = toy_batch(seed, batch, fan_in)
    model = make_mlp(sizes=(hidden, 1), fan_in=fan_in, seed=seed)
    km = keras_mlp((hidden, 1), "tanh", fan_in, "float64")
    km.set_weights(model.get_weights())
    bce = keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64")
    with tf.GradientTape() as tape:
        keras_loss = bce(y, km(x))
    # Keras keeps the learning rate in a float32 variable: 0.5 is exact there, 0.1 is not.
    keras.optimizers.SGD(learning_rate=0.5).apply_gradients(
        zip(tape.gradient(keras_loss, km.trainable_weights), km.trainable_weights)
    )
    _, grads = loss_and_backprop(model, x, y)
    sgd_step(model.params, grads, learning_rate=0.5)
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        course.parity(ours, theirs, tol=1e-12)


# --- the layer protocol: any scratchnn layer in a Sequential, loaded from and trained like Keras


def _protocol_models(rate):
    """The same five-layer model in scratchnn and in Keras (float64), Keras's weights in both."""
    import keras

    from scratchnn.activations import Activation
    from scratchnn.dropout import Dropout
    from scratchnn.normalization import BatchNormalization

    keras.utils.set_random_seed(3)
    theirs = keras.Sequential(
        [
            keras.Input((5,), dtype="float64"),
            keras.layers.Dense(8, activation="tanh", dtype="float64"),
            keras.layers.BatchNormalization(dtype="float64"),
            keras.layers.Activation("relu", dtype="float64"),
            keras.layers.Dropout(rate, dtype="float64"),
            keras.layers.Dense(3, dtype="float64"),
        ]
    )
    ours = Sequential(
        [
            Dense(8, activation="tanh"),
            BatchNormalization(),
            Activation("relu"),
            Dropout(rate),
            Dense(3),
        ]
    )
    weights = theirs.get_weights()
    rng = np.random.default_rng(4)  # non-trivial BN statistics, so that loading them matters
    weights[2:6] = [
        rng.uniform(0.5, 2, 8),
        rng.normal(size=8),
        rng.normal(size=8),
        rng.uniform(0.5, 2, 8),
    ]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def test_sequential_of_any_layers_loads_keras_weights_and_agrees_in_inference():
    ours, theirs = _protocol_models(rate=0.5)
    assert ours.build((None, 5)) == (None, 3)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the same arrays in Keras's order, BN stats included
    x = np.random.default_rng(5).normal(size=(16, 5))
    course.parity(
        ours.forward(x),
        theirs(x, training=False).numpy(),
        tol=1e-10,
        label="Sequential inference vs Keras",
    )
    names = [layer["class_name"] for layer in ours.get_config()["layers"]]
    assert names == ["Dense", "BatchNormalization", "Activation", "Dropout", "Dense"]


def test_sequential_of_any_layers_trains_one_epoch_like_keras_fit():
    import keras

    from scratchnn.losses import SparseCategoricalCrossentropy
    from scratchnn.optimizers import SGD, fit

    ours, theirs = _protocol_models(rate=0.0)  # rate 0: Keras's dropout masks cannot be drawn here
    rng = np.random.default_rng(6)
    # Keras's fit hands NumPy inputs over as float32 and its learning rate is a float32
    # variable: inputs exact in float32, and 0.25 (0.1 is not exact: 1e-9 apart after 4 steps)
    x = rng.normal(size=(64, 5)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 3, size=64)
    theirs.compile(
        keras.optimizers.SGD(0.25),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
    )
    theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    fit(
        ours,
        x,
        y,
        SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
        SGD(0.25),
        epochs=1,
        batch_size=16,
        shuffle=False,  # Keras above runs the batches in order too
    )
    for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        course.parity(a, b, tol=1e-10, label=f"weight {i} after one epoch")  # BN stats included


def test_a_layer_reports_a_wrong_number_or_shape_of_weights():
    ours, theirs = _protocol_models(rate=0.5)
    weights = theirs.get_weights()
    with pytest.raises(ValueError, match="Sequential.set_weights: expected 8 arrays"):
        ours.set_weights(weights[:-1])
    weights[0] = weights[0].T
    with pytest.raises(
        ValueError, match=r"Dense.set_weights: array 0 should have shape \(5, 8\), got \(8, 5\)"
    ):
        ours.set_weights(weights)


def test_dense_takes_any_chapter_02_activation_or_a_pair():
    x = np.linspace(-2, 2, 12).reshape(4, 3)
    from scratchnn.activations import selu, selu_derivative

    np.random.seed(0)
    by_name = Dense(2, activation="selu")
    y = by_name.forward(x)
    by_pair = Dense(2, activation=(selu, selu_derivative))
    by_pair.set_weights(by_name.get_weights())
    np.testing.assert_array_equal(by_pair.forward(x), y)
    np.testing.assert_array_equal(
        by_pair.backward(np.ones_like(y)), by_name.backward(np.ones_like(y))
    )


def test_dense_takes_an_initializer_by_name_instance_or_function_in_float64():
    """Dense(kernel_initializer=…) as in Keras: a name chapter 01 defines, an initializer
    instance (asked for float64, not rounded through its float32 default), or a function."""
    from scratchnn.initializers import HeNormal

    shape = (6, 4)
    by_instance = Dense(4, kernel_initializer=HeNormal(seed=3))
    by_instance.build((None, 6))
    np.testing.assert_array_equal(by_instance.kernel, HeNormal(seed=3)(shape, dtype="float64"))
    assert by_instance.kernel.dtype == np.float64
    rounded = by_instance.kernel.astype(np.float32).astype(np.float64)
    assert np.abs(by_instance.kernel - rounded).max() > 0  # real float64 draws

    by_name = Dense(4, kernel_initializer="he_normal", bias_initializer="ones")
    by_name.build((None, 6))
    assert by_name.kernel.shape == shape and np.all(by_name.bias == 1.0)
    by_function = Dense(4, kernel_initializer=lambda s: np.full(s, 0.5))
    by_function.build((None, 6))
    assert np.all(by_function.kernel == 0.5)
    with pytest.raises(ValueError, match="unknown initializer 'he_nromal'"):
        Dense(4, kernel_initializer="he_nromal").build((None, 6))


def test_dense_takes_a_keras_initializer_in_float64():
    keras = pytest.importorskip("keras")
    layer = Dense(4, kernel_initializer=keras.initializers.GlorotNormal(seed=1))
    layer.build((None, 6))
    expected = keras.initializers.GlorotNormal(seed=1)((6, 4), dtype="float64")
    np.testing.assert_array_equal(layer.kernel, np.asarray(expected))


def test_set_weights_on_an_unbuilt_image_model_asks_for_the_input_shape():
    """A Conv2D kernel (kh, kw, c_in, filters) does not say the image size: the error says
    to build first instead of guessing a flat input from the kernel's first axis."""
    from scratchnn.convolution import Conv2D, Flatten

    weights = [np.zeros((3, 3, 1, 2)), np.zeros(2), np.zeros((32, 1)), np.zeros(1)]
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(1)])
    with pytest.raises(ValueError, match=r"build the model first.*\(3, 3, 1, 2\)"):
        model.set_weights(weights)
    model.build((None, 6, 6, 1))  # 4×4 maps after a valid 3×3 conv: 32 features
    model.set_weights(weights)
    assert model.layers[2].kernel.shape == (32, 1)
