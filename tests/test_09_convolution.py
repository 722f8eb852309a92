"""Chapter 09: scratchnn.convolution against keras.layers.Conv2D, MaxPooling2D,
GlobalAveragePooling2D, Flatten and Rescaling.

- Forward and backward (dL/dx, dL/dkernel, dL/dbias from tf.GradientTape) agree in float64 to
  1e-12 on hand-picked awkward shapes and on seeded random shapes, strides and paddings;
  float32 Keras agrees with our float64 on float32-rounded numbers to 1e-5.
- Finite differences agree with every backward pass (relative error ≤ 1e-8).
- "same" puts the odd zero at the bottom/right, and max-pool ties go to the first maximum in
  row-major order, as TensorFlow does; the checks fail for the other choices.
- Output shapes and the initializers' fans match Keras; bad input raises errors that name the
  expected and the actual shape.
- A small CNN of scratchnn layers has Keras's gradients for every weight.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans

from course import gradient_check, numerical_gradient, parity
from scratchnn import convolution as C
from scratchnn.activations import Activation
from scratchnn.foundations import Dense, Sequential
from scratchnn.initializers import compute_fans
from scratchnn.normalization import BatchNormalization

RNG = np.random.default_rng(9)

CONFIGS = [  # input shape, Conv2D arguments
    ((2, 7, 9, 3), dict(filters=4, kernel_size=3)),
    ((2, 7, 9, 3), dict(filters=4, kernel_size=3, strides=2, padding="same")),
    ((3, 8, 8, 1), dict(filters=5, kernel_size=1, padding="same", activation="relu")),
    ((2, 6, 11, 2), dict(filters=3, kernel_size=(2, 5), strides=(2, 3), padding="same")),
    ((2, 5, 5, 2), dict(filters=3, kernel_size=(4, 2), strides=(3, 1), use_bias=False)),
    ((1, 1, 1, 2), dict(filters=2, kernel_size=3, strides=2, padding="same", activation="tanh")),
    ((2, 4, 6, 1), dict(filters=2, kernel_size=(2, 2), padding="SAME", activation="sigmoid")),
]


def conv_with_bias(shape, **kwargs):
    layer = C.Conv2D(**kwargs, bias_initializer=lambda s: RNG.normal(size=s))
    layer.build(shape)
    return layer


def keras_like(layer, input_shape, dtype="float64"):
    twin = keras.layers.Conv2D(**layer.get_config(), dtype=dtype)
    twin.build(input_shape)
    twin.set_weights([w.astype(dtype) for w in layer.get_weights()])
    return twin


def flat(arrays):
    return np.concatenate([np.ravel(np.asarray(a)) for a in arrays])


def conv_matches_keras(layer, x):
    """Forward and every gradient of L = Σ g·y equal to Keras's within 1e-12 (float64)."""
    twin = keras_like(layer, x.shape)
    y = layer.forward(x)
    parity(y, twin(x), 1e-12, "forward")
    g = RNG.normal(size=y.shape)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(twin(xv) * g)
    expected = tape.gradient(loss, [xv, *twin.trainable_weights])
    parity(flat([layer.backward(g), *layer.grads]), flat(expected), 1e-12, "backward")
    return True


# ------------------------------------------------------------------ Conv2D parity


@pytest.mark.parametrize("shape, kwargs", CONFIGS)
def test_conv_forward_and_backward_match_keras_float64(shape, kwargs):
    assert conv_matches_keras(conv_with_bias(shape, **kwargs), RNG.normal(size=shape))


@pytest.mark.parametrize("shape, kwargs", CONFIGS)
def test_conv_float32_keras_agrees_within_1e5(shape, kwargs):
    ours = conv_with_bias(shape, **kwargs)
    ours.set_weights([w.astype("float32") for w in ours.get_weights()])
    x = RNG.normal(size=shape).astype("float32")
    parity(ours.forward(x), keras_like(ours, shape, "float32")(x), 1e-5, "float32")


