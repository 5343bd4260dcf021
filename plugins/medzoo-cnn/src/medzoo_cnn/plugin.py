"""Hook implementations of medzoo-cnn (imports no Keras)."""

from __future__ import annotations

from medzoo import Entry, ModelSpec, hookimpl
from medzoo.recipes import STUDY_CLASSIFIER
from medzoo_cnn.weights_info import WEIGHTS


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """cnn1, cnn2 and cnn3: the same pattern with more convolutions (see :mod:`medzoo_cnn.cnn`)."""
    return [
        ModelSpec(name="cnn1", task="classification", build="medzoo_cnn.cnn:build_cnn1",
                  description="4 conv blocks (32, 64, 128, 128) + BN + max-pool, dense 256-128-64-32-1; "
                              "8,673,793 parameters on 256×256×1.",
                  reference="The study (MSc Data Science, Demokritos), CNN1"),
        ModelSpec(name="cnn2", task="classification", build="medzoo_cnn.cnn:build_cnn2",
                  description="4 blocks of two convs (32, 64, 128, 128) + BN + max-pool, dense 256-128-64-32-1; "
                              "9,016,545 parameters on 256×256×1.",
                  reference="The study (MSc Data Science, Demokritos), CNN2"),
        ModelSpec(name="cnn3", task="classification", build="medzoo_cnn.cnn:build_cnn3",
                  description="5 blocks of two convs (32, 64, 128, 256, 256) + BN + max-pool, "
                              "dense 256-128-64-32-1; 6,595,553 parameters on 256×256×1.",
                  reference="The study (MSc Data Science, Demokritos), CNN3"),
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """Chest X-ray entries of the custom CNNs."""
    return [
        Entry(name="cnn1-chest-xray", model="cnn1", dataset="chest-xray", task="classification",
              recipe=STUDY_CLASSIFIER, weights=WEIGHTS.get("cnn1-chest-xray"),
              summary="Pneumonia vs normal on pediatric chest X-rays (grayscale, resized to 256×256).",
              study={"accuracy": 0.89, "precision": 0.90, "recall": 0.94, "split": "Kermany test set"},
              intended_use="Research and teaching: flagging pneumonia on pediatric chest X-rays. "
                           "Not for clinical use."),
        *[Entry(name=f"{model}-chest-xray", model=model, dataset="chest-xray", task="classification",
                recipe=STUDY_CLASSIFIER, weights=WEIGHTS.get(f"{model}-chest-xray"),
                summary=f"Pneumonia vs normal on pediatric chest X-rays with {model.upper()} "
                        "(grayscale, resized to 256×256).",
                study={},  # the study published no test numbers for this network
                intended_use="Research and teaching: flagging pneumonia on pediatric chest X-rays. "
                             "Not for clinical use.")
          for model in ("cnn2", "cnn3")],
    ]
