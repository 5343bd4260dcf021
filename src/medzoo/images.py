"""Reading image files into raw pixels: the one place medzoo decodes JPEG, PNG and TIFF files.

Prediction (:mod:`medzoo.predict`) and the dataset plugins read through here, so a file gives the same pixels
wherever it is read. Pillow reads JPEG and PNG, tifffile reads TIFF, scikit-image resizes: all three are
dependencies of the core.

Size guard: an image of more than :func:`max_pixels` pixels (default :data:`DEFAULT_MAX_PIXELS`, 50 million,
e.g. 7000×7000; set ``MEDZOO_MAX_PIXELS`` to change it) is refused with a :class:`DataError` naming the file
and its size before its pixels are decoded, so a decompression bomb (a small PNG of 14000² pixels) never
fills the memory. Pillow's own ``DecompressionBombError`` is reported the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.errors import DataError, MedzooError

TIFF_SUFFIXES = (".tif", ".tiff")
DEFAULT_MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "MEDZOO_MAX_PIXELS"


def max_pixels(limit: int | None = None) -> int:
    """The largest image (height × width) medzoo decodes: ``limit`` if given, else ``$MEDZOO_MAX_PIXELS``,
    else :data:`DEFAULT_MAX_PIXELS`."""
    if limit is not None:
        return int(limit)
    value = os.environ.get(MAX_PIXELS_ENV, "").replace("_", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise MedzooError(f"{MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r} is not a positive whole number of pixels")
    return int(value)


def too_large(size: str, pixels: int, limit: int) -> str:
    """The one-line reason an image of ``pixels`` pixels (``size``, e.g. ``"14000×14000"``) is refused."""
    return (f"image too large ({size}, {pixels:,} pixels; the limit is {limit:,}): a decompression bomb "
            f"or a scan far larger than any model here needs; downsample it, or raise the limit with "
            f"{MAX_PIXELS_ENV}=N (or max_pixels=N)")


def check_size(path: str | Path, height: int, width: int, limit: int | None = None) -> None:
    """Raise :class:`DataError` (see :func:`too_large`) if ``height × width`` exceeds :func:`max_pixels`."""
    limit = max_pixels(limit)
    if height * width > limit:
        raise DataError(f"{path}: {too_large(f'{width}×{height}', height * width, limit)}")


def open_image(path: str | Path, limit: int | None = None) -> Any:
    """``PIL.Image.open(path)`` with the size guard: the header is read, the pixels are not decoded yet.

    A file over :func:`max_pixels` (or over Pillow's own decompression-bomb limit, which a larger
    ``MEDZOO_MAX_PIXELS`` raises too) gives a :class:`DataError` naming it; use the result as a context manager.
    """
    from PIL import Image

    limit = max_pixels(limit)
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # the user asked for larger images than Pillow's default allows
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else limit + 1
        raise DataError(f"{path}: {too_large('size in its header', pixels, limit)}") from None
    try:
        check_size(path, img.height, img.width, limit)
    except DataError:
        img.close()
        raise
    return img


def read_pixels(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as ``(H, W, C)`` float32 raw pixels in [0, 255] (C is 1, 3 or 4, as stored).

    ``uint8`` is kept as is; floats in [0, 1] and booleans are scaled by 255; other ranges (16-bit
    scans, say) are scaled linearly to [0, 255] by the image's own maximum. Raises :class:`DataError`
    naming the file if it cannot be decoded, is not a 2-D image, holds NaN or infinite pixels, or has more than
    ``max_pixels`` pixels
    (default ``$MEDZOO_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`; checked before decoding).
    """
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            arr = _read_tiff_checked(path, max_pixels)
        else:
            with open_image(path, max_pixels) as img:
                img.load()
                if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                    img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
                elif img.mode == "I;16":
                    img = img.convert("I")
                arr = np.asarray(img)
    except DataError:
        raise
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
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():  # scored, NaN would come out as a label
        raise DataError(f"{path}: the image holds NaN or infinite pixels")
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


