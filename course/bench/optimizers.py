"""Benchmark row of chapter 04: the from-scratch MLP vs Keras ``fit``, seconds per epoch.

Both train the chapter's 64-64-10 ReLU network on the 1,437 training digits with Adam and
batches of 32 (45 steps per epoch), measured in the same process, one after the other:

    from course.bench.optimizers import bench_optimizers
    for label, value in bench_optimizers():
        print(label, value)

Keras is timed over one ``fit`` call of ``epochs`` epochs after a one-epoch warm-up call (which
traces the training function); the NumPy loop is timed the same way. Run ``python -m
course.bench.optimizers`` with TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0, as ``make`` does.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["bench_optimizers", "time_numpy", "time_keras"]


def _numpy_mlp():
    """Chapter 04's 64-64-10 ReLU network in scratchnn, built with the same initial weights."""
    from scratchnn.foundations import Dense, Sequential

    np.random.seed(0)
    model = Sequential([Dense(64, activation="relu"), Dense(10)])
    model.build((None, 64))
    return model


def time_scratch_fit(make_model, x, y, loss, epochs: int) -> float:
    """Seconds per epoch of scratchnn's ``fit`` with its Adam on a fresh ``make_model()``,
    after a 1-epoch warm-up on another one."""
    from scratchnn.optimizers import Adam, fit

    fit(make_model(), x, y, loss, Adam(), epochs=1)
    model = make_model()
    start = time.perf_counter()
    fit(model, x, y, loss, Adam(), epochs=epochs)
    return (time.perf_counter() - start) / epochs


def time_numpy(epochs: int, data) -> float:
    """Seconds per epoch of scratchnn's ``fit`` with its Adam (after a 1-epoch warm-up)."""
    from scratchnn.losses import SparseCategoricalCrossentropy

    x, y, _, _ = data
    loss = SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    return time_scratch_fit(_numpy_mlp, x, y, loss, epochs)


def time_keras(epochs: int, data) -> float:
    """Seconds per epoch of ``model.fit`` on the same architecture, data, batch size and
    optimizer."""
    import keras

    x, y, _, _ = data
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    model.set_weights([w.astype("float32") for w in _numpy_mlp().get_weights()])
    model.compile(
        keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x32 = x.astype("float32")
    model.fit(x32, y, batch_size=32, epochs=1, verbose=0)  # traces the train function
    start = time.perf_counter()
    model.fit(x32, y, batch_size=32, epochs=epochs, verbose=0)  # one call: no per-call overhead
    return (time.perf_counter() - start) / epochs


def bench_optimizers(epochs: int = 20) -> list[tuple[str, str]]:
    """Rows for ``make bench``: NumPy and Keras seconds per epoch, and their ratio (one run)."""
    from course.datasets import digits_split

    data = digits_split()
    numpy_s = time_numpy(epochs, data)
    keras_s = time_keras(epochs, data)
    return [
        ("ch04 digits MLP 64-64-10, Adam, batch 32: NumPy", f"{numpy_s * 1000:.1f} ms/epoch"),
        ("ch04 digits MLP 64-64-10, Adam, batch 32: Keras fit", f"{keras_s * 1000:.1f} ms/epoch"),
        ("ch04 Keras fit / NumPy time per epoch", f"{keras_s / numpy_s:.2f}×"),
    ]


if __name__ == "__main__":
    for label, value in bench_optimizers():
        print(f"{label}: {value}")
