"""``hello-cnn``: a tiny classifier that takes raw grayscale pixels and returns P(positive class).

Only ``keras.layers`` are used, so the model runs under any Keras 3 backend. The model holds its own
preprocessing (resize and rescale), so it accepts images of any size with pixel values in [0, 255].
"""

from __future__ import annotations

import keras
from keras import layers


def build_hello_cnn(image_size: int = 64, channels: int = 1, filters: int = 8, name: str = "hello_cnn") -> keras.Model:
    """Build hello-cnn.

    Args:
        image_size: side the input is resized to inside the model.
        channels: input channels (1 for grayscale X-rays).
        filters: filters of the first convolution; the second has twice as many.
        name: model name.

    Returns:
        A model mapping raw pixels ``(N, H, W, channels)`` to probabilities ``(N, 1)``.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = layers.Resizing(image_size, image_size, name="resize")(inputs)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    for i, f in enumerate((filters, 2 * filters), start=1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
    return keras.Model(inputs, outputs, name=name)
