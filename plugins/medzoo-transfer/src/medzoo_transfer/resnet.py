"""resnet152-tl: Keras Applications' ResNet152 (ImageNet, caffe preprocessing) with a pneumonia head."""

from __future__ import annotations

import os

import keras

from medzoo_transfer.backbone import build_transfer_model, resolve_backbone_weights

RESNET152_FILE = "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"
RESNET152_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/resnet/{RESNET152_FILE}"
RESNET152_SOURCE = (f"It is Keras Applications' ResNet152 ImageNet file (no top): download {RESNET152_URL} "
                    f"(md5 ee4c566cf9a93f14d82f913c2dc6dd0c) on a machine with network access, or let "
                    f"keras.applications.ResNet152(include_top=False) fetch it there, and copy it over.")


def resnet152_backbone(input_shape: tuple[int, int, int] = (224, 224, 3)) -> keras.Model:
    """``keras.applications.ResNet152(include_top=False, weights=None)`` on ``input_shape`` (sides ≥ 32)."""
    return keras.applications.ResNet152(include_top=False, weights=None, input_shape=input_shape)


def build_resnet152_tl(backbone_weights: str | os.PathLike[str] | None = "imagenet", unfreeze_top_blocks: int = 0,
                       image_size: int = 224, dropout: float = 0.3) -> keras.Model:
    """ResNet152 transfer model: raw pixels ``(N, H, W, C)`` in [0, 255], any C, → P(PNEUMONIA) ``(N, 1)``.

    Resize to ``image_size``² → gray to RGB → caffe preprocessing (RGB→BGR, minus the ImageNet BGR mean)
    → frozen ResNet152 (58.4 M parameters, batch norms in inference mode) → global average pooling
    → dropout → Dense(1, sigmoid).

    Args:
        backbone_weights: ``"imagenet"`` loads ``resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5`` from
            ``$KERAS_HOME/models`` (default ``~/.keras/models``) and never downloads it; ``None`` leaves the
            backbone untrained; a path loads that file (``.weights.h5`` or legacy ``.h5``).
        unfreeze_top_blocks: train the last N of the 50 residual blocks (``conv5_block3``, ``conv5_block2``,
            ...) too; their batch norms stay frozen.
        image_size: side the input is resized to (224 in the study; at least 32).
        dropout: dropout rate before the classifier.

    Raises:
        MedzooError: the weights file does not exist (the message says where to get it).
    """
    path = resolve_backbone_weights(backbone_weights, RESNET152_FILE, RESNET152_SOURCE)
    return build_transfer_model(resnet152_backbone, mode="caffe", backbone_path=path,
                                unfreeze_top_blocks=unfreeze_top_blocks, image_size=image_size, dropout=dropout,
                                name="resnet152_tl")
