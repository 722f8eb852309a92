"""Chapter 07: scratchnn.dropout against keras.layers.Dropout / SpatialDropout1D / SpatialDropout2D.

Masks are random and never compared across generators. Instead:
- ours on Keras's own mask (recovered as ``output != 0``) equals Keras's output exactly,
  float32 and float64, for several rates and for noise_shape;
- inference (training=False) is the identity in both;
- the keep fraction is 1 − rate within a 4σ binomial bound, in both;
- the backward pass equals tf.GradientTape's gradient on Keras's mask and finite differences
  with a fixed mask;
- SpatialDropout masks are constant over the spatial axes; bad input raises clear errors.
- AlphaDropout: ours on Keras's mask (recovered as ``output != a·α′ + b``) equals Keras's output
  and GradientTape gradient exactly; mean 0 / variance 1 kept within 4σ; a wrong saturation
  constant (α without λ, −1, 0) fails the parity.
- The checks catch the named mistakes (keep probability used as the rate, survivors scaled by
  (1 − rate), dropping at inference): see the tests whose names start with ``test_catches_``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course import gradient_check, numerical_gradient, parity
from scratchnn import dropout as D

RNG = np.random.default_rng(7)


def keep_fraction_ok(mask, rate, z_max=4.0):
    """|kept fraction − (1 − rate)| ≤ z_max binomial standard deviations."""
    mask = np.asarray(mask, dtype=bool)
    k = 1.0 - rate
    if k in (0.0, 1.0):
        return bool(np.all(mask == (k == 1.0)))
    sigma = np.sqrt(k * (1 - k) / mask.size)
    return abs(mask.mean() - k) <= z_max * sigma


def keras_forward(rate, x, seed=0, **kwargs):
    layer = keras.layers.Dropout(rate, seed=seed, dtype=x.dtype.name, **kwargs)
    return np.asarray(layer(x, training=True))


def forward_matches_keras(forward, rate, x, seed=0):
    """forward(x, mask, rate) on Keras's mask must reproduce Keras's output exactly."""
    out = keras_forward(rate, x, seed)
    try:
        parity(forward(x, out != 0, rate), out, 0.0, f"rate {rate}")
    except AssertionError:
        return False
    return True


# ------------------------------------------------------------------ forward parity


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.8, 0.95])
def test_forward_on_keras_mask_is_exact(dtype, rate):
    x = RNG.normal(size=(300, 40)).astype(dtype)
    assert forward_matches_keras(D.apply_dropout, rate, x, seed=int(rate * 100))
    assert D.apply_dropout(x, x > 0, rate).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_output_is_masked_and_scaled_exactly(dtype):
    x = RNG.normal(size=(100, 30)).astype(dtype)
    layer = D.Dropout(0.3, seed=1)
    y = layer.forward(x, training=True)
    assert y.dtype == np.dtype(dtype)
    scale = np.asarray(1 / 0.7, dtype=dtype)
    np.testing.assert_array_equal(y, np.where(layer.mask, x * scale, 0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.0, 0.4, 1.0])
def test_inference_is_identity_like_keras(dtype, rate):
    x = RNG.normal(size=(20, 7)).astype(dtype)
    keras_out = keras.layers.Dropout(rate, dtype=dtype)(x, training=False)
    parity(D.Dropout(rate).forward(x, training=False), keras_out, 0.0, "inference")
    parity(D.Dropout(rate).forward(x), x, 0.0, "training defaults to False")


def test_rate_zero_and_one_like_keras():
    x = RNG.normal(size=(5, 6)).astype("float32")
    parity(D.Dropout(0.0).forward(x, training=True), keras_forward(0.0, x), 0.0, "rate 0")
    parity(D.Dropout(1.0).forward(x, training=True), keras_forward(1.0, x), 0.0, "rate 1 → zeros")
    layer = D.Dropout(1.0)
    layer.forward(x, training=True)
    parity(layer.backward(np.ones_like(x)), np.zeros_like(x), 0.0, "rate 1 backward")


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_keep_fraction_statistical_ours_and_keras(rate):
    x = RNG.normal(size=(200, 300)).astype("float32")
    assert keep_fraction_ok(keras_forward(rate, x, seed=3) != 0, rate)
    layer = D.Dropout(rate, seed=3)
    layer.forward(x, training=True)
    assert keep_fraction_ok(layer.mask, rate)


def test_seed_reproducible_and_masks_vary_between_calls():
    x = np.ones((50, 50))
    a, b = D.Dropout(0.5, seed=4), D.Dropout(0.5, seed=4)
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))
    first = a.mask.copy()
    a.forward(x, training=True)
    assert not np.array_equal(first, a.mask)


def test_noise_shape_broadcasts_like_keras():
    x = RNG.normal(size=(16, 5, 8)).astype("float32")
    out = keras_forward(0.4, x, seed=2, noise_shape=(None, 1, 8))
    mask = (out != 0).any(axis=1, keepdims=True)
    np.testing.assert_array_equal(out != 0, np.broadcast_to(mask, x.shape))
    parity(D.apply_dropout(x, mask, 0.4), out, 0.0, "noise_shape (None, 1, 8)")
    ours = D.Dropout(0.4, noise_shape=(None, 1, 8), seed=0)
    y = ours.forward(x, training=True)
    assert ours.mask.shape == (16, 1, 8)
    np.testing.assert_array_equal(y != 0, np.broadcast_to(ours.mask, x.shape))


# ------------------------------------------------------------------ backward


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_backward_matches_gradient_tape_on_keras_mask(dtype, rate):
    x = RNG.normal(size=(64, 32)).astype(dtype)
    g = RNG.normal(size=(64, 32)).astype(dtype)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = keras.layers.Dropout(rate, seed=5, dtype=dtype)(xv, training=True)
        loss = tf.reduce_sum(out * g)
    tape_grad = tape.gradient(loss, xv).numpy()
    parity(D.apply_dropout_backward(g, out.numpy() != 0, rate), tape_grad, 0.0, "backward vs tape")


def test_layer_backward_gradient_check_with_fixed_mask():
    layer = D.Dropout(0.35, seed=2)
    x, g = RNG.normal(size=(6, 7)), RNG.normal(size=(6, 7))
    layer.forward(x, training=True)
    mask = layer.mask.copy()
    numeric = numerical_gradient(lambda v: np.sum(g * D.apply_dropout(v, mask, 0.35)), x.copy())
    gradient_check(layer.backward(g), numeric, 1e-8, "Dropout backward")


def test_backward_at_inference_passes_gradient_through():
    layer = D.Dropout(0.5)
    layer.forward(np.ones((3, 4)), training=False)
    np.testing.assert_array_equal(layer.backward(np.full((3, 4), 2.0)), np.full((3, 4), 2.0))


# ------------------------------------------------------------------ spatial dropout


@pytest.mark.parametrize(
    "ours_cls, keras_cls, shape, axes",
    [
        (D.SpatialDropout1D, keras.layers.SpatialDropout1D, (40, 9, 24), (1,)),
        (D.SpatialDropout2D, keras.layers.SpatialDropout2D, (20, 5, 6, 24), (1, 2)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spatial_dropout_matches_keras(ours_cls, keras_cls, shape, axes, dtype):
    x = RNG.normal(size=shape).astype(dtype)
    out = np.asarray(keras_cls(0.4, seed=6, dtype=dtype)(x, training=True))
    channel_mask = (out != 0).any(axis=axes, keepdims=True)
    np.testing.assert_array_equal(out != 0, np.broadcast_to(channel_mask, shape))
    parity(D.apply_dropout(x, channel_mask, 0.4), out, 0.0, "spatial, on Keras's mask")
    assert keep_fraction_ok(channel_mask, 0.4)
    layer = ours_cls(0.4, seed=6)
    y = layer.forward(x, training=True)
    assert layer.mask.shape == channel_mask.shape
    np.testing.assert_array_equal(y != 0, np.broadcast_to(layer.mask, shape))
    assert keep_fraction_ok(layer.mask, 0.4)
    parity(
        layer.backward(np.ones(shape, dtype)),
        np.broadcast_to(layer.mask * np.asarray(1 / 0.6, dtype), shape),
        0.0,
        "spatial backward",
    )
    parity(
        ours_cls(0.4).forward(x, training=False),
        keras_cls(0.4, dtype=dtype)(x, training=False),
        0.0,
        "spatial inference",
    )


def test_spatial_dropout_2d_channels_first():
    x = RNG.normal(size=(30, 16, 4, 4))
    layer = D.SpatialDropout2D(0.5, data_format="channels_first", seed=0)
    y = layer.forward(x, training=True)
    assert layer.mask.shape == (30, 16, 1, 1)
    np.testing.assert_array_equal(y != 0, np.broadcast_to(layer.mask, x.shape))


# ------------------------------------------------------------------ conventions and bad input


def test_keep_rate_conversions():
    assert D.rate_from_keep(0.8) == pytest.approx(0.2)
    assert D.keep_from_rate(0.2) == pytest.approx(0.8)
    assert D.rate_from_keep(D.keep_from_rate(0.35)) == pytest.approx(0.35)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", None, True])
def test_rate_validation_like_keras(bad):
    with pytest.raises(ValueError, match="rate"):
        D.Dropout(bad)
    if isinstance(bad, float) and np.isfinite(bad):
        with pytest.raises(ValueError, match="between 0 and 1"):
            keras.layers.Dropout(bad)


def test_bad_shapes_have_clear_messages():
    with pytest.raises(ValueError, match=r"3-D input .*got shape \(4, 5\)"):
        D.SpatialDropout1D(0.5).forward(np.ones((4, 5)), training=True)
    with pytest.raises(ValueError, match=r"4-D input .*got shape \(4, 5, 6\)"):
        D.SpatialDropout2D(0.5).forward(np.ones((4, 5, 6)), training=True)
    with pytest.raises(ValueError, match="data_format"):
        D.SpatialDropout2D(0.5, data_format="nhwc")
    with pytest.raises(ValueError, match=r"noise_shape .* input has shape \(4, 5\)"):
        D.Dropout(0.5, noise_shape=(4, 1, 1)).forward(np.ones((4, 5)), training=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        D.Dropout(0.5, noise_shape=(4, 3)).forward(np.ones((4, 5)), training=True)
    with pytest.raises(ValueError, match="positive integer"):
        D.Dropout(0.5, noise_shape=(4, 0))
    layer = D.Dropout(0.5)
    with pytest.raises(RuntimeError, match="forward before backward"):
        layer.backward(np.ones(3))
    layer.forward(np.ones((4, 5)), training=True)
    with pytest.raises(ValueError, match=r"expects grad of shape \(4, 5\).*got \(5, 4\)"):
        layer.backward(np.ones((5, 4)))


# -------------------------------------------------------------- the checks catch the named mistakes


def test_catches_keep_probability_used_as_rate():
    keep_prob = 0.8  # a paper's p, passed as Keras's rate
    layer = D.Dropout(keep_prob, seed=0)
    layer.forward(np.ones((200, 200)), training=True)
    assert not keep_fraction_ok(layer.mask, D.rate_from_keep(keep_prob)), (
        "the keep-fraction check must reject p = 0.8 used as the drop rate"
    )
    right = D.Dropout(D.rate_from_keep(keep_prob), seed=0)
    right.forward(np.ones((200, 200)), training=True)
    assert keep_fraction_ok(right.mask, D.rate_from_keep(keep_prob))


def test_catches_scaling_by_one_minus_rate():
    def scaled_wrong(x, mask, rate):
        return x * mask * (1.0 - rate)

    x = RNG.normal(size=(100, 20)).astype("float32")
    assert not forward_matches_keras(scaled_wrong, 0.3, x), (
        "parity must reject survivors × (1 − rate)"
    )
    assert forward_matches_keras(D.apply_dropout, 0.3, x)


def test_catches_dropping_at_inference():
    class DropsAtInference(D.Dropout):
        def forward(self, x, training=False):
            return super().forward(x, training=True)

    x = RNG.normal(size=(50, 10))
    keras_out = keras.layers.Dropout(0.3, dtype="float64")(x, training=False)
    with pytest.raises(AssertionError, match="max"):
        parity(
            DropsAtInference(0.3, seed=0).forward(x, training=False), keras_out, 0.0, "inference"
        )
    parity(D.Dropout(0.3).forward(x, training=False), keras_out, 0.0, "inference")


# ------------------------------------------------------------------ the chapter's experiment


def moons_dropout_mlp(rate, hidden=16):
    """The chapter's set-up in small: Dense–Dropout–Dense–Dropout–Dense in one Sequential."""
    from scratchnn.foundations import Dense, Sequential

    np.random.seed(0)
    model = Sequential(
        [
            Dense(hidden, activation="relu"),
            D.Dropout(rate, seed=1),
            Dense(hidden, activation="relu"),
            D.Dropout(rate, seed=2),
            Dense(1),
        ]
    )
    model.build((None, 2))
    return model


