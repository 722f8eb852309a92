"""Chapter 05: scratchnn.normalization against Keras.

BatchNormalization forward (training and inference, float32 and float64, several axes) and
moving statistics against keras.layers.BatchNormalization with injected weights; its backward
pass against tf.GradientTape and against finite differences; the clipping functions against
Keras optimizers built with clipvalue / clipnorm / global_clipnorm, and as fit callbacks
(GradientClipping, TerminateOnNaN) against Keras's fit; the chapter's deep network (a
Sequential of Dense, BatchNormalization and Activation layers) against a Keras model with
the same weights.

The tests at the end prove the checks have power: a forward pass with the unbiased variance,
a backward pass without the variance term, PyTorch's momentum convention, and a "global"
clip that clips each variable separately must each fail them.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import course
from course.datasets import digits_standardized as digits
from scratchnn import normalization as N

RNG = np.random.default_rng(5)
C = 6
WEIGHTS = [
    RNG.uniform(0.5, 2.0, C),
    RNG.normal(size=C),
    RNG.normal(size=C),
    RNG.uniform(0.5, 2.0, C),
]
TOL = {"float32": 1e-5, "float64": 1e-12}


def keras_bn(weights, dtype="float64", **kwargs):
    layer = keras.layers.BatchNormalization(dtype=dtype, **kwargs)
    layer.build((None, weights[0].shape[0]))
    layer.set_weights(weights)
    return layer


def ours_bn(weights, cls=N.BatchNormalization, **kwargs):
    layer = cls(**kwargs)
    layer.set_weights(weights)
    return layer


# ---------------------------------------------------------------------------------------
# The checks. Each raises AssertionError (from course.parity / gradient_check) on failure.


def check_forward(cls, dtype, training, weights=WEIGHTS):
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(64, C)).astype(dtype)
    course.parity(
        ours_bn(weights, cls).forward(x, training=training),
        keras_bn(weights, dtype)(x, training=training),
        TOL[dtype],
        f"{dtype} forward",
    )


def check_moving_statistics(cls, dtype="float64", calls=5):
    ours, theirs = ours_bn(WEIGHTS, cls), keras_bn(WEIGHTS, dtype)
    r = np.random.default_rng(2)
    for step in range(calls):
        x = r.normal(2.0 + step, 3.0, size=(32, C)).astype(dtype)
        ours.forward(x, training=True)
        theirs(x, training=True)
    course.parity(ours.moving_mean, theirs.moving_mean, TOL[dtype], "moving mean")
    course.parity(ours.moving_variance, theirs.moving_variance, TOL[dtype], "moving variance")


def check_backward_against_tape(cls, training):
    r = np.random.default_rng(3)
    x, g = r.normal(2.0, 3.0, size=(32, C)), r.normal(size=(32, C))
    ours, theirs = ours_bn(WEIGHTS, cls), keras_bn(WEIGHTS)
    ours.forward(x, training=training)
    dx = ours.backward(g)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(theirs(xt, training=training) * g)
    dx_k, dgamma_k, dbeta_k = tape.gradient(loss, [xt, theirs.gamma, theirs.beta])
    course.parity(dx, dx_k, 1e-12, "dL/dx")
    course.parity(ours.grads[0], dgamma_k, 1e-12, "dL/dgamma")
    course.parity(ours.grads[1], dbeta_k, 1e-12, "dL/dbeta")


def check_gradient(cls, shape=(8, 3), axis=-1, tol=1e-8):
    r = np.random.default_rng(4)
    x, g = r.normal(1.0, 2.0, size=shape), r.normal(size=shape)
    c = shape[axis]
    layer = ours_bn(
        [r.uniform(0.5, 2, c), r.normal(size=c), np.zeros(c), np.ones(c)], cls, axis=axis
    )

    def loss():
        return float(np.sum(layer.forward(x, training=True) * g))

    loss()
    dx = layer.backward(g)
    analytic = np.concatenate([dx.ravel(), *layer.grads])
    num_dx = course.numerical_gradient(
        lambda v: float(np.sum(layer.forward(v, training=True) * g)), x.copy()
    )
    nums = []
    for name in ["gamma", "beta"]:

        def f(v, name=name):
            setattr(layer, name, v)
            return loss()

        nums.append(course.numerical_gradient(f, getattr(layer, name).copy()))
    course.gradient_check(analytic, np.concatenate([num_dx.ravel(), *nums]), tol, "BN backward")


def keras_update(grads, **clip):
    """One SGD(learning_rate=1) step from zero weights: the update is minus the clipped gradient."""
    variables = [keras.Variable(np.zeros_like(g, dtype="float32")) for g in grads]
    keras.optimizers.SGD(learning_rate=1.0, **clip).apply_gradients(
        zip([tf.constant(g, dtype="float32") for g in grads], variables)
    )
    return [-v.numpy() for v in variables]


def check_clipping(fn, option, value, grads):
    ours = fn(grads, value)
    theirs = keras_update(grads, **{option: value})
    course.parity(
        np.concatenate([o.ravel() for o in ours]),
        np.concatenate([t.ravel() for t in theirs]),
        1e-6,
        option,
    )


def clip_grads():
    r = np.random.default_rng(6)
    return [r.normal(size=(20, 10)) * 3.0, r.normal(size=10) * 0.1, r.normal(size=(10, 1)) * 10.0]


CLIPPERS = [
    (N.clip_by_value, "clipvalue", 0.5),
    (N.clip_by_norm, "clipnorm", 2.0),
    (N.clip_by_global_norm, "global_clipnorm", 2.0),
]


# ---------------------------------------------------------------------------------------
# BatchNormalization against Keras


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_keras(dtype, training):
    check_forward(N.BatchNormalization, dtype, training)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_output_keeps_the_input_dtype(dtype):
    x = RNG.normal(size=(8, C)).astype(dtype)
    assert ours_bn(WEIGHTS).forward(x, training=True).dtype == dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_moving_statistics_match_keras_after_several_calls(dtype):
    check_moving_statistics(N.BatchNormalization, dtype)


def test_inference_does_not_touch_the_moving_statistics():
    layer = ours_bn(WEIGHTS)
    layer.forward(RNG.normal(size=(16, C)), training=False)
    np.testing.assert_array_equal(layer.moving_mean, WEIGHTS[2])
    np.testing.assert_array_equal(layer.moving_variance, WEIGHTS[3])


def test_defaults_match_keras():
    ours, theirs = N.BatchNormalization(), keras.layers.BatchNormalization()
    assert (ours.axis, ours.momentum, ours.epsilon, ours.center, ours.scale) == (
        theirs.axis,
        theirs.momentum,
        theirs.epsilon,
        theirs.center,
        theirs.scale,
    )
    theirs.build((None, 3))
    ours.build((1, 3))
    for name in ["gamma", "beta", "moving_mean", "moving_variance"]:
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name).numpy())


@pytest.mark.parametrize("axis, shape", [(-1, (4, 5, 5, 3)), (1, (4, 5, 5, 3)), (1, (16, 4))])
@pytest.mark.parametrize("training", [True, False])
def test_other_axes_match_keras(axis, shape, training):
    x = RNG.normal(1.0, 2.0, size=shape)
    c = shape[axis]
    w = [RNG.uniform(0.5, 2, c), RNG.normal(size=c), RNG.normal(size=c), RNG.uniform(0.5, 2, c)]
    theirs = keras.layers.BatchNormalization(axis=axis, dtype="float64")
    theirs.build(shape)
    theirs.set_weights(w)
    course.parity(
        ours_bn(w, axis=axis).forward(x, training=training), theirs(x, training=training), 1e-12
    )


@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
def test_center_and_scale_flags_match_keras(center, scale):
    x = RNG.normal(1.0, 2.0, size=(16, C))
    w = ([WEIGHTS[0]] if scale else []) + ([WEIGHTS[1]] if center else []) + WEIGHTS[2:]
    ours = ours_bn(w, center=center, scale=scale)
    theirs = keras.layers.BatchNormalization(center=center, scale=scale, dtype="float64")
    theirs.build((None, C))
    theirs.set_weights(w)
    course.parity(ours.forward(x, training=True), theirs(x, training=True), 1e-12)
    assert len(ours.params) == len(theirs.trainable_weights)
    ours.backward(np.ones_like(x))
    assert len(ours.grads) == len(theirs.trainable_weights)


@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_gradient_tape(training):
    check_backward_against_tape(N.BatchNormalization, training)


@pytest.mark.parametrize("shape, axis", [((8, 3), -1), ((4, 3, 3, 2), -1), ((5, 3, 2), 1)])
def test_backward_passes_the_gradient_check(shape, axis):
    check_gradient(N.BatchNormalization, shape, axis)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.float64, st.tuples(st.integers(2, 20), st.integers(1, 5)), elements=st.floats(-1e3, 1e3)
    )
)
def test_training_output_is_normalised_per_feature(x):
    y = N.BatchNormalization().forward(x, training=True)
    var = x.var(axis=0)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=0), var / (var + 1e-3), atol=1e-9)


# ---------------------------------------------------------------------------------------
# Clear errors for bad input


def test_wrong_feature_count_names_both_shapes():
    layer = ours_bn(WEIGHTS)
    with pytest.raises(ValueError, match=r"built for 6 features.*\(4, 5\)"):
        layer.forward(np.zeros((4, 5)))


def test_one_dimensional_input_is_rejected():
    with pytest.raises(ValueError, match=r"at least 2-D.*\(5,\)"):
        N.BatchNormalization().forward(np.zeros(5))


def test_backward_checks_the_gradient_shape_and_order():
    layer = ours_bn(WEIGHTS)
    with pytest.raises(RuntimeError, match="forward before backward"):
        layer.backward(np.zeros((4, C)))
    layer.forward(np.zeros((4, C)), training=True)
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(3, 6\)"):
        layer.backward(np.zeros((3, C)))


def test_set_weights_checks_count_and_shapes():
    with pytest.raises(ValueError, match="expects 4 arrays"):
        ours_bn(WEIGHTS[:3])
    with pytest.raises(ValueError, match=r"moving_variance must have shape \(6,\), got \(5,\)"):
        ours_bn(WEIGHTS[:3] + [np.ones(5)])


@pytest.mark.parametrize("kwargs", [dict(momentum=1.5), dict(epsilon=0.0)])
def test_bad_hyperparameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        N.BatchNormalization(**kwargs)


# ---------------------------------------------------------------------------------------
# Clipping against Keras optimizers


@pytest.mark.parametrize("fn, option, value", CLIPPERS, ids=[c[1] for c in CLIPPERS])
def test_clipping_matches_keras_optimizer(fn, option, value):
    check_clipping(fn, option, value, clip_grads())


@pytest.mark.parametrize("fn, option, value", CLIPPERS, ids=[c[1] for c in CLIPPERS])
def test_clip_gradients_dispatches_like_keras(fn, option, value):
    grads = clip_grads()
    for a, b in zip(N.clip_gradients(grads, **{option: value}), fn(grads, value)):
        np.testing.assert_array_equal(a, b)


def test_only_one_clipping_option_like_keras():
    with pytest.raises(ValueError, match="Only one of"):
        keras.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="only one of"):
        N.clip_gradients(clip_grads(), clipnorm=1.0, global_clipnorm=1.0)


def test_small_gradients_are_unchanged_and_zero_gradients_stay_zero():
    grads = [np.array([0.3, -0.4]), np.zeros((2, 2))]
    for fn, option, _ in CLIPPERS:
        check_clipping(fn, option, 1.0, grads)
        for a, b in zip(fn(grads, 1.0), grads):
            np.testing.assert_array_equal(a, b)


def test_non_finite_global_norm_gives_nan_like_keras():
    grads = [np.array([np.inf, 1.0]), np.array([2.0])]
    theirs = keras_update(grads, global_clipnorm=1.0)
    ours = N.clip_by_global_norm(grads, 1.0)
    assert all(np.isnan(t).all() for t in theirs)
    assert all(np.isnan(o).all() for o in ours)


def test_clipping_rejects_a_single_array_and_bad_thresholds():
    with pytest.raises(TypeError, match="list of gradient arrays"):
        N.clip_by_global_norm(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="clipnorm must be > 0"):
        N.clip_by_norm([np.ones(3)], 0.0)


# ---------------------------------------------------------------------------------------
# The chapter's deep network (a Sequential of the layer protocol) against Keras


def initializer(name, seed):
    """Our initializer for one of the chapter's labels, seeded, drawing in float64."""
    from functools import partial

    from scratchnn import initializers as I

    make = {
        "Glorot uniform": I.GlorotUniform,
        "He normal": I.HeNormal,
        "LeCun normal": I.LecunNormal,
        "N(0, 1)": lambda seed: I.RandomNormal(stddev=1.0, seed=seed),
    }[name]
    return partial(make(seed=seed), dtype="float64")


