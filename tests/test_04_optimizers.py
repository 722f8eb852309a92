"""Chapter 04: scratchnn.optimizers against keras.optimizers and keras.optimizers.schedules.

- Every optimizer takes the same steps as Keras: float64 NumPy vs float32 Keras, 1 and 50 steps,
  np.allclose(rtol=1e-5, atol=1e-6), with *small* gradients (≈1e-3 and ≈1e-5) so that where ε
  sits matters; and to 1e-12 against float64 Keras when every constant is exact in float32.
- Weight decay is applied before the update (Keras's order), with the step's scheduled rate.
- Schedules agree with Keras at every step; ``check_schedule`` rejects milestones beyond the run.
- The parity check catches the three classic mistakes (paper-form Adam, RMSprop with ε outside
  the square root, Adagrad's accumulator starting at 0): see test_check_catches_deliberate_mistake.
- Bad input gets a clear error; the chapter's gradients pass gradient checks; one epoch of the
  from-scratch MLP equals one epoch of ``model.fit``.
"""

import inspect

import keras
import numpy as np
import pytest

from course import gradient_check, numerical_gradient
from course.datasets import digits_split as digits
from course.checks import allclose_parity
from course.explorers.ch04 import SURFACES, trajectory
from scratchnn import optimizers as O
from scratchnn.losses import SparseCategoricalCrossentropy

K = keras.optimizers
S = keras.optimizers.schedules
SHAPES = [(8, 4), (4,), (2, 3, 5)]
RNG = np.random.default_rng(4)
INIT = [RNG.normal(0, 0.1, s) for s in SHAPES]
GRADS = {
    scale: [[RNG.normal(0, scale, s) for s in SHAPES] for _ in range(50)] for scale in [1e-3, 1e-5]
}
EXACT = dict(
    beta_1=1 - 2**-3, beta_2=1 - 2**-10
)  # exact in float32 (Keras casts betas via float32)

PAIRS = {
    "SGD": (lambda: O.SGD(0.01), lambda: K.SGD(0.01)),
    "SGD_momentum": (lambda: O.SGD(0.01, momentum=0.9), lambda: K.SGD(0.01, momentum=0.9)),
    "SGD_nesterov": (
        lambda: O.SGD(0.01, momentum=0.9, nesterov=True),
        lambda: K.SGD(0.01, momentum=0.9, nesterov=True),
    ),
    "SGD_nesterov_wd": (
        lambda: O.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda: K.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=0.1),
    ),
    "Adagrad": (O.Adagrad, K.Adagrad),
    "Adagrad_lr0.1": (lambda: O.Adagrad(0.1), lambda: K.Adagrad(0.1)),
    "RMSprop": (O.RMSprop, K.RMSprop),
    "RMSprop_centered_momentum": (
        lambda: O.RMSprop(momentum=0.5, centered=True),
        lambda: K.RMSprop(momentum=0.5, centered=True),
    ),
    "Adam": (O.Adam, K.Adam),
    "Adam_amsgrad": (lambda: O.Adam(amsgrad=True), lambda: K.Adam(amsgrad=True)),
    "AdamW": (O.AdamW, K.AdamW),
    "AdamW_wd0.1": (lambda: O.AdamW(weight_decay=0.1), lambda: K.AdamW(weight_decay=0.1)),
    "Nadam": (O.Nadam, K.Nadam),
    "Adam_cosine_warmup_wd": (
        lambda: O.Adam(
            O.CosineDecay(1e-3, 30, warmup_target=1e-2, warmup_steps=20), weight_decay=0.05
        ),
        lambda: K.Adam(
            S.CosineDecay(1e-3, 30, warmup_target=1e-2, warmup_steps=20), weight_decay=0.05
        ),
    ),
    "SGD_staircase": (
        lambda: O.SGD(O.ExponentialDecay(0.05, 10, 0.5, staircase=True), momentum=0.9),
        lambda: K.SGD(S.ExponentialDecay(0.05, 10, 0.5, staircase=True), momentum=0.9),
    ),
    "RMSprop_piecewise": (
        lambda: O.RMSprop(O.PiecewiseConstantDecay([9, 29], [1e-3, 5e-4, 1e-4])),
        lambda: K.RMSprop(S.PiecewiseConstantDecay([9, 29], [1e-3, 5e-4, 1e-4])),
    ),
}


