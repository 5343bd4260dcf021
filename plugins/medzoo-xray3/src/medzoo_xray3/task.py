"""The ``multiclass`` task: single-label classification into K classes with a softmax.

Everything the core needs from a task is here (see :class:`medzoo.tasks.Task`); the core has no code for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medzoo.errors import MedzooError, RecipeError
from medzoo.tasks import Task

LOSSES = ("categorical_crossentropy", "cce")


class Multiclass(Task):
    """Single-label K-class classification; labels are integers ``0..K-1``, outputs a softmax ``(N, K)``."""

    name = "multiclass"
    output = "class probabilities (a softmax over K classes), shape (N, K)"
    operating_point = "an image's class is the one of highest probability (argmax); nothing is chosen on data"

    def loss(self, name: str, label_smoothing: float = 0.0) -> Any:
        """Categorical cross-entropy on integer labels (``categorical_crossentropy``, alias ``cce``), with
        targets smoothed by ``label_smoothing`` towards the uniform distribution."""
        if name not in LOSSES:
            raise RecipeError(f"unknown multiclass loss {name!r}; choose from {sorted(LOSSES)}")
        from medzoo_xray3.losses import SparseCategoricalCrossentropy

        return SparseCategoricalCrossentropy(label_smoothing=label_smoothing)

    def training_metrics(self) -> list[Any]:
        """Accuracy of the argmax."""
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def check_output(self, shape: Sequence[int | None]) -> None:
        """Rank 2 with at least two columns."""
        if len(shape) != 2 or shape[-1] is None or shape[-1] < 2:
            raise MedzooError(f"the multiclass task expects models that output class probabilities of shape "
                              f"(N, K) with K >= 2; this model outputs shape {tuple(shape)}")

    def evaluate(self, model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
                 val_records: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 batch_size: int = 32, figures: bool = True) -> dict[str, Any]:
        """Per-class precision, recall and AUC, macro-AUC and accuracy with patient-bootstrap intervals, and the
        confusion matrix (:func:`medzoo_xray3.evaluation.evaluate`). ``val_records`` are not needed: argmax
        chooses nothing on data."""
        from medzoo_xray3.evaluation import evaluate

        return evaluate(model, dataset, records, out, n_boot=n_boot, seed=seed, batch_size=batch_size,
                        figures=figures)

    def format_table(self, metrics: dict[str, Any]) -> str:
        """Macro-AUC and accuracy, one row per class, the confusion matrix."""
        from medzoo_xray3.evaluation import format_table

        return format_table(metrics)
