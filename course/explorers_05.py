"""The deep MLP, figures and the widget explorer of chapter 05 (vanishing and exploding gradients).

NumPy and matplotlib on top of ``scratchnn`` (initializers, activations, normalization,
optimizers); no TensorFlow. The chapter and the tests compare this network with a Keras model
that has the same weights injected.

    X, y = digits()
    net = DeepMLP(64, 10, depth=15, width=64, activation="sigmoid", init="Glorot uniform")
    loss, grads = net.loss_and_grads(X, y)              # grads aligned with net.params
    norms = gradient_norms(15, "Glorot uniform", "sigmoid", batch_norm=False)
    plot_gradient_norms([...]); explore_gradients()      # static figure / live widget
"""
from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import threadpool_limits

from scratchnn import initializers
from scratchnn.activations import ACTIVATIONS
from scratchnn.normalization import BatchNormalization, clip_gradients

# Kernel initializers the chapter compares: label -> factory(seed) of a scratchnn initializer.
INITS = {
    "N(0, 0.01²)": lambda seed: initializers.RandomNormal(stddev=0.01, seed=seed),
    "N(0, 1)": lambda seed: initializers.RandomNormal(stddev=1.0, seed=seed),
    "Glorot uniform": lambda seed: initializers.GlorotUniform(seed=seed),
    "He normal": lambda seed: initializers.HeNormal(seed=seed),
    "LeCun normal": lambda seed: initializers.LecunNormal(seed=seed),
}
HIDDEN_ACTIVATIONS = ["sigmoid", "tanh", "relu", "selu"]


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)  # two pixels are always 0
    return X, y


def digits(n: int | None = None):
    """load_digits standardised per pixel: X (n, 64) float64, y (n,) integer labels 0–9.

    n: the first n examples (all 1,797 when None). Returns copies (safe to modify).
    """
    X, y = _digits()
    return X[:n].copy(), y[:n].copy()


