"""Trained weights shipped with medzoo-densenet, keyed by entry name: cards written by ``scripts/export_zoo.py``."""

from __future__ import annotations

from importlib.resources import files

from medzoo import Weights

_FOLDER = files("medzoo_densenet") / "weights"
WEIGHTS: dict[str, Weights] = {
    name: w for name in ("densenet121-chest-xray",)
    if (w := Weights.from_json(_FOLDER / f"{name}.json")) is not None
}
