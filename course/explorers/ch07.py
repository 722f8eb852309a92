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
    ax1.legend(fontsize=9)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_title(
        f"Validation accuracy: {finals[0.0]:.1%} (rate 0) vs {finals[rate]:.1%} (rate {rate:g})"
    )
    ax2.legend(fontsize=9)


def plot_explorer_view(train, rate: float = 0.5, epochs: int = 300, fig=None):
    """The explorer's view: loss curves (left) and accuracy curves (right), rate vs no dropout.

    train: the chapter's ``train_dropout`` (see ``plot_curves``).
    """
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(9.5, 3.4))
    plot_curves(fig.subplots(1, 2), train, rate, epochs)
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
