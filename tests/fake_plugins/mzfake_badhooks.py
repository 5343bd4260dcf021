"""Fake plugin for the registry tests: every hook returns something that is not a list of specs."""

from __future__ import annotations

from typing import Any

from medzoo import Entry, hookimpl


@hookimpl
def medzoo_models() -> Any:
    """A number, not a list."""
    return 42


@hookimpl
def medzoo_datasets() -> Any:
    """A string, not a list."""
    return "x"


@hookimpl
def medzoo_tasks() -> Any:
    """A dict, not a list."""
    return {"name": "regression"}


@hookimpl
def medzoo_entries() -> Any:
    """``None`` beside a good entry: the ``None`` is skipped, the entry kept."""
    return [None, Entry(name="badhooks-entry", model="alpha-net", dataset="alpha-data", task="classification")]
