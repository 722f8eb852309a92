"""Chapter 09 (convolution): the shape explorer (live widget + the static figure the site shows).

One convolution with a k×k vertical-edge kernel (column weights from +1 on the left to −1 on the
right; k = 1 copies the image), then ReLU, then max pooling (``padding="same"``, strides = pool
size; pool 1 = none), run on one digit with the chapter's ``scratchnn.convolution`` layers. The
view shows the padded input with the receptive fields of the first conv output and of the first
pooled output, and the two feature maps with their shapes. Nothing here imports Keras or
TensorFlow; ``ipywidgets`` only in the explorer. Each view is a few small NumPy convolutions.
"""

from __future__ import annotations

import numpy as np

from course.explorers.widgets import show_explorer

# (kernel_size, strides, padding, pool_size): the static figure's four settings
SETTINGS = [(3, 1, "same", 3), (3, 1, "valid", 2), (5, 1, "same", 2), (3, 2, "same", 1)]


def edge_kernel(kernel_size: int) -> np.ndarray:
    """A (k, k, 1, 1) vertical-edge kernel: every row is linspace(+1, −1, k) (k = 1: [[1]])."""
    row = np.linspace(1.0, -1.0, kernel_size) if kernel_size > 1 else np.ones(1)
    return np.tile(row, (kernel_size, 1)).reshape(kernel_size, kernel_size, 1, 1)


def conv_geometry(size: int, kernel_size: int, strides: int, padding: str, pool_size: int):
    """Sizes along one axis of a ``size``-pixel image: conv output, pooled output, the zeros
    (before, after) the convolution adds, the receptive field of one pooled unit
    (k + (p − 1)·s pixels; "first pooled unit": that of the top-left one, whose window
    "same" pooling may cut) and the distance between neighbouring pooled units (s·p pixels)."""
    from scratchnn.convolution import conv_output_length

    conv_out, pads = conv_output_length(size, kernel_size, strides, padding)
    pooled_out, (pool_before, _) = conv_output_length(conv_out, pool_size, pool_size, "same")
    # the first pooled window covers conv outputs 0 … min(p − before, conv_out) − 1
    first = (min(pool_size - pool_before, conv_out) - 1) * strides + kernel_size
    return {
        "conv": conv_out,
        "pooled": pooled_out,
        "pads": pads,
        "receptive field": kernel_size + (pool_size - 1) * strides,
        "first pooled unit": first,
        "jump": strides * pool_size,
    }


def conv_maps(image, kernel_size: int, strides: int, padding: str, pool_size: int):
    """image (rows, cols) → (ReLU feature map, pooled map), each 2-D, with scratchnn layers."""
    from scratchnn.convolution import Conv2D, MaxPooling2D

    conv = Conv2D(1, kernel_size, strides=strides, padding=padding, use_bias=False)
    conv.set_weights([edge_kernel(kernel_size)])
    x = np.asarray(image, dtype=np.float64)[None, :, :, None]
    response = np.maximum(conv.forward(x), 0.0)
    pooled = MaxPooling2D(pool_size, padding="same").forward(response)
    return response[0, :, :, 0], pooled[0, :, :, 0]


def _setting_label(kernel_size, strides, padding, pool_size):
    pool = f"pool {pool_size}" if pool_size > 1 else "no pooling"
    return f"{kernel_size}×{kernel_size}, stride {strides}, {padding}, {pool}"


def plot_conv_row(axes, image, kernel_size=3, strides=1, padding="same", pool_size=3):
    """Three panels: the padded input (padding shaded) with the receptive fields of the
    top-left conv output (orange) and of the top-left pooled output (blue), the ReLU feature map
    and the pooled map, each titled with its shape."""
    from matplotlib.patches import Rectangle

    image = np.asarray(image, dtype=np.float64)
    n = image.shape[0]
    g = conv_geometry(n, kernel_size, strides, padding, pool_size)
    before, after = g["pads"]
    padded = np.pad(image, ((before, after), (before, after)), constant_values=np.nan)
    response, pooled = conv_maps(image, kernel_size, strides, padding, pool_size)
    ax_in, ax_conv, ax_pool = axes
    ax_in.set_facecolor("#cfe2f3")  # NaN = padding shows the background
    extent = (-before - 0.5, n + after - 0.5, n + after - 0.5, -before - 0.5)
    ax_in.imshow(padded, cmap="gray_r", extent=extent)
    rf = g["first pooled unit"]
    for size, color, label in [(kernel_size, "C1", "conv unit"), (rf, "C0", "pooled unit")]:
        corner = (-before - 0.5, -before - 0.5)
        ax_in.add_patch(
            Rectangle(corner, size, size, fill=False, lw=2.5, ec=color, label=f"{label}: {size}²")
        )
    ax_in.set_xlim(extent[0], extent[1])
    ax_in.set_ylim(extent[2], extent[3])
    ax_in.legend(loc="lower left", fontsize=7, framealpha=0.8)
    ax_in.set_title(f"input {n}×{n}, padding {before}+{after}", fontsize=9)
    ax_conv.imshow(response, cmap="gray_r")
    ax_conv.set_title(f"conv + ReLU: {response.shape[0]}×{response.shape[1]}", fontsize=9)
    ax_pool.imshow(pooled, cmap="gray_r")
    pool_title = f"max pool {pool_size}: " if pool_size > 1 else "no pooling: "
    ax_pool.set_title(pool_title + f"{pooled.shape[0]}×{pooled.shape[1]}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    ax_in.set_ylabel(_setting_label(kernel_size, strides, padding, pool_size), fontsize=9)
    return g


def plot_conv_view(image, kernel_size=3, strides=1, padding="same", pool_size=3, fig=None):
    """The explorer's view: one row of three panels (see ``plot_conv_row``)."""
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(9.0, 3.4))
    axes = fig.subplots(1, 3)
    g = plot_conv_row(axes, image, kernel_size, strides, padding, pool_size)
    fig.suptitle(
        f"{_setting_label(kernel_size, strides, padding, pool_size)}: one pooled unit sees "
        f"{g['receptive field']}×{g['receptive field']} pixels, its neighbour starts "
        f"{g['jump']} pixels further"
    )
    fig.tight_layout()
    return fig


def plot_conv_grid(image, settings=SETTINGS, title=None):
    """The site's static twin of the explorer: one row per setting (kernel_size, strides,
    padding, pool_size), a small multiple of ``plot_conv_row``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(settings), 3, figsize=(7.5, 2.5 * len(settings)))
    for row, setting in zip(axes, settings):
        plot_conv_row(row, image, *setting)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def conv_explorer(image, kernel_size=3, strides=1, padding="same", pool_size=3):
    """Live explorer: kernel size × stride × padding × pool size → shapes, receptive field and
    the feature maps of one image (rows, cols)."""
    import ipywidgets as widgets

    def slider(value, low, high, name):
        return widgets.IntSlider(
            value=value, min=low, max=high, description=name, continuous_update=False
        )

    show_explorer(
        lambda **values: plot_conv_view(image, **values),
        [
            {
                "kernel_size": slider(kernel_size, 1, 5, "kernel"),
                "strides": slider(strides, 1, 3, "stride"),
            },
            {
                "padding": widgets.ToggleButtons(
                    options=["valid", "same"], value=padding, description="padding"
                ),
                "pool_size": slider(pool_size, 1, 3, "pool"),
            },
        ],
    )
