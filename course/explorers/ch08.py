"""Chapter 08 (pruning): the compressed-size measure and the sparsity explorer (live widget +
the static figure the site shows).

No model and no training here: the network, its training (chapter 04's ``fit``) and the
pruning experiment (``prune``, ``prune_and_fine_tune``, ``sweep``) are cells of
chapters/08_pruning.ipynb, and the explorer is handed the chapter's ``sweep``.
Nothing here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the explorer.
"""

from __future__ import annotations

import io

import numpy as np

from course.explorers.widgets import show_explorer

METHODS = ("global magnitude", "per-layer magnitude", "neuron norm")
SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def npz_kb(weights) -> float:
    """Size in KB of the weights saved as float32 in a compressed .npz (an in-memory buffer).

    zlib output depends only on the bytes, so the size is deterministic; exact zeros compress well.
    """
    buf = io.BytesIO()
    np.savez_compressed(buf, *[np.asarray(w, dtype=np.float32) for w in weights])
    return buf.getbuffer().nbytes / 1000


def _draw_view(ax1, ax2, rows, sparsity, method, epochs, legend=True):
    """One setting of the explorer on two axes: accuracy against the share of non-zero
    parameters removed, with the chosen point starred (ax1); non-zeros, zipped size and dense
    FLOPs as fractions of the dense model (ax2). rows: one method's sweep rows, sparsity 0 first.
    """
    point = next(r for r in rows if r["sparsity"] == sparsity)
    dense = rows[0]
    # every method on one budget: the share of the dense model's non-zero parameters removed
    # (removing a unit also removes its bias and its row of the next kernel)
    removed = lambda r: 100 * (1 - r["nonzero"] / dense["nonzero"])  # noqa: E731
    xs = [removed(r) for r in rows]
    ax1.plot(xs, [r["acc"] for r in rows], "o-", label="pruned")
    ax1.plot(xs, [r["acc_ft"] for r in rows], "s-", label=f"+ fine-tune ({epochs} epochs)")
    ax1.plot([removed(point)], [point["acc_ft"]], "k*", ms=14)
    ax1.set_xlabel("non-zero parameters removed (%)")
    ax1.set_ylabel("test accuracy")
    ax1.set_ylim(0, 1.02)
    ax1.set_title(
        f"{method}, {sparsity:.0%} ({removed(point):.0f}% of parameters): {point['acc_ft']:.1%}"
    )
    if legend:
        ax1.legend(loc="lower left")
    labels = ["non-zeros", "zipped size", "dense FLOPs"]
    ratios = [
        point["nonzero"] / dense["nonzero"],
        point["kb"] / dense["kb"],
        point["flops"] / dense["flops"],
    ]
    ax2.bar(labels, ratios, color=["tab:blue", "tab:orange", "tab:green"])
    for i, r in enumerate(ratios):
        ax2.text(i, r + 0.02, f"{r:.0%}", ha="center")
    ax2.set_ylim(0, 1.15)
    ax2.set_ylabel("fraction of the dense model")
    ax2.set_title(f"size after pruning ({point['kb']:.1f} KB compressed)")


def plot_explorer_view(
    sweep_fn, sparsity: float = 0.9, method: str = "global magnitude", epochs: int = 5, fig=None
):
    """The explorer's view: accuracy vs parameters removed with the chosen point (left), size
    and FLOPs (right).

    sweep_fn(methods=, sparsities=, epochs=) -> rows: the chapter's ``sweep`` with its trained
    weights bound (one dict per sparsity with "sparsity", "acc", "acc_ft", "nonzero", "kb",
    "flops").
    """
    import matplotlib.pyplot as plt

    grid = sorted(set(SPARSITIES) | {sparsity})
    rows = sweep_fn(methods=(method,), sparsities=grid, epochs=epochs)
    if fig is None:
        fig = plt.figure(figsize=(9, 3.3))
    ax1, ax2 = fig.subplots(1, 2)
    _draw_view(ax1, ax2, rows, sparsity, method, epochs)
    fig.tight_layout()
    return fig


def plot_methods_grid(rows, sparsity: float = 0.9, epochs: int = 5, title=None):
    """The site's static twin of the explorer: the explorer's view for every method at one
    sparsity, one row per method (a small multiple), from rows the chapter's ``sweep`` already
    computed (each dict also has "method"; every method needs sparsity 0 and ``sparsity``).
    """
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(len(methods), 2, figsize=(9.5, 3.0 * len(methods)))
    for (ax1, ax2), method in zip(axes, methods):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["sparsity"])
        _draw_view(ax1, ax2, mine, sparsity, method, epochs, legend=method == methods[0])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def pruning_explorer(
    sweep_fn, sparsity: float = 0.9, method: str = "global magnitude", epochs: int = 5
):
    """Live explorer: method × sparsity × fine-tune epochs → accuracy curve and size bars.

    sweep_fn: as for plot_explorer_view (the chapter's ``sweep`` with the trained weights).
    """
    import ipywidgets as widgets

    method_w = widgets.ToggleButtons(options=list(METHODS), value=method, description="method")
    sparsity_w = widgets.FloatSlider(
        value=sparsity,
        min=0.0,
        max=0.99,
        step=0.01,
        description="sparsity",
        continuous_update=False,
    )
    epochs_w = widgets.IntSlider(
        value=epochs, min=0, max=20, step=1, description="fine-tune", continuous_update=False
    )

    show_explorer(
        lambda method, sparsity, epochs: plot_explorer_view(sweep_fn, sparsity, method, epochs),
        [{"method": method_w}, {"sparsity": sparsity_w, "epochs": epochs_w}],
    )