def test_fit_trains_a_sequential_with_dropout_layers_and_mc_passes_differ():
    """fit runs the Dropout layers in training mode (the loss it reports is noisy), evaluates
    validation data with dropout off, and Monte Carlo passes (training=True) differ from each
    other while inference passes are identical."""
    from course.datasets import noisy_moons as moons
    from scratchnn.losses import BinaryCrossentropy
    from scratchnn.optimizers import Adam, fit

    x, y, xv, yv = moons(40, 40)
    bce = BinaryCrossentropy(from_logits=True, dtype="float64")
    model = moons_dropout_mlp(0.5)
    hist = fit(
        model,
        x,
        y,
        bce,
        Adam(0.01),
        epochs=30,
        batch_size=len(x),
        validation_data=(xv, yv),
        shuffle=False,
    )
    assert hist["loss"].shape == (30,) and np.all(np.isfinite(hist["val_loss"]))
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    np.testing.assert_allclose(hist["val_loss"][-1], bce(yv, model.forward(xv)), rtol=1e-12)
    passes = np.stack([model.forward(xv, training=True) for _ in range(5)])
    assert np.ptp(passes, axis=0).max() > 0  # each pass draws new masks
    np.testing.assert_array_equal(model.forward(xv), model.forward(xv))
    still = moons_dropout_mlp(0.0)
    np.testing.assert_array_equal(still.forward(xv, training=True), still.forward(xv))