def _read_tiff_checked(path: str | Path, limit: int | None = None) -> np.ndarray:
    """The first image of a TIFF file, refused (:func:`check_size`) before decoding if it is too large."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        shape = tuple(int(s) for s in (tif.series[0].shape if tif.series else tif.pages[0].shape))
        pixels = int(np.prod(shape, dtype=np.int64))
        if len(shape) == 3 and min(shape) <= 4:
            pixels //= min(shape)  # a channel axis, first or last
        limit = max_pixels(limit)
        if pixels > limit:
            raise DataError(f"{path}: {too_large('×'.join(map(str, shape)), pixels, limit)}")
        return np.asarray(tif.asarray())


def read_tiff(path: str | Path, what: str = "TIFF image", max_pixels: int | None = None) -> np.ndarray:
    """A TIFF file's array as stored; a :class:`DataError` names the file if it cannot be decoded or is larger
    than ``max_pixels`` (see :func:`read_pixels`)."""
    try:
        return _read_tiff_checked(path, max_pixels)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise DataError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------------------------- unlike the training data


class InputProfile:
    """What a dataset's images look like, for warning when a model is fed something else (:func:`input_warnings`).

    A dataset class may set one as its ``input_profile`` attribute; ``medzoo predict`` and
    :func:`medzoo.predict.predict_image` then check every input of the dataset's entries against it.

    Args:
        what: the images, for the warning (``"chest X-rays"``).
        mean: the range of an image's mean gray level (luminance, 0-255) on the training data, with a margin.
        std: the same for the standard deviation of its gray levels (contrast).
    """

    def __init__(self, what: str, mean: tuple[float, float], std: tuple[float, float]) -> None:
        self.what = what
        self.mean = (float(mean[0]), float(mean[1]))
        self.std = (float(std[0]), float(std[1]))

    def __repr__(self) -> str:
        return f"InputProfile({self.what!r}, mean={self.mean}, std={self.std})"


BINARY_SHARE = 0.99  # an image whose two commonest gray levels cover this share of its pixels...
BINARY_GAP = 100.0  # ...and lie this far apart looks like a mask or a drawing, not a scan
_SAMPLE = 1 << 20  # pixels looked at (a regular subsample of larger images)


def input_warnings(pixels: np.ndarray, profile: InputProfile | None = None) -> list[str]:
    """Why ``pixels`` (``(H, W, C)`` in [0, 255]) look unlike a model's training data; empty when they do not.

    Two simple checks, so that a wrong input gets a warning rather than a confident answer:

    - near-binary: the two commonest gray levels cover 99 % of the pixels and lie at least 100 apart (a
      mask, a drawing, a thresholded image); made for every model;
    - intensity: the image's mean gray level or its standard deviation is outside ``profile``'s ranges.

    They look at gray levels only, so they miss inputs with the right brightness and contrast (a CT slice
    fed to an X-ray model, say); passing them says nothing about whether the model's answer is right.
    """
    gray = to_channels(pixels, 1)[..., 0] if pixels.shape[-1] != 1 else pixels[..., 0]
    step = max(1, int(np.ceil(np.sqrt(gray.size / _SAMPLE))))
    gray = gray[::step, ::step]
    out: list[str] = []
    levels, counts = np.unique(np.rint(gray), return_counts=True)
    if len(levels) >= 2:
        top = np.argsort(counts)[-2:]
        if counts[top].sum() >= BINARY_SHARE * gray.size and abs(levels[top[0]] - levels[top[1]]) >= BINARY_GAP:
            out.append(f"nearly binary image ({100 * counts[top].sum() / gray.size:.1f}% of its pixels are "
                       f"{int(levels[top].min())} or {int(levels[top].max())}): a mask or a drawing, not a scan")
    if profile is not None:
        mean, std = float(gray.mean()), float(gray.std())
        if not profile.mean[0] <= mean <= profile.mean[1]:
            out.append(f"mean gray level {mean:.0f} is outside the {profile.mean[0]:.0f}-{profile.mean[1]:.0f} "
                       f"of the {profile.what} the model was trained on")
        if not profile.std[0] <= std <= profile.std[1]:
            out.append(f"contrast (gray-level std {std:.0f}) is outside the {profile.std[0]:.0f}-"
                       f"{profile.std[1]:.0f} of the {profile.what} the model was trained on")
    return out
