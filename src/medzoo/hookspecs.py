"""The hooks a medzoo plugin can implement. Each returns a list of typed specs.

A plugin is a module named in the ``medzoo`` entry-point group of its distribution::

    [project.entry-points.medzoo]
    unet = "medzoo_unet.plugin"

and that module implements any of these hooks with ``@medzoo.hookimpl``.
"""

from __future__ import annotations

import pluggy

from medzoo.specs import DatasetSpec, Entry, ModelSpec, TaskSpec

PROJECT = "medzoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def medzoo_models() -> list[ModelSpec]:
    """Architectures this plugin provides."""


@hookspec
def medzoo_datasets() -> list[DatasetSpec]:
    """Datasets (readers of an on-disk layout) this plugin provides."""


@hookspec
def medzoo_tasks() -> list[TaskSpec]:
    """Tasks this plugin provides: each :class:`~medzoo.specs.TaskSpec` names a :class:`medzoo.tasks.Task` (its
    losses, training metrics, output contract, evaluation, table and operating-point rule)."""


@hookspec
def medzoo_entries() -> list[Entry]:
    """Zoo entries (model + dataset + recipe + weights) this plugin provides."""