def test_static_explorer_grid_shows_one_panel_per_rate_with_its_best_and_last_loss():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.explorers.ch07 import plot_rate_grid

    epochs = np.arange(1, 6)
    histories = {
        r: {"train_loss": 1.0 / epochs, "val_loss": np.array([0.9, 0.5, 0.4 + r, 0.6, 0.7 + r])}
        for r in (0.0, 0.3, 0.6, 0.9)
    }
    fig = plot_rate_grid(histories, title="t")
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert titles == [
        "rate 0: val CE best 0.40, last 0.70",
        "rate 0.3: val CE best 0.50, last 1.00",
        "rate 0.6: val CE best 0.50, last 1.30",
        "rate 0.9: val CE best 0.50, last 1.60",
    ]


# ------------------------------------------------------------------ AlphaDropout (SELU networks)


def keras_alpha(rate, x, seed=0, **kwargs):
    """keras.layers.AlphaDropout's training output and its keep-mask (recovered from the output:
    a dropped entry is exactly a·α′ + b in x's dtype)."""
    layer = keras.layers.AlphaDropout(rate, seed=seed, dtype=x.dtype.name, **kwargs)
    out = np.asarray(layer(x, training=True))
    cast = x.dtype.type
    a, b = D.alpha_dropout_constants(rate)
    return out, out != cast(a) * cast(D.ALPHA_PRIME) + cast(b)