def deep_mlp(depth, width, init, activation, batch_norm=False, seed=0):
    """The chapter's network: 64 → depth × [Dense (→ BN) → Activation] → Dense(10), logits."""
    from scratchnn.activations import Activation
    from scratchnn.foundations import Dense, Sequential

    layers = []
    for i in range(depth):
        layers.append(Dense(width, kernel_initializer=initializer(init, seed * 1000 + i)))
        if batch_norm:
            layers.append(N.BatchNormalization())
        layers.append(Activation(activation))
    layers.append(Dense(10, kernel_initializer=initializer("Glorot uniform", seed * 1000 + 999)))
    model = Sequential(layers)
    model.build((None, 64))
    return model


def keras_twin(model):
    """The same architecture in Keras, layer by layer, float64, with our weights loaded."""
    from scratchnn.foundations import Dense

    layers = [keras.Input((64,), dtype="float64")]
    for layer in model.layers:
        if isinstance(layer, Dense):
            layers.append(keras.layers.Dense(layer.units, dtype="float64"))
        elif isinstance(layer, N.BatchNormalization):
            layers.append(keras.layers.BatchNormalization(dtype="float64"))
        else:
            layers.append(keras.layers.Activation(layer.activation, dtype="float64"))
    twin = keras.Sequential(layers)
    twin.set_weights(model.get_weights())
    return twin


