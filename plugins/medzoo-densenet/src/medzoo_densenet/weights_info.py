"""Trained weights shipped with medzoo-densenet, keyed by entry name."""

from __future__ import annotations

from medzoo import Weights

WEIGHTS: dict[str, Weights] = {}