class DeepMLP:
    """``depth`` hidden layers Dense(width) [→ BatchNormalization] → activation, then Dense(n_out)
    logits and mean softmax cross-entropy, i.e. the Keras model

        Sequential([Input((n_in,)), *([Dense(width), BatchNormalization(), Activation(a)] × depth),
                    Dense(n_out)]) with SparseCategoricalCrossentropy(from_logits=True).

    Kernels of hidden layers are drawn with INITS[init]; the output kernel with Glorot uniform
    (Keras's default); biases are zero. ``params`` lists every trainable array in Keras's order
    (kernel, bias, [gamma, beta] per hidden layer, then the output kernel and bias);
    ``loss_and_grads`` returns the gradients in the same order.
    """

    def __init__(self, n_in, n_out, depth, width, activation, init, batch_norm=False, seed=0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {list(INITS)}")
        self.activation, self.batch_norm = activation, bool(batch_norm)
        sizes = [n_in] + [width] * depth
        self.kernels = [INITS[init](seed * 1000 + i)((a, b), dtype="float64")
                        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        self.kernels.append(initializers.GlorotUniform(seed=seed * 1000 + 999)((width, n_out), dtype="float64"))
        self.biases = [np.zeros(k.shape[1]) for k in self.kernels]
        self.bns = [BatchNormalization() for _ in range(depth)] if self.batch_norm else []
        for bn in self.bns:
            bn.build((1, width))

    @property
    def depth(self):
        return len(self.kernels) - 1

    @property
    def params(self):
        out = []
        for i in range(self.depth):
            out += [self.kernels[i], self.biases[i]]
            if self.batch_norm:
                out += self.bns[i].params
        return out + [self.kernels[-1], self.biases[-1]]

    def get_weights(self):
        """Every array Keras's model.get_weights() returns, in its order (BN moving stats included)."""
        out = []
        for i in range(self.depth):
            out += [self.kernels[i], self.biases[i]]
            if self.batch_norm:
                bn = self.bns[i]
                out += [bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance]
        return [w.copy() for w in out + [self.kernels[-1], self.biases[-1]]]

    def forward(self, X, training=True):
        """X (batch, n_in) → logits (batch, n_out); caches each layer's input, BN output and activation."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.kernels[0].shape[0]:
            raise ValueError(f"DeepMLP expects input of shape (batch, {self.kernels[0].shape[0]}), got {X.shape}")
        f, _ = ACTIVATIONS[self.activation]
        h, self.inputs, self.pre = X, [], []
        for i in range(self.depth):
            self.inputs.append(h)
            z = h @ self.kernels[i] + self.biases[i]
            if self.batch_norm:
                z = self.bns[i].forward(z, training=training)
            self.pre.append(z)  # what the activation sees
            h = f(z)
        self.inputs.append(h)
        return h @ self.kernels[-1] + self.biases[-1]

    def loss_and_grads(self, X, y, training=True):
        """Mean softmax cross-entropy on integer labels y, and its gradients aligned with ``params``."""
        logits = self.forward(X, training=training)
        z = logits - logits.max(axis=1, keepdims=True)  # log-softmax, exact even for huge logits
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = len(y)
        loss = float(-np.mean(log_p[np.arange(n), y]))
        g = np.exp(log_p)                            # softmax
        g[np.arange(n), y] -= 1.0
        g /= n                                       # d(mean CE)/d logits
        grads = [self.inputs[-1].T @ g, g.sum(axis=0)]
        g = g @ self.kernels[-1].T
        _, df = ACTIVATIONS[self.activation]
        for i in reversed(range(self.depth)):
            g = g * df(self.pre[i])
            layer = []
            if self.batch_norm:
                g = self.bns[i].backward(g)
                layer = list(self.bns[i].grads)
            grads = [self.inputs[i].T @ g, g.sum(axis=0)] + layer + grads
            g = g @ self.kernels[i].T
        return loss, grads

    def kernel_grad_norms(self, grads):
        """‖dL/dW‖ (Frobenius) of each kernel, input layer first, output layer last."""
        step = 4 if self.batch_norm else 2
        idx = [i * step for i in range(self.depth)] + [len(grads) - 2]
        return np.array([np.linalg.norm(grads[i]) for i in idx])


def gradient_norms(depth, init, activation, batch_norm=False, width=64, batch=256, seed=0):
    """Per-layer kernel-gradient norms (depth + 1 values) of a fresh DeepMLP on a digits batch."""
    return _gradient_norms(int(depth), init, activation, bool(batch_norm), int(width), int(batch), int(seed)).copy()


@functools.lru_cache(maxsize=128)  # pure function of its arguments; the figure and the widget reuse runs
def _gradient_norms(depth, init, activation, batch_norm, width, batch, seed):
    # One BLAS thread: the matrices are small, and it fixes the summation order (exact repeats).
    with threadpool_limits(limits=1, user_api="blas"):
        X, y = digits(batch)
        net = DeepMLP(64, 10, depth, width, activation, init, batch_norm, seed)
        _, grads = net.loss_and_grads(X, y)
        return net.kernel_grad_norms(grads)


def train(net, X, y, optimizer, steps, batch_size=64, seed=0, clip=None):
    """Mini-batch training of a DeepMLP with a scratchnn optimizer; returns the loss per step.

    clip: None or a dict of one Keras clipping option, e.g. {"global_clipnorm": 1.0}.
    Stops early (the rest of the history is NaN) when the loss stops being finite.
    """
    rng = np.random.default_rng(seed)
    losses = np.full(steps, np.nan)
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            idx = rng.choice(len(X), batch_size, replace=False)
            loss, grads = net.loss_and_grads(X[idx], y[idx])
            if not np.isfinite(loss) or not all(np.all(np.isfinite(g)) for g in grads):
                break
            losses[step] = loss
            optimizer.apply(clip_gradients(grads, **(clip or {})), net.params)
    return losses


def accuracy(net, X, y):
    """Fraction of correct argmax predictions in inference mode (BN uses its moving statistics)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean(net.forward(X, training=False).argmax(axis=1) == y))


def plot_gradient_norms(configs, depth=15, ax=None, title=None):
    """Per-layer gradient norms on a log scale. configs: list of (init, activation, batch_norm)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.4, 3.8))
    layers = np.arange(1, depth + 2)
    for init, activation, batch_norm in configs:
        norms = gradient_norms(depth, init, activation, batch_norm)
        label = f"{activation}, {init}" + (", BN" if batch_norm else "")
        ax.semilogy(layers, np.maximum(norms, 1e-30), "o-", ms=3, label=label)
    ax.set_xlabel(f"layer (1 = input layer, {depth + 1} = output layer)")
    ax.set_ylabel("‖∂L/∂W‖ at initialization")
    ax.set_title(title or f"Gradient norm per layer, {depth} hidden layers of 64 units, digits")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside: lines fill the plot
    ax.figure.tight_layout()
    return ax.figure


def explore_gradients(depth=15, init="Glorot uniform", activation="sigmoid", batch_norm=False):
    """Live explorer: depth × init × activation × batch norm → per-layer gradient norms.

    The arguments set the starting view (the chapter shows the same view as a static figure).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    w_depth = widgets.IntSlider(value=depth, min=2, max=40, step=1, description="depth",
                                continuous_update=False)
    w_init = widgets.Dropdown(options=list(INITS), value=init, description="init")
    w_act = widgets.ToggleButtons(options=HIDDEN_ACTIVATIONS, value=activation, description="activation")
    w_bn = widgets.Checkbox(value=batch_norm, description="batch normalization")

    def draw(depth, init, activation, batch_norm):
        fig = plot_gradient_norms([(init, activation, batch_norm)], depth=depth,
                                  title=f"{depth} hidden layers: first/last layer gradient ratio "
                                        f"{_ratio(depth, init, activation, batch_norm)}")
        ax = fig.axes[0]
        ax.set_ylim(1e-16, 1e8)
        plt.show()

    out = widgets.interactive_output(draw, {"depth": w_depth, "init": w_init, "activation": w_act,
                                            "batch_norm": w_bn})
    display(widgets.VBox([widgets.HBox([w_depth, w_init]), w_act, w_bn, out]))


def _ratio(depth, init, activation, batch_norm):
    norms = gradient_norms(depth, init, activation, batch_norm)
    return f"{norms[0] / norms[-2]:.2g}" if norms[-2] > 0 else "undefined"
