"""Fake plugin for the registry tests: specs of the wrong kind, and factories naming modules not installed."""

from __future__ import annotations

from typing import Any

from medzoo import DatasetSpec, ModelSpec, hookimpl


@hookimpl
def medzoo_models() -> list[Any]:
    """A ``DatasetSpec`` where a ``ModelSpec`` belongs, a build in a missing module, and one good model."""
    return [
        DatasetSpec(name="wrong-data", task="classification", factory="mzfake_wrongkind:medzoo_models"),
        ModelSpec(name="ghost-net", task="classification", build="mzfake_no_such_module.nets:build"),
        ModelSpec(name="flat-net", task="classification", build="mzfake_wrongkind.sub:build"),  # not a package
        ModelSpec(name="good-net", task="classification", build="mzfake_wrongkind:medzoo_models"),
    ]


@hookimpl
def medzoo_datasets() -> list[DatasetSpec]:
    """A dataset whose synthetic writer lives in a missing module."""
    return [DatasetSpec(name="ghost-data", task="classification", factory="mzfake_wrongkind:medzoo_models",
                        synthetic="mzfake_no_such_module:write")]