def test_conv_random_shapes_match_keras():
    """Property test: 40 seeded random geometries (sizes 1–9, kernels 1–4, strides 1–3, both
    paddings, 1–3 channels); a "valid" window that does not fit must raise instead."""
    rng = np.random.default_rng(2024)
    checked = 0
    for _ in range(40):
        shape = (
            int(rng.integers(1, 3)),
            *map(int, rng.integers(1, 10, 2)),
            int(rng.integers(1, 4)),
        )
        kwargs = dict(
            filters=int(rng.integers(1, 4)),
            kernel_size=tuple(map(int, rng.integers(1, 5, 2))),
            strides=tuple(map(int, rng.integers(1, 4, 2))),
            padding=str(rng.choice(["valid", "same"])),
            activation=str(rng.choice(["linear", "tanh"])),
        )
        layer = conv_with_bias(shape, **kwargs)
        fits = all(n >= k for n, k in zip(shape[1:3], kwargs["kernel_size"]))
        if kwargs["padding"] == "valid" and not fits:
            with pytest.raises(ValueError, match="smaller than the window"):
                layer.forward(np.zeros(shape))
            continue
        out_shape = keras.layers.Conv2D(**kwargs).compute_output_shape(shape)
        assert layer.compute_output_shape(shape) == tuple(out_shape), (shape, kwargs)
        assert conv_matches_keras(layer, rng.normal(size=shape)), (shape, kwargs)
        checked += 1
    assert checked >= 25  # most draws fit


def test_conv_output_shape_with_unknown_sizes():
    layer = C.Conv2D(8, (3, 2), strides=2, padding="same")
    assert layer.compute_output_shape((None, None, 7, 3)) == (None, None, 4, 8)
    assert layer.compute_output_shape((None, 9, 7, 3)) == (None, 5, 4, 8)


# ------------------------------------------------------------------ finite differences


def test_conv_gradients_match_finite_differences():
    conv = conv_with_bias(
        (2, 5, 6, 2), filters=3, kernel_size=(3, 2), strides=2, padding="same", activation="tanh"
    )
    x = RNG.normal(size=(2, 5, 6, 2))
    g = RNG.normal(size=conv.compute_output_shape(x.shape))
    conv.forward(x)
    analytic = [conv.backward(g), *conv.grads]
    loss = lambda: float(np.sum(g * conv.forward(x)))  # noqa: E731
    numeric = [
        numerical_gradient(lambda v: float(np.sum(g * conv.forward(v))), x.copy()),
        numerical_gradient(lambda k: loss(), conv.kernel),
        numerical_gradient(lambda b: loss(), conv.bias),
    ]
    for a, n in zip(analytic, numeric):
        gradient_check(a, n, 1e-8)


@pytest.mark.parametrize(
    "layer",
    [
        C.MaxPooling2D(2, strides=1, padding="same"),
        C.MaxPooling2D((3, 2), strides=(2, 1)),
        C.GlobalAveragePooling2D(),
        C.GlobalAveragePooling2D(keepdims=True),
        C.Flatten(),
        C.Rescaling(0.25, offset=1.0),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_weightless_layers_match_finite_differences(layer):
    x = RNG.normal(size=(2, 5, 6, 2))  # continuous values: no ties
    g = RNG.normal(size=np.shape(layer.forward(x)))
    numeric = numerical_gradient(lambda v: float(np.sum(g * layer.forward(v))), x.copy())
    layer.forward(x)
    gradient_check(layer.backward(g), numeric, 1e-8)


# ------------------------------------------------------------------ pooling and friends


POOLS = [
    dict(pool_size=3, padding="same"),
    dict(pool_size=2, strides=1),
    dict(pool_size=(2, 3), strides=(2, 1), padding="same"),
    dict(pool_size=(3, 1), strides=(1, 2), padding="valid"),
    dict(pool_size=3, strides=2, padding="same"),
]


def weightless_matches_keras(ours, theirs, x):
    theirs = theirs.__class__.from_config({**theirs.get_config(), "dtype": "float64"})
    y = ours.forward(x)
    xv = tf.Variable(x)
    g = RNG.normal(size=y.shape)
    with tf.GradientTape() as tape:
        y_keras = theirs(xv)
        loss = tf.reduce_sum(y_keras * g)
    parity(y, y_keras, 1e-12, "forward")
    parity(ours.backward(g), tape.gradient(loss, xv), 1e-12, "backward")
    return True


@pytest.mark.parametrize("kwargs", POOLS)
@pytest.mark.parametrize("integer", [False, True], ids=["continuous", "with-ties"])
def test_max_pooling_matches_keras(kwargs, integer):
    x = RNG.normal(size=(3, 7, 9, 2))
    if integer:  # many ties: the gradient must go where TensorFlow sends it
        x = np.floor(x).clip(-1, 1)
    assert weightless_matches_keras(
        C.MaxPooling2D(**kwargs), keras.layers.MaxPooling2D(**kwargs), x
    )


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (C.GlobalAveragePooling2D(), keras.layers.GlobalAveragePooling2D()),
        (
            C.GlobalAveragePooling2D(keepdims=True),
            keras.layers.GlobalAveragePooling2D(keepdims=True),
        ),
        (C.Flatten(), keras.layers.Flatten()),
        (C.Rescaling(1 / 16), keras.layers.Rescaling(1 / 16)),
        (C.Rescaling(2.0, offset=-1.0), keras.layers.Rescaling(2.0, offset=-1.0)),
    ],
    ids=["gap", "gap-keepdims", "flatten", "rescaling", "rescaling-offset"],
)
def test_other_layers_match_keras(ours, theirs):
    assert weightless_matches_keras(ours, theirs, RNG.normal(size=(2, 5, 3, 4)))


