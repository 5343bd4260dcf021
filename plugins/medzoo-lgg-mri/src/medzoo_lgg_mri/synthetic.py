"""A small synthetic LGG-like set in the real ``kaggle_3m`` layout (for the main job and tests).

Each "patient" is a stack of slices: a bright elliptical head on black, with, on some slices, a brighter
FLAIR lesion whose mask is written beside it. Slices are zlib-compressed TIFFs like the shared copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _slice(rng: np.random.Generator, size: int, lesion: bool) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    head = ((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.36) ** 2 < 1.0
    base = rng.normal(90, 12, (size, size, 3)).clip(0, 255) * head[..., None]
    mask = np.zeros((size, size), np.uint8)
    if lesion:
        cy, cx = rng.uniform(0.3, 0.7, 2)
        ry, rx = rng.uniform(0.06, 0.14, 2)
        blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
        blob &= head
        base[blob, 1] += 110  # FLAIR channel: hyperintense lesion
        base[blob, 0] += 30
        mask[blob] = 255
    return base.clip(0, 255).astype(np.uint8), mask


def write_synthetic(root: str | Path, patients: int = 6, slices: int = 10, size: int = 128,
                    seed: int = 0) -> Path:
    """Write ``patients`` synthetic patients of ``slices`` slices each under ``root``; returns ``root``.

    About half of each patient's middle slices carry a lesion.
    """
    import tifffile

    root = Path(root)
    rng = np.random.default_rng(seed)
    for p in range(patients):
        case = f"TCGA_SY_{1000 + p:04d}_2000010{p % 9 + 1}"
        folder = root / case
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, slices + 1):
            lesion = slices * 0.25 < n <= slices * 0.75
            img, mask = _slice(rng, size, lesion)
            tifffile.imwrite(folder / f"{case}_{n}.tif", img, compression="zlib")
            tifffile.imwrite(folder / f"{case}_{n}_mask.tif", mask, compression="zlib")
    return root
