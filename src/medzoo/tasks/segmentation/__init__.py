"""The binary segmentation task: a lesion probability per pixel, scored by Dice per patient volume.

* :mod:`~medzoo.tasks.segmentation.losses`: Dice, BCE and BCE+Dice losses, the Dice/IoU training metrics;
* :mod:`~medzoo.tasks.segmentation.evaluation`: Dice/IoU per slice and per volume with patient-bootstrap
  intervals, the gallery and per-patient figures, the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medzoo.errors import RecipeError
from medzoo.tasks import Task, output_rank_error


class Segmentation(Task):
    """Binary segmentation of 2-D slices, grouped into patient volumes (the LGG MRI entries)."""

    name = "segmentation"
    output = "per-pixel lesion probabilities, shape (N, H, W, 1)"
    operating_point = "a pixel is lesion when its probability is >= 0.5 (fixed; nothing is chosen on data)"

    def loss(self, name: str, label_smoothing: float = 0.0) -> Any:
        """``dice``, ``bce`` or ``bce_dice``; none takes label smoothing."""
        from medzoo.tasks.segmentation.losses import loss

        if label_smoothing:
            raise RecipeError(f"the segmentation loss {name!r} takes no label_smoothing "
                              f"(got {label_smoothing}); set label_smoothing=0")
        return loss(name)

    def training_metrics(self) -> list[Any]:
        """Global Dice and IoU at 0.5."""
        from medzoo.tasks.segmentation.losses import training_metrics

        return training_metrics()

    def check_output(self, shape: Sequence[int | None]) -> None:
        """Rank 4 with one channel."""
        if len(shape) != 4 or shape[-1] != 1:
            raise output_rank_error(self.name, shape, "probabilities of shape (N, H, W, 1)")

    def evaluate(self, model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
                 val_records: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 batch_size: int = 16, figures: bool = True, threshold: float = 0.5, gallery_rows: int = 6,
                 postprocess: Any = None) -> dict[str, Any]:
        """See :func:`medzoo.tasks.segmentation.evaluation.evaluate` (``val_records`` are not needed: the
        threshold is fixed)."""
        from medzoo.tasks.segmentation.evaluation import evaluate

        return evaluate(model, dataset, records, out, threshold=threshold, n_boot=n_boot, seed=seed,
                        batch_size=batch_size, figures=figures, gallery_rows=gallery_rows, postprocess=postprocess)

    def format_table(self, metrics: dict[str, Any]) -> str:
        """Dice/IoU summaries with intervals, then one row per patient."""
        from medzoo.tasks.segmentation.evaluation import format_table

        return format_table(metrics)