def test_alpha_constants_are_selus_saturation_and_the_papers_affine_map():
    # α′ is SELU's limit at −∞; a and b are the closed forms, written out independently.
    from scratchnn.activations import selu

    assert D.ALPHA_PRIME == pytest.approx(float(selu(np.array([-800.0]))[0]), abs=1e-15)
    assert D.ALPHA_PRIME == pytest.approx(-1.7580993408473766, abs=1e-15)
    for q in [0.0, 0.05, 0.37, 0.9]:
        a, b = D.alpha_dropout_constants(q)
        keep = 1 - q  # the paper's q
        a_paper = (keep + D.ALPHA_PRIME**2 * keep * (1 - keep)) ** -0.5
        assert a == pytest.approx(a_paper, rel=1e-14)
        assert b == pytest.approx(-(1 - keep) * D.ALPHA_PRIME * a_paper, rel=1e-14, abs=1e-16)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.65])
def test_alpha_forward_on_keras_mask_is_exact(dtype, rate):
    x = RNG.normal(size=(37, 11, 3)).astype(dtype)
    out, mask = keras_alpha(rate, x, seed=int(rate * 100))
    assert keep_fraction_ok(mask, rate)
    parity(D.apply_alpha_dropout(x, mask, rate), out, 0.0, f"alpha rate {rate}")
    assert D.apply_alpha_dropout(x, mask, rate).dtype == np.dtype(dtype)