def numpy_steps(optimizer, grads_seq, params=INIT):
    params = [p.copy() for p in params]
    for grads in grads_seq:
        optimizer.apply(grads, params)
    return params


def keras_steps(optimizer, grads_seq, params=INIT, dtype="float32", snapshot_after=(1, 50)):
    variables = [keras.Variable(p.astype(dtype), dtype=dtype) for p in params]
    snapshots = {}
    for n, grads in enumerate(grads_seq, start=1):
        optimizer.apply([g.astype(dtype) for g in grads], variables)
        if n in snapshot_after:
            snapshots[n] = [v.numpy() for v in variables]
    return snapshots


_KERAS_CACHE = {}


def keras_run(name, scale):
    """Keras's parameters after 1 and 50 steps (cached: several tests compare against them)."""
    if (name, scale) not in _KERAS_CACHE:
        _KERAS_CACHE[name, scale] = keras_steps(PAIRS[name][1](), GRADS[scale])
    return _KERAS_CACHE[name, scale]


def assert_allclose_lists(ours, theirs, label=""):
    allclose_parity(ours, theirs, label, rtol=1e-5, atol=1e-6, quiet=True)


# ------------------------------------------------------------------ parity with Keras


@pytest.mark.parametrize("scale", [1e-3, 1e-5])
@pytest.mark.parametrize("name", list(PAIRS))
def test_same_steps_as_keras_float32(name, scale):
    theirs = keras_run(name, scale)
    for n in [1, 50]:
        assert_allclose_lists(
            numpy_steps(PAIRS[name][0](), GRADS[scale][:n]), theirs[n], f"{name} {n} steps"
        )


F64 = {
    "SGD_nesterov_wd": (
        lambda: O.SGD(2**-7, momentum=0.5, nesterov=True, weight_decay=0.5),
        lambda: K.SGD(2**-7, momentum=0.5, nesterov=True, weight_decay=0.5),
    ),
    "Adagrad": (lambda: O.Adagrad(2**-10), lambda: K.Adagrad(2**-10)),
    "RMSprop": (lambda: O.RMSprop(2**-10), lambda: K.RMSprop(2**-10)),
    "RMSprop_centered": (
        lambda: O.RMSprop(2**-10, rho=0.75, momentum=0.5, centered=True),
        lambda: K.RMSprop(2**-10, rho=0.75, momentum=0.5, centered=True),
    ),
    "Adam": (lambda: O.Adam(2**-10, **EXACT), lambda: K.Adam(2**-10, **EXACT)),
    "AdamW": (
        lambda: O.AdamW(2**-10, weight_decay=0.5, **EXACT),
        lambda: K.AdamW(2**-10, weight_decay=0.5, **EXACT),
    ),
}


@pytest.mark.parametrize("name", list(F64))
def test_float64_parity_to_round_off_with_float32_exact_constants(name):
    ours, theirs = F64[name]
    got = numpy_steps(ours(), GRADS[1e-5])
    expected = keras_steps(theirs(), GRADS[1e-5], dtype="float64")[50]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_keras_rounds_momentum_through_float32_in_float64():
    """Why F64 uses momentum 0.5: Keras's float64 SGD uses float32(0.9), and so matches ours
    only then."""
    grads = GRADS[1e-5]
    expected = keras_steps(K.SGD(2**-7, momentum=0.9), grads, dtype="float64")[50]
    exact = numpy_steps(O.SGD(2**-7, momentum=0.9), grads)
    rounded = numpy_steps(O.SGD(2**-7, momentum=float(np.float32(0.9))), grads)
    assert max(np.abs(a - b).max() for a, b in zip(exact, expected)) > 1e-13
    assert max(np.abs(a - b).max() for a, b in zip(rounded, expected)) <= 1e-15


def test_defaults_match_keras():
    for name in ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Nadam"]:
        ours = inspect.signature(getattr(O, name)).parameters
        theirs = inspect.signature(getattr(K, name)).parameters
        for arg, p in ours.items():
            assert arg in theirs, f"{name}({arg}=…) is not a Keras argument"
            assert p.default == theirs[arg].default, (
                f"{name}.{arg}: {p.default} vs Keras {theirs[arg].default}"
            )


def test_get_by_name():
    assert isinstance(O.get("adam"), O.Adam) and O.get("AdamW").weight_decay == 0.004
    with pytest.raises(ValueError, match="unknown optimizer"):
        O.get("lion")


