"""Chapter 03: scratchnn.losses against keras.losses (per-sample values and reduced classes) and
tf.GradientTape (gradients), in float32 and float64, on awkward inputs: exact 0 and 1
probabilities, probabilities beyond the clip, logits of ±50 and ±1000, all-zero rows, ties at
every kink, batches of one. Plus the worked values of the curriculum, finite-difference checks
of every gradient, shape errors, and proof that the check catches the named mistakes (BCE
without clipping, CCE from logits without log-sum-exp).
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from course.checks import gradient_check, numerical_gradient
from course.checks import loss_parity
from course.explorers.ch03 import PATHS, loss_curve
from scratchnn import losses
from scratchnn.activations import softmax

L = keras.losses
TOL = {"float32": 1e-5, "float64": 1e-12}
# Keras computes log-cosh's log(2) in float32, also for float64 inputs (chapter 03, §4).
LOOSER = {("log_cosh", "float64"): 1e-8}


def awkward_inputs(seed=3, batch=8):
    """case -> (loss name, y_true, y_pred, kwargs); row 0 and 1 of each batch are edge cases."""
    r = np.random.default_rng(seed)
    reg_t, reg_p = r.normal(size=(batch, 5)), 3 * r.normal(size=(batch, 5))
    reg_p[0] = reg_t[0]
    reg_p[1] = reg_t[1] + np.array([1.0, -1.0, 0.5, -2.0, 0.0])
    bin_t = r.integers(0, 2, size=(batch, 4)).astype(float)
    bin_p = r.uniform(size=(batch, 4))
    bin_p[0], bin_t[0] = [0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]
    bin_p[1] = [1e-9, 1 - 1e-9, 1e-7, 0.5]
    logits = 10 * r.normal(size=(batch, 4))
    logits[0] = [50.0, -50.0, 50.0, -50.0]
    logits[1] = [1000.0, -1000.0, 90.0, -90.0]
    labels = r.integers(0, 5, size=batch)
    probs = r.dirichlet(np.ones(5), size=batch)
    probs[0] = np.eye(5)[labels[0]]
    probs[1] = np.eye(5)[(labels[1] + 1) % 5]
    probs[2] = 0.0
    class_logits = 10 * r.normal(size=(batch, 5))
    class_logits[0] = [50.0, -50.0, 0.0, 50.0, -50.0]
    class_logits[1] = [1000.0, -1000.0, 0.0, 90.0, -90.0]
    cos_t, cos_p = r.normal(size=(batch, 3)), r.normal(size=(batch, 3))
    cos_p[0], cos_t[1], cos_p[2] = 0.0, 0.0, -cos_t[2]
    signs = np.sign(r.normal(size=(batch, 3)))
    scores = 2 * r.normal(size=(batch, 3))
    scores[0], signs[0] = [1.0, -1.0, 0.0], [1.0, -1.0, 1.0]
    kl_t = r.dirichlet(np.ones(5), size=batch)
    kl_t[0] = np.eye(5)[0]
    onehot = np.eye(5)[labels]
    return {
        "mse": ("mean_squared_error", reg_t, reg_p, {}),
        "mae": ("mean_absolute_error", reg_t, reg_p, {}),
        "huber": ("huber", reg_t, reg_p, {}),
        "huber_delta_0.5": ("huber", reg_t, reg_p, {"delta": 0.5}),
        "log_cosh": ("log_cosh", reg_t, 100 * reg_p, {}),
        "cosine": ("cosine_similarity", cos_t, cos_p, {}),
        "cosine_axis0": ("cosine_similarity", cos_t, cos_p, {"axis": 0}),
        "bce": ("binary_crossentropy", bin_t, bin_p, {}),
        "bce_logits": ("binary_crossentropy", bin_t, logits, {"from_logits": True}),
        "bce_smoothing": ("binary_crossentropy", bin_t, bin_p, {"label_smoothing": 0.2}),
        "cce": ("categorical_crossentropy", onehot, probs, {}),
        "cce_logits": ("categorical_crossentropy", onehot, class_logits, {"from_logits": True}),
        "cce_smoothing": ("categorical_crossentropy", onehot, probs, {"label_smoothing": 0.1}),
        "sparse": ("sparse_categorical_crossentropy", labels, probs, {}),
        "sparse_logits": (
            "sparse_categorical_crossentropy",
            labels,
            class_logits,
            {"from_logits": True},
        ),
        "sparse_column": ("sparse_categorical_crossentropy", labels[:, None], probs, {}),
        "sparse_ignore": (
            "sparse_categorical_crossentropy",
            labels,
            class_logits,
            {"from_logits": True, "ignore_class": int(labels[3])},
        ),
        "hinge_01": ("hinge", (signs > 0).astype(float), scores, {}),
        "hinge_pm1": ("hinge", signs, scores, {}),
        "squared_hinge": ("squared_hinge", signs, scores, {}),
        "squared_hinge_01": ("squared_hinge", (signs > 0).astype(float), scores, {}),
        "kl": ("kl_divergence", kl_t, probs, {}),
    }


CASES = awkward_inputs()


def keras_value_and_grad(fn, y_true, y_pred, **kwargs):
    yp = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(yp)
        values = fn(y_true, yp, **kwargs)
        total = tf.reduce_sum(values)
    return values.numpy(), tape.gradient(total, yp).numpy()


def check_against_keras(name, y_true, y_pred, kwargs, dtype):
    """The chapter's check: per-sample values and the gradient of their sum, ours vs Keras."""
    fn, grad_fn = losses.LOSSES[name]
    y_pred = np.asarray(y_pred).astype(dtype)
    value, grad = keras_value_and_grad(getattr(L, name), y_true, y_pred, **kwargs)
    tol = LOOSER.get((name, dtype), TOL[dtype])
    ours = fn(y_true, y_pred, **kwargs)
    assert np.asarray(ours).dtype == dtype, (
        f"{name}: dtype {np.asarray(ours).dtype}, expected {dtype}"
    )
    loss_parity(ours, value, tol, f"{dtype} {name} value", relative=True)
    loss_parity(
        grad_fn(y_true, y_pred, **kwargs), grad, tol, f"{dtype} {name} gradient", relative=True
    )


