"""Chapter 07 (dropout): a small overfitting network with dropout layers, the rate sweep,
Monte Carlo dropout and the rate explorer (live widget + the static figure the site shows).

Reuses chapter 06's noisy moons (``course.explorers_06.moons``). Nothing here imports Keras
or TensorFlow; ``ipywidgets`` only in the explorer. Training runs with one BLAS thread: the
matrices are tiny, and on a shared 2-core machine more threads cost more than they save.
"""
from __future__ import annotations

import numpy as np

HIDDEN = 128


class DropoutNet:
    """2 → HIDDEN → HIDDEN → 1 ReLU network with a Dropout(rate) after each hidden layer.

    Layers are scratchnn.foundations.Dense and scratchnn.dropout.Dropout; forward(x, training)
    passes ``training`` on (dropout is active only when it is True); the output layer is
    never dropped. ``test_scale`` multiplies the hidden activations at inference — 1 for
    inverted dropout; (1 − rate) reproduces the *old* scheme's test-time scaling.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0, hidden: int = HIDDEN):
        from scratchnn.dropout import Dropout
        from scratchnn.foundations import Dense

        np.random.seed(seed)  # Dense's Glorot-uniform draws from NumPy's global generator
        self.dense = [Dense(hidden, activation="relu"), Dense(hidden, activation="relu"), Dense(1)]
        self.dense[0].build((None, 2))
        self.dense[1].build((None, hidden))
        self.dense[2].build((None, hidden))
        self.drops = [Dropout(rate, seed=seed + 1), Dropout(rate, seed=seed + 2)]
        self.test_scale = 1.0

    @property
    def params(self):
        return [p for layer in self.dense for p in layer.params]

    @property
    def grads(self):
        return [g for layer in self.dense for g in layer.grads]

    def forward(self, x, training=False):
        """x (batch, 2) → logits (batch, 1)."""
        h = x
        for dense, drop in zip(self.dense[:2], self.drops):
            h = drop.forward(dense.forward(h), training=training)
            if not training:
                h = h * self.test_scale
        return self.dense[2].forward(h)

    def backward(self, grad):
        grad = self.dense[2].backward(grad)
        for dense, drop in zip(self.dense[1::-1], self.drops[::-1]):
            grad = dense.backward(drop.backward(grad))
        return grad


def _bce_with_logits(y, z):
    """Mean binary cross-entropy from logits (stable form) and its gradient w.r.t. z."""
    loss = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    return loss, (1.0 / (1.0 + np.exp(-z)) - y) / len(y)


def accuracy(model, x, y) -> float:
    """Fraction of points on the right side of the logit-0 boundary (inference mode)."""
    return float(np.mean((model.forward(x) > 0) == (y > 0.5)))


def train_dropout(rate: float = 0.0, epochs: int = 300, seed: int = 0, data=None):
    """Full-batch Adam(0.01) on the noisy moons with Dropout(rate). Returns (model, history).

    history: "loss"/"val_loss" (inference-mode cross-entropy on training/validation data after
    each epoch) and "acc"/"val_acc". The training loss is measured with dropout off, so the
    curves compare the *network*, not the noise of one mask.
    """
    from threadpoolctl import threadpool_limits

    from course.explorers_06 import moons
    from scratchnn.optimizers import Adam

    x, y, xv, yv = moons() if data is None else data
    model, opt = DropoutNet(rate, seed), Adam(0.01)
    hist = {k: np.zeros(epochs) for k in ("loss", "val_loss", "acc", "val_acc")}
    with threadpool_limits(limits=1, user_api="blas"):
        for e in range(epochs):
            _, grad = _bce_with_logits(y, model.forward(x, training=True))
            model.backward(grad)
            opt.apply(model.grads, model.params)
            z, zv = model.forward(x), model.forward(xv)
            hist["loss"][e], hist["val_loss"][e] = _bce_with_logits(y, z)[0], _bce_with_logits(yv, zv)[0]
            hist["acc"][e], hist["val_acc"][e] = np.mean((z > 0) == (y > 0.5)), np.mean((zv > 0) == (yv > 0.5))
    return model, hist


def mc_dropout(model, x, passes: int = 100):
    """Monte Carlo dropout: ``passes`` forward passes with dropout ON. Returns (mean, std) of the
    predicted probability σ(logit), each shape (batch,)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        probs = np.stack([0.5 * (1.0 + np.tanh(0.5 * model.forward(x, training=True)[:, 0])) for _ in range(passes)])
    return probs.mean(axis=0), probs.std(axis=0)


def plot_curves(axes, rate: float, epochs: int, data=None):
    """Training/validation loss (left axis) and accuracy (right axis) for rate and for rate 0."""
    from course.explorers_06 import moons

    data = moons() if data is None else data
    ax1, ax2 = axes
    finals, final_loss = {}, {}
    for r, style in [(0.0, ":"), (rate, "-")]:
        _, hist = train_dropout(r, epochs, data=data)
        ep = np.arange(1, epochs + 1)
        ax1.semilogy(ep, hist["loss"], "C0" + style, label=f"train, rate {r:g}")
        ax1.semilogy(ep, hist["val_loss"], "C1" + style, label=f"validation, rate {r:g}")
        ax2.plot(ep, hist["val_acc"], "C1" + style, label=f"validation, rate {r:g}")
        ax2.plot(ep, hist["acc"], "C0" + style, label=f"train, rate {r:g}")
        finals[r], final_loss[r] = hist["val_acc"][-1], hist["val_loss"][-1]
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.set_title(f"Final validation loss {final_loss[0.0]:.2f} (rate 0) vs {final_loss[rate]:.2f} (rate {rate:g})")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_title(f"Validation accuracy: {finals[0.0]:.1%} (rate 0) vs {finals[rate]:.1%} (rate {rate:g})")
    ax2.legend(fontsize=7)


def plot_explorer_view(rate: float = 0.5, epochs: int = 300, fig=None):
    """The explorer's view: loss curves (left) and accuracy curves (right), rate vs no dropout."""
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(9.5, 3.4))
    plot_curves(fig.subplots(1, 2), rate, epochs)
    fig.tight_layout()
    return fig


def dropout_explorer(rate: float = 0.5, epochs: int = 300):
    """Live explorer: dropout rate × epochs → training/validation curves against rate 0."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    rate_w = widgets.FloatSlider(value=rate, min=0.0, max=0.9, step=0.1, description="rate",
                                 continuous_update=False)
    epochs_w = widgets.IntSlider(value=epochs, min=50, max=1000, step=50, description="epochs",
                                 continuous_update=False)

    def draw(rate, epochs):
        plot_explorer_view(rate, epochs)
        plt.show()

    out = widgets.interactive_output(draw, {"rate": rate_w, "epochs": epochs_w})
    display(widgets.VBox([widgets.HBox([rate_w, epochs_w]), out]))
