"""Fake plugin for the registry tests: provides ``alpha-net`` again (a duplicate name)."""

from __future__ import annotations

from medzoo import ModelSpec, hookimpl


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """A second ``alpha-net``."""
    return [ModelSpec(name="alpha-net", task="segmentation", build="mzfake_dup:nothing")]
