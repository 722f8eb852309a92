"""Benchmark rows of chapter 09: the digits CNN in NumPy vs Keras ``fit``, seconds per epoch,
and the GFLOP/s the from-scratch ``Conv2D`` (im2col + one matrix product) achieves.

The network is the chapter's: Rescaling(1/16) → [Conv2D(f, 3, same, he_uniform) →
BatchNormalization → ReLU → MaxPooling2D(3, same)] for f = 16, 32 → Flatten → Dropout(0.3) →
Dense(10, softmax), trained on the 1,347 stratified training digits (8×8×1, pixels 0–16) with
Adam and batches of 32 (43 steps per epoch), float64 in both libraries as in the chapter. The
NumPy side runs with one BLAS thread (the chapter's setting: its matrices are small), Keras with
its defaults. Both are timed over one ``fit`` call of ``epochs`` epochs after a one-epoch warm-up:

    from course.bench.convolution import bench_convolution
    for label, value in bench_convolution():
        print(label, value)

GFLOP/s counts 2·(multiply-adds) of the convolutions' matrix products only: forward
2·N·out_pixels·kh·kw·c_in·filters, backward twice that (dL/dkernel and dL/dinput); pooling,
im2col's copies and col2im's additions are the overhead the figure pays for. Two shapes: the
CNN's two convolutions at batch 32, as in training, and one larger layer to show what im2col
reaches when the matrices are big enough for BLAS. Run ``python -m course.bench.convolution``
with TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0, as ``make`` does.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

__all__ = ["bench_convolution", "conv_gflops", "time_numpy_cnn", "time_keras_cnn"]

FILTERS = (16, 32)


def _digits():
    from course.datasets import digits_stratified

    x_train, y_train, _, _ = digits_stratified()
    return np.rint(x_train * 16).reshape(-1, 8, 8, 1), y_train


def _numpy_cnn(seed: int = 0):
    """The chapter's digits CNN in scratchnn (its ``digits_cnn(rate=0.3, seed)``)."""
    from scratchnn.activations import Activation
    from scratchnn.convolution import Conv2D, Flatten, MaxPooling2D, Rescaling
    from scratchnn.dropout import Dropout
    from scratchnn.foundations import Dense, Sequential
    from scratchnn.initializers import GlorotUniform, HeUniform
    from scratchnn.normalization import BatchNormalization

    layers = [Rescaling(1 / 16)]
    for i, f in enumerate(FILTERS):
        layers += [
            Conv2D(f, 3, padding="same", kernel_initializer=HeUniform(seed=10 * seed + i)),
            BatchNormalization(),
            Activation("relu"),
            MaxPooling2D(3, padding="same"),
        ]
    glorot = partial(GlorotUniform(seed=10 * seed + 9), dtype="float64")
    layers += [Flatten(), Dropout(0.3, seed=seed), Dense(10, kernel_initializer=glorot)]
    model = Sequential(layers + [Activation("softmax")])
    model.build((None, 8, 8, 1))
    return model


def time_numpy_cnn(epochs: int, data) -> float:
    """Seconds per epoch of scratchnn's ``fit`` (Adam, batch 32, one BLAS thread)."""
    from threadpoolctl import threadpool_limits

    from course.bench.optimizers import time_scratch_fit
    from scratchnn.losses import SparseCategoricalCrossentropy

    x, y = data
    loss = SparseCategoricalCrossentropy(dtype="float64")
    with threadpool_limits(limits=1, user_api="blas"):
        return time_scratch_fit(_numpy_cnn, x, y, loss, epochs)


def time_keras_cnn(epochs: int, data) -> float:
    """Seconds per epoch of ``model.fit`` on the same network (float64), data, batch size and
    optimizer."""
    import keras

    x, y = data
    keras.utils.set_random_seed(0)
    d = "float64"
    layers = [keras.Input((8, 8, 1), dtype=d), keras.layers.Rescaling(1 / 16, dtype=d)]
    for f in FILTERS:
        layers += [
            keras.layers.Conv2D(f, 3, padding="same", kernel_initializer="he_uniform", dtype=d),
            keras.layers.BatchNormalization(dtype=d),
            keras.layers.Activation("relu", dtype=d),
            keras.layers.MaxPooling2D(3, padding="same", dtype=d),
        ]
    layers += [
        keras.layers.Flatten(dtype=d),
        keras.layers.Dropout(0.3, seed=0, dtype=d),
        keras.layers.Dense(10, activation="softmax", dtype=d),
    ]
    model = keras.Sequential(layers)
    model.set_weights(_numpy_cnn().get_weights())
    model.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy())
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # traces the train function
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)  # one call: no per-call overhead
    return (time.perf_counter() - start) / epochs


def conv_gflops(input_shape, filters: int, kernel_size: int = 3, repeats: int = 5) -> float:
    """GFLOP/s of scratchnn's Conv2D(filters, kernel_size, padding="same") forward + backward
    on a random float64 input of ``input_shape`` (best of ``repeats`` after a warm-up call)."""
    from scratchnn.convolution import Conv2D

    rng = np.random.default_rng(0)
    x = rng.normal(size=input_shape)
    conv = Conv2D(filters, kernel_size, padding="same", kernel_initializer="he_uniform")
    grad = rng.normal(size=conv.compute_output_shape(input_shape))
    n, rows, cols, c_in = input_shape
    flops = 3 * 2 * n * rows * cols * kernel_size**2 * c_in * filters  # forward + 2 backward
    best = np.inf
    for i in range(repeats + 1):
        start = time.perf_counter()
        conv.forward(x)
        conv.backward(grad)
        if i:  # the first call builds the layer and warms the caches
            best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def bench_convolution(epochs: int = 3) -> list[tuple[str, str]]:
    """Rows for ``make bench``: NumPy and Keras seconds per epoch of the digits CNN, their
    ratio, and the NumPy convolution's GFLOP/s on the CNN's shapes and on a larger layer."""
    from threadpoolctl import threadpool_limits

    data = _digits()
    numpy_s = time_numpy_cnn(epochs, data)
    keras_s = time_keras_cnn(epochs, data)
    with threadpool_limits(limits=1, user_api="blas"):
        small = [conv_gflops((32, 8, 8, 1), 16), conv_gflops((32, 3, 3, 16), 32)]
    large = conv_gflops((64, 32, 32, 32), 64, repeats=2)
    label = "ch09 digits CNN 16-32 filters, Adam, batch 32"
    return [
        (f"{label}: NumPy (1 BLAS thread)", f"{numpy_s * 1000:.0f} ms/epoch"),
        (f"{label}: Keras fit (float64)", f"{keras_s * 1000:.0f} ms/epoch"),
        ("ch09 Keras fit / NumPy time per epoch", f"{keras_s / numpy_s:.2f}×"),
        (
            "ch09 NumPy Conv2D fwd+bwd GFLOP/s, CNN shapes at batch 32 (conv1, conv2)",
            f"{small[0]:.2f}, {small[1]:.2f}",
        ),
        ("ch09 NumPy Conv2D fwd+bwd GFLOP/s, (64, 32, 32, 32) → 64 filters", f"{large:.1f}"),
    ]


if __name__ == "__main__":
    for label, value in bench_convolution():
        print(f"{label}: {value}")
