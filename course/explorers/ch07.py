"""Chapter 07 (dropout): the rate explorer (live widget + the static figure the site shows).

The network (``dropout_mlp``), its training (``train_dropout``, which runs scratchnn's ``fit``
with a callback that measures the network in inference mode) and Monte Carlo dropout live in
the chapter's visible cells; the figures here take the chapter's training function as an
argument. The data are chapter 06's noisy moons (``course.datasets.noisy_moons``). Nothing
here imports Keras or TensorFlow; ``ipywidgets`` only in the explorer.
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer


def plot_curves(axes, train, rate: float, epochs: int):
    """Training/validation loss (left axes) and accuracy (right axes) for rate and for rate 0.

    train: the chapter's ``train_dropout(rate, epochs) -> (model, history)``; history holds
    per-epoch "train_loss", "val_loss", "train_acc" and "val_acc", all measured with dropout off.
    """
    ax1, ax2 = axes
    finals, final_loss = {}, {}
    for r, style in [(0.0, ":"), (rate, "-")]:
        _, hist = train(r, epochs)
        ep = np.arange(1, epochs + 1)
        ax1.semilogy(ep, hist["train_loss"], "C0" + style, label=f"train, rate {r:g}")
        ax1.semilogy(ep, hist["val_loss"], "C1" + style, label=f"validation, rate {r:g}")
        ax2.plot(ep, hist["val_acc"], "C1" + style, label=f"validation, rate {r:g}")
        ax2.plot(ep, hist["train_acc"], "C0" + style, label=f"train, rate {r:g}")
        finals[r], final_loss[r] = hist["val_acc"][-1], hist["val_loss"][-1]
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.set_title(
        f"Final validation loss {final_loss[0.0]:.2f} (rate 0) vs "
        f"{final_loss[rate]:.2f} (rate {rate:g})"
    )
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_title(
        f"Validation accuracy: {finals[0.0]:.1%} (rate 0) vs {finals[rate]:.1%} (rate {rate:g})"
    )


def plot_explorer_view(train, rate: float = 0.5, epochs: int = 300, fig=None):
    """The explorer's view: loss curves (left) and accuracy curves (right), rate vs no dropout.

    train: the chapter's ``train_dropout`` (see ``plot_curves``).
    """
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(9.5, 3.8))
    axes = fig.subplots(1, 2)
    plot_curves(axes, train, rate, epochs)
    # one legend under both panels, never over the curves
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="upper center", ncol=4, bbox_to_anchor=(0.5, 0.0)
    )
    fig.tight_layout()
    return fig


def plot_rate_grid(histories, rates=(0.0, 0.3, 0.6, 0.9), title=None):
    """The site's static twin of the explorer: a 2×2 small multiple, one panel per rate, of the
    training and validation cross-entropy per epoch (rate 0's validation curve dotted in each
    panel for reference).

    histories: {rate: history} with per-epoch "train_loss" and "val_loss" (dropout off), as
    the chapter's ``train_dropout`` returns them; every rate in ``rates`` and 0.0 must be there.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9.5, 6.0), sharex=True, sharey=True)
    reference = histories[0.0]["val_loss"]
    for ax, rate in zip(axes.ravel(), rates):
        hist = histories[rate]
        ep = np.arange(1, len(hist["val_loss"]) + 1)
        ax.semilogy(ep, reference, ":", color="0.5", label="validation, rate 0")
        ax.semilogy(ep, hist["train_loss"], "C0-", label="training")
        ax.semilogy(ep, hist["val_loss"], "C1-", label="validation")
        ax.set_title(
            f"rate {rate:g}: val CE best {hist['val_loss'].min():.2f}, "
            f"last {hist['val_loss'][-1]:.2f}"
        )
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy")
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(),
        loc="upper center",
        ncol=3,
        bbox_to_anchor=(0.5, 0.0),
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def dropout_explorer(train, rate: float = 0.5, epochs: int = 300):
    """Live explorer: dropout rate × epochs → training/validation curves against rate 0.

    train: the chapter's ``train_dropout`` (see ``plot_curves``).
    """
    import ipywidgets as widgets

    rate_w = widgets.FloatSlider(
        value=rate, min=0.0, max=0.9, step=0.1, description="rate", continuous_update=False
    )
    epochs_w = widgets.IntSlider(
        value=epochs, min=50, max=1000, step=50, description="epochs", continuous_update=False
    )

    show_explorer(
        lambda rate, epochs: plot_explorer_view(train, rate, epochs),
        [{"rate": rate_w, "epochs": epochs_w}],
    )
