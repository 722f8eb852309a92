"""Chapter 08: scratchnn.pruning against Keras 3 (keras.ops masks, a mask-holding callback).

- Magnitude masks reach the exact sparsity, break ties by position, handle sparsity 0 and 1,
  and equal the masks computed with keras.ops.top_k on the float32 copy of the same weights.
- The polynomial schedule is tfmot's PolynomialDecay formula (power 3), clamped outside [t0, t1].
- Neuron removal gives a smaller network with the same outputs as the masked large one (NumPy and
  Keras); FLOP and parameter counts are exact.
- Fine-tuning (scratchnn's fit with the HoldMasks callback, and Keras's fit with a callback)
  keeps pruned weights exactly 0; the gradients HoldMasks hands the optimizer are 0 at pruned
  weights and pass a finite-difference check; re-applying the mask is what stops an optimizer
  with state from before pruning; fit + HoldMasks ends one SGD epoch where Keras does.
- A kernel constraint holds the mask as the callback does (the same weights, bit for bit) and
  still does with steps_per_execution=4, where the callback runs once per chunk of 4 steps.
- The checks catch the named mistakes (a mask that prunes the largest weights, a fine-tune that
  lets pruned weights regrow, neuron removal that forgets the next layer's kernel): see the tests
  whose names start with ``test_catches_``.

The network is built and trained here with scratchnn (the chapter's cells do the same); nothing
model-like is imported from course/.
"""

import copy

import keras
import numpy as np
import pytest
from keras import ops

from course import gradient_check, numerical_gradient, parity
from course.datasets import digits_stratified as digits
from course.explorers.ch08 import npz_kb
from scratchnn import pruning as P
from scratchnn.foundations import Dense, Sequential
from scratchnn.losses import SparseCategoricalCrossentropy
from scratchnn.optimizers import SGD, Adam, Callback, fit

RNG = np.random.default_rng(8)
LOSS = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")


def keras_mask(kernel, sparsity):
    """The chapter's keras.ops mask: top_k(-|w|, k) are pruned (lower index first on ties)."""
    flat = ops.reshape(ops.abs(ops.convert_to_tensor(kernel)), (-1,))
    n, k = int(flat.shape[0]), int(round(sparsity * int(flat.shape[0])))
    if k == 0:
        return np.ones(np.shape(kernel))
    _, idx = ops.top_k(-flat, k=k)
    mask = ops.scatter_update(ops.ones((n,)), ops.expand_dims(idx, 1), ops.zeros((k,)))
    return ops.convert_to_numpy(ops.reshape(mask, np.shape(kernel)))


class KerasHoldMasks(keras.callbacks.Callback):
    """The chapter's Keras side of fine-tuning: re-apply each kernel's mask after every batch."""

    def __init__(self, masks):
        super().__init__()
        self.masks = masks

    def on_train_batch_end(self, batch, logs=None):
        for layer, mask in zip(self.model.layers, self.masks):
            layer.kernel.assign(layer.kernel * ops.convert_to_tensor(mask, dtype="float32"))


def keras_mlp(weights):
    """The chapter's 64-128-64-10 ReLU network in Keras (float32), holding ``weights``."""
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def mlp(weights):
    """A scratchnn Sequential holding copies of [kernel0, bias0, …]: ReLU hidden layers,
    a linear output (the chapter's digits_mlp)."""
    hidden = [Dense(np.shape(k)[1], activation="relu") for k in weights[0:-2:2]]
    model = Sequential(hidden + [Dense(np.shape(weights[-2])[1])])
    model.set_weights([np.array(w, dtype=np.float64) for w in weights])
    return model


def logits(weights, x):
    return mlp(weights).forward(x)


