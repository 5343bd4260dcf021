"""Decoding X-rays with Pillow (no TensorFlow): the array path's counterpart of the tf.data ``decode``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medzoo.data import DataError


def read_gray(path: str | Path, size: int) -> np.ndarray:
    """Read a JPEG/PNG as ``(size, size, 1)`` uint8 grayscale; a :class:`DataError` names a file that fails,
    or one larger than :func:`medzoo.images.max_pixels` (refused before it is decoded)."""
    from PIL import Image

    from medzoo.images import open_image

    try:
        with open_image(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(img, dtype=np.float64)
                gray = Image.fromarray(np.clip(np.round(wide / 257.0), 0, 255).astype(np.uint8))
            else:
                gray = img.convert("L")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None
    if gray.size != (size, size):
        gray = gray.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.uint8)[..., None]
