"""The study's custom CNNs for pneumonia vs normal on 256×256 grayscale chest X-rays.

Every model takes raw pixels of any size and channel count, ``(N, H, W, C)`` in [0, 255] (C = 1 gray,
3 RGB, 4 RGBA: the published JPEGs are RGB), converts them to grayscale luminance, resizes them to
256×256 and scales them to [0, 1] itself, and returns P(PNEUMONIA) of shape ``(N, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from medzoo.layers import ToChannels


def preprocessing(inputs: keras.KerasTensor, image_size: int, channels: int = 1) -> keras.KerasTensor:
    """Convert to ``channels`` (any input channel count), resize to ``image_size``² and scale [0, 255] → [0, 1]."""
    x = ToChannels(channels, name="to_channels")(inputs)
    x = layers.Resizing(image_size, image_size, name="resize")(x)
    return layers.Rescaling(1.0 / 255.0, name="rescale")(x)


def build_cnn(blocks: Sequence[Sequence[int]], dense: Sequence[int] = (256, 128, 64, 32),
              dropout_after: Sequence[int] = (2, 4), dropout: float = 0.25, head_dropout: float = 0.5,
              image_size: int = 256, channels: int = 1, bn_momentum: float = 0.9,
              name: str = "cnn") -> keras.Model:
    """The pattern shared by cnn1-3: conv blocks, then a dense head.

    Args:
        blocks: per block, the filters of its 3×3 ReLU convolutions (``same`` padding); each convolution is
            followed by batch norm and each block ends with a 2×2 max-pool.
        dense: widths of the ReLU dense layers; dropout follows the second one.
        dropout_after: 1-based indices of blocks followed by dropout.
        dropout: rate after those blocks.
        head_dropout: rate after the second dense layer.
        image_size: side the input is resized to.
        channels: channels the model works on (1: grayscale); input of any channel count is converted.
        bn_momentum: batch-norm moving-average momentum. 0.9 (PyTorch's default), not Keras' 0.99: ReLU
            activations of [0, 1] pixels have variances near 1e-4, so with 0.99 the moving variance, which
            starts at 1, still carries its initial value after hundreds of steps and the model's
            inference-mode outputs collapse to one class while its training-mode outputs separate them.
        name: model name.
    """
    inputs = keras.Input((None, None, None), name="image")
    x = preprocessing(inputs, image_size, channels)
    for b, filters in enumerate(blocks, start=1):
        for c, f in enumerate(filters, start=1):
            x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        if b in dropout_after:
            x = layers.Dropout(dropout, name=f"block{b}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, width in enumerate(dense, start=1):
        x = layers.Dense(width, activation="relu", name=f"dense{i}")(x)
        if i == 2:
            x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cnn1(**kwargs: object) -> keras.Model:
    """CNN1, exactly as the study lists it: 8,673,793 parameters (8,673,089 trainable) on 256×256×1.

    ====  ==========================================  ============
    #     layer                                        params
    ====  ==========================================  ============
    1     Conv2D 32 3×3 relu → BN → MaxPool 2          320 + 128
    2     Conv2D 64 3×3 relu → BN → MaxPool 2 → Drop   18,496 + 256
    3     Conv2D 128 3×3 relu → BN → MaxPool 2         73,856 + 512
    4     Conv2D 128 3×3 relu → BN → MaxPool 2 → Drop  147,584 + 512
    5     Flatten (16·16·128 = 32,768) → Dense 256     8,388,864
    6     Dense 128 → Dropout                          32,896
    7     Dense 64 → Dense 32 → Dense 1 sigmoid        8,256 + 2,080 + 33
    ====  ==========================================  ============
    """
    return build_cnn(blocks=[[32], [64], [128], [128]], name="cnn1", **kwargs)  # type: ignore[arg-type]


def build_cnn2(**kwargs: object) -> keras.Model:
    """CNN2: cnn1 with two convolutions per block: 9,016,545 parameters (9,015,137 trainable) on 256×256×1.

    ====  =====================================================  ===========================
    #     layer                                                   params
    ====  =====================================================  ===========================
    1     2 × (Conv2D 32 3×3 relu → BN) → MaxPool 2               320 + 128 + 9,248 + 128
    2     2 × (Conv2D 64 3×3 relu → BN) → MaxPool 2 → Drop        18,496 + 256 + 36,928 + 256
    3     2 × (Conv2D 128 3×3 relu → BN) → MaxPool 2              73,856 + 512 + 147,584 + 512
    4     2 × (Conv2D 128 3×3 relu → BN) → MaxPool 2 → Drop       147,584 + 512 + 147,584 + 512
    5     Flatten (16·16·128 = 32,768) → Dense 256                8,388,864
    6     Dense 128 → Dropout                                     32,896
    7     Dense 64 → Dense 32 → Dense 1 sigmoid                   8,256 + 2,080 + 33
    ====  =====================================================  ===========================

    Non-trainable: the 1,408 moving means/variances of the eight batch norms.
    """
    return build_cnn(blocks=[[32, 32], [64, 64], [128, 128], [128, 128]], name="cnn2", **kwargs)  # type: ignore[arg-type]


def build_cnn3(**kwargs: object) -> keras.Model:
    """CNN3: five blocks of two convolutions, up to 256 filters: 6,595,553 parameters (6,592,609 trainable).

    The fifth pooling halves the flattened features (8·8·256 = 16,384), so it has fewer parameters than cnn2
    although it is deeper. Counts on 256×256×1.

    ====  =====================================================  ===========================
    #     layer                                                   params
    ====  =====================================================  ===========================
    1     2 × (Conv2D 32 3×3 relu → BN) → MaxPool 2               320 + 128 + 9,248 + 128
    2     2 × (Conv2D 64 3×3 relu → BN) → MaxPool 2 → Drop        18,496 + 256 + 36,928 + 256
    3     2 × (Conv2D 128 3×3 relu → BN) → MaxPool 2              73,856 + 512 + 147,584 + 512
    4     2 × (Conv2D 256 3×3 relu → BN) → MaxPool 2 → Drop       295,168 + 1,024 + 590,080 + 1,024
    5     2 × (Conv2D 256 3×3 relu → BN) → MaxPool 2 → Drop       590,080 + 1,024 + 590,080 + 1,024
    6     Flatten (8·8·256 = 16,384) → Dense 256                  4,194,560
    7     Dense 128 → Dropout                                     32,896
    8     Dense 64 → Dense 32 → Dense 1 sigmoid                   8,256 + 2,080 + 33
    ====  =====================================================  ===========================

    Non-trainable: the 2,944 moving means/variances of the ten batch norms.
    """
    kwargs.setdefault("dropout_after", (2, 4, 5))
    return build_cnn(blocks=[[32, 32], [64, 64], [128, 128], [256, 256], [256, 256]], name="cnn3",
                     **kwargs)  # type: ignore[arg-type]