def loss_and_grads(model, X, y):
    from scratchnn.losses import SparseCategoricalCrossentropy

    loss_fn = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    logits = model.forward(X, training=True)
    model.backward(loss_fn.gradient(y, logits))
    return float(loss_fn(y, logits)), model.grads


def first_kernel_gradient_norms(depth, init, activation, batch_norm=False):
    """‖∂L/∂W‖ of every Dense kernel of a fresh width-64 network on 256 digits."""
    from scratchnn.foundations import Dense

    X, y = digits(256)
    model = deep_mlp(depth, 64, init, activation, batch_norm)
    loss_and_grads(model, X, y)
    return [np.linalg.norm(layer.grads[0]) for layer in model.layers if isinstance(layer, Dense)]


@pytest.mark.parametrize(
    "init, activation, batch_norm",
    [
        ("Glorot uniform", "sigmoid", False),
        ("He normal", "relu", False),
        ("LeCun normal", "selu", False),
        ("Glorot uniform", "tanh", True),
        ("N(0, 1)", "relu", False),
    ],
)
def test_per_layer_gradients_match_gradient_tape(init, activation, batch_norm):
    X, y = digits(128)
    net = deep_mlp(8, 32, init, activation, batch_norm)
    model = keras_twin(net)  # before our pass: a training-mode pass moves BN's statistics
    loss, grads = loss_and_grads(net, X, y)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    with tf.GradientTape() as tape:
        loss_k = loss_fn(y, model(X, training=True))
    grads_k = [g.numpy() for g in tape.gradient(loss_k, model.trainable_weights)]
    assert abs(loss - float(loss_k)) <= 1e-10 * max(1.0, abs(loss))
    assert len(grads) == len(grads_k)
    for i, (a, b) in enumerate(zip(grads, grads_k)):
        assert a.shape == b.shape, i
        if batch_norm and i % 4 == 1 and i < len(grads) - 2:  # Dense bias before BN: exactly 0
            assert np.abs(a).max() < 1e-12 and np.abs(b).max() < 1e-12, i
        else:
            assert course.relative_error(a, b) <= 1e-10, (i, course.relative_error(a, b))


