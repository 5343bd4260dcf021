"""Hook implementations of medzoo-densenet (imports no Keras)."""

from __future__ import annotations

from medzoo import Entry, ModelSpec, hookimpl
from medzoo.recipes import STUDY_CLASSIFIER
from medzoo_densenet.weights_info import WEIGHTS


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """DenseNet121 from scratch, one input channel."""
    return [
        ModelSpec(name="densenet121", task="classification", build="medzoo_densenet.densenet121:build_densenet121",
                  description="DenseNet121 (blocks 6-12-24-16, growth 32) from scratch on grayscale 256×256, "
                              "global average pooling, dropout, sigmoid; 7,032,257 parameters.",
                  defaults={"image_size": 256, "channels": 1, "dropout": 0.5},
                  reference="Huang et al., Densely Connected Convolutional Networks (CVPR 2017); "
                            "the study (MSc Data Science, Demokritos), DenseNet121"),
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """``densenet121-chest-xray``."""
    return [
        Entry(name="densenet121-chest-xray", model="densenet121", dataset="chest-xray", task="classification",
              recipe=STUDY_CLASSIFIER, weights=WEIGHTS.get("densenet121-chest-xray"),
              summary="Pneumonia vs normal on pediatric chest X-rays with DenseNet121 trained from scratch "
                      "(grayscale, resized to 256×256).",
              study={"accuracy": 0.854, "recall": 0.95, "split": "Kermany test set"},
              intended_use="Research and teaching: flagging pneumonia on pediatric chest X-rays. "
                           "Not for clinical use."),
    ]
