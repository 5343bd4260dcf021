"""The trained weights of ``unet-lgg``: the card written by ``scripts/export_zoo.py`` beside the file."""

from __future__ import annotations

from importlib.resources import files

from medzoo import Weights

UNET_LGG_WEIGHTS: Weights | None = Weights.from_json(files("medzoo_unet") / "weights" / "unet-lgg.json")
