"""The binary classification task: ``P(positive)`` per image, evaluated at 0.5 and at a target-recall threshold.

* :mod:`~medzoo.tasks.classification.losses`: the losses a recipe names and the training metrics;
* :mod:`~medzoo.tasks.classification.evaluation`: metrics with patient-bootstrap intervals, figures, the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medzoo.tasks import Task, output_rank_error


class Classification(Task):
    """Binary image classification (the chest X-ray entries)."""

    name = "classification"
    output = "P(positive class), shape (N, 1) (a two-column softmax (N, 2) is read as its column 1)"
    operating_point = ("an image is positive when P(positive) >= threshold; reported at 0.5 and at the highest "
                       "threshold whose recall on the validation patients reaches target_recall (0.95)")

    def loss(self, name: str, label_smoothing: float = 0.0) -> Any:
        """``binary_crossentropy`` (``bce``) or ``focal``; see :func:`.losses.loss`."""
        from medzoo.tasks.classification.losses import loss

        return loss(name, label_smoothing=label_smoothing)

    def training_metrics(self) -> list[Any]:
        """Accuracy, precision, recall and ROC AUC at 0.5."""
        from medzoo.tasks.classification.losses import training_metrics

        return training_metrics()

    def check_output(self, shape: Sequence[int | None]) -> None:
        """Rank 2 with one column (or two, a softmax)."""
        if len(shape) != 2 or shape[-1] not in (1, 2):
            raise output_rank_error(self.name, shape, "P(positive) of shape (N, 1)")

    def evaluate(self, model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
                 val_records: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 batch_size: int = 32, figures: bool = True, target_recall: float = 0.95,
                 shift: bool = False) -> dict[str, Any]:
        """See :func:`medzoo.tasks.classification.evaluation.evaluate`."""
        from medzoo.tasks.classification.evaluation import evaluate

        return evaluate(model, dataset, records, out, val_records=val_records, target_recall=target_recall,
                        n_boot=n_boot, seed=seed, batch_size=batch_size, figures=figures, shift=shift)

    def format_table(self, metrics: dict[str, Any]) -> str:
        """Both operating points with their intervals, and the shift check where it ran."""
        from medzoo.tasks.classification.evaluation import format_table

        return format_table(metrics)
