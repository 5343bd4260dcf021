"""Binary segmentation: Dice and BCE losses, and the Dice/IoU training metrics.

Written with ``keras.ops`` only, so it runs under any Keras 3 backend.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from medzoo.errors import RecipeError

SMOOTH = 1.0


@keras.saving.register_keras_serializable(package="medzoo")
class DiceLoss(keras.losses.Loss):
    """1 - soft Dice over the whole batch (global sums, so empty slices give no 0/0)."""

    def __init__(self, smooth: float = SMOOTH, name: str = "dice_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.smooth = smooth

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, y_pred.dtype)
        inter = ops.sum(y_true * y_pred)
        total = ops.sum(y_true) + ops.sum(y_pred)
        # shape (1,), not a scalar: Keras divides non-scalar losses by the replica count under tf.distribute,
        # so the loss and its gradients are averaged (not summed) over replicas
        return ops.reshape(1.0 - (2.0 * inter + self.smooth) / (total + self.smooth), (1,))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="medzoo")
class BCEDiceLoss(keras.losses.Loss):
    """Binary cross-entropy + Dice loss: BCE's stable gradients with Dice's focus on the lesion."""

    def __init__(self, smooth: float = SMOOTH, name: str = "bce_dice_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.smooth = smooth
        self._dice = DiceLoss(smooth)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, y_pred.dtype)
        bce = ops.mean(keras.losses.binary_crossentropy(y_true, y_pred))
        return bce + self._dice.call(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth}


def loss(name: str = "dice") -> keras.losses.Loss:
    """The loss called ``name``: ``"dice"``, ``"bce"`` or ``"bce_dice"``."""
    table = {"dice": DiceLoss, "bce": keras.losses.BinaryCrossentropy, "binary_crossentropy":
             keras.losses.BinaryCrossentropy, "bce_dice": BCEDiceLoss}
    if name not in table:
        raise RecipeError(f"unknown segmentation loss {name!r}; choose from {sorted(table)}")
    return table[name]()


@keras.saving.register_keras_serializable(package="medzoo")
class Dice(keras.metrics.Metric):
    """Dice of thresholded predictions, accumulated over every pixel seen (global Dice)."""

    def __init__(self, threshold: float = 0.5, name: str = "dice", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.inter = self.add_variable(shape=(), initializer="zeros", name="inter")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        t = ops.cast(ops.cast(y_true, "float32") > 0.5, "float32")
        p = ops.cast(y_pred > self.threshold, "float32")
        self.inter.assign_add(ops.sum(t * p))
        self.total.assign_add(ops.sum(t) + ops.sum(p))

    def result(self) -> Any:
        return ops.where(self.total > 0, 2.0 * self.inter / ops.maximum(self.total, 1.0), 1.0)

    def reset_state(self) -> None:
        self.inter.assign(0.0)
        self.total.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


def training_metrics() -> list[keras.metrics.Metric]:
    """Metrics shown while training: global Dice and IoU at 0.5."""
    return [Dice(name="dice"), keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.5, name="iou")]
