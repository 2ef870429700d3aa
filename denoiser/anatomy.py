"""Inside a denoiser: the code it keeps, the filters it learned, its deepest level, mixed codes.

Classic is an autoencoder in the strict sense: everything the decoder learns about a digit
passes through one 7×7×16 tensor, the code (the seed recipe's `encoded`, after the second
pooling). `split` cuts a model there into an encoder and a decoder that share the model's own
layers, so what the page shows is the trained network itself, not a copy. The U-Nets have no
such cut: their skip connections carry detail around the bottleneck, so their deepest level
can be looked at but not decoded on its own.

Every function here runs a model through `predict_on_batch` on one batch (about 1 ms once the
sub-model is traced, against about 35 ms for `model.predict`); callers that run often should
keep the sub-models `split` and `watch` return, since each one is traced on its first call.
"""

from __future__ import annotations

import math

import keras
import numpy as np

INTERPOLATION_STEPS = 8


def to_batch(images: np.ndarray) -> np.ndarray:
    """(28, 28), (N, 28, 28) or (N, 28, 28, 1) → (N, 28, 28, 1) float32, the shape models take."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] != 1:
        raise ValueError(f"expected greyscale images shaped (N, H, W[, 1]), got {np.shape(images)}")
    return array


def spatial_sizes(model: keras.Model) -> dict[str, int]:
    """Each layer's output area in pixels (height × width), from a 28×28 input where shapes are open."""
    shapes = {layer.name: tuple(layer.output.shape) for layer in model.layers if len(layer.output.shape) == 4}
    if any(None in shape[1:3] for shape in shapes.values()):
        # A fully convolutional model leaves sizes open; one probe on a blank digit fixes them.
        names = list(shapes)
        outputs = look(watch(model, names), np.zeros((1, 28, 28), np.float32))
        shapes = {name: np.shape(output) for name, output in zip(names, outputs, strict=True)}
    return {name: int(shape[1]) * int(shape[2]) for name, shape in shapes.items()}


def deepest_layers(model: keras.Model) -> list[keras.Layer]:
    """The layers at the model's smallest resolution, in graph order: its bottleneck."""
    sizes = spatial_sizes(model)
    smallest = min(sizes.values())
    if smallest >= max(sizes.values()):
        raise ValueError(
            f"{model.name} never shrinks the image (every layer works at full size), "
            "so it has no code and no deepest level to show"
        )
    return [layer for layer in model.layers if sizes.get(layer.name) == smallest]


def code_layer(model: keras.Model) -> keras.Layer:
    """The layer whose output is the code: the first to reach the smallest resolution."""
    return deepest_layers(model)[0]


def deepest_layer(model: keras.Model) -> keras.Layer:
    """The last layer at the smallest resolution: the deepest level's most worked-on features."""
    return deepest_layers(model)[-1]


def split(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """`(encoder, decoder)` sharing `model`'s layers, with `decoder(encoder(x)) == model(x)`.

    Raises ValueError where the decoder would need more than the code: a U-Net's skip
    connections (or a residual path from the input) carry detail around the bottleneck.
    """
    layer = code_layer(model)
    encoder = keras.Model(model.inputs, layer.output, name=f"{model.name}_encoder")
    try:
        decoder = keras.Model(layer.output, model.output, name=f"{model.name}_decoder")
    except ValueError as error:
        height, width = layer.output.shape[1:3]
        raise ValueError(
            f"{model.name} cannot be split into an encoder and a decoder: its output depends on the "
            f"input through paths that go around its {height}×{width} level (skip connections carry "
            "detail past the bottleneck), so no decoder can run from the code alone"
        ) from error
    return encoder, decoder


def watch(model: keras.Model, layer_names: list[str]) -> keras.Model:
    """One model sharing `model`'s layers that returns the named layers' outputs, in one call."""
    outputs = [model.get_layer(name).output for name in layer_names]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_watch")


def look(watcher: keras.Model, images: np.ndarray) -> list[np.ndarray]:
    """Run a `watch` model on `images` in one batched call; always a list, one array per layer."""
    outputs = watcher.predict_on_batch(to_batch(images))
    return [np.asarray(output) for output in outputs] if isinstance(outputs, list | tuple) else [outputs]


def activations(model: keras.Model, layer_name: str, images: np.ndarray) -> np.ndarray:
    """The named layer's output for `images`, (N, H, W, C); builds (and traces) a sub-model each call."""
    return look(watch(model, [layer_name]), images)[0]


def first_conv(model: keras.Model) -> keras.layers.Conv2D:
    """The first convolution, the one that looks at the pixels themselves."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer
    raise ValueError(f"{model.name} has no convolution layer")


def first_filters(model: keras.Model) -> np.ndarray:
    """The first convolution's kernels as (filters, height, width): 32 of 3×3 for classic and blind."""
    kernel = np.asarray(first_conv(model).kernel)  # (height, width, in_channels, filters)
    if kernel.shape[2] != 1:
        raise ValueError(f"the first convolution of {model.name} reads {kernel.shape[2]} channels, not 1")
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


def most_active(maps: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` channels of (H, W, C) `maps` with the largest mean, most active first."""
    means = np.asarray(maps).reshape(-1, np.shape(maps)[-1]).mean(axis=0)
    return np.argsort(-means, kind="stable")[:count]


def code_distance(noisy_code: np.ndarray, clean_code: np.ndarray) -> float:
    """‖noisy − clean‖ / ‖clean‖: how much of the noise reached the code, as a fraction of the code.

    0 means the encoder threw all the noise away; 1 means the change is as large as the clean
    code itself. Relative, so models with larger activations are not made to look worse.
    """
    clean = np.asarray(clean_code, np.float64)
    difference = float(np.linalg.norm(np.asarray(noisy_code, np.float64) - clean))
    reference = float(np.linalg.norm(clean))
    if reference == 0.0:
        return 0.0 if difference == 0.0 else math.inf
    return difference / reference


def interpolate(
    decoder: keras.Model, code_a: np.ndarray, code_b: np.ndarray, steps: int = INTERPOLATION_STEPS
) -> np.ndarray:
    """The decoder on `steps` codes evenly spaced on the straight line from `code_a` to `code_b`.

    Returns (steps, H, W): the first is `code_a` decoded, the last `code_b`. A denoising
    autoencoder was only taught to map codes of real digits back, so the middle is a blend.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape(-1, 1, 1, 1)
    codes = (1.0 - weights) * np.asarray(code_a, np.float32) + weights * np.asarray(code_b, np.float32)
    return np.asarray(decoder.predict_on_batch(codes))[..., 0]
