"""Binary classification: its losses and the training metrics (recall is the one that matters here)."""

from __future__ import annotations

import keras

from medzoo.errors import RecipeError


def loss(name: str = "binary_crossentropy", label_smoothing: float = 0.0) -> keras.losses.Loss:
    """The loss called ``name``: ``"binary_crossentropy"`` (alias ``"bce"``) or ``"focal"``, with targets
    smoothed by ``label_smoothing`` (0.05: a label of 1 counts as 0.975)."""
    table = {"binary_crossentropy": keras.losses.BinaryCrossentropy, "bce": keras.losses.BinaryCrossentropy,
             "focal": keras.losses.BinaryFocalCrossentropy}
    if name not in table:
        raise RecipeError(f"unknown classification loss {name!r}; choose from {sorted(table)}")
    return table[name](label_smoothing=label_smoothing)


def training_metrics() -> list[keras.metrics.Metric]:
    """Accuracy, precision, recall and ROC AUC at threshold 0.5."""
    return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"), keras.metrics.AUC(name="auc")]
