"""CNN1 with a K-way softmax head: the study's network, unchanged up to its last hidden layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


def build_cnn1_softmax(classes: int = 3, **kwargs: Any) -> keras.Model:
    """:func:`medzoo_cnn.cnn.build_cnn1` with its ``Dense(1, sigmoid)`` replaced by ``Dense(classes, softmax)``.

    Takes raw grayscale pixels ``(N, H, W, 1)`` in [0, 255] and returns class probabilities ``(N, classes)``.
    ``kwargs`` go to :func:`~medzoo_cnn.cnn.build_cnn` (``image_size``, ``dropout``, ...).
    """
    from medzoo_cnn.cnn import build_cnn1

    if int(classes) < 2:
        raise ValueError(f"a softmax head needs at least 2 classes, got {classes}")
    base = build_cnn1(**kwargs)
    hidden = base.get_layer("dense4").output  # the last hidden layer, 32 wide
    outputs = layers.Dense(int(classes), activation="softmax", dtype="float32", name="classes")(hidden)
    return keras.Model(base.inputs, outputs, name="cnn1_softmax")
