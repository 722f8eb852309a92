"""Chapter 08 (pruning): the digits MLP, the pruning sweeps and the sparsity explorer
(live widget + the static figure the site shows).

Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.
Training runs with one BLAS thread: these matrices are tiny, and on a shared 2-core machine
several BLAS threads per product cost more than they save.
"""
from __future__ import annotations

import io

import numpy as np

HIDDEN = (128, 64)
METHODS = ("global magnitude", "per-layer magnitude", "neuron norm")
SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def digits():
    """8×8 digits, pixels scaled to [0, 1]: (x_train, y_train, x_test, y_test); 1347/450 split, seeded."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    return x_train, y_train, x_test, y_test


def build_mlp(weights):
    """A scratchnn.foundations Sequential (ReLU hidden layers, linear output) holding copies of ``weights``."""
    from scratchnn.foundations import Dense, Sequential

    layers = [Dense(np.shape(k)[1], activation="relu") for k in weights[0:-2:2]] + [Dense(np.shape(weights[-2])[1])]
    model = Sequential(layers)
    model.build((None, np.shape(weights[0])[0]))
    model.set_weights([np.array(w, dtype=np.float64) for w in weights])
    return model


def train_mlp(data, epochs: int = 30, seed: int = 0, hidden=HIDDEN):
    """Train the 64-128-64-10 ReLU MLP with Adam(0.005), batch 64; returns its weight list."""
    from threadpoolctl import threadpool_limits

    from scratchnn.foundations import Dense, Sequential
    from scratchnn.losses import SparseCategoricalCrossentropy
    from scratchnn.optimizers import Adam
    from scratchnn.pruning import fine_tune

    x, y = data[0], data[1]
    np.random.seed(seed)
    model = Sequential([Dense(h, activation="relu") for h in hidden] + [Dense(10)])
    model.build((None, x.shape[1]))
    loss = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    with threadpool_limits(limits=1, user_api="blas"):
        fine_tune(model, [None] * len(model.layers), x, y, loss, Adam(0.005), epochs, 64, seed=seed)
    return model.get_weights()


def accuracy(weights, x, y) -> float:
    """Test accuracy of the MLP [kernel0, bias0, …]."""
    from scratchnn.pruning import mlp_forward

    return float(np.mean(np.argmax(mlp_forward(weights, x), axis=1) == y))


def npz_kb(weights) -> float:
    """Size in KB of the weights saved as float32 in a compressed .npz (an in-memory buffer).

    zlib output depends only on the bytes, so the size is deterministic; exact zeros compress well.
    """
    buf = io.BytesIO()
    np.savez_compressed(buf, *[np.asarray(w, dtype=np.float32) for w in weights])
    return buf.getbuffer().nbytes / 1000


def prune(weights, method: str, sparsity: float):
    """Pruned weights: (new weight list, kernel masks or None for neuron pruning).

    Magnitude methods zero kernel entries (biases are kept, as tfmot does); "neuron norm" removes
    the fraction ``sparsity`` of every hidden layer's units (lowest incoming L2 norm).
    """
    from scratchnn import pruning as P

    kernels = weights[0::2]
    if method == "neuron norm":
        return P.prune_neurons(weights, sparsity), None
    if method == "global magnitude":
        masks = P.global_magnitude_masks(kernels, sparsity)
    elif method == "per-layer magnitude":
        masks = P.layer_magnitude_masks(kernels, sparsity)
    else:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    out = [w.copy() for w in weights]
    for i, m in enumerate(masks):
        out[2 * i] = out[2 * i] * m
    return out, masks


def prune_and_fine_tune(weights, method: str, sparsity: float, data, epochs: int = 5, seed: int = 0):
    """Prune, then fine-tune with the mask held fixed (Adam(0.002), batch 64). Returns the weights."""
    from threadpoolctl import threadpool_limits

    from scratchnn.losses import SparseCategoricalCrossentropy
    from scratchnn.optimizers import Adam
    from scratchnn.pruning import fine_tune

    pruned, masks = prune(weights, method, sparsity)
    if epochs == 0:
        return pruned
    model = build_mlp(pruned)
    if masks is None:
        masks = [None] * len(model.layers)
    loss = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    with threadpool_limits(limits=1, user_api="blas"):
        fine_tune(model, masks, data[0], data[1], loss, Adam(0.002), epochs, 64, seed=seed)
    return model.get_weights()


def sweep(weights, data, methods=METHODS, sparsities=SPARSITIES, epochs: int = 5):
    """Accuracy, non-zero parameters, compressed KB and FLOPs for each method × sparsity,
    before (key "acc") and after (key "acc_ft") a short fine-tune."""
    from scratchnn.pruning import count_params, dense_flops

    rows = []
    for method in methods:
        for s in sparsities:
            pruned, _ = prune(weights, method, s)
            tuned = prune_and_fine_tune(weights, method, s, data, epochs)
            rows.append({"method": method, "sparsity": s,
                         "acc": accuracy(pruned, data[2], data[3]), "acc_ft": accuracy(tuned, data[2], data[3]),
                         "nonzero": count_params(tuned)[1], "kb": npz_kb(tuned), "flops": dense_flops(tuned)})
    return rows


def plot_explorer_view(sparsity: float = 0.9, method: str = "global magnitude", epochs: int = 5,
                       weights=None, data=None, fig=None):
    """The explorer's view: accuracy vs sparsity with the chosen point (left), size and FLOPs (right)."""
    import matplotlib.pyplot as plt

    data = digits() if data is None else data
    weights = train_mlp(data) if weights is None else weights
    grid = sorted(set(SPARSITIES) | {sparsity})
    rows = sweep(weights, data, methods=(method,), sparsities=grid, epochs=epochs)
    point = next(r for r in rows if r["sparsity"] == sparsity)
    dense = rows[0]
    if fig is None:
        fig = plt.figure(figsize=(9, 3.3))
    ax1, ax2 = fig.subplots(1, 2)
    xs = [100 * r["sparsity"] for r in rows]
    ax1.plot(xs, [r["acc"] for r in rows], "o-", label="pruned")
    ax1.plot(xs, [r["acc_ft"] for r in rows], "s-", label=f"+ fine-tune ({epochs} epochs)")
    ax1.plot([100 * sparsity], [point["acc_ft"]], "k*", ms=14)
    ax1.set_xlabel("sparsity (% of weights or units removed)")
    ax1.set_ylabel("test accuracy")
    ax1.set_ylim(0, 1.02)
    ax1.set_title(f"{method}, {sparsity:.0%}: accuracy {point['acc_ft']:.1%}")
    ax1.legend()
    labels = ["non-zeros", "zipped size", "dense FLOPs"]
    ratios = [point["nonzero"] / dense["nonzero"], point["kb"] / dense["kb"], point["flops"] / dense["flops"]]
    ax2.bar(labels, ratios, color=["tab:blue", "tab:orange", "tab:green"])
    for i, r in enumerate(ratios):
        ax2.text(i, r + 0.02, f"{r:.0%}", ha="center")
    ax2.set_ylim(0, 1.15)
    ax2.set_ylabel("fraction of the dense model")
    ax2.set_title(f"size after pruning ({point['kb']:.1f} KB compressed)")
    fig.tight_layout()
    return fig


def pruning_explorer(sparsity: float = 0.9, method: str = "global magnitude", epochs: int = 5):
    """Live explorer: method × sparsity × fine-tune epochs → accuracy curve and size bars."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    data = digits()
    weights = train_mlp(data)
    method_w = widgets.ToggleButtons(options=list(METHODS), value=method, description="method")
    sparsity_w = widgets.FloatSlider(value=sparsity, min=0.0, max=0.99, step=0.01, description="sparsity",
                                     continuous_update=False)
    epochs_w = widgets.IntSlider(value=epochs, min=0, max=20, step=1, description="fine-tune",
                                 continuous_update=False)

    def draw(method, sparsity, epochs):
        plot_explorer_view(sparsity, method, epochs, weights=weights, data=data)
        plt.show()

    out = widgets.interactive_output(draw, {"method": method_w, "sparsity": sparsity_w, "epochs": epochs_w})
    display(widgets.VBox([method_w, widgets.HBox([sparsity_w, epochs_w]), out]))
