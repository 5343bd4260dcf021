"""Fake plugin for the registry tests: a hook that raises."""

from __future__ import annotations

from medzoo import ModelSpec, hookimpl


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """Raises on purpose."""
    raise ValueError("models hook broken on purpose")