def test_max_pool_tie_goes_to_first_maximum_in_row_major_order():
    window = np.array([[1.0, 5.0], [5.0, 1.0]]).reshape(1, 2, 2, 1)
    xv = tf.Variable(window)
    with tf.GradientTape() as tape:
        out = keras.layers.MaxPooling2D(2, dtype="float64")(xv)
    expected = tape.gradient(out, xv).numpy()
    pool = C.MaxPooling2D(2)
    pool.forward(window)
    got = pool.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[0, :, :, 0], [[0, 1], [0, 0]])  # (0, 1), not (1, 0)


def test_tie_check_can_fail():
    """A 'last maximum' rule disagrees with TensorFlow on tied windows."""
    x = np.floor(RNG.normal(size=(2, 6, 6, 2))).clip(-1, 1)
    pool = C.MaxPooling2D(2)
    y = pool.forward(x[:, ::-1, ::-1])  # the last maximum of x is the first of the flipped x
    g = RNG.normal(size=y.shape)
    last_rule = pool.backward(g[:, ::-1, ::-1])[:, ::-1, ::-1]
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.layers.MaxPooling2D(2, dtype="float64")(xv) * g)
    with pytest.raises(AssertionError):
        parity(last_rule, tape.gradient(loss, xv), 1e-12)


# ------------------------------------------------------------------ padding geometry


@pytest.mark.parametrize(
    "n, k, s, expected",
    [
        (8, 3, 3, (3, (0, 1))),  # the chapter's pooling: one zero row at the bottom
        (4, 2, 1, (4, (0, 1))),
        (7, 3, 2, (4, (1, 1))),
        (6, 5, 3, (2, (1, 1))),
        (6, 4, 3, (2, (0, 1))),
        (5, 4, 1, (5, (1, 2))),
        (1, 3, 2, (1, (1, 1))),
        (9, 1, 2, (5, (0, 0))),
    ],
)
def test_same_padding_split_is_tensorflows(n, k, s, expected):
    assert C.conv_output_length(n, k, s, "same") == expected


def test_padding_split_check_can_fail():
    """Putting the odd zero at the top/left gives a different convolution than Keras's."""
    x = RNG.normal(size=(1, 4, 4, 1))
    layer = conv_with_bias(x.shape, filters=1, kernel_size=2, padding="same")
    twin = keras_like(layer, x.shape)
    padded = np.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0)))
    flipped = C.Conv2D(1, 2, kernel_initializer=lambda s: layer.kernel)
    flipped.build(padded.shape)
    flipped.bias[:] = layer.bias
    with pytest.raises(AssertionError):
        parity(flipped.forward(padded), twin(x), 1e-12)
    parity(layer.forward(x), twin(x), 1e-12)


