"""DenseNet (Huang et al., 2017) from scratch, layer for layer like Keras Applications' DenseNet.

The structure and the layer names (``conv1_conv``, ``conv1_bn``, ``conv2_block1_0_bn``, ``conv2_block1_1_conv``,
..., ``pool2_conv``, ..., ``bn``) are those of :func:`keras.applications.DenseNet121`, so weights can be mapped
one to one by name (for the standard configurations). Unlike Keras Applications, every hyper-parameter is
exposed: the number of layers per dense block, the growth rate, the stem width, the bottleneck size and the
compression of the transition layers, and any number of input channels is accepted.

Standard configurations (``blocks``, ``growth_rate``, ``stem_filters``):

===========  ================  ======  =====
model        blocks            growth  stem
===========  ================  ======  =====
DenseNet121  (6, 12, 24, 16)   32      64
DenseNet169  (6, 12, 32, 32)   32      64
DenseNet201  (6, 12, 48, 32)   32      64
DenseNet161  (6, 12, 36, 24)   48      96
===========  ================  ======  =====
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

BN_EPSILON = 1.001e-5
DENSENET121_BLOCKS = (6, 12, 24, 16)
DENSENET169_BLOCKS = (6, 12, 32, 32)
DENSENET201_BLOCKS = (6, 12, 48, 32)
DENSENET161_BLOCKS = (6, 12, 36, 24)


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=name)


def dense_layer(x: keras.KerasTensor, growth_rate: int, bn_size: int, name: str) -> keras.KerasTensor:
    """One bottleneck layer of a dense block: BN-ReLU-Conv1×1(bn_size·growth)-BN-ReLU-Conv3×3(growth), concat.

    Args:
        x: input feature map (channels last).
        growth_rate: channels the layer adds.
        bn_size: bottleneck width as a multiple of ``growth_rate``.
        name: layer-name stem, e.g. ``"conv2_block1"``.

    Returns:
        ``x`` concatenated with the ``growth_rate`` new channels.
    """
    y = _bn(f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(bn_size * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = _bn(f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])


def dense_block(x: keras.KerasTensor, n_layers: int, growth_rate: int, bn_size: int, name: str) -> keras.KerasTensor:
    """A dense block of ``n_layers`` :func:`dense_layer` s named ``{name}_block1``, ``{name}_block2``, ..."""
    for i in range(n_layers):
        x = dense_layer(x, growth_rate, bn_size, name=f"{name}_block{i + 1}")
    return x


def transition_block(x: keras.KerasTensor, compression: float, name: str) -> keras.KerasTensor:
    """Transition: BN-ReLU-Conv1×1(``int(channels · compression)``)-AvgPool 2×2 stride 2."""
    channels = int(x.shape[-1])
    x = _bn(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(channels * compression), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def densenet_features(x: keras.KerasTensor, blocks: Sequence[int] = DENSENET121_BLOCKS, growth_rate: int = 32,
                      stem_filters: int = 64, bn_size: int = 4, compression: float = 0.5,
                      name_prefix: str = "") -> keras.KerasTensor:
    """The DenseNet feature extractor (no pooling, no classifier) applied to ``x``.

    Stem: zero-pad 3 → Conv 7×7 stride 2 (``conv1_conv``) → BN → ReLU → zero-pad 1 → MaxPool 3×3 stride 2;
    then dense blocks ``conv2``, ``conv3``, ... separated by transitions ``pool2``, ``pool3``, ...; then the
    final BN (``bn``) + ReLU. All batch norms use epsilon 1.001e-5 as in Keras Applications.

    Args:
        x: already-preprocessed input, ``(N, H, W, C)`` channels last, any ``C``.
        blocks: layers per dense block.
        growth_rate: channels each dense layer adds.
        stem_filters: filters of the 7×7 stem convolution.
        bn_size: bottleneck width of the dense layers as a multiple of ``growth_rate``.
        compression: channel factor of the transition layers.
        name_prefix: prepended to every layer name (to nest several DenseNets in one model).

    Returns:
        The final feature map, ``(N, H/32, W/32, channels)``.
    """
    p = name_prefix
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name=f"{p}conv1_pad")(x)
    x = layers.Conv2D(stem_filters, 7, strides=2, use_bias=False, name=f"{p}conv1_conv")(x)
    x = _bn(f"{p}conv1_bn")(x)
    x = layers.Activation("relu", name=f"{p}conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{p}pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name=f"{p}pool1")(x)
    for i, n_layers in enumerate(blocks):
        x = dense_block(x, n_layers, growth_rate, bn_size, name=f"{p}conv{i + 2}")
        if i < len(blocks) - 1:
            x = transition_block(x, compression, name=f"{p}pool{i + 2}")
    x = _bn(f"{p}bn")(x)
    return layers.Activation("relu", name=f"{p}relu")(x)


def build_densenet_backbone(input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
                            blocks: Sequence[int] = DENSENET121_BLOCKS, growth_rate: int = 32,
                            stem_filters: int = 64, bn_size: int = 4, compression: float = 0.5,
                            name_prefix: str = "", name: str = "densenet") -> keras.Model:
    """A DenseNet backbone model without top: input ``input_shape`` → final ReLU feature map.

    With the defaults it has the structure, layer names and parameter count (7,037,504) of
    ``keras.applications.DenseNet121(weights=None, include_top=False)``.

    Args:
        input_shape: ``(H, W, C)``; ``H`` and ``W`` may be ``None``.
        blocks: layers per dense block.
        growth_rate: channels each dense layer adds.
        stem_filters: filters of the 7×7 stem convolution.
        bn_size: bottleneck width of the dense layers as a multiple of ``growth_rate``.
        compression: channel factor of the transition layers.
        name_prefix: prepended to every layer name (the input is named ``{name_prefix}input``).
        name: model name.
    """
    inputs = keras.Input(shape=input_shape, name=f"{name_prefix}input")
    outputs = densenet_features(inputs, blocks=blocks, growth_rate=growth_rate, stem_filters=stem_filters,
                                bn_size=bn_size, compression=compression, name_prefix=name_prefix)
    return keras.Model(inputs, outputs, name=name)