def prune(weights, method, sparsity):
    """Magnitude-prune the kernels (biases kept): (pruned weights, masks)."""
    rule = {
        "global magnitude": P.global_magnitude_masks,
        "per-layer magnitude": P.layer_magnitude_masks,
    }[method]
    masks = rule(weights[0::2], sparsity)
    return [w * masks[i // 2] if i % 2 == 0 else w.copy() for i, w in enumerate(weights)], masks


def kernels_of(model):
    return [layer.kernel for layer in model.layers]


def random_mlp(sizes=(6, 8, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws += [rng.normal(size=(a, b)), rng.normal(size=b) * 0.1]
    return ws


@pytest.fixture(scope="module")
def trained():
    """The chapter's 64-128-64-10 MLP after 5 epochs of fit with Adam(0.005)."""
    data = digits()
    np.random.seed(0)
    model = Sequential([Dense(128, activation="relu"), Dense(64, activation="relu"), Dense(10)])
    fit(model, data[0], data[1], LOSS, Adam(0.005), epochs=5, batch_size=64, seed=0)
    return data, model.get_weights()


# ------------------------------------------------------------------ magnitude masks


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.77, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(7, 5), (13,), (2, 3, 4)])
def test_magnitude_mask_exact_sparsity_and_keeps_largest(sparsity, shape):
    w = RNG.normal(size=shape)
    mask = P.magnitude_mask(w, sparsity)
    assert mask.shape == w.shape
    assert int((mask == 0).sum()) == int(round(sparsity * w.size))
    P.check_magnitude_mask(w, mask)


def test_ties_are_broken_by_position_and_sparsity_is_exact():
    w = np.array([1.0, -0.5, 0.5, 0.5, -2.0, 0.5])
    mask = P.magnitude_mask(w, 0.5)  # prune 3 of the four 0.5s: the first three
    np.testing.assert_array_equal(mask, [1, 0, 0, 0, 1, 1])
    assert P.magnitude_mask(np.zeros(10), 0.3).sum() == 7  # all tied: still exactly 30%


def test_global_and_layer_masks():
    ks = [RNG.normal(size=(6, 4)), 3.0 * RNG.normal(size=(4, 3))]
    g = P.global_magnitude_masks(ks, 0.6)
    assert sum(int((m == 0).sum()) for m in g) == round(0.6 * 36)
    flat = np.concatenate([k.ravel() for k in ks])
    np.testing.assert_array_equal(
        np.concatenate([m.ravel() for m in g]), P.magnitude_mask(flat, 0.6)
    )
    assert (g[0] == 0).mean() > (g[1] == 0).mean()  # the layer of small weights loses more
    for m, k in zip(P.layer_magnitude_masks(ks, 0.5), ks):
        assert (m == 0).sum() == round(0.5 * k.size)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8, 0.95])
def test_masks_equal_keras_ops_masks_on_float32_weights(trained, sparsity):
    _, weights = trained
    for k in weights[0::2]:
        np.testing.assert_array_equal(
            P.magnitude_mask(k, sparsity), keras_mask(k.astype(np.float32), sparsity)
        )


def test_keras_top_k_breaks_ties_like_a_stable_sort():
    w = np.array([0.5, 0.25, 0.5, 0.25, 0.25, 1.0], dtype=np.float32)
    for s in [1 / 6, 2 / 6, 3 / 6, 4 / 6]:
        np.testing.assert_array_equal(keras_mask(w, s), P.magnitude_mask(w, s))


def test_pruned_outputs_match_keras(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.9)
    model = keras_mlp(weights)
    for layer, m in zip(model.layers, masks):
        layer.kernel.assign(layer.kernel * ops.convert_to_tensor(m, dtype="float32"))
    parity(ops.convert_to_numpy(model(data[2])), logits(pruned, data[2]), 1e-4, "logits")


# ------------------------------------------------------------------ schedule


def test_polynomial_schedule_formula():
    s = P.polynomial_sparsity(np.arange(0, 121), 0.1, 0.9, begin_step=20, end_step=100)
    np.testing.assert_allclose(s[[0, 20, 100, 120]], [0.1, 0.1, 0.9, 0.9], atol=1e-15)
    assert np.isclose(s[60], 0.9 + (0.1 - 0.9) * 0.5**3, atol=1e-15)
    assert np.all(np.diff(s) >= 0)
    assert P.polynomial_sparsity(50, 0.0, 0.8, 0, 100, power=1) == pytest.approx(0.4)


