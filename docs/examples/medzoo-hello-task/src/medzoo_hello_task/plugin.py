"""Hook implementations of medzoo-hello-task. Like every hook module it imports no Keras: the spec names the
task class as ``"module:Class"``, imported the first time the task is used."""

from __future__ import annotations

from medzoo import TaskSpec, hookimpl


@hookimpl
def medzoo_tasks() -> list[TaskSpec]:
    """The tasks this plugin provides."""
    return [
        TaskSpec(
            name="regression",
            factory="medzoo_hello_task.task:Regression",
            description="One number per image (an age, a size, a score); outputs it directly, shape (N, 1).",
        )
    ]
