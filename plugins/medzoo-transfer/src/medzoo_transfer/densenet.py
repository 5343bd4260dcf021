"""densenet161-tl: torchvision's DenseNet161 (ImageNet, torch preprocessing) with a pneumonia head."""

from __future__ import annotations

import os
from typing import Any

import keras

from medzoo.nets.densenet import DENSENET161_BLOCKS, build_densenet_backbone
from medzoo_transfer.backbone import build_transfer_model, resolve_backbone_weights

DENSENET161: dict[str, Any] = {"blocks": DENSENET161_BLOCKS, "growth_rate": 48, "stem_filters": 96, "bn_size": 4,
                               "compression": 0.5}
DENSENET161_FILE = "densenet161_tv_imagenet_notop.weights.h5"
DENSENET161_SOURCE = (
    "It is converted from torchvision's ImageNet DenseNet161: take timm's densenet161.tv_in1k model.safetensors "
    "(https://huggingface.co/timm/densenet161.tv_in1k) or torchvision's densenet161-8d451a50.pth "
    "(https://download.pytorch.org/models/densenet161-8d451a50.pth, saved as .safetensors with "
    "safetensors.torch.save_file), then run `python -m medzoo_transfer.convert model.safetensors` (or "
    f"`medzoo-convert-densenet model.safetensors`), which writes {DENSENET161_FILE} there.")


def densenet161_backbone(input_shape: tuple[int | None, int | None, int] = (224, 224, 3)) -> keras.Model:
    """torchvision's DenseNet161 features (stem 96, growth 48, blocks 6-12-36-24) named like Keras Applications."""
    return build_densenet_backbone(input_shape, name="densenet161", **DENSENET161)


def build_densenet161_tl(backbone_weights: str | os.PathLike[str] | None = "imagenet", unfreeze_top_blocks: int = 0,
                         image_size: int = 224, dropout: float = 0.3) -> keras.Model:
    """DenseNet161 transfer model: raw pixels ``(N, H, W, C)`` in [0, 255], any C, → P(PNEUMONIA) ``(N, 1)``.

    Resize to ``image_size``² → gray to RGB → torch preprocessing (/255, ImageNet mean/std) → frozen
    DenseNet161 (26.7 M parameters, batch norms in inference mode) → global average pooling → dropout
    → Dense(1, sigmoid).

    Args:
        backbone_weights: ``"imagenet"`` loads ``densenet161_tv_imagenet_notop.weights.h5`` from
            ``$KERAS_HOME/models`` (default ``~/.keras/models``; write it with :mod:`medzoo_transfer.convert`)
            and never downloads anything; ``None`` leaves the backbone untrained; a path loads that file.
        unfreeze_top_blocks: train the last N of the 78 dense layers (``conv5_block24``, ``conv5_block23``,
            ...) too; batch norms stay frozen.
        image_size: side the input is resized to (224 in the study; at least 32).
        dropout: dropout rate before the classifier.

    Raises:
        MedzooError: the weights file does not exist (the message says how to make it).
    """
    path = resolve_backbone_weights(backbone_weights, DENSENET161_FILE, DENSENET161_SOURCE)
    return build_transfer_model(densenet161_backbone, mode="torch", backbone_path=path,
                                unfreeze_top_blocks=unfreeze_top_blocks, image_size=image_size, dropout=dropout,
                                name="densenet161_tl")
