"""Tasks: the :class:`Task` interface and the two built-in tasks, one folder each.

* :mod:`medzoo.tasks.classification`: binary classification;
* :mod:`medzoo.tasks.segmentation`: binary segmentation.

A plugin adds a task by subclassing :class:`Task` and returning a :class:`~medzoo.specs.TaskSpec` from its
``medzoo_tasks`` hook; :func:`get_task` is how the core reaches the task an entry names.
"""

from __future__ import annotations

from medzoo.tasks._api import Task

__all__ = ["Task", "get_task"]


def get_task(name: str) -> Task:
    """The registered task ``name``, loaded (an :class:`~medzoo.errors.UnknownNameError` if none is)."""
    from medzoo.registry import registry

    return registry().get("tasks", name).load()