# ------------------------------------------------------------------ update rules and state


def test_weight_decay_is_applied_before_the_update_with_the_scheduled_rate():
    w = [np.array([2.0])]
    opt = O.SGD(O.PiecewiseConstantDecay([0], [0.5, 0.25]), weight_decay=0.1)
    opt.apply([np.array([1.0])], w)  # step 0: lr 0.5
    assert w[0][0] == pytest.approx(2.0 - 2.0 * 0.1 * 0.5 - 0.5 * 1.0)
    opt.apply([np.array([1.0])], w)  # step 1: lr 0.25
    before = 2.0 - 2.0 * 0.1 * 0.5 - 0.5
    assert w[0][0] == pytest.approx(before - before * 0.1 * 0.25 - 0.25)
    assert opt.iterations == 2


def test_sgd_momentum_and_nesterov_rules():
    for nesterov, expected in [(False, [-0.1, -0.19 - 0.1]), (True, [-0.19, -0.19 - 0.271])]:
        w = [np.zeros(1)]
        opt = O.SGD(0.1, momentum=0.9, nesterov=nesterov)
        seen = []
        for _ in range(2):
            opt.apply([np.ones(1)], w)
            seen.append(w[0][0])
        np.testing.assert_allclose(seen, expected, atol=1e-15)


def test_adam_first_step_is_lr_for_any_gradient_scale_above_epsilon():
    for g in [1e-2, 1.0, 1e3]:
        w = [np.zeros(1)]
        O.Adam(0.001).apply([np.array([g])], w)
        assert abs(w[0][0] + 0.001) < 1e-6


def test_updates_are_in_place_and_state_is_per_parameter():
    params = [np.ones((2, 2)), np.ones(2)]
    ids = [id(p) for p in params]
    opt = O.Adam()
    opt.apply([np.ones((2, 2)), np.ones(2)], params)
    assert [id(p) for p in params] == ids and np.all(params[0] < 1)
    assert [m.shape for m in opt.momentums] == [(2, 2), (2,)]


def test_float32_parameters_stay_float32():
    w = [np.ones(3, dtype=np.float32)]
    O.RMSprop().apply([np.ones(3)], w)
    assert w[0].dtype == np.float32


# ------------------------------------------------------------------ the check catches the mistakes


class PaperAdam(O.Adam):
    """Algorithm 1 of Kingma & Ba: bias-corrected m̂, v̂ and the paper's ε = 1e-8 added to √v̂."""

    def __init__(self, learning_rate=0.001, epsilon=1e-8):
        super().__init__(learning_rate, epsilon=epsilon)

    def update_step(self, i, g, w, lr):
        t = self.iterations + 1
        m, v = self.momentums[i], self.velocities[i]
        m += (g - m) * (1 - self.beta_1)
        v += (np.square(g) - v) * (1 - self.beta_2)
        w -= lr * (m / (1 - self.beta_1**t)) / (np.sqrt(v / (1 - self.beta_2**t)) + self.epsilon)


class RMSpropEpsilonOutside(O.RMSprop):
    """PyTorch's placement: ε added to √v."""

    def update_step(self, i, g, w, lr):
        v = self.velocities[i]
        v[...] = self.rho * v + (1 - self.rho) * np.square(g)
        w -= lr * g / (np.sqrt(v) + self.epsilon)


MISTAKES = {  # mistake -> (broken optimizer, the Keras run it must fail against)
    "paper_form_adam": (PaperAdam, "Adam"),
    "rmsprop_epsilon_outside_sqrt": (RMSpropEpsilonOutside, "RMSprop"),
    "adagrad_accumulator_from_zero": (lambda: O.Adagrad(initial_accumulator_value=0.0), "Adagrad"),
}


@pytest.mark.parametrize("steps", [1, 50])
@pytest.mark.parametrize("scale", [1e-3, 1e-5])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_check_catches_deliberate_mistake(mistake, scale, steps):
    make_wrong, keras_name = MISTAKES[mistake]
    wrong = numpy_steps(make_wrong(), GRADS[scale][:steps])
    with pytest.raises(AssertionError, match="not allclose"):
        assert_allclose_lists(wrong, keras_run(keras_name, scale)[steps], mistake)


