"""The trained weights of ``unet-lgg`` (filled in from the training run's metrics.json)."""

from __future__ import annotations

from medzoo import Weights

UNET_LGG_WEIGHTS: Weights | None = None