def test_fold_is_the_adjoint_of_extract():
    """⟨extract(x), p⟩ = ⟨x, fold(p)⟩: col2im is the transpose of im2col."""
    x = RNG.normal(size=(2, 7, 5, 3))
    patches, pads = C.extract_patches(x, (3, 2), (2, 1), "same")
    p = RNG.normal(size=patches.shape)
    lhs = np.sum(patches * p)
    rhs = np.sum(x * C.fold_patches(p, x.shape, (2, 1), pads))
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs)


# ------------------------------------------------------------------ layout and initializers


@pytest.mark.parametrize("shape", [(3, 3, 1, 16), (3, 3, 16, 32), (1, 1, 8, 4), (2, 5, 3, 7)])
def test_fans_of_a_conv_kernel_are_keras(shape):
    assert compute_fans(shape) == tuple(keras_compute_fans(shape))
    kh, kw, c_in, c_out = shape
    assert compute_fans(shape) == (kh * kw * c_in, kh * kw * c_out)


def test_he_uniform_kernel_has_keras_layout_and_limit():
    layer = C.Conv2D(32, 3, kernel_initializer="he_uniform")
    layer.build((None, 8, 8, 16))
    assert layer.kernel.shape == (3, 3, 16, 32) and layer.kernel.dtype == np.float64
    limit = np.sqrt(6 / (3 * 3 * 16))
    assert np.abs(layer.kernel).max() <= limit
    assert abs(layer.kernel.std() - limit / np.sqrt(3)) < 0.05 * limit  # 4,608 draws


# ------------------------------------------------------------------ errors