def test_large_gradients_would_hide_the_paper_form_adam():
    """Why the parity tests use small gradients: with every |g| in [0.5, 2] the paper's Adam
    passes."""
    grads = [[RNG.choice([-1, 1], s) * RNG.uniform(0.5, 2.0, s) for s in SHAPES] for _ in range(50)]
    assert_allclose_lists(numpy_steps(PaperAdam(), grads), numpy_steps(O.Adam(), grads))


# ------------------------------------------------------------------ bad input


def test_mismatched_inputs_name_both_shapes():
    params = [np.zeros((3, 2)), np.zeros(2)]
    with pytest.raises(
        ValueError, match=r"grads\[0\] has shape \(2, 3\) but params\[0\] has shape \(3, 2\)"
    ):
        O.Adam().apply([np.zeros((2, 3)), np.zeros(2)], params)
    with pytest.raises(ValueError, match="1 gradient\\(s\\) for 2 parameter"):
        O.SGD().apply([np.zeros((3, 2))], params)
    with pytest.raises(TypeError, match="updated in place"):
        O.SGD().apply([np.zeros(2)], [[0.0, 0.0]])
    opt = O.RMSprop()
    opt.apply([np.zeros(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="built for parameter shapes"):
        opt.apply([np.zeros(3)], [np.zeros(3)])


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="one more value"):
        O.PiecewiseConstantDecay([10, 20], [0.1, 0.01])
    with pytest.raises(ValueError, match="decay_steps"):
        O.CosineDecay(0.1, 0)


# ------------------------------------------------------------------ schedules

SCHEDULES = {
    "piecewise": (
        O.PiecewiseConstantDecay([300, 600], [0.1, 0.01, 0.001]),
        S.PiecewiseConstantDecay([300, 600], [0.1, 0.01, 0.001]),
    ),
    "exponential": (O.ExponentialDecay(0.1, 100, 0.8), S.ExponentialDecay(0.1, 100, 0.8)),
    "exponential_staircase": (
        O.ExponentialDecay(0.1, 100, 0.8, staircase=True),
        S.ExponentialDecay(0.1, 100, 0.8, staircase=True),
    ),
    "polynomial": (
        O.PolynomialDecay(0.1, 800, 0.001, power=2.0),
        S.PolynomialDecay(0.1, 800, 0.001, power=2.0),
    ),
    "inverse_time": (O.InverseTimeDecay(0.1, 100, 0.5), S.InverseTimeDecay(0.1, 100, 0.5)),
    "inverse_time_staircase": (
        O.InverseTimeDecay(0.1, 100, 0.5, staircase=True),
        S.InverseTimeDecay(0.1, 100, 0.5, staircase=True),
    ),
    "cosine": (O.CosineDecay(0.1, 900, alpha=0.1), S.CosineDecay(0.1, 900, alpha=0.1)),
    "cosine_warmup": (
        O.CosineDecay(0.0, 800, warmup_target=0.1, warmup_steps=100),
        S.CosineDecay(0.0, 800, warmup_target=0.1, warmup_steps=100),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_keras_at_every_step(name):
    ours, theirs = SCHEDULES[name]
    steps = np.arange(1000)
    if name == "cosine_warmup":  # ops.cond needs a scalar step
        expected = keras.ops.convert_to_numpy(
            keras.ops.vectorized_map(theirs, keras.ops.convert_to_tensor(steps))
        )
    else:
        expected = keras.ops.convert_to_numpy(theirs(steps))
    np.testing.assert_allclose(ours(steps), expected, rtol=1e-6, atol=1e-8)  # Keras: float32
    assert float(ours(7)) == pytest.approx(float(theirs(7)), rel=1e-6)  # scalar steps work too
    O.check_schedule(ours, 1000)


def test_piecewise_boundaries_belong_to_the_earlier_piece():
    s = O.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(s(np.array([0, 10, 11, 20, 21])), [1.0, 1.0, 0.5, 0.5, 0.25])


@pytest.mark.parametrize(
    "schedule,total",
    [
        (O.PiecewiseConstantDecay([30, 60], [0.1, 0.01, 0.001]), 50),  # epochs, not steps
        (O.PiecewiseConstantDecay([30, 49], [0.1, 0.01, 0.001]), 50),  # last value never used
        (O.ExponentialDecay(0.1, 1000, 0.5, staircase=True), 500),  # never drops
        (O.CosineDecay(0.1, 500), 499),  # floor not reached
        (
            O.CosineDecay(0.0, 500, warmup_target=0.1, warmup_steps=50),
            500,
        ),  # decay runs after warm-up
        (O.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=600), 500),  # warm-up never ends
        (O.PolynomialDecay(0.1, 2000), 1000),
    ],
)
def test_check_schedule_rejects_unreached_milestones(schedule, total):
    with pytest.raises(ValueError, match="never reached"):
        O.check_schedule(schedule, total)


@pytest.mark.parametrize(
    "schedule,total",
    [
        (O.PiecewiseConstantDecay([30, 48], [0.1, 0.01, 0.001]), 50),
        (O.CosineDecay(0.1, 500), 500),
        (O.CosineDecay(0.0, 450, warmup_target=0.1, warmup_steps=50), 500),
        (O.ExponentialDecay(0.1, 499, 0.5, staircase=True), 500),
    ],
)
def test_check_schedule_accepts_schedules_that_complete(schedule, total):
    assert O.check_schedule(schedule, total) == pytest.approx(float(schedule(total - 1)))


@pytest.mark.parametrize(
    "schedule",
    [O.ExponentialDecay(0.01, 10_000, 0.9), O.InverseTimeDecay(0.01, 10_000, 0.5)],
)
def test_check_schedule_accepts_a_smooth_decay_longer_than_the_run(schedule):
    """decay_steps of a smooth decay is the exponent's unit, not a step to reach (Keras's own
    docstring example decays by 0.9 per 10,000 steps); the rate falls from the first step."""
    assert O.check_schedule(schedule, 2000) < schedule(0)


# ------------------------------------------------------------------ gradients and training


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_gradients(name):
    surface = SURFACES[name]
    for point in [surface.start, np.array([0.3, -0.7]), np.array([1.5, 2.0])]:
        w = np.array(point, dtype=float)
        gradient_check(surface.grad(w), numerical_gradient(lambda v: surface.f(v), w), 1e-7)


def test_diverging_trajectory_is_cut_with_nan():
    path = trajectory(O.SGD(0.1), SURFACES["quadratic"], 200)  # 0.1 > 2/25: diverges
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()
    path = trajectory(O.Adam(0.3), SURFACES["quadratic"], 200)
    assert np.linalg.norm(path[-1]) < 1e-2


def _digits_mlp():
    from scratchnn.foundations import Dense, Sequential

    np.random.seed(0)
    model = Sequential([Dense(64, activation="relu"), Dense(10)])
    model.build((None, 64))
    return model


CROSS_ENTROPY = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")


def test_one_epoch_of_fit_equals_keras_fit_in_float64():
    x, y, _, _ = digits()
    ours = _digits_mlp()
    initial = ours.get_weights()
    history = O.fit(ours, x, y, CROSS_ENTROPY, O.Adam(2**-10, **EXACT), epochs=1, seed=1)
    order = np.random.default_rng(1).permutation(len(x))  # fit's first epoch
    model = keras.Sequential(
        [
            keras.Input((64,), dtype="float64"),
            keras.layers.Dense(64, activation="relu", dtype="float64"),
            keras.layers.Dense(10, dtype="float64"),
        ]
    )
    model.set_weights(initial)
    model.compile(
        K.Adam(2**-10, **EXACT),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
    )
    keras_history = model.fit(
        x[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0
    ).history
    for a, b in zip(ours.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    # the reported loss is Keras's: the batch-size-weighted mean of the batches' losses (Keras
    # accumulates it in a float32 metric, hence 1e-6)
    assert history["loss"][0] == pytest.approx(keras_history["loss"][0], rel=1e-6)


class Recorder(O.Callback):
    """Logs every hook fit calls, and can stop training or zero the gradients."""

    def __init__(self, stop_after=None, zero_grads=False, stop_batch=None):
        self.calls, self.stop_after, self.zero_grads = [], stop_after, zero_grads
        self.stop_batch = stop_batch

    def on_train_begin(self, model):
        self.calls.append("begin")

    def on_gradients(self, model, grads):
        self.calls.append("grads")
        return [np.zeros_like(g) for g in grads] if self.zero_grads else grads

    def on_batch_end(self, model, logs):
        self.calls.append("batch")
        self.batch_losses = getattr(self, "batch_losses", []) + [logs["loss"]]
        return self.stop_batch is not None and len(self.batch_losses) >= self.stop_batch

    def on_epoch_end(self, epoch, logs, model):
        self.calls.append(f"epoch {epoch}")
        logs["seen"] = epoch
        return self.stop_after is not None and epoch >= self.stop_after

    def on_train_end(self, model):
        self.calls.append("end")


def test_fit_calls_the_callbacks_in_order_and_stops_when_one_asks():
    x, y, _, _ = digits()
    rec = Recorder(stop_after=1)
    history = O.fit(
        _digits_mlp(),
        x[:64],
        y[:64],
        CROSS_ENTROPY,
        O.SGD(0.1),
        epochs=5,
        batch_size=32,
        callbacks=[rec],
    )
    assert rec.calls == [
        "begin",
        "grads",
        "batch",
        "grads",
        "batch",
        "epoch 0",
        "grads",
        "batch",
        "grads",
        "batch",
        "epoch 1",
        "end",
    ]
    assert list(history["seen"]) == [0, 1] and len(history["loss"]) == 2


def test_a_callback_stops_fit_after_a_batch_and_the_epoch_logs_cover_the_batches_run():
    x, y, _, _ = digits()
    rec = Recorder(stop_batch=3)
    history = O.fit(
        _digits_mlp(),
        x[:64],
        y[:64],
        CROSS_ENTROPY,
        O.SGD(0.1),
        epochs=5,
        batch_size=32,
        callbacks=[rec],
    )
    assert rec.calls == [
        "begin",
        "grads",
        "batch",
        "grads",
        "batch",
        "epoch 0",
        "grads",
        "batch",
        "epoch 1",
        "end",
    ]
    assert history["loss"][1] == pytest.approx(rec.batch_losses[2], abs=1e-15)
    assert history["loss"][0] == pytest.approx(np.mean(rec.batch_losses[:2]), abs=1e-15)


def test_fit_applies_what_on_gradients_returns_and_adds_penalties():
    x, y, _, _ = digits()
    model = _digits_mlp()
    before = model.get_weights()
    O.fit(model, x[:64], y[:64], CROSS_ENTROPY, O.SGD(0.1), callbacks=[Recorder(zero_grads=True)])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # zero gradients: nothing moved

    class Constant(O.Callback):
        def penalty(self, model):
            return 2.5, [np.zeros_like(p) for p in model.params]

    plain = O.fit(
        _digits_mlp(),
        x[:64],
        y[:64],
        CROSS_ENTROPY,
        O.SGD(0.1),
        validation_data=(x[64:96], y[64:96]),
    )
    penalised = O.fit(
        _digits_mlp(),
        x[:64],
        y[:64],
        CROSS_ENTROPY,
        O.SGD(0.1),
        validation_data=(x[64:96], y[64:96]),
        callbacks=[Constant()],
    )
    assert penalised["loss"][0] == pytest.approx(plain["loss"][0] + 2.5, abs=1e-12)
    assert penalised["val_loss"][0] == pytest.approx(plain["val_loss"][0] + 2.5, abs=1e-12)


def test_fit_shuffles_reproducibly_and_rejects_mismatched_data():
    x, y, _, _ = digits()
    runs = [
        O.fit(_digits_mlp(), x[:96], y[:96], CROSS_ENTROPY, O.SGD(0.1), epochs=2, seed=s)["loss"]
        for s in (0, 0, 1)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    with pytest.raises(
        ValueError, match=r"fit expects x of shape \(n, features, …\) and y with n rows"
    ):
        O.fit(_digits_mlp(), x[:10], y[:9], CROSS_ENTROPY, O.SGD())


def test_allclose_parity_fails_loudly():
    with pytest.raises(AssertionError, match="array 1 at index"):
        allclose_parity([np.zeros(2), np.zeros(3)], [np.zeros(2), np.array([0.0, 1e-5, 0.0])], "x")
    assert allclose_parity([np.ones(2)], [np.ones(2) + 1e-6], quiet=True) <= 1e-6


def test_bench_row_shape():
    from course.bench.optimizers import bench_optimizers

    rows = bench_optimizers(epochs=1)
    assert [label for label, _ in rows][-1] == "ch04 Keras fit / NumPy time per epoch"
    assert rows[0][1].endswith("ms/epoch") and rows[2][1].endswith("×")