@pytest.mark.parametrize(
    "bad", [dict(begin_step=5, end_step=5), dict(final_sparsity=1.5), dict(initial_sparsity=-0.1)]
)
def test_schedule_rejects_bad_arguments(bad):
    args = dict(step=3, initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=10) | bad
    with pytest.raises(ValueError):
        P.polynomial_sparsity(**args)


# ------------------------------------------------------------------ structured pruning, counts


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_neuron_removal_equals_zeroing_the_units(fraction):
    ws = random_mlp()
    x = RNG.normal(size=(11, 6))
    small = P.prune_neurons(ws, fraction)
    zeroed = [w.copy() for w in ws]
    for i in range(2):
        keep = P.keep_units(P.neuron_norms(zeroed[2 * i]), fraction)
        drop = np.setdiff1d(np.arange(zeroed[2 * i].shape[1]), keep)
        zeroed[2 * i][:, drop], zeroed[2 * i + 1][drop], zeroed[2 * i + 2][drop, :] = 0.0, 0.0, 0.0
        assert small[2 * i].shape[1] == keep.size >= 1
    parity(logits(small, x), logits(zeroed, x), 1e-12, f"removed vs zeroed, {fraction}")


def test_small_keras_model_matches_masked_large_one(trained):
    data, weights = trained
    small = P.prune_neurons(weights, 0.5)

    def keras_model(ws):
        hidden = [keras.layers.Dense(w.shape[1], activation="relu") for w in ws[0:-2:2]]
        m = keras.Sequential([keras.Input((64,))] + hidden + [keras.layers.Dense(10)])
        m.set_weights([w.astype(np.float32) for w in ws])
        return m

    parity(ops.convert_to_numpy(keras_model(small)(data[2])), logits(small, data[2]), 1e-4, "small")
    assert keras_model(small).count_params() == P.count_params(small)[0]


def test_flops_and_params():
    ws = random_mlp((6, 8, 5, 3))
    assert P.dense_flops(ws) == 2 * (48 + 40 + 15) + 8 + 5 + 3
    assert P.count_params(ws) == (48 + 8 + 40 + 5 + 15 + 3, 48 + 8 + 40 + 5 + 15 + 3)
    masked = [w * (P.magnitude_mask(w, 0.5) if w.ndim == 2 else 1) for w in ws]
    assert P.dense_flops(masked) == P.dense_flops(ws)  # zeros still cost in a dense matmul
    assert P.count_params(masked)[1] == 119 - (24 + 20 + 8)
    assert P.dense_flops(P.prune_neurons(ws, 0.5)) < P.dense_flops(ws)


def test_compressed_size_is_deterministic_and_shrinks_with_sparsity(trained):
    _, weights = trained
    pruned, _ = prune(weights, "global magnitude", 0.9)
    assert npz_kb(weights) == npz_kb([w.copy() for w in weights])
    assert npz_kb(pruned) < 0.3 * npz_kb(weights)


def test_activation_scores_and_shape_errors():
    np.testing.assert_allclose(P.activation_scores([[0.0, -2.0], [0.0, 4.0]]), [0.0, 3.0])
    with pytest.raises(ValueError, match=r"kernel must be 2-D"):
        P.neuron_norms(np.ones(3))
    with pytest.raises(ValueError, match=r"bias 0 has shape"):
        P.dense_flops([np.ones((3, 2)), np.ones(3)])
    with pytest.raises(ValueError, match=r"shape \(2, 2\), expected the weights' shape \(3,\)"):
        P.check_magnitude_mask(np.ones(3), np.ones((2, 2)))


# ------------------------------------------------------------------ fine-tuning


