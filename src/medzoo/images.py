"""Reading image files into raw pixels: the one place medzoo decodes JPEG, PNG and TIFF files.

Prediction (:mod:`medzoo.predict`) and the dataset plugins read through here, so a file gives the same pixels
wherever it is read. Pillow reads JPEG and PNG, tifffile reads TIFF, scikit-image resizes: all three are
dependencies of the core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medzoo.errors import DataError, MedzooError

TIFF_SUFFIXES = (".tif", ".tiff")


def read_pixels(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, C)`` float32 raw pixels in [0, 255] (C is 1, 3 or 4, as stored).

    ``uint8`` is kept as is; floats in [0, 1] and booleans are scaled by 255; other ranges (16-bit
    scans, say) are scaled linearly to [0, 255] by the image's own maximum. Raises :class:`DataError`
    naming the file if it cannot be decoded or is not a 2-D image.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            arr = np.asarray(tifffile.imread(path))
        else:
            from PIL import Image

            with Image.open(path) as img:
                img.load()
                if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                    img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
                elif img.mode == "I;16":
                    img = img.convert("I")
                arr = np.asarray(img)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4) and arr.shape[0] in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # channels-first TIFF
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4) or min(arr.shape[:2]) < 1:
        raise DataError(f"{path}: expected a 2-D grayscale or colour image, got an array of shape {arr.shape}")
    if arr.shape[-1] == 2:  # grayscale + alpha
        arr = arr[..., :1]
    return to_255(arr)


def to_255(arr: np.ndarray) -> np.ndarray:
    """Pixels of any dtype as float32 in [0, 255]: uint8 as is; booleans and floats in [0, 1] times 255; other
    ranges up to 255 clipped; wider ranges (16-bit scans) scaled linearly by the image's own maximum."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32)
    if arr.dtype == bool:
        return arr.astype(np.float32) * 255.0
    out = arr.astype(np.float32)
    top = float(out.max()) if out.size else 0.0
    if np.issubdtype(arr.dtype, np.floating) and top <= 1.0:
        return np.clip(out, 0.0, 1.0) * 255.0
    if top <= 255.0:
        return np.clip(out, 0.0, 255.0)
    return np.clip(out, 0.0, None) * (255.0 / top)


def to_channels(pixels: np.ndarray, channels: int, path: str | Path = "") -> np.ndarray:
    """Convert ``(H, W, C)`` pixels to ``channels`` (1: luminance grayscale, 3: RGB; alpha is dropped)."""
    if pixels.shape[-1] == 4:
        pixels = pixels[..., :3]
    have = pixels.shape[-1]
    if channels == have:
        return pixels
    if channels == 1 and have == 3:
        return (pixels @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    if channels == 3 and have == 1:
        return np.repeat(pixels, 3, axis=-1)
    raise MedzooError(f"{path}: the model takes {channels}-channel images; cannot convert a {have}-channel image")


def resize(arr: np.ndarray, hw: tuple[int, int], order: int = 1) -> np.ndarray:
    """``(H, W, ...)`` resized to ``hw`` (scikit-image; antialiased when it shrinks); float32."""
    from skimage.transform import resize

    if tuple(arr.shape[:2]) == tuple(hw):
        return arr
    shape = (*hw, *arr.shape[2:])
    return resize(arr, shape, order=order, preserve_range=True, anti_aliasing=order > 0 and _shrinks(arr, hw),
                  mode="edge").astype(np.float32)


def _shrinks(arr: np.ndarray, hw: tuple[int, int]) -> bool:
    return arr.shape[0] > hw[0] or arr.shape[1] > hw[1]


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Pixels of any dtype as uint8 by :func:`to_255`'s rule (rounded): a 16-bit or float image is rescaled,
    never wrapped around."""
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(to_255(arr)), 0, 255).astype(np.uint8)


def read_tiff(path: str | Path, what: str = "TIFF image") -> np.ndarray:
    """A TIFF file's array as stored; a :class:`DataError` names the file if it cannot be decoded."""
    import tifffile

    try:
        return np.asarray(tifffile.imread(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise DataError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None