# --- per-sample functions and gradients against Keras --------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_value_and_gradient_match_keras(case, dtype):
    name, y_true, y_pred, kwargs = CASES[case]
    check_against_keras(name, y_true, y_pred, kwargs, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_batch_of_one_matches_keras(case, dtype):
    name, y_true, y_pred, kwargs = CASES[case]
    if kwargs.get("axis") == 0:
        pytest.skip("axis=0 normalises across the batch: a batch of one is a different problem")
    for row in [0, 1]:  # the edge-case rows
        check_against_keras(name, y_true[row : row + 1], y_pred[row : row + 1], kwargs, dtype)


def test_all_zero_probability_row_is_nan_in_cce_and_log3_in_sparse_like_keras():
    row = np.zeros((1, 3))
    assert np.isnan(L.categorical_crossentropy(np.array([[1.0, 0, 0]]), row).numpy()[0])
    assert np.isnan(losses.categorical_crossentropy([[1.0, 0, 0]], row)[0])
    assert np.all(np.isnan(losses.categorical_crossentropy_gradient([[1.0, 0, 0]], row)))
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy([0], row), [np.log(3)], rtol=1e-12
    )
    np.testing.assert_allclose(
        L.sparse_categorical_crossentropy(np.array([0]), row).numpy(), [np.log(3)], rtol=1e-12
    )


# --- the reducing classes -------------------------------------------------------------------

CLASSES = {
    "MeanSquaredError": ("mse", {}),
    "MeanAbsoluteError": ("mae", {}),
    "Huber": ("huber", {"delta": 0.5}),
    "LogCosh": ("log_cosh", {}),
    "CosineSimilarity": ("cosine", {}),
    "BinaryCrossentropy": ("bce", {}),
    "BinaryCrossentropy_logits": ("bce_logits", {"from_logits": True}),
    "CategoricalCrossentropy": ("cce", {}),
    "CategoricalCrossentropy_logits": ("cce_logits", {"from_logits": True}),
    "SparseCategoricalCrossentropy": ("sparse", {}),
    "SparseCategoricalCrossentropy_ignore": (
        "sparse_ignore",
        {"from_logits": True, "ignore_class": None},
    ),
    "Hinge": ("hinge_pm1", {}),
    "SquaredHinge": ("squared_hinge", {}),
    "KLDivergence": ("kl", {}),
}


