"""The study's U-Net: encoder 16, 32, 64, 128 filters over four poolings to a 256-filter bottleneck.

Each level is two 3×3 convolutions, each followed by batch norm and ReLU; dropout after every pooling
and every skip concatenation; transposed 3×3 convolutions (stride 2) upsample; a 1×1 sigmoid convolution
gives per-pixel probabilities. Raw pixels in [0, 255] go in, with any channel count (a grayscale image is
repeated to RGB, RGBA loses its alpha: :class:`medzoo.layers.ToChannels`); the model rescales them itself
(``/ 255``, or with ``normalize="nonzero"`` standardizes each slice over its nonzero pixels).
Any input whose sides divide by 16 works (the network is fully convolutional).
"""

from __future__ import annotations

import keras
from keras import layers

from medzoo.layers import NonzeroStandardize, ToChannels


def _conv_block(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


NORMALIZATIONS = ("rescale", "nonzero")


def build_unet(input_shape: tuple[int | None, int | None, int] = (None, None, 3), base_filters: int = 16,
               depth: int = 4, dropout: float = 0.1, normalize: str = "rescale", name: str = "unet") -> keras.Model:
    """Build the U-Net.

    Args:
        input_shape: ``(H, W, C)``; ``None`` sides accept any size divisible by ``2**depth``; ``C`` is the
            channel count the network works on (input of any channel count is converted to it).
        base_filters: filters of the first level, doubled at each of ``depth`` poolings (16 → 256).
        depth: number of poolings.
        dropout: rate after each pooling (halved at the first level) and each skip concatenation.
        normalize: ``"rescale"`` (the study's: pixels / 255) or ``"nonzero"`` (each slice and channel
            standardized over its nonzero pixels: :class:`medzoo.layers.NonzeroStandardize`, so one patient's
            darker FLAIR reads like another's).
        name: model name.

    Returns:
        A model mapping raw pixels ``(N, H, W, any C)`` to probabilities ``(N, H, W, 1)``.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r}: choose from {NORMALIZATIONS}")
    inputs = keras.Input((*input_shape[:2], None), name="image")
    x = ToChannels(input_shape[2], name="to_channels")(inputs)
    if normalize == "nonzero":
        x = NonzeroStandardize(name="standardize")(x)
    else:
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    skips = []
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, f"enc{level + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
        x = layers.Dropout(dropout * (0.5 if level == 0 else 1.0), name=f"drop{level + 1}")(x)
    x = _conv_block(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", name=f"up{level + 1}")(x)
        x = layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
        x = layers.Dropout(dropout, name=f"updrop{level + 1}")(x)
        x = _conv_block(x, filters, f"dec{level + 1}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)
