"""Chapter 06: scratchnn.regularizers against keras.regularizers, keras.constraints.MaxNorm and
keras.callbacks.EarlyStopping.

- L1/L2/L1L2 penalties equal Keras's (float64 and float32 arrays) and their gradients equal
  tf.GradientTape's and finite differences; activity penalties are divided by the batch size.
- MaxNorm equals Keras's for Dense and Conv kernels (axis 0, 1, [0, 1, 2]), zero columns included.
- EarlyStopping makes the same decisions as Keras's callback (driven through on_epoch_end with a
  stub model) on fixed and random curves, every argument exercised, restore-at-end included.
- ``fit`` reports the same loss history (loss + penalty), val_loss (with penalty) and final
  weights as ``model.fit`` with regularizers and a constraint.
- The checks catch the named mistakes (a ½ in L2, a gradient missing the 2, MaxNorm on the wrong
  axis, an off-by-one patience): see the tests whose names start with ``test_catches_``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course import gradient_check, numerical_gradient, parity
from course.datasets import noisy_moons as moons
from scratchnn import regularizers as R
from scratchnn.foundations import Dense, Sequential
from scratchnn.losses import MeanSquaredError
from scratchnn.optimizers import SGD

RNG = np.random.default_rng(6)
W = RNG.normal(size=(7, 5))

PENALTIES = {
    "L1": (lambda: R.L1(0.01), lambda: keras.regularizers.L1(0.01)),
    "L2": (lambda: R.L2(0.01), lambda: keras.regularizers.L2(0.01)),
    "L1L2": (lambda: R.L1L2(0.003, 0.02), lambda: keras.regularizers.L1L2(0.003, 0.02)),
    "L2_exact": (lambda: R.L2(2**-7), lambda: keras.regularizers.L2(2**-7)),
    "L1L2_only_l2": (lambda: R.L1L2(l2=0.5), lambda: keras.regularizers.L1L2(l2=0.5)),
}


def keras_gradient(regularizer, w):
    v = tf.Variable(w)
    with tf.GradientTape() as tape:
        penalty = regularizer(v)
    return tape.gradient(penalty, v).numpy()


# ------------------------------------------------------------------ penalties


@pytest.mark.parametrize("name", PENALTIES)
@pytest.mark.parametrize("shape", [(7, 5), (3,), (2, 3, 4)])
def test_penalty_and_gradient_match_keras(name, shape):
    ours, theirs = PENALTIES[name][0](), PENALTIES[name][1]()
    w = RNG.normal(size=shape)
    # Keras casts the factor through float32: relative 3e-8 of the penalty.
    parity(ours(w), theirs(tf.constant(w)), 1e-7 * max(1.0, abs(float(ours(w)))), f"{name} penalty")
    parity(ours.gradient(w), keras_gradient(theirs, w), 1e-8, f"{name} gradient vs GradientTape")


def test_exact_factor_is_exact_and_float32_stays_float32():
    parity(R.L2(2**-7)(W), keras.regularizers.L2(2**-7)(tf.constant(W)), 1e-13, "exact factor")
    w32 = W.astype(np.float32)
    assert R.L2(0.01)(w32).dtype == np.float32 and R.L2(0.01).gradient(w32).dtype == np.float32
    parity(
        R.L1L2(0.01, 0.01)(w32),
        keras.regularizers.L1L2(0.01, 0.01)(tf.constant(w32)),
        1e-5,
        "float32",
    )


@pytest.mark.parametrize("name", ["L1", "L2", "L1L2"])
def test_gradient_check(name):
    reg = PENALTIES[name][0]()
    numeric = numerical_gradient(lambda w: float(reg(w.reshape(W.shape))), W.ravel().copy())
    gradient_check(reg.gradient(W).ravel(), numeric, 1e-7, name)


def test_keras_factor_no_half_no_mean():
    w = np.array([[1.0, -2.0], [3.0, 0.0]])
    assert R.L2(0.01)(w) == pytest.approx(0.01 * 14)
    assert R.L1(0.01)(w) == pytest.approx(0.01 * 6)
    np.testing.assert_allclose(R.L2(0.5).gradient(w), w)  # 2·0.5·w
    np.testing.assert_array_equal(R.L1(1.0).gradient(w), [[1, -1], [1, 0]])  # sign(0) = 0


def test_defaults_and_configs_match_keras():
    for ours, theirs in [
        (R.L1(), keras.regularizers.L1()),
        (R.L2(), keras.regularizers.L2()),
        (R.L1L2(), keras.regularizers.L1L2()),
    ]:
        a, b = ours.get_config(), theirs.get_config()
        assert a.keys() == b.keys() and np.allclose(list(a.values()), list(b.values()), rtol=1e-7)
    assert R.MaxNorm().get_config() == {"max_value": 2.0, "axis": 0}
    k = keras.callbacks.EarlyStopping()
    o = R.EarlyStopping()
    for attr in [
        "monitor",
        "patience",
        "min_delta",
        "baseline",
        "restore_best_weights",
        "start_from_epoch",
    ]:
        assert getattr(o, attr) == getattr(k, attr), attr


def test_get_by_name():
    assert R.get("l2").l2 == 0.01 and R.get("l1").l1 == 0.01
    assert (R.get("l1_l2").l1, R.get("l1_l2").l2) == (0.01, 0.01)
    assert R.get(None) is None
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        R.get("l3")


def test_activity_penalty_is_divided_by_batch_size():
    x = RNG.normal(size=(12, 4))
    layer = keras.layers.Dense(
        3,
        activation="tanh",
        dtype="float64",
        activity_regularizer=keras.regularizers.L1L2(0.1, 0.2),
    )
    out = layer(x)
    penalty, grad = R.activity_penalty(R.L1L2(0.1, 0.2), out.numpy())
    parity(
        penalty,
        float(sum(layer.losses)),
        1e-7,
        "activity penalty (factors rounded through float32)",
    )
    assert grad.shape == out.shape


# ------------------------------------------------------------------ max-norm


@pytest.mark.parametrize(
    "shape, axis", [((16, 6), 0), ((16, 6), 1), ((3, 3, 4, 5), [0, 1, 2]), ((9,), 0)]
)
@pytest.mark.parametrize("max_value", [0.5, 2, 4.0])
def test_max_norm_matches_keras(shape, axis, max_value):
    w = RNG.normal(0, 0.8, size=shape)
    expected = keras.constraints.MaxNorm(max_value, axis=axis)(tf.constant(w)).numpy()
    parity(R.MaxNorm(max_value, axis=axis)(w), expected, 1e-12, f"MaxNorm{shape} axis={axis}")


def test_max_norm_zero_column_and_bound():
    w = RNG.normal(0, 2.0, size=(10, 4))
    w[:, 2] = 0.0
    out = R.MaxNorm(3.0)(w)
    parity(out, keras.constraints.MaxNorm(3.0)(tf.constant(w)).numpy(), 1e-12, "zero column")
    assert np.all(out[:, 2] == 0) and np.all(np.linalg.norm(out, axis=0) <= 3.0)


# ------------------------------------------------------------------ early stopping


class StubModel:
    def __init__(self):
        self.stop_training, self.epoch, self.restored = False, 0, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def keras_decisions(values, monitor="val_loss", **kwargs):
    callback, model = keras.callbacks.EarlyStopping(monitor=monitor, **kwargs), StubModel()
    callback.set_model(model)
    callback.on_train_begin()
    epoch = -1
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch + 1, callback.stopped_epoch, callback.best_epoch, model.restored


def our_decisions(values, cls=R.EarlyStopping, **kwargs):
    r = cls(**kwargs).run(values, weights=[np.array(e) for e in range(len(values))])
    return (
        r["epochs_run"],
        r["stopped_epoch"],
        r["best_epoch"],
        None if r["restored"] is None else int(r["restored"]),
    )


def assert_same_decisions(values, cls=R.EarlyStopping, **kwargs):
    ours, theirs = our_decisions(values, cls, **kwargs), keras_decisions(values, **kwargs)
    assert ours == theirs, (
        f"EarlyStopping({kwargs}) on {np.round(values, 3).tolist()}: ours "
        f"(epochs run, stopped, best, restored) = {ours}, Keras {theirs}"
    )


SETTINGS = [
    {},
    {"patience": 1},
    {"patience": 2},
    {"patience": 3, "min_delta": 0.01},
    {"patience": 2, "restore_best_weights": True},
    {"patience": 2, "baseline": 0.5},
    {"patience": 1, "baseline": 0.3, "restore_best_weights": True},
    {"patience": 2, "start_from_epoch": 4},
    {"patience": 1, "start_from_epoch": 2, "restore_best_weights": True},
    {"patience": 100, "restore_best_weights": True},
    {"patience": 0, "min_delta": -0.02},
]
CURVES = [
    [1.0, 0.8, 0.7, 0.72, 0.71, 0.69, 0.75, 0.8, 0.9, 1.0],
    [1.0] * 6,
    [0.9, 1.0, 1.1, 1.2, 0.5, 0.6, 0.7],
    [0.5, 0.4, 0.399, 0.3985, 0.398, 0.45],
    [3.0],
]
RANDOM = [
    list(np.round(np.cumsum(np.random.default_rng(s).normal(-0.02, 0.05, 15)) + 1, 3))
    for s in range(12)
]


@pytest.mark.parametrize("kwargs", SETTINGS, ids=str)
def test_early_stopping_matches_keras(kwargs):
    for values in CURVES + RANDOM:
        assert_same_decisions(values, **kwargs)


def test_early_stopping_mode_max_and_auto_accuracy():
    values = [0.5, 0.6, 0.65, 0.64, 0.66, 0.6, 0.61]
    for kwargs in [
        {"mode": "max"},
        {"mode": "max", "patience": 1},
        {"mode": "max", "min_delta": 0.02, "patience": 1},
    ]:
        assert_same_decisions(values, **kwargs)
    assert R.EarlyStopping(monitor="val_accuracy").minimize is False
    assert R.EarlyStopping(monitor="loss").minimize is True


def test_patience_zero_and_one_decide_alike():
    """wait is incremented before the comparison, so the first epoch without improvement reaches
    wait = 1 ≥ patience for both 0 and 1 (the ``epoch > 0`` guard covers epoch 0)."""
    for values in CURVES + RANDOM:
        assert (
            our_decisions(values, patience=0)
            == our_decisions(values, patience=1)
            == keras_decisions(values, patience=0)
        )


def test_restores_at_end_without_early_stop():
    run = R.EarlyStopping(patience=50, restore_best_weights=True).run(
        [3, 2, 1, 2, 3], weights=list(range(5))
    )
    assert run["stopped_epoch"] == 0 and run["epochs_run"] == 5 and run["restored"] == 2
    assert keras_decisions([3, 2, 1, 2, 3], patience=50, restore_best_weights=True)[3] == 2


def test_early_stopping_bad_input():
    with pytest.raises(ValueError, match="mode must be"):
        R.EarlyStopping(mode="maximum")
    with pytest.raises(ValueError, match="cannot tell whether"):
        R.EarlyStopping(monitor="val_f1")
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        R.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="3 monitored values but 2 weights"):
        R.EarlyStopping().run([1, 2, 3], weights=[0, 1])


# ------------------------------------------------------------------ fit vs model.fit


def small_problem():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 4))
    y = np.sin(x @ np.array([[1.0], [-2.0], [0.5], [1.5]]))
    np.random.seed(6)
    model = Sequential([Dense(8, activation="tanh"), Dense(1)])
    model.build((None, 4))
    model.layers[0].bias[:] = rng.normal(0, 0.1, 8)
    return x, y, model


def test_fit_matches_keras_with_penalties_constraint_and_validation():
    x, y, ours = small_problem()
    init = ours.get_weights()
    twin = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(
                8,
                activation="tanh",
                kernel_regularizer=keras.regularizers.L2(0.01),
                bias_regularizer=keras.regularizers.L1(0.01),
                kernel_constraint=keras.constraints.MaxNorm(0.5),
            ),
            keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02)),
        ]
    )
    twin.set_weights(init)
    twin.compile(keras.optimizers.SGD(0.125), "mean_squared_error")
    hist = twin.fit(
        x[:16],
        y[:16],
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        validation_data=(x[16:], y[16:]),
    ).history
    ours_hist = R.fit(
        ours,
        x[:16],
        y[:16],
        MeanSquaredError(dtype="float64"),
        SGD(0.125),
        epochs=3,
        batch_size=8,
        kernel_regularizer=[R.L2(0.01), R.L1L2(0.01, 0.02)],
        bias_regularizer=[R.L1(0.01), None],
        kernel_constraint=[R.MaxNorm(0.5), None],
        validation_data=(x[16:], y[16:]),
    )
    parity(ours_hist["loss"], hist["loss"], 1e-6, "loss history")
    parity(ours_hist["val_loss"], hist["val_loss"], 1e-6, "val_loss history (includes the penalty)")
    for a, b in zip(ours.get_weights(), twin.get_weights()):
        parity(a, b, 1e-6, "weights after fit")
    assert np.all(np.linalg.norm(ours.layers[0].kernel, axis=0) <= 0.5)


def test_fit_early_stopping_restores_best_weights():
    x, y, model = small_problem()
    stopper = R.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    hist = R.fit(
        model,
        x[:16],
        y[:16],
        MeanSquaredError(dtype="float64"),
        SGD(0.5),
        epochs=40,
        batch_size=16,
        validation_data=(x[16:], y[16:]),
        early_stopping=stopper,
    )
    assert len(hist["loss"]) == stopper.stopped_epoch + 1 or stopper.stopped_epoch == 0
    np.testing.assert_array_equal(model.get_weights()[0], stopper.best_weights[0])
    assert stopper.best_epoch == int(np.argmin(hist["val_loss"]))


def test_fit_bad_input():
    x, y, model = small_problem()
    with pytest.raises(ValueError, match="monitors 'val_loss', but fit records only"):
        R.fit(
            model,
            x,
            y,
            MeanSquaredError(dtype="float64"),
            SGD(),
            1,
            early_stopping=R.EarlyStopping(),
        )
    with pytest.raises(
        ValueError, match="kernel_regularizer: got 3 entries for a model with 2 layers"
    ):
        R.fit(
            model,
            x,
            y,
            MeanSquaredError(dtype="float64"),
            SGD(),
            1,
            kernel_regularizer=[None, None, None],
        )
    with pytest.raises(ValueError, match=r"got x \(24,\), y \(24, 1\)"):
        R.fit(model, x[:, 0], y, MeanSquaredError(dtype="float64"), SGD(), 1)


def test_regularizer_bad_input():
    with pytest.raises(ValueError, match="l2: expected a non-negative float, got -0.01"):
        R.L2(-0.01)
    with pytest.raises(ValueError, match="l1: expected a non-negative float"):
        R.L1(float("nan"))
    with pytest.raises(ValueError, match="empty array"):
        R.L2()(np.zeros((0, 3)))
    with pytest.raises(
        ValueError, match=r"MaxNorm\(axis=2\) does not fit weights of shape \(4, 3\)"
    ):
        R.MaxNorm(axis=2)(np.ones((4, 3)))


def test_prox_l1_gives_exact_zeros():
    w = np.array([-0.5, -0.01, 0.0, 0.005, 0.2])
    np.testing.assert_allclose(R.prox_l1(w, 0.01), [-0.49, 0.0, 0.0, 0.0, 0.19])


# -------------------------------------------------------------- the checks catch the named mistakes


class HalfL2(R.L2):
    """The textbook ½λ‖w‖² where Keras has λ‖w‖²."""

    def __call__(self, x):
        return 0.5 * super().__call__(x)


class L2GradientMissingTwo(R.L2):
    def gradient(self, x):
        return self.l2 * np.asarray(x)


class OffByOnePatience(R.EarlyStopping):
    """Stops one epoch late: ``wait > patience`` instead of ``wait >= patience``."""

    def on_epoch_end(self, epoch, value, weights=None):
        self.patience += 1
        try:
            return super().on_epoch_end(epoch, value, weights)
        finally:
            self.patience -= 1


def test_catches_half_factor_in_l2_penalty():
    with pytest.raises(AssertionError, match=r"L2 penalty: max \|Δ\|"):
        parity(HalfL2(0.01)(W), keras.regularizers.L2(0.01)(tf.constant(W)), 1e-7, "L2 penalty")


def test_catches_l2_gradient_missing_the_two():
    wrong = L2GradientMissingTwo(0.01)
    with pytest.raises(AssertionError, match="relative error"):
        numeric = numerical_gradient(lambda w: float(wrong(w.reshape(W.shape))), W.ravel().copy())
        gradient_check(wrong.gradient(W).ravel(), numeric, 1e-7, "L2 gradient")
    with pytest.raises(AssertionError, match=r"max \|Δ\|"):
        parity(
            wrong.gradient(W),
            keras_gradient(keras.regularizers.L2(0.01), W),
            1e-8,
            "L2 gradient vs tape",
        )


def test_catches_max_norm_on_the_wrong_axis():
    w = RNG.normal(0, 0.8, size=(16, 6))
    with pytest.raises(AssertionError, match=r"max \|Δ\|"):
        parity(
            R.MaxNorm(2.0, axis=1)(w),
            keras.constraints.MaxNorm(2.0)(tf.constant(w)).numpy(),
            1e-12,
            "MaxNorm",
        )


@pytest.mark.parametrize(
    "kwargs",
    [{"patience": 1}, {"patience": 2}, {"patience": 2, "restore_best_weights": True}],
    ids=str,
)
def test_catches_off_by_one_patience(kwargs):
    with pytest.raises(AssertionError, match="ours .* Keras"):
        assert_same_decisions(CURVES[0], OffByOnePatience, **kwargs)


# ------------------------------------------------------------------ the chapter's experiment


def test_short_max_norm_run_on_the_moons():
    """The chapter's set-up in small: a ReLU MLP on the noisy moons, trained full-batch by fit
    with MaxNorm(1) on every kernel; the constraint holds after training, no penalty is logged."""
    from scratchnn.losses import BinaryCrossentropy
    from scratchnn.optimizers import Adam

    x, y, xv, yv = moons(20, 20)
    np.random.seed(0)
    model = Sequential([Dense(16, activation="relu"), Dense(16, activation="relu"), Dense(1)])
    hist = R.fit(
        model,
        x,
        y,
        BinaryCrossentropy(from_logits=True, dtype="float64"),
        Adam(0.01),
        epochs=5,
        batch_size=len(x),
        validation_data=(xv, yv),
        kernel_constraint=R.MaxNorm(1.0),
    )
    assert hist["val_loss"].shape == (5,) and np.all(hist["penalty"] == 0)
    assert all(np.linalg.norm(layer.kernel, axis=0).max() <= 1.0 for layer in model.layers)


# ------------------------------------------------------------------ penalties in a custom loop


def _tape_setup(l2):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True))
    reg = None if l2 is None else keras.regularizers.L2(l2)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh", kernel_regularizer=reg),
            keras.layers.Dense(1, kernel_regularizer=reg),
        ]
    )
    return model, x, y


def _tape_loop(model, x, y, add_penalties, epochs=4, batch_size=4):
    optimizer = keras.optimizers.SGD(0.125)
    loss_fn = keras.losses.MeanSquaredError()
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
                if add_penalties:
                    loss = loss + sum(model.losses)
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return np.concatenate([w.ravel() for w in model.get_weights()])


def _fit(l2):
    model, x, y = _tape_setup(l2)
    model.compile(keras.optimizers.SGD(0.125), "mean_squared_error")
    model.fit(x, y, batch_size=4, epochs=4, shuffle=False, verbose=0)
    return np.concatenate([w.ravel() for w in model.get_weights()])


def test_custom_loop_drops_penalties_unless_added():
    """The chapter's §7 claim: loss_fn(y, model(x)) in a GradientTape loop trains the
    unregularized network; adding sum(model.losses) gives fit's weights."""
    with_l2, without = _fit(0.05), _fit(None)
    model, x, y = _tape_setup(0.05)
    parity(_tape_loop(model, x, y, add_penalties=False), without, 1e-6, "loop without losses")
    model, x, y = _tape_setup(0.05)
    fixed = _tape_loop(model, x, y, add_penalties=True)
    parity(fixed, with_l2, 1e-6, "loop + sum(model.losses) vs fit")
    with pytest.raises(AssertionError):  # the check can fail: the two trainings differ
        parity(fixed, without, 1e-6, "regularized vs not")


# ------------------------------------------------------------------ the explorer's static twin


def test_explorer_grid_one_column_per_setting():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.explorers.ch06 import plot_explorer_grid

    def train(kind, strength, epochs):
        np.random.seed(0)
        model = Sequential([Dense(4, activation="relu"), Dense(1)])
        model.build((None, 2))
        if kind == "L1":
            model.layers[0].kernel[0] = 0.0  # half of the first kernel exactly zero
        return model, {}

    fig = plot_explorer_grid(train, [("L2", 0.01), ("L1", 0.003), ("none", 0.0)])
    axes = np.array(fig.axes).reshape(2, 3)
    titles = [ax.get_title() for ax in axes[0]]
    assert titles[0].startswith("L2 0.01\n") and titles[2].startswith("no penalty\n")
    assert axes[1, 1].get_title().startswith("|w| < 1e-3: 33%\n")  # 4 of the 12 kernel weights
    assert all(ax.get_yscale() == "log" for ax in axes[1])
    plt.close(fig)
