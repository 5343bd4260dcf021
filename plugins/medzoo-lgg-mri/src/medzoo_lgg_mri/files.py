"""Reading one LGG slice or mask file (TIFF) into arrays: used by the reader and the tf.data pipeline alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medzoo.data import DataError
from medzoo.images import read_tiff, to_uint8

__all__ = ["read_image", "read_mask"]


def read_image(path: str | Path) -> np.ndarray:
    """Read one slice as ``(H, W, 3)`` uint8; a clear :class:`DataError` names the file otherwise.

    A 16-bit or float slice is rescaled to [0, 255] by :func:`medzoo.images.to_uint8`, the rule that
    ``medzoo predict`` uses, so training and prediction see the same pixels.
    """
    arr = read_tiff(path, "TIFF image")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3):
        raise DataError(f"{path}: expected an (H, W, 3) image, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: the image holds NaN or infinite pixels")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return to_uint8(arr)


def read_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read one mask as ``(H, W, 1)`` uint8 in {0, 1}.

    A mask holds 0 for background and one positive value for the lesion (255 in the published files, 1 in
    some copies). Any other content (several positive values, fractions) is not a binary mask and is an error
    naming the file, rather than a lesion everywhere it is non-zero.
    """
    arr = read_tiff(path, "TIFF mask")
    if arr.ndim == 3 and arr.shape[-1] in (1, 3):
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise DataError(f"{path}: expected an (H, W) mask, got shape {arr.shape}")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise DataError(f"{path}: mask shape {arr.shape} does not match its image's {tuple(shape)}")
    values = np.unique(arr)
    positive = values[values != 0]
    if len(positive) > 1 or (len(positive) == 1 and not (positive[0] == 1 or positive[0] == 255)):
        shown = ", ".join(str(v) for v in values[:6])
        raise DataError(f"{path}: not a binary mask (values {shown}); expected 0 and 255 (or 0 and 1)")
    return (arr > 0).astype(np.uint8)[..., None]