def test_gradient_norms_show_the_chapters_findings():
    sigmoid = first_kernel_gradient_norms(15, "Glorot uniform", "sigmoid")
    with_bn = first_kernel_gradient_norms(15, "Glorot uniform", "sigmoid", batch_norm=True)
    assert sigmoid[0] / sigmoid[14] < 1e-6  # vanishes with depth
    assert 0.1 < with_bn[0] / with_bn[14] < 10  # batch normalization keeps it
    assert first_kernel_gradient_norms(15, "N(0, 1)", "relu")[0] > 1e6  # explodes


def test_deep_mlp_rejects_bad_input():
    net = deep_mlp(2, 8, "He normal", "relu")
    with pytest.raises(ValueError, match=r"64.*\(5, 3\)|\(5, 3\).*64"):
        net.forward(np.zeros((5, 3)))


# ---------------------------------------------------------------------------------------
# Gradient clipping and TerminateOnNaN as fit callbacks


def _digits_fit(callbacks, optimizer, epochs=1, X=None, **kwargs):
    """fit a depth-3, width-16 ReLU network on 320 digits, batches of 32, shuffle seed 3."""
    from scratchnn.losses import SparseCategoricalCrossentropy
    from scratchnn.optimizers import fit

    X_digits, y = digits(320)
    model = deep_mlp(3, 16, "He normal", "relu")
    initial = model.get_weights()
    loss_fn = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    history = fit(
        model,
        X_digits if X is None else X,
        y,
        loss_fn,
        optimizer,
        epochs=epochs,
        batch_size=32,
        callbacks=callbacks,
        seed=3,
        **kwargs,
    )
    return model, initial, history


