"""Fake plugin for the registry tests: one architecture, one dataset, an untrained and a trained entry."""

from __future__ import annotations

from medzoo import DatasetSpec, Entry, ModelSpec, Weights, hookimpl


def build(**kwargs: object) -> None:
    """Never called by the tests (listing must not build models)."""
    raise AssertionError("the registry must not build models")


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """``alpha-net``."""
    return [ModelSpec(name="alpha-net", task="classification", build="mzfake_alpha:build",
                      description="a fake classifier", defaults={"width": 4})]


@hookimpl
def medzoo_datasets() -> list[DatasetSpec]:
    """``alpha-data``."""
    return [DatasetSpec(name="alpha-data", task="classification", factory="mzfake_alpha:build",
                        description="a fake dataset", layout="ROOT/<class>/<image>.png", licence="CC0",
                        citation="Nobody (2024)")]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """``alpha-entry`` (untrained) and ``alpha-trained`` (with weights)."""
    return [
        Entry(name="alpha-entry", model="alpha-net", dataset="alpha-data", task="classification",
              summary="an untrained fake entry"),
        Entry(name="alpha-trained", model="alpha-net", dataset="alpha-data", task="classification",
              weights=Weights(file="file:///nonexistent.weights.h5", sha256="0" * 64, meta={"threshold": 0.9}),
              summary="a trained fake entry"),
    ]
