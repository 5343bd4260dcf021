"""The core's own plugin: the two built-in tasks."""

from __future__ import annotations

from medzoo.hookspecs import hookimpl
from medzoo.specs import TaskSpec


@hookimpl
def medzoo_tasks() -> list[TaskSpec]:
    """Classification (binary) and segmentation (binary masks)."""
    return [
        TaskSpec(
            name="classification",
            losses="medzoo.tasks.classification:loss",
            metrics="medzoo.tasks.classification:training_metrics",
            evaluate="medzoo.tasks.classification:evaluate",
            description="Binary image classification; outputs P(positive class), shape (N, 1).",
        ),
        TaskSpec(
            name="segmentation",
            losses="medzoo.tasks.segmentation:loss",
            metrics="medzoo.tasks.segmentation:training_metrics",
            evaluate="medzoo.tasks.segmentation:evaluate",
            description="Binary segmentation; outputs per-pixel probabilities, shape (N, H, W, 1).",
        ),
    ]