@pytest.mark.parametrize("dtype", [None, "float64"])
@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight"]
)
@pytest.mark.parametrize("label", list(CLASSES))
def test_class_matches_keras(label, reduction, dtype):
    cls = label.split("_")[0]
    case, kwargs = CLASSES[label]
    _, y_true, y_pred, fn_kwargs = CASES[case]
    if "ignore_class" in kwargs:
        kwargs = {**kwargs, "ignore_class": fn_kwargs["ignore_class"]}
    if cls == "CategoricalCrossentropy" and not kwargs:
        y_true, y_pred = np.delete(y_true, 2, axis=0), np.delete(y_pred, 2, axis=0)  # the NaN row
    w = np.random.default_rng(4).uniform(0, 2, size=len(y_pred))
    theirs = getattr(L, cls)(reduction=reduction, dtype=dtype, **kwargs)
    ours = getattr(losses, cls)(reduction=reduction, dtype=dtype, **kwargs)
    yp = tf.constant(y_pred.astype(dtype or "float32"))
    for weights in [None, w]:
        with tf.GradientTape() as tape:
            tape.watch(yp)
            value = theirs(y_true, yp, sample_weight=weights)
            total = tf.reduce_sum(value)
        tol = LOOSER.get((ours.fn.__name__, dtype), TOL[dtype or "float32"])
        mine = ours(y_true, y_pred, sample_weight=weights)
        assert np.asarray(mine).dtype == value.dtype.as_numpy_dtype
        loss_parity(mine, value.numpy(), tol, f"{label} {reduction} value", relative=True)
        loss_parity(
            ours.gradient(y_true, y_pred, sample_weight=weights),
            tape.gradient(total, yp).numpy(),
            tol,
            f"{label} {reduction} gradient",
            relative=True,
        )


def test_classes_default_to_float32_like_keras():
    y = np.array([[0.1, 0.2]], dtype="float64")
    assert L.MeanSquaredError()(y, 2 * y).dtype == "float32"
    assert losses.MeanSquaredError()(y, 2 * y).dtype == np.float32
    assert losses.MeanSquaredError(dtype="float64")(y, 2 * y).dtype == np.float64


def test_sample_weight_divides_by_count_not_by_sum_of_weights():
    y_true, y_pred = np.zeros((4, 1)), np.ones((4, 1))
    w = np.array([1.0, 0.0, 0.0, 0.0])
    assert float(L.MeanSquaredError()(y_true, y_pred, sample_weight=w)) == pytest.approx(0.25)
    assert float(losses.MeanSquaredError()(y_true, y_pred, sample_weight=w)) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "w", [np.array([1.0, 0.0, 0.0, 0.0]), np.array([[2.0], [0.0], [1.0], [0.0]]), np.float64(3.0)]
)
def test_mean_with_sample_weight_divides_by_the_sum_of_the_weights(w):
    y_true, y_pred = np.zeros((4, 1)), np.array([[1.0], [2.0], [3.0], [4.0]])
    theirs = L.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, w)
    ours = losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, w)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)
    if np.ndim(w) == 1:  # one weight of 1 on the sample with loss 1: the mean is 1, not 1/4
        assert float(ours) == pytest.approx(1.0)


def test_bad_reduction_and_weight_shape_are_rejected():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="reduction"):  # older tutorials' "auto": gone in Keras 3
        L.MeanSquaredError(reduction="auto")
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="auto")
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.ones((4, 2)), sample_weight=np.ones(3))


# --- Keras's names, defaults and worked values --------------------------------------------------

FUNCTIONS = [
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "log_cosh",
    "cosine_similarity",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
    "squared_hinge",
    "kl_divergence",
]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_signature_mirrors_keras(name):
    ours = inspect.signature(getattr(losses, name)).parameters
    theirs = inspect.signature(getattr(L, name)).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]
    gradient = inspect.signature(getattr(losses, f"{name}_gradient")).parameters
    assert list(gradient) == list(ours)


