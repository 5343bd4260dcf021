"""The registry's task check: every model, dataset and entry names a registered task, and an entry agrees with
its model and dataset on it.

What fails the check is dropped from the registry with a :class:`~medzoo.errors.PluginLoadWarning` that names it,
its distribution and the fix, like a plugin that fails to load: the rest of the zoo keeps working. Names only are
compared, so the check imports no task, model or dataset code. An entry whose model or dataset is not installed
is kept (its card says so); only a disagreement that is visible is an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from medzoo.errors import PluginLoadWarning

#: how a skipped spec is reported: ``report(plugin, distribution, message, kind, name)``
Report = Callable[[str, str, str, str, str], None]


def _warn(plugin: str, dist: str, message: str, kind: str, name: str) -> None:
    warnings.warn(f"medzoo plugin {plugin!r} ({dist}): {message}", PluginLoadWarning, stacklevel=3)


def check_tasks(reg: Any, report: Report | None = None) -> list[str]:
    """Drop the models, datasets and entries of ``reg`` whose task is not registered, and the entries whose model
    or dataset is registered for another task than the entry's; returns the messages.

    Each drop is passed to ``report(plugin, distribution, message, kind, name)`` (the registry records it as a
    problem of that plugin); without ``report`` it is a :class:`~medzoo.errors.PluginLoadWarning`.
    """
    report = report or _warn
    plugin_of = {"medzoo": "medzoo-core", **{p.distribution: p.name for p in getattr(reg, "plugins", [])}}
    messages: list[str] = []

    def drop(kind: str, name: str, why: str) -> None:
        spec = getattr(reg, kind).pop(name)
        singular = "entry" if kind == "entries" else kind[:-1]
        message = f"{singular} {name!r}: {why}; skipped"
        dist = spec.distribution or "?"
        report(plugin_of.get(dist, dist), dist, message, kind, name)
        messages.append(message)

    known = ", ".join(sorted(reg.tasks)) or "none"
    for kind in ("models", "datasets", "entries"):
        for name, spec in sorted(getattr(reg, kind).items()):
            if spec.task not in reg.tasks:
                drop(kind, name, f"its task {spec.task!r} is not registered (registered: {known}); install the "
                                 "plugin that provides it")
    for name, entry in sorted(reg.entries.items()):
        for kind, part in (("model", entry.model), ("dataset", entry.dataset)):
            spec = getattr(reg, kind + "s").get(part)
            if spec is not None and spec.task != entry.task:
                drop("entries", name, f"it is a {entry.task} entry but its {kind} {part!r} "
                                      f"({spec.distribution or '?'}) is for {spec.task}")
                break
    return messages