def _keras_fit(initial, optimizer):
    """The Keras twin of _digits_fit's network, trained on fit's first-epoch order."""
    X, y = digits(320)
    order = np.random.default_rng(3).permutation(len(X))
    twin = keras_twin(deep_mlp(3, 16, "He normal", "relu"))
    twin.set_weights(initial)
    twin.compile(
        optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    )
    twin.fit(X[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0)
    return twin.get_weights()


def _largest_difference(a, b):
    return max(np.abs(x - y).max() for x, y in zip(a, b))


# Keras holds the learning rate and momentum in float32 variables (0.1 in float32 is not 0.1
# in float64), so they are powers of two. Ten momentum steps through ReLUs amplify the
# round-off of TensorFlow's and NumPy's different summation orders to about 1e-9 even without
# clipping, hence 1e-8; a run without the clipping lands 1e-3 or more away.
@pytest.mark.parametrize(
    "option", [{"clipvalue": 2**-5}, {"clipnorm": 0.5}, {"global_clipnorm": 0.5}]
)
def test_gradient_clipping_callback_trains_like_a_keras_optimizer_with_the_option(option):
    from scratchnn.optimizers import SGD

    clipping = N.GradientClipping(**option)
    ours, initial, _ = _digits_fit([clipping], SGD(2**-6, momentum=0.5))
    unclipped, _, _ = _digits_fit([], SGD(2**-6, momentum=0.5))
    theirs = _keras_fit(initial, keras.optimizers.SGD(2**-6, momentum=0.5, **option))
    assert clipping.steps == 10 and clipping.clipped_steps > 0
    assert _largest_difference(ours.get_weights(), theirs) <= 1e-8
    assert _largest_difference(unclipped.get_weights(), theirs) > 1e-3


def test_gradient_clipping_callback_counts_only_the_steps_it_changes():
    from scratchnn.optimizers import SGD

    generous = N.GradientClipping(global_clipnorm=1e6)
    _digits_fit([generous], SGD(0.01))
    assert (generous.steps, generous.clipped_steps) == (10, 0)
    with pytest.raises(ValueError):
        N.GradientClipping(clipnorm=1.0, clipvalue=1.0)


def test_terminate_on_nan_stops_fit_after_the_first_non_finite_batch():
    from scratchnn.optimizers import SGD, Callback

    class Losses(Callback):
        def on_train_begin(self, model):
            self.seen = []

        def on_batch_end(self, model, logs):
            self.seen.append(logs["loss"])

    X, _ = digits(320)
    X = X.copy()
    X[100, 0] = np.nan  # row 100: the 4th batch of 32
    losses = Losses()
    with np.errstate(invalid="ignore"):
        history = _digits_fit([losses, N.TerminateOnNaN()], SGD(0.01), epochs=3, X=X, shuffle=False)
    assert len(losses.seen) == 4 and np.isnan(losses.seen[-1])
    assert np.all(np.isfinite(losses.seen[:3])) and len(history[2]["loss"]) == 1
    # without the callback fit runs all 3 epochs of 10 batches
    losses_without = Losses()
    with np.errstate(invalid="ignore"):
        _digits_fit([losses_without], SGD(0.01), epochs=3, X=X, shuffle=False)
    assert len(losses_without.seen) == 30


# ---------------------------------------------------------------------------------------
# The checks have power: each deliberate mistake fails the check that guards it.


class UnbiasedVariance(N.BatchNormalization):
    """Normalises with the unbiased variance (÷ N − 1), like PyTorch's *running* estimate."""

    def _moments(self, x, reduce):
        mean, var = super()._moments(x, reduce)
        n = x.size // x.shape[self.axis]
        return mean, var * n / (n - 1)


class NoVarianceTerm(N.BatchNormalization):
    """Backward pass that forgets the path through the variance (keeps only the mean's)."""

    def backward(self, grad):
        x_hat, inv_std, gamma, reduce, _ = self._cache
        b = self._bshape
        g_hat = grad * gamma.reshape(b)
        self.grads = [np.sum(grad * x_hat, axis=reduce), np.sum(grad, axis=reduce)]
        return inv_std.reshape(b) * (g_hat - g_hat.mean(axis=reduce).reshape(b))


class TorchMomentum(N.BatchNormalization):
    """PyTorch's update rule (momentum = weight of the new value) with Keras's momentum 0.99."""

    def _update_moving(self, mean, var):
        m = self.momentum
        self.moving_mean = (1 - m) * self.moving_mean + m * mean
        self.moving_variance = (1 - m) * self.moving_variance + m * var


def clip_each_by_global_threshold(grads, global_clipnorm):
    """The mistake: treat global_clipnorm as a per-variable threshold (that is clipnorm)."""
    return N.clip_by_norm(grads, global_clipnorm)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unbiased_variance_fails_the_forward_check(dtype):
    with pytest.raises(AssertionError, match=rf"{dtype} forward: max \|Δ\|"):
        check_forward(UnbiasedVariance, dtype, training=True)
    check_forward(
        UnbiasedVariance, dtype, training=False
    )  # inference does not use the batch variance


def test_dropping_the_variance_term_fails_the_gradient_check_and_the_tape():
    with pytest.raises(AssertionError, match="BN backward: relative error"):
        check_gradient(NoVarianceTerm)
    with pytest.raises(AssertionError, match=r"dL/dx: max \|Δ\|"):
        check_backward_against_tape(NoVarianceTerm, training=True)


def test_pytorch_momentum_convention_fails_the_moving_statistics_check():
    with pytest.raises(AssertionError, match=r"moving mean: max \|Δ\|"):
        check_moving_statistics(TorchMomentum)


def test_clipping_each_variable_by_the_global_norm_fails_the_keras_check():
    with pytest.raises(AssertionError, match=r"global_clipnorm: max \|Δ\|"):
        check_clipping(clip_each_by_global_threshold, "global_clipnorm", 2.0, clip_grads())
