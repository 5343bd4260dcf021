"""What the transfer models share: finding offline ImageNet weights, freezing, and the pneumonia head.

A transfer model is::

    raw pixels (N, H, W, C) in [0, 255], any C (gray, RGB, RGBA)
      → Resizing(image_size) → ToChannels(3) (gray repeated to RGB) → ImageNetPreprocessing(mode)
      → backbone (frozen, always called with training=False) → GlobalAveragePooling → Dropout
      → Dense(1, sigmoid, float32) = P(PNEUMONIA)

The backbone is a nested ``keras.Model``; calling it with ``training=False`` keeps its batch norms in
inference mode (their moving statistics never change), also for the blocks that ``unfreeze_top_blocks``
makes trainable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import keras
from keras import layers

from medzoo import MedzooError
from medzoo.layers import ImageNetPreprocessing, ToChannels

BLOCK_RE = re.compile(r"^(conv\d+_block\d+)_")


def keras_models_dir() -> Path:
    """Keras' cache folder for application weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_backbone_weights(backbone_weights: str | os.PathLike[str] | None, file_name: str,
                             how_to_get: str) -> Path | None:
    """The file to load into a backbone, or ``None`` for an untrained one. Nothing is ever downloaded.

    Args:
        backbone_weights: ``"imagenet"`` (the file ``file_name`` in :func:`keras_models_dir`), ``None``
            (untrained), or a path to a weights file.
        file_name: the ImageNet file's name in Keras' cache.
        how_to_get: where the ImageNet file comes from, for the error message.

    Raises:
        MedzooError: the file does not exist; the message names the file, the folder and its source.
    """
    if backbone_weights is None:
        return None
    if str(backbone_weights) == "imagenet":
        folder = keras_models_dir()
        path = folder / file_name
        if not path.is_file():
            raise MedzooError(f"ImageNet backbone weights not found: {path} does not exist. medzoo never downloads "
                              f"them at run time; put the file {file_name} in the folder {folder} ($KERAS_HOME/models, "
                              f"default ~/.keras/models). {how_to_get} Or pass backbone_weights=None for an "
                              f"untrained backbone, or backbone_weights=PATH for a local file")
        return path
    path = Path(backbone_weights).expanduser()
    if not path.is_file():
        raise MedzooError(f"backbone weights file not found: {path}")
    return path


def load_backbone_weights(backbone: keras.Model, path: Path) -> None:
    """Load ``path`` (Keras ``.weights.h5`` or legacy ``.h5``) into ``backbone``, with one clear error."""
    try:
        backbone.load_weights(str(path))
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types; the user needs one clear message
        raise MedzooError(f"cannot load backbone weights {path} into {backbone.name!r}: {type(exc).__name__}: "
                          f"{exc}. The file is truncated or made for another architecture") from exc


def residual_blocks(backbone: keras.Model) -> list[str]:
    """The backbone's blocks (``conv2_block1`` ... ``conv5_block3``) in the order they are applied."""
    blocks: list[str] = []
    for layer in backbone.layers:
        match = BLOCK_RE.match(layer.name)
        if match and match.group(1) not in blocks:
            blocks.append(match.group(1))
    return blocks


def freeze(backbone: keras.Model, unfreeze_top_blocks: int = 0) -> list[str]:
    """Freeze ``backbone`` except its last ``unfreeze_top_blocks`` blocks; batch norms always stay frozen.

    Returns:
        The names of the blocks made trainable, last first (e.g. ``["conv5_block3", "conv5_block2"]``).
    """
    blocks = residual_blocks(backbone)
    if not 0 <= unfreeze_top_blocks <= len(blocks):
        raise ValueError(f"unfreeze_top_blocks must be between 0 and {len(blocks)} for {backbone.name!r}, "
                         f"got {unfreeze_top_blocks}")
    if unfreeze_top_blocks == 0:
        backbone.trainable = False
        return []
    chosen = blocks[::-1][:unfreeze_top_blocks]
    backbone.trainable = True
    for layer in backbone.layers:
        match = BLOCK_RE.match(layer.name)
        in_chosen = bool(match) and match.group(1) in chosen
        layer.trainable = in_chosen and not isinstance(layer, layers.BatchNormalization)
    return chosen


def build_transfer_model(make_backbone: Callable[[tuple[int, int, int]], keras.Model], *, mode: str,
                         backbone_path: Path | None, unfreeze_top_blocks: int, image_size: int, dropout: float,
                         name: str) -> keras.Model:
    """Wrap a backbone into a raw-pixels → P(PNEUMONIA) model (see the module docstring).

    Args:
        make_backbone: ``make_backbone((image_size, image_size, 3))`` returns the untrained backbone model.
        mode: :class:`medzoo.layers.ImageNetPreprocessing` mode the backbone was trained with.
        backbone_path: weights to load into the backbone, or ``None``.
        unfreeze_top_blocks: how many of the last blocks to train (0: the whole backbone is frozen).
        image_size: side the input is resized to.
        dropout: dropout rate before the classifier.
        name: model name.
    """
    backbone = make_backbone((image_size, image_size, 3))
    if backbone_path is not None:
        load_backbone_weights(backbone, backbone_path)
    freeze(backbone, unfreeze_top_blocks)
    inputs = keras.Input((None, None, None), name="image")
    x = layers.Resizing(image_size, image_size, name="resize")(inputs)
    x = ToChannels(3, name="to_rgb")(x)
    x = ImageNetPreprocessing(mode, name="imagenet_preprocessing")(x)
    x = backbone(x, training=False)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name=name)
