"""Patient-level segmentation: a patient's ordered slices read as one volume, predicted slice by slice, and
cleaned in 3-D.

A slice model sees one slice at a time, so a bright spot far from the lesion can light up on its own. Buda et
al. (2019), who published the LGG set, kept only the largest 3-D connected component of each patient's
prediction. :func:`keep_components` does that (``largest=True``) or drops components under a size
(``min_size``); :func:`predict_volume` runs a model over a volume and applies it; ``medzoo predict --patient
DIR`` and ``medzoo evaluate --postprocess`` use them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from medzoo.errors import DataError, MedzooError

MASK_SUFFIX = "_mask"


@attrs.frozen
class Postprocess:
    """What to keep of a predicted volume: components of at least ``min_size`` voxels; only the largest."""

    min_size: int = 0
    largest: bool = False

    @classmethod
    def parse(cls, text: str | Postprocess | None) -> Postprocess | None:
        """``None``/``"none"``; ``"largest"``; ``"min:N"`` (drop components under N voxels)."""
        if text is None or isinstance(text, Postprocess):
            return text
        text = str(text).strip().lower()
        if text in ("", "none"):
            return None
        if text == "largest":
            return cls(largest=True)
        match = re.fullmatch(r"min:(\d+)", text)
        if match:
            return cls(min_size=int(match[1]))
        raise MedzooError(f"unknown postprocess {text!r}; use none, largest or min:N (voxels)")

    def __str__(self) -> str:
        return "largest" if self.largest else f"min:{self.min_size}"


def keep_components(mask: np.ndarray, post: Postprocess | None) -> np.ndarray:
    """``mask`` (D, H, W) with only the 3-D connected components that ``post`` keeps (26-connectivity)."""
    mask = np.asarray(mask, bool)
    if post is None or not mask.any():
        return mask
    from skimage.measure import label

    labels, n = label(mask, connectivity=mask.ndim, return_num=True)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    keep = sizes >= max(post.min_size, 1)
    if post.largest:
        keep = np.zeros_like(keep)
        keep[int(np.argmax(sizes))] = True
    return keep[labels]


def predict_volume(model: Any, slices: np.ndarray, threshold: float = 0.5, post: Postprocess | str | None = None,
                   batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Run a segmentation model over a volume of raw slices ``(D, H, W, C)``.

    Returns the probabilities ``(D, H, W)`` and the lesion mask ``(D, H, W)`` bool: ``>= threshold``, then
    cleaned by ``post`` (see :class:`Postprocess`).
    """
    from medzoo.evaluation import predict_array

    probs = predict_array(model, slices, batch_size)[..., 0]
    return probs, keep_components(probs >= threshold, Postprocess.parse(post))


def slice_number(path: Path) -> int:
    """The trailing slice number of a file name (``TCGA_CS_4941_19960909_12.tif`` → 12)."""
    match = re.search(r"(\d+)$", path.stem)
    if not match:
        raise DataError(f"{path}: no slice number at the end of the file name (expected <case>_<n>.tif)")
    return int(match[1])


def patient_slices(folder: str | Path, suffixes: Sequence[str] = (".tif", ".tiff", ".png")) -> list[Path]:
    """A patient folder's slice files in slice order (``*_mask`` files left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (expected a patient's folder of slices)")
    files = [f for f in folder.iterdir() if f.suffix.lower() in suffixes and not f.stem.endswith(MASK_SUFFIX)]
    if not files:
        raise DataError(f"{folder}: no slice files ({', '.join(suffixes)}) in this folder")
    numbers = [slice_number(f) for f in files]
    if len(set(numbers)) != len(numbers):
        dup = sorted({n for n in numbers if numbers.count(n) > 1})[:5]
        raise DataError(f"{folder}: several files share slice number(s) {dup} (such as _10 and _010)")
    return [f for _, f in sorted(zip(numbers, files, strict=True))]