def test_wrong_channel_count_names_expected_and_actual_shapes():
    layer = C.Conv2D(8, 3)
    layer.forward(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(batch, rows, cols, 3\), got \(2, 8, 8, 4\)"):
        layer.forward(np.zeros((2, 8, 8, 4)))
    with pytest.raises(ValueError, match=r"got \(8, 8, 3\)"):
        layer.forward(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=r"grad of shape \(2, 6, 6, 8\), got \(2, 8, 8, 8\)"):
        layer.backward(np.zeros((2, 8, 8, 8)))


def test_unbuilt_conv_rejects_non_4d_input():
    with pytest.raises(ValueError, match=r"4-D input .* got shape \(5, 5\)"):
        C.Conv2D(2, 3).forward(np.zeros((5, 5)))


@pytest.mark.parametrize(
    "layer", [C.MaxPooling2D(2), C.GlobalAveragePooling2D()], ids=["max", "gap"]
)
def test_pooling_rejects_non_4d_input_and_bad_grads(layer):
    with pytest.raises(ValueError, match=r"4-D input .* got shape \(4, 4, 2\)"):
        layer.forward(np.zeros((4, 4, 2)))
    y = layer.forward(np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="expects grad of shape"):
        layer.backward(np.zeros((1, *y.shape[1:], 3)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: C.Conv2D(4, 3, padding="causal"),
        lambda: C.Conv2D(4, 0),
        lambda: C.Conv2D(0, 3),
        lambda: C.Conv2D(4, (3, 3, 3)),
        lambda: C.Conv2D(4, 3, data_format="channels_first"),
        lambda: C.MaxPooling2D(2, strides=(1, 0)),
        lambda: C.Conv2D(4, 3, activation="no-such-activation"),
    ],
)
def test_bad_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_backward_before_forward_raises():
    for layer in [C.Conv2D(2, 3), C.MaxPooling2D(), C.GlobalAveragePooling2D(), C.Flatten()]:
        with pytest.raises(RuntimeError, match="forward before backward"):
            layer.backward(np.zeros((1, 1, 1, 1)))


# ------------------------------------------------------------------ a CNN


def test_small_cnn_has_keras_gradients():
    """Conv → BN → ReLU → MaxPool → Conv → GAP → Dense: every weight's gradient in training mode
    equals tf.GradientTape's on the Keras twin with the same weights."""
    x = RNG.normal(size=(6, 9, 7, 2))
    ours = Sequential(
        [
            C.Rescaling(0.5),
            C.Conv2D(4, 3, padding="same", kernel_initializer="he_uniform"),
            BatchNormalization(),
            Activation("relu"),
            C.MaxPooling2D(2, padding="same"),
            C.Conv2D(5, (2, 3), strides=(1, 2)),
            C.GlobalAveragePooling2D(),
            Dense(3),
        ]
    )
    ours.build(x.shape)
    d = "float64"
    twin = keras.Sequential(
        [
            keras.Input(x.shape[1:], dtype=d),
            keras.layers.Rescaling(0.5, dtype=d),
            keras.layers.Conv2D(4, 3, padding="same", dtype=d),
            keras.layers.BatchNormalization(dtype=d),
            keras.layers.Activation("relu", dtype=d),
            keras.layers.MaxPooling2D(2, padding="same", dtype=d),
            keras.layers.Conv2D(5, (2, 3), strides=(1, 2), dtype=d),
            keras.layers.GlobalAveragePooling2D(dtype=d),
            keras.layers.Dense(3, dtype=d),
        ]
    )
    twin.set_weights(ours.get_weights())
    y = ours.forward(x, training=True)
    g = RNG.normal(size=y.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(twin(x, training=True) * g)
    expected = tape.gradient(loss, twin.trainable_weights)
    ours.backward(g)
    assert len(ours.grads) == len(expected)
    for a, b in zip(ours.grads, expected):
        parity(a, b, 1e-10)
    parity(flat(ours.get_weights()), flat(twin.get_weights()), 1e-12)  # moving statistics too


# --- the explorer's geometry (course/explorers/ch09.py) ------------------------------------------

EXPLORER_SETTINGS = [
    (k, s, padding, p)
    for k in (1, 2, 3, 5)
    for s in (1, 2, 3)
    for padding in ("valid", "same")
    for p in (1, 2, 3)
]


def pooled_rows_seen(size, kernel_size, strides, padding, pool_size):
    """For each pooled output row, the input rows whose change reaches it (brute force):
    an all-ones kernel on a positive image, then a large bump on one input row at a time."""
    conv = C.Conv2D(1, kernel_size, strides=strides, padding=padding, use_bias=False)
    conv.set_weights([np.ones((kernel_size, kernel_size, 1, 1))])
    pool = C.MaxPooling2D(pool_size, padding="same")
    x = RNG.uniform(1, 2, size=(1, size, 5, 1))
    base = pool.forward(conv.forward(x))[0, :, :, 0]
    seen = [[] for _ in range(base.shape[0])]
    for r in range(size):
        bumped = x.copy()
        bumped[0, r] += 1e3
        changed = (pool.forward(conv.forward(bumped))[0, :, :, 0] != base).any(axis=1)
        for i in np.flatnonzero(changed):
            seen[i].append(r)
    return base.shape[0], seen


@pytest.mark.parametrize("setting", EXPLORER_SETTINGS)
def test_explorer_geometry_matches_brute_force(setting):
    """Output sizes, the receptive field of a pooled unit, the first unit's (padded
    coordinates) and the jump between neighbours, as the explorer prints them."""
    from course.explorers.ch09 import conv_geometry

    size = 23
    g = conv_geometry(size, *setting)
    pooled, seen = pooled_rows_seen(size, *setting)
    assert g["pooled"] == pooled
    assert g["conv"] == C.conv_output_length(size, setting[0], setting[1], setting[2])[0]
    spans = [(rows[0], rows[-1]) for rows in seen]  # with gaps when the stride exceeds k
    # the middle unit, away from both borders, spans k + (p - 1)·s rows; its neighbour's span
    # starts s·p rows further on
    mid = len(spans) // 2
    assert spans[mid][1] - spans[mid][0] + 1 == g["receptive field"]
    if mid + 1 < len(spans):
        assert spans[mid + 1][0] - spans[mid][0] == g["jump"]
    # the top-left unit, in padded coordinates (its rows of zeros count)
    before = g["pads"][0]
    assert spans[0][1] + before + 1 == g["first pooled unit"]


def test_explorer_geometry_check_can_fail():
    """The brute force sees the difference when the stride is left out of the formula."""
    size, setting = 23, (3, 2, "valid", 3)
    _, seen = pooled_rows_seen(size, *setting)
    mid = seen[len(seen) // 2]
    k, s, _, p = setting
    assert mid[-1] - mid[0] + 1 == k + (p - 1) * s != k + (p - 1)


def test_explorer_maps_have_the_printed_shapes():
    from course.explorers.ch09 import conv_geometry, conv_maps

    image = RNG.uniform(0, 16, size=(8, 8))
    for setting in EXPLORER_SETTINGS:
        g = conv_geometry(8, *setting)
        response, pooled = conv_maps(image, *setting)
        assert response.shape == (g["conv"], g["conv"]) and pooled.shape == (g["pooled"],) * 2
        assert response.min() >= 0


# --- pruning whole filters (the chapter's §5) -------------------------------------------------


def _two_block_cnn(filters):
    """Conv → BN → ReLU → MaxPool(3, same), twice, → Flatten → Dense(3): the chapter's layout on
    7×7 inputs (the second pooling leaves 1×1 maps, so Dense has one row per channel)."""
    layers = [C.Rescaling(0.5)]
    for f in filters:
        layers += [
            C.Conv2D(f, 3, padding="same"),
            BatchNormalization(),
            Activation("relu"),
            C.MaxPooling2D(3, padding="same"),
        ]
    model = Sequential(layers + [C.Flatten(), Dense(3)])
    model.build((None, 7, 7, 2))
    return model


def _random_weights(model):
    """Every weight random, the BN's γ, β and moving statistics included (variance > 0)."""
    weights = [RNG.normal(size=np.shape(w)) for w in model.get_weights()]
    for i in (5, 11):  # the two moving variances
        weights[i] = RNG.uniform(0.5, 2.0, size=weights[i].shape)
    return weights


def _remove(weights, drop):
    """The chapter's remove_filters: kernel slice, bias, γ, β, moving statistics and the next
    layer's input slice of each dropped filter."""
    w = [np.array(a) for a in weights]
    for block, d in enumerate(drop):
        i = 6 * block
        keep = np.setdiff1d(np.arange(w[i].shape[3]), d)
        w[i] = w[i][..., keep]
        w[i + 1 : i + 6] = [a[keep] for a in w[i + 1 : i + 6]]
        if block == 0:
            w[6] = w[6][:, :, keep]
        else:
            w[12] = w[12][keep]
    return w


def _mask(weights, drop, bn=True):
    w = [np.array(a) for a in weights]
    for block, d in enumerate(drop):
        i = 6 * block
        w[i][..., d], w[i + 1][d] = 0.0, 0.0
        if bn:
            w[i + 2][d], w[i + 3][d] = 0.0, 0.0
    return w


def _outputs(weights, x):
    model = _two_block_cnn((weights[0].shape[3], weights[6].shape[3]))
    model.set_weights(weights)
    return model.forward(x)


def test_removing_filters_equals_silencing_them_kernel_bias_gamma_and_beta():
    weights = _random_weights(_two_block_cnn((6, 5)))
    x = RNG.normal(size=(4, 7, 7, 2))
    drop = [np.array([0, 3, 4]), np.array([1, 4])]
    small = _remove(weights, drop)
    assert [small[0].shape[3], small[6].shape[3], small[6].shape[2], small[12].shape[0]] == [
        3,
        3,
        3,
        3,
    ]
    parity(_outputs(small, x), _outputs(_mask(weights, drop), x), 1e-12, "removed vs masked")


def test_a_kernel_mask_alone_does_not_silence_a_filter_before_batch_normalization():
    """The parity above can fail: without γ and β zeroed, the BN keeps the channel alive."""
    weights = _random_weights(_two_block_cnn((6, 5)))
    x = RNG.normal(size=(4, 7, 7, 2))
    drop = [np.array([0, 3, 4]), np.array([1, 4])]
    small = _outputs(_remove(weights, drop), x)
    assert np.abs(small - _outputs(_mask(weights, drop, bn=False), x)).max() > 1e-3
    with pytest.raises(AssertionError):
        parity(small, _outputs(_mask(weights, drop, bn=False), x), 1e-12)


def test_forgetting_the_next_layers_input_slice_is_an_error():
    weights = _random_weights(_two_block_cnn((6, 5)))
    w = _remove(weights, [np.array([0]), np.array([], dtype=int)])
    w[6] = weights[6]  # the second convolution still expects 6 input channels
    with pytest.raises(ValueError):
        _outputs(w, RNG.normal(size=(1, 7, 7, 2)))