class RecordGradients(Callback):
    """Keeps the gradients the optimizer receives (runs after HoldMasks in the callback list)."""

    def __init__(self):
        self.seen = []

    def on_gradients(self, model, grads):
        self.seen.append([np.array(g) for g in grads])
        return grads


def test_masked_gradient_passes_gradient_check():
    ws = random_mlp((6, 8, 5, 3), seed=1)
    x, y = RNG.normal(size=(9, 6)), RNG.integers(0, 3, size=9)
    mask = P.magnitude_mask(ws[0], 0.6)
    net = mlp([ws[0] * mask] + ws[1:])
    net.backward(LOSS.gradient(y, net.forward(x)))
    analytic = P.HoldMasks([mask, None, None]).on_gradients(net, net.grads)[0]
    numeric = numerical_gradient(
        lambda w0: float(LOSS(y, logits([w0 * mask] + ws[1:], x))), ws[0].copy()
    )
    gradient_check(analytic, numeric, tol=1e-6, label="masked gradient")


def test_hold_masks_hands_the_optimizer_zero_gradients_at_pruned_weights(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.8)
    hold, record, plain = P.HoldMasks(masks), RecordGradients(), RecordGradients()
    x, y = data[0][:192], data[1][:192]
    fit(mlp(pruned), x, y, LOSS, SGD(0.0), epochs=1, batch_size=64, callbacks=[hold, record])
    fit(mlp(pruned), x, y, LOSS, SGD(0.0), epochs=1, batch_size=64, callbacks=[plain])
    assert len(record.seen) == 3
    for masked, raw in zip(record.seen, plain.seen):  # lr 0: the same batches, weights
        for i, m in enumerate(masks):
            assert np.all(masked[2 * i][m == 0] == 0)
            assert np.count_nonzero(raw[2 * i][m == 0]) > 0  # without it: not zero
            np.testing.assert_array_equal(masked[2 * i][m == 1], raw[2 * i][m == 1])
            np.testing.assert_array_equal(masked[2 * i + 1], raw[2 * i + 1])  # biases untouched


@pytest.mark.parametrize(
    "optimizer", [lambda: SGD(0.125, momentum=0.9), lambda: Adam(0.01, weight_decay=0.01)]
)
@pytest.mark.parametrize("reapply", [True, False])
def test_fit_with_hold_masks_keeps_pruned_weights_at_zero(trained, optimizer, reapply):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.8)
    net = mlp(pruned)
    history = fit(
        net,
        data[0][:256],
        data[1][:256],
        LOSS,
        optimizer(),
        epochs=2,
        batch_size=64,
        callbacks=[P.HoldMasks(masks, reapply=reapply)],
    )
    P.check_mask_held(kernels_of(net), masks)
    assert P.sparsity_of(kernels_of(net)) == pytest.approx(0.8, abs=1e-4)
    assert history["loss"][-1] < history["loss"][0]


def test_hold_masks_zeroes_the_pruned_weights_when_training_begins(trained):
    data, weights = trained
    masks = P.global_magnitude_masks(weights[0::2], 0.5)
    net = mlp(weights)  # not pruned yet: the callback does it
    fit(
        net,
        data[0][:64],
        data[1][:64],
        LOSS,
        Adam(0.01),
        epochs=1,
        batch_size=64,
        callbacks=[P.HoldMasks(masks)],
    )
    P.check_mask_held(kernels_of(net), masks)


def test_reapplying_the_mask_stops_an_optimizer_with_state_from_before_pruning(trained):
    data, weights = trained
    x, y = data[0][:256], data[1][:256]
    dense, carried = mlp(weights), Adam(0.01)
    fit(dense, x, y, LOSS, carried, epochs=1, batch_size=64)  # Adam's moments are not zero now
    masks = P.global_magnitude_masks(dense.get_weights()[0::2], 0.8)
    for reapply in [False, True]:
        net = mlp(dense.get_weights())
        fit(
            net,
            x,
            y,
            LOSS,
            copy.deepcopy(carried),
            epochs=1,
            batch_size=64,
            callbacks=[P.HoldMasks(masks, reapply=reapply)],
        )
        if reapply:
            P.check_mask_held(kernels_of(net), masks)
        else:
            with pytest.raises(ValueError, match="no longer 0"):
                P.check_mask_held(kernels_of(net), masks)


