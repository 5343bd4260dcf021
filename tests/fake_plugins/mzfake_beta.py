"""Fake plugin for the registry tests: one segmentation architecture."""

from __future__ import annotations

from medzoo import ModelSpec, hookimpl


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """``beta-net``."""
    return [ModelSpec(name="beta-net", task="segmentation", build="mzfake_beta:nothing")]