def test_alpha_noise_shape_broadcasts_like_keras():
    x = RNG.normal(size=(23, 4, 9))
    out, mask = keras_alpha(0.3, x, seed=2, noise_shape=(None, 1, 9))
    assert np.array_equal(mask, np.broadcast_to(mask[:, :1], mask.shape))
    parity(D.apply_alpha_dropout(x, mask[:, :1], 0.3), out, 0.0, "alpha noise_shape")
    layer = D.AlphaDropout(0.3, noise_shape=(None, 1, 9), seed=0)
    layer.forward(x, training=True)
    assert layer.mask.shape == (23, 1, 9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_alpha_inference_and_rate_zero_are_identity_like_keras(dtype):
    x = RNG.normal(size=(13, 6)).astype(dtype)
    parity(D.AlphaDropout(0.4).forward(x), x, 0.0, "training defaults to False")
    keras_out = keras.layers.AlphaDropout(0.4, dtype=dtype)(x, training=False)
    parity(D.AlphaDropout(0.4).forward(x, training=False), keras_out, 0.0, "inference")
    keras_zero = keras.layers.AlphaDropout(0.0, dtype=dtype)(x, training=True)
    parity(D.AlphaDropout(0.0).forward(x, training=True), keras_zero, 0.0, "rate 0")


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_alpha_keeps_mean_zero_and_variance_one_ours_and_keras(rate):
    x = RNG.normal(size=(300, 400))
    layer = D.AlphaDropout(rate, seed=4)
    for y in [layer.forward(x, training=True), keras_alpha(rate, x, seed=4)[0]]:
        n = y.size
        se_var = np.sqrt((np.mean((y - y.mean()) ** 4) - y.var() ** 2) / n)
        assert abs(y.mean()) * np.sqrt(n) <= 4
        assert abs(y.var() - 1) <= 4 * se_var
    assert keep_fraction_ok(layer.mask, rate)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_alpha_backward_matches_gradient_tape_on_keras_mask(dtype):
    x = RNG.normal(size=(19, 14)).astype(dtype)
    g = RNG.normal(size=(19, 14)).astype(dtype)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = keras.layers.AlphaDropout(0.35, seed=9, dtype=dtype)(xv, training=True)
        loss = tf.reduce_sum(out * g)
    a, b = D.alpha_dropout_constants(0.35)
    cast = np.dtype(dtype).type
    mask = out.numpy() != cast(a) * cast(D.ALPHA_PRIME) + cast(b)
    parity(D.apply_alpha_dropout_backward(g, mask, 0.35), tape.gradient(loss, xv), 0.0, "tape")


def test_alpha_layer_backward_gradient_check_with_fixed_mask():
    layer = D.AlphaDropout(0.25, seed=3)
    x, g = RNG.normal(size=(4, 7)), RNG.normal(size=(4, 7))
    layer.forward(x, training=True)
    mask = layer.mask.copy()
    numeric = numerical_gradient(lambda v: np.sum(g * D.apply_alpha_dropout(v, mask, 0.25)), x)
    gradient_check(layer.backward(g), numeric, 1e-8, "alpha backward")
    layer.forward(x, training=False)
    parity(layer.backward(g), g, 0.0, "inference passes the gradient through")


def test_alpha_rate_one_and_bad_input():
    with pytest.raises(ValueError, match="rate < 1"):
        D.AlphaDropout(1.0)
    with pytest.raises(ZeroDivisionError):  # what Keras does instead, at call time
        keras.layers.AlphaDropout(1.0)(np.ones((2, 2)), training=True)
    with pytest.raises(ValueError, match="rate"):
        D.AlphaDropout(-0.2)
    layer = D.AlphaDropout(0.3, seed=0)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones((2, 2)))
    layer.forward(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        layer.backward(np.ones((3, 2)))


def alpha_with(alpha_prime, x, mask, rate):
    """Alpha dropout written out with a given saturation value (a wrong one in the tests below)."""
    a = ((1 - rate) * (1 + rate * alpha_prime**2)) ** -0.5
    keep = mask.astype(x.dtype)
    return a * (x * keep + alpha_prime * (1 - keep)) - a * alpha_prime * rate


@pytest.mark.parametrize("wrong", [-1.6732632423543772, -1.0, 0.0])
def test_catches_a_wrong_saturation_constant(wrong):
    # α without λ, ELU's −1, and zeros (plain dropout's fill) all fail the parity on Keras's mask;
    # the same code with the right α′ passes.
    x = RNG.normal(size=(29, 17))
    out, mask = keras_alpha(0.2, x, seed=6)
    parity(alpha_with(D.ALPHA_PRIME, x, mask, 0.2), out, 1e-12, "right α′")
    with pytest.raises(AssertionError):
        parity(alpha_with(wrong, x, mask, 0.2), out, 1e-6, "wrong α′")


def test_catches_keep_probability_used_as_alpha_rate():
    x = RNG.normal(size=(200, 50))
    layer = D.AlphaDropout(0.9, seed=1)  # a paper's q = 0.9 (keep) passed as Keras's rate
    layer.forward(x, training=True)
    assert not keep_fraction_ok(layer.mask, 0.1)