def test_keras_callback_keeps_pruned_weights_at_zero(trained):
    data, weights = trained
    pruned, masks = prune(weights, "per-layer magnitude", 0.9)
    model = keras_mlp(pruned)
    model.compile(
        optimizer=keras.optimizers.Adam(0.002),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        data[0][:256],
        data[1][:256],
        batch_size=64,
        epochs=2,
        verbose=0,
        callbacks=[KerasHoldMasks(masks)],
    )
    kernels = [ops.convert_to_numpy(layer.kernel) for layer in model.layers]
    P.check_mask_held(kernels, masks)
    assert P.sparsity_of(kernels) == pytest.approx(0.9, abs=1e-4)


def test_fit_with_hold_masks_equals_keras_fit_with_the_callback(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.9)
    x, y = data[0][:320], data[1][:320]
    net = mlp(pruned)
    fit(
        net,
        x,
        y,
        LOSS,
        SGD(0.125),
        epochs=1,
        batch_size=64,
        shuffle=False,
        callbacks=[P.HoldMasks(masks)],
    )

    model = keras_mlp(pruned)
    model.compile(
        optimizer=keras.optimizers.SGD(0.125),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        x, y, batch_size=64, epochs=1, shuffle=False, verbose=0, callbacks=[KerasHoldMasks(masks)]
    )
    for i, (ours, theirs) in enumerate(zip(net.get_weights(), model.get_weights())):
        parity(theirs, ours, 1e-5, f"weights {i}")


class MaskConstraint(keras.constraints.Constraint):
    """The chapter's kernel constraint: kernel × a fixed 0/1 mask after every optimizer update."""

    def __init__(self, mask):
        self.mask = np.asarray(mask, dtype=np.float32)

    def __call__(self, w):
        return w * ops.convert_to_tensor(self.mask, dtype=w.dtype)


def constrained_mlp(weights, masks, constraint=MaskConstraint):
    model = keras.Sequential(
        [keras.Input((64,))]
        + [
            keras.layers.Dense(
                k.shape[1],
                activation="relu" if i < len(masks) - 1 else None,
                kernel_constraint=constraint(m),
            )
            for i, (k, m) in enumerate(zip(weights[0::2], masks))
        ]
    )
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def sgd_fit(model, x, y, callbacks=(), steps_per_execution=1):
    model.compile(
        optimizer=keras.optimizers.SGD(0.125),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))
    return [ops.convert_to_numpy(w) for w in model.get_weights()]


def max_gap(a, b):
    return max(float(np.abs(u - w).max()) for u, w in zip(a, b))


def test_kernel_constraint_equals_the_callback_and_ignores_steps_per_execution(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.9)
    x, y = data[0][:512], data[1][:512]  # 8 steps
    by_callback = sgd_fit(keras_mlp(pruned), x, y, [KerasHoldMasks(masks)])
    by_constraint = sgd_fit(constrained_mlp(pruned, masks), x, y)
    assert max_gap(by_callback, by_constraint) == 0.0
    P.check_mask_held(by_constraint[0::2], masks)
    chunked = sgd_fit(constrained_mlp(pruned, masks), x, y, steps_per_execution=4)
    assert max_gap(chunked, by_constraint) < 1e-6


def test_callback_runs_once_per_steps_per_execution_chunk(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.9)
    x, y = data[0][:512], data[1][:512]  # 8 steps, 2 chunks of 4

    class Count(keras.callbacks.Callback):
        calls = 0

        def on_train_batch_end(self, batch, logs=None):
            Count.calls += 1

    every_step = sgd_fit(keras_mlp(pruned), x, y, [KerasHoldMasks(masks)])
    chunked = sgd_fit(keras_mlp(pruned), x, y, [KerasHoldMasks(masks), Count()], 4)
    assert Count.calls == 2
    assert max_gap(chunked, every_step) > 1e-3  # the pruned weights trained inside each chunk
    P.check_mask_held(chunked[0::2], masks)  # …and were zeroed again at the chunk's end


