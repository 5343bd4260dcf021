"""Hook implementations of medzoo-transfer (imports no Keras)."""

from __future__ import annotations

import attrs

from medzoo import Entry, ModelSpec, hookimpl
from medzoo.recipes import STUDY_CLASSIFIER

STUDY_RECIPE = attrs.evolve(STUDY_CLASSIFIER, reduce_lr_factor=0.2)
DEFAULTS = {"backbone_weights": "imagenet", "unfreeze_top_blocks": 0, "image_size": 224, "dropout": 0.3}
INTENDED_USE = "Research and teaching: flagging pneumonia on pediatric chest X-rays. Not for clinical use."
OFFLINE_NOTE = (" No trained weights ship: the ImageNet backbone cannot be fetched here, so this entry was not "
                "trained and validated in medzoo; train it with `medzoo train` once the backbone file is in "
                "$KERAS_HOME/models.")


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """resnet152-tl and densenet161-tl: frozen ImageNet backbones with a sigmoid head."""
    return [
        ModelSpec(name="resnet152-tl", task="classification", build="medzoo_transfer.resnet:build_resnet152_tl",
                  description="Keras Applications ResNet152 (ImageNet, frozen, caffe preprocessing) → global "
                              "average pooling → dropout → Dense(1, sigmoid); gray input resized to 224×224 and "
                              "repeated to RGB. Needs resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5 in "
                              "$KERAS_HOME/models (never downloaded at run time).",
                  defaults=dict(DEFAULTS),
                  reference="He et al., Deep Residual Learning for Image Recognition, CVPR 2016; "
                            "the study (MSc Data Science, Demokritos), transfer learning"),
        ModelSpec(name="densenet161-tl", task="classification", build="medzoo_transfer.densenet:build_densenet161_tl",
                  description="torchvision DenseNet161 (ImageNet, frozen, torch preprocessing) rebuilt in Keras → "
                              "global average pooling → dropout → Dense(1, sigmoid); gray input resized to 224×224 "
                              "and repeated to RGB. Needs densenet161_tv_imagenet_notop.weights.h5 in "
                              "$KERAS_HOME/models, made by `python -m medzoo_transfer.convert`.",
                  defaults=dict(DEFAULTS),
                  reference="Huang et al., Densely Connected Convolutional Networks, CVPR 2017; "
                            "the study (MSc Data Science, Demokritos), transfer learning"),
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """Chest X-ray entries of the transfer models (no trained weights ship)."""
    return [
        Entry(name="resnet152-tl-chest-xray", model="resnet152-tl", dataset="chest-xray", task="classification",
              recipe=STUDY_RECIPE, weights=None,
              summary="Pneumonia vs normal on pediatric chest X-rays with a frozen ImageNet ResNet152."
                      + OFFLINE_NOTE,
              study={"accuracy": 0.82, "recall": 0.97, "split": "Kermany test set"},
              intended_use=INTENDED_USE),
        Entry(name="densenet161-tl-chest-xray", model="densenet161-tl", dataset="chest-xray", task="classification",
              recipe=STUDY_RECIPE, weights=None,
              summary="Pneumonia vs normal on pediatric chest X-rays with a frozen ImageNet DenseNet161."
                      + OFFLINE_NOTE,
              study={"accuracy": 0.846, "recall": 0.98, "split": "Kermany test set"},
              intended_use=INTENDED_USE),
    ]
