"""DenseNet121 from scratch for pneumonia vs normal on grayscale chest X-rays.

The model takes raw pixels of any size and channel count, ``(N, H, W, C)`` in [0, 255], converts them to
grayscale luminance (:class:`medzoo.layers.ToChannels`), resizes them to 256×256,
scales them to [0, 1], runs the DenseNet121 feature extractor of :mod:`medzoo.nets.densenet` (one input
channel, Keras Applications' layer names), global-average-pools, applies dropout and returns P(PNEUMONIA),
shape ``(N, 1)``.

Parameters on 256×256×1 (the count does not depend on the image size): 7,031,232 in the backbone (the
7,037,504 of Keras' DenseNet121 minus 6,272 for the single-channel 7×7 stem) + 1,025 in the head =
7,032,257, of which 83,648 are batch-norm moving statistics (6,948,609 trainable).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from medzoo.layers import ToChannels
from medzoo.nets.densenet import DENSENET121_BLOCKS, densenet_features


def build_densenet121(image_size: int = 256, channels: int = 1, dropout: float = 0.5,
                      blocks: Sequence[int] = DENSENET121_BLOCKS, growth_rate: int = 32, stem_filters: int = 64,
                      name: str = "densenet121") -> keras.Model:
    """Build the classifier: ToChannels(1) → Resizing → Rescaling 1/255 → DenseNet features → GAP → Dropout
    → Dense(1, sigmoid).

    Args:
        image_size: side the input is resized to.
        channels: channels the model works on (1: grayscale); input of any channel count is converted.
        dropout: rate before the classifier.
        blocks: layers per dense block (DenseNet121: 6, 12, 24, 16).
        growth_rate: channels each dense layer adds.
        stem_filters: filters of the 7×7 stem convolution.
        name: model name.

    Returns:
        A model mapping raw pixels ``(N, H, W, C)`` (any C) to probabilities ``(N, 1)``.
    """
    inputs = keras.Input((None, None, None), name="image")
    x = ToChannels(channels, name="to_channels")(inputs)
    x = layers.Resizing(image_size, image_size, name="resize")(x)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    x = densenet_features(x, blocks=blocks, growth_rate=growth_rate, stem_filters=stem_filters)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name=name)