def test_catches_a_constraint_that_does_not_mask(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.9)

    class Identity(MaskConstraint):
        def __call__(self, w):
            return w

    kernels = sgd_fit(constrained_mlp(pruned, masks, Identity), data[0][:256], data[1][:256])
    with pytest.raises(ValueError, match="no longer 0"):
        P.check_mask_held(kernels[0::2], masks)


def test_hold_masks_shape_errors():
    x, y = np.ones((2, 6)), np.zeros(2, int)
    with pytest.raises(ValueError, match=r"need one mask per layer \(3\), got 1"):
        fit(mlp(random_mlp()), x, y, LOSS, SGD(0.1), 1, 2, callbacks=[P.HoldMasks([None])])
    with pytest.raises(ValueError, match=r"mask of shape \(2, 2\) for a kernel of shape \(6, 8\)"):
        fit(
            mlp(random_mlp()),
            x,
            y,
            LOSS,
            SGD(0.1),
            1,
            2,
            callbacks=[P.HoldMasks([np.ones((2, 2)), None, None])],
        )


# ------------------------------------------------------------ the checks catch the named mistakes


def test_catches_mask_that_prunes_the_largest_weights():
    w = RNG.normal(size=(8, 5))
    wrong = P.magnitude_mask(-np.abs(w) + 10.0, 0.5)  # ranks by negated magnitude: largest first
    assert (wrong == 0).sum() == 20  # right sparsity, wrong weights
    with pytest.raises(ValueError, match="must remove the smallest magnitudes"):
        P.check_magnitude_mask(w, wrong)


class DoesNothing(Callback):
    """A broken HoldMasks: takes the masks and never applies them."""

    def __init__(self, masks):
        self.masks = masks


def test_catches_fine_tune_that_lets_pruned_weights_regrow(trained):
    data, weights = trained
    pruned, masks = prune(weights, "global magnitude", 0.8)
    net = mlp(pruned)
    fit(
        net,
        data[0][:128],
        data[1][:128],
        LOSS,
        Adam(0.01),
        epochs=1,
        batch_size=64,
        callbacks=[DoesNothing(masks)],
    )
    with pytest.raises(ValueError, match="no longer 0 — the fine-tune let them regrow"):
        P.check_mask_held(kernels_of(net), masks)


def test_catches_neuron_removal_that_forgets_the_next_kernel():
    ws = random_mlp()
    keep = P.keep_units(P.neuron_norms(ws[0]), 0.5)
    wrong = [ws[0][:, keep], ws[1][keep], ws[2], ws[3], ws[4], ws[5]]  # next kernel's rows kept
    for check in [lambda: P.dense_flops(wrong), lambda: P.prune_neurons(wrong, 0.5)]:
        with pytest.raises(
            ValueError,
            match=r"kernel 1 has 8 input rows, expected 4 "
            r".*slice the next layer's rows",
        ):
            check()


def test_static_explorer_grid_puts_every_method_on_the_parameter_axis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.explorers.ch08 import plot_methods_grid

    def row(method, s, nonzero, acc):
        return dict(
            method=method, sparsity=s, acc=acc, acc_ft=acc, nonzero=nonzero, kb=10.0, flops=100
        )

    rows = [
        row("global magnitude", 0.0, 1000, 0.97),
        row("global magnitude", 0.9, 100, 0.95),
        row("neuron norm", 0.0, 1000, 0.97),
        row("neuron norm", 0.9, 20, 0.60),
    ]
    fig = plot_methods_grid(rows, 0.9)
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert titles[0] == "global magnitude, 90% (90% of parameters): 95.0%"
    assert titles[2] == "neuron norm, 90% (98% of parameters): 60.0%"