@pytest.mark.parametrize(
    "name",
    [
        "MeanSquaredError",
        "MeanAbsoluteError",
        "Huber",
        "LogCosh",
        "CosineSimilarity",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
        "Hinge",
        "SquaredHinge",
        "KLDivergence",
    ],
)
def test_class_signature_mirrors_keras(name):
    ours = inspect.signature(getattr(losses, name).__init__).parameters
    theirs = inspect.signature(getattr(L, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]


def test_worked_values_of_the_curriculum():
    assert losses.mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) == pytest.approx(
        0.375, abs=1e-15
    )
    u, v = np.array([[1.0, 0, -1], [0, 1, 0]]), np.array([[-1.0, 0, 1], [0, -1, 0]])
    np.testing.assert_allclose(
        losses.cosine_similarity(u, v), [1.0, 1.0], atol=1e-15
    )  # loss = −similarity
    np.testing.assert_allclose(L.cosine_similarity(u, v).numpy(), [1.0, 1.0], atol=1e-15)
    assert losses.binary_crossentropy([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.4]) == pytest.approx(
        0.2362, abs=5e-5
    )
    probs = [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
    assert float(losses.CategoricalCrossentropy()(np.eye(3), probs)) == pytest.approx(
        0.2798, abs=5e-5
    )
    assert float(L.CategoricalCrossentropy()(np.eye(3), np.array(probs))) == pytest.approx(
        0.2798, abs=5e-5
    )


def test_clipping_ceiling_is_minus_log_epsilon():
    for dtype in ["float32", "float64"]:
        ce = losses.categorical_crossentropy([[0.0, 1.0]], np.array([[1.0, 0.0]], dtype))[0]
        assert ce == pytest.approx(-np.log(1e-7), rel=1e-6) and ce == pytest.approx(
            16.118, abs=1e-3
        )
    # float32: 1 − 1e-7 rounds to 1 − 2**-23, so a wrong exact "1" costs 15.94 (Keras agrees)
    bce = losses.binary_crossentropy([[0.0]], np.array([[1.0]], "float32"))[0]
    assert bce == pytest.approx(-np.log(2.0**-23), rel=1e-5)
    assert float(
        L.binary_crossentropy(np.array([[0.0]], "float32"), np.array([[1.0]], "float32"))[0]
    ) == pytest.approx(bce, rel=1e-6)


def test_hinge_converts_labels_only_when_the_whole_batch_is_binary():
    s = np.array([[0.3, -2.0, 1.5]])
    assert losses.hinge([[1.0, 0.0, 1.0]], s) == pytest.approx(losses.hinge([[1.0, -1.0, 1.0]], s))
    mixed = [[1.0, 0.0, -1.0]]
    assert losses.hinge(mixed, s)[0] == pytest.approx(float(L.hinge(np.array(mixed), s)[0]))
    assert losses.hinge(mixed, s)[0] == pytest.approx((0.7 + 1.0 + 2.5) / 3)


def test_sparse_and_onehot_agree_on_proper_rows():
    r = np.random.default_rng(0)
    labels = r.integers(0, 6, size=20)
    probs = r.dirichlet(np.ones(6), size=20)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels, probs),
        losses.categorical_crossentropy(np.eye(6)[labels], probs),
        atol=1e-6,
    )
    logits = 5 * r.normal(size=(20, 6))
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels, logits, from_logits=True),
        losses.categorical_crossentropy(np.eye(6)[labels], logits, from_logits=True),
        atol=1e-12,
    )


def test_tensorflow_xent_gradient_assumes_labels_sum_to_one():
    """TF's softmax-xent kernel returns p − y; the true gradient is p·Σy − y (ours)."""
    y, z = np.array([[2.0, 0.0, 1.0]]), np.array([[1.0, 2.0, 3.0]])
    numeric = numerical_gradient(
        lambda v: np.sum(losses.categorical_crossentropy(y, v, from_logits=True)), z.copy()
    )
    gradient_check(losses.categorical_crossentropy_gradient(y, z, from_logits=True), numeric, 1e-8)
    _, tape = keras_value_and_grad(L.categorical_crossentropy, y, z, from_logits=True)
    np.testing.assert_allclose(tape, softmax(z) - y, atol=1e-12)
    assert np.abs(tape - numeric).max() > 0.5  # not the derivative of the loss TF computes


# --- gradients against finite differences (no Keras involved) -------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c not in ("mae",)])
def test_gradient_matches_finite_differences(case):
    """Away from kinks and clips (rows 2+; MAE has no smooth region worth testing), in float64."""
    name, y_true, y_pred, kwargs = CASES[case]
    fn, grad_fn = losses.LOSSES[name]
    rows = slice(3, None)
    y_true, y_pred = y_true[rows], np.array(y_pred[rows], dtype=float)
    if kwargs.get("ignore_class") is not None:
        kwargs = {**kwargs, "ignore_class": None}
    numeric = numerical_gradient(lambda v: np.sum(fn(y_true, v, **kwargs)), y_pred.copy())
    gradient_check(
        grad_fn(y_true, y_pred, **kwargs), numeric, 1e-5, case
    )  # p ~ 0.01: truncation error


