"""The autoencoders, as Functional Keras builders in a registry keyed by name.

Every model maps (N, 28, 28, 1) float32 in [0, 1] to the same shape in [0, 1] and uses only
built-in layers, so a saved `.keras` file loads with plain `keras.models.load_model`.
To add a model, write a builder and register it; callers (CLI, page, benchmarks) look names up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keras is imported inside the builders, so listing the registry stays cheap
    import keras

INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class ModelSpec:
    """How to build a named model and how it is meant to be trained."""

    name: str
    build: Callable[[], keras.Model]
    description: str  # one line, shown in the page's model list
    loss: str = "binary_crossentropy"
    sigma: float | None = 0.5  # fixed training σ; None means blind over `sigma_range`
    sigma_range: tuple[float, float] = (0.0, 1.0)


def build_classic() -> keras.Model:
    """The seed recipe's autoencoder, layer for layer (12,193 parameters)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="noisy")
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    encoded = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(encoded)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D(2)(x)
    outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="classic")


def build_wide() -> keras.Model:
    """Classic's shape (pool, pool, upsample, upsample, no skips) with 64 filters everywhere
    and two convolutions per stage: the "just make it bigger" baseline."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="noisy")
    x = inputs
    for _ in range(2):
        x = _double_conv(x, 64)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = _double_conv(x, 64)
    for _ in range(2):
        x = layers.UpSampling2D(2)(x)
        x = _double_conv(x, 64)
    outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="wide")


def build_unet(base: int = 32) -> keras.Model:
    """A two-level U-Net: skips carry the stroke edges past the bottleneck, and the noisy
    input is concatenated before the output so a clean digit can pass through unchanged."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="noisy")
    d1 = _unet_features(inputs, base)
    x = layers.Concatenate()([d1, inputs])
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="clean")(x)
    return keras.Model(inputs, outputs, name="unet")


def build_unet_residual(base: int = 32) -> keras.Model:
    """The same U-Net, but it predicts the noise (DnCNN's residual trick): the clean digit is the
    input minus that estimate, clipped to [0, 1] by a bounded ReLU. A clean input needs only a
    zero estimate, and the linear output trains well with MSE where a sigmoid stalls."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="noisy")
    d1 = _unet_features(inputs, base)
    noise = layers.Conv2D(1, 1, name="noise")(d1)
    x = layers.Subtract()([inputs, noise])
    outputs = layers.ReLU(max_value=1.0, name="clean")(x)
    return keras.Model(inputs, outputs, name="unet_residual")


def build_dncnn(depth: int = 10, filters: int = 32) -> keras.Model:
    """DnCNN-style residual network: it predicts the noise, which is subtracted from the input
    and the result clipped to [0, 1] with a bounded ReLU (a built-in layer, not a Lambda).
    Dilated middle layers widen the receptive field for heavy noise without more weights."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="noisy")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    for i in range(depth - 2):
        dilation = (1, 2, 4, 2)[i % 4]
        x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    noise = layers.Conv2D(1, 3, padding="same", name="noise")(x)
    x = layers.Subtract()([inputs, noise])
    outputs = layers.ReLU(max_value=1.0, name="clean")(x)
    return keras.Model(inputs, outputs, name="dncnn")


def _unet_features(inputs: keras.KerasTensor, base: int) -> keras.KerasTensor:
    """Two poolings down (28 → 14 → 7) and back up, with skips; full-resolution features."""
    from keras import layers

    e1 = _double_conv(inputs, base)  # 28×28
    e2 = _double_conv(layers.MaxPooling2D(2)(e1), base * 2)  # 14×14
    bottom = _double_conv(layers.MaxPooling2D(2)(e2), base * 4)  # 7×7
    d2 = layers.Conv2DTranspose(base * 2, 2, strides=2, padding="same")(bottom)
    d2 = _double_conv(layers.Concatenate()([d2, e2]), base * 2)
    d1 = layers.Conv2DTranspose(base, 2, strides=2, padding="same")(d2)
    return _double_conv(layers.Concatenate()([d1, e1]), base)


def _double_conv(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    """Two 3×3 ReLU convolutions, the U-Net paper's basic block."""
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "classic",
            build_classic,
            "The seed recipe: a 12k-parameter convolutional autoencoder trained at σ = 0.5.",
        ),
        ModelSpec(
            "wide",
            build_wide,
            "Classic's shape, wider and deeper, trained blind over σ in [0, 1].",
            loss="mse",
            sigma=None,
        ),
        ModelSpec(
            "unet",
            build_unet,
            "A small U-Net with skip connections, trained blind over σ in [0, 1].",
            loss="mse",
            sigma=None,
        ),
        ModelSpec(
            "unet_residual",
            build_unet_residual,
            "A small U-Net that predicts the noise and subtracts it, trained blind over σ in [0, 1].",
            loss="mse",
            sigma=None,
        ),
        ModelSpec(
            "dncnn",
            build_dncnn,
            "A residual DnCNN-style network that predicts the noise, trained blind over σ in [0, 1].",
            loss="mse",
            sigma=None,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name, with a message that lists the names there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}") from None


def build(name: str) -> keras.Model:
    """A fresh, untrained model of the named kind."""
    return get_spec(name).build()
