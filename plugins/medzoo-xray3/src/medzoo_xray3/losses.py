"""Categorical cross-entropy on integer labels, with label smoothing (Keras' sparse loss has none)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="medzoo_xray3")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of a softmax ``(N, K)`` against integer labels ``(N,)`` or ``(N, 1)``; with
    ``label_smoothing`` s, the one-hot target becomes ``(1 - s) * onehot + s / K``."""

    def __init__(self, label_smoothing: float = 0.0, name: str = "categorical_crossentropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        k = y_pred.shape[-1]
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        target = ops.one_hot(labels, k, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(target, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