@pytest.mark.parametrize("name", list(PATHS))
def test_explorer_slope_is_the_derivative_of_the_curve(name):
    for kwargs in [{}, {"from_logits": True}, {"label": 0, "target": 0.5, "delta": 0.3}]:
        x, loss, slope, _ = loss_curve(name, points=2001, **kwargs)
        inner = (np.arange(len(x)) > 50) & (
            np.arange(len(x)) < len(x) - 50
        )  # away from clipped ends
        numeric = np.gradient(loss, x)
        smooth = inner & (np.abs(np.gradient(slope, x)) < 50)  # skip kinks (MAE, hinge, Huber)
        np.testing.assert_allclose(
            slope[smooth], numeric[smooth], atol=2e-3, err_msg=f"{name} {kwargs}"
        )


# --- bad input gets a clear error ------------------------------------------------------------


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"expected y_true.shape == \(4, 3\).*got \(4, 2\)"):
        losses.mean_squared_error(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(2, 3\).*\(3, 2\)"):
        losses.categorical_crossentropy(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected y_true.shape == \(4,\), got \(3,\)"):
        losses.sparse_categorical_crossentropy(np.zeros(3), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"label 7 is outside \[0, 4\]"):
        losses.sparse_categorical_crossentropy([0, 7], np.zeros((2, 5)))


def test_rank_matching_like_keras():
    """A 1-D y_true next to a (batch, 1) prediction is expanded (squeeze_or_expand_to_same_rank)."""
    y_true, y_pred = np.arange(4.0), np.arange(4.0)[:, None] + 1
    np.testing.assert_allclose(
        losses.mean_squared_error(y_true, y_pred), L.mean_squared_error(y_true, y_pred).numpy()
    )


# --- the check has power: the two mistakes named in the issue -------------------------------------


def _bce_without_clipping(dtype):
    """BCE's clip bounds widened to [0, 1]: exactly the formula with the clipping removed."""
    return lambda d: (np.asarray(0.0, d), np.asarray(1.0, d))


def test_check_catches_bce_without_clipping(monkeypatch):
    name, y_true, y_pred, kwargs = CASES["bce"]
    check_against_keras(name, y_true, y_pred, kwargs, "float64")  # passes as written
    monkeypatch.setattr(losses, "_clip_bounds", _bce_without_clipping("float64"))
    with (
        np.errstate(all="ignore"),
        pytest.raises(AssertionError, match="NaN in one but not the other"),
    ):
        check_against_keras(name, y_true, y_pred, kwargs, "float64")


def test_check_catches_bce_gradient_that_ignores_the_clip(monkeypatch):
    name, y_true, y_pred, kwargs = CASES["bce"]
    monkeypatch.setattr(losses, "_inside", lambda x, lo, hi: np.ones_like(x))
    with pytest.raises(AssertionError, match=r"gradient: max \|Δ\|"):
        check_against_keras(name, y_true, y_pred, kwargs, "float64")


def test_check_catches_cce_from_logits_without_log_sum_exp(monkeypatch):
    name, y_true, y_pred, kwargs = CASES["cce_logits"]
    check_against_keras(name, y_true, y_pred, kwargs, "float64")  # passes as written

    def naive_log_softmax(logits, axis=-1):
        e = np.exp(logits)
        return np.log(e / np.sum(e, axis=axis, keepdims=True))

    monkeypatch.setattr(losses, "_log_softmax", naive_log_softmax)
    with (
        np.errstate(all="ignore"),
        pytest.raises(AssertionError, match="NaN in one but not the other"),
    ):
        check_against_keras(name, y_true, y_pred, kwargs, "float64")


def test_loss_parity_rejects_a_wrong_value_and_mismatched_nans():
    with pytest.raises(AssertionError, match="max"):
        loss_parity([1.0, 2.0], [1.0, 2.1], 1e-6, "wrong")
    with pytest.raises(AssertionError, match="NaN"):
        loss_parity([np.nan, 2.0], [1.0, 2.0], 1e-6, "nan")
    loss_parity([np.nan, 2.0], [np.nan, 2.0], 1e-6, "same NaN")
