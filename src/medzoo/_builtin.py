"""The core's own plugin: the two built-in tasks (:mod:`medzoo.tasks`)."""

from __future__ import annotations

from medzoo.hookspecs import hookimpl
from medzoo.specs import TaskSpec


@hookimpl
def medzoo_tasks() -> list[TaskSpec]:
    """Classification (binary) and segmentation (binary masks)."""
    return [
        TaskSpec(name="classification", factory="medzoo.tasks.classification:Classification",
                 description="Binary image classification; outputs P(positive class), shape (N, 1)."),
        TaskSpec(name="segmentation", factory="medzoo.tasks.segmentation:Segmentation",
                 description="Binary segmentation; outputs per-pixel probabilities, shape (N, H, W, 1)."),
    ]
