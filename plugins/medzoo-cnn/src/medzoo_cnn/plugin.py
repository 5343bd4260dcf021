"""Hook implementations of medzoo-cnn (imports no Keras)."""

from __future__ import annotations

from medzoo import Entry, ModelSpec, Recipe, hookimpl

from medzoo_cnn.weights_info import WEIGHTS

STUDY_RECIPE = Recipe(optimizer="rmsprop", learning_rate=1e-3, loss="binary_crossentropy", epochs=100,
                      batch_size=32, class_weights=True, monitor="val_loss", monitor_mode="min",
                      early_stopping_patience=10, reduce_lr_patience=5, reduce_lr_factor=0.3)


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """cnn1 (cnn2 and cnn3 follow the same pattern)."""
    return [
        ModelSpec(name="cnn1", task="classification", build="medzoo_cnn.cnn:build_cnn1",
                  description="4 conv blocks (32, 64, 128, 128) + BN + max-pool, dense 256-128-64-32-1; "
                              "8,673,793 parameters on 256×256×1.",
                  reference="The study (MSc Data Science, Demokritos), CNN1"),
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """Chest X-ray entries of the custom CNNs."""
    return [
        Entry(name="cnn1-chest-xray", model="cnn1", dataset="chest-xray", task="classification",
              recipe=STUDY_RECIPE, weights=WEIGHTS.get("cnn1-chest-xray"),
              summary="Pneumonia vs normal on pediatric chest X-rays (grayscale, resized to 256×256).",
              study={"accuracy": 0.89, "precision": 0.90, "recall": 0.94, "split": "Kermany test set"},
              intended_use="Research and teaching: flagging pneumonia on pediatric chest X-rays. "
                           "Not for clinical use."),
    ]
