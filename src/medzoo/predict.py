"""Run a zoo model on image files: ``medzoo predict`` and :func:`predict_files`.

Each file (JPEG, PNG, TIFF) is read into the model's input channels (1: grayscale, 3: RGB) as raw pixels in
[0, 255], resized only when the model has fixed spatial dimensions that differ from the file's, and fed to
the model one image at a time (files may differ in size). The model's output rank says what it does:

- rank 2, ``(N, 1)``: classification; ``predictions.csv`` holds ``file, probability, label``.
- rank 4, ``(N, H, W, 1)``: segmentation; images are zero-padded (bottom and right) to a multiple of 16 for
  fully convolutional models, and the mask is cropped back; ``<stem>_mask.png`` (0/255),
  ``<stem>_overlay.png`` (the image, mask tinted and outlined) and ``predictions.csv`` (lesion pixels).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.errors import DataError, MedzooError
from medzoo.images import read_pixels, resize, to_channels
from medzoo.registry import registry

MULTIPLE = 16  # fully convolutional models here pool four times
OVERLAY_COLOUR = np.array([255, 40, 40], np.float32)


def _pad_to(arr: np.ndarray, multiple: int) -> np.ndarray:
    h, w = arr.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return arr
    return np.pad(arr, ((0, ph), (0, pw), (0, 0)), mode="constant")


def _display_rgb(pixels: np.ndarray) -> np.ndarray:
    rgb = pixels[..., :3] if pixels.shape[-1] >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def overlay(image_rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """``image_rgb`` (H, W, 3) uint8 with ``mask`` (H, W) bool tinted and outlined in red."""
    from skimage.segmentation import find_boundaries

    out = image_rgb.astype(np.float32)
    out[mask] = (1.0 - alpha) * out[mask] + alpha * OVERLAY_COLOUR
    edge = find_boundaries(mask, mode="inner")
    out[edge] = OVERLAY_COLOUR
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _save_png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(arr).save(path)


def _load_model(name: str, weights: Any) -> Any:
    import keras

    if isinstance(weights, keras.Model):
        return weights
    from medzoo.weights import load_entry

    return load_entry(name, weights=weights)


def threshold_rule(name: str, threshold: float | None = None, weights: Any = "default") -> tuple[float, str]:
    """The threshold :func:`predict_files` uses for ``name`` and why: ``threshold`` when given, else the one on
    the entry's weights card (with the card's rule for choosing it) unless other weights are named (``None``, a
    path or URL), else 0.5. A ``keras.Model`` passed as ``weights`` counts as the entry's loaded model."""
    if threshold is not None:
        return float(threshold), "given by the caller"
    if weights is None or (isinstance(weights, (str, Path)) and str(weights) != "default"):
        return 0.5, "0.5, the default (the card's threshold belongs to the shipped weights, not these)"
    entry = registry().entries.get(name)
    meta = entry.weights.meta if entry is not None and entry.weights is not None else {}
    if "threshold" in meta:
        return float(meta["threshold"]), "from the weights card: " + meta.get("threshold_rule", "rule not stated")
    return 0.5, "0.5, the default (no threshold on a weights card)"


def class_names(name: str) -> list[str] | None:
    """The class names ``[negative, positive]`` on the entry's weights card, if it has them."""
    entry = registry().entries.get(name)
    classes = entry.weights.meta.get("classes") if entry is not None and entry.weights is not None else None
    return list(classes) if classes else None


def _unique_stems(files: Sequence[Path]) -> list[str]:
    seen: dict[str, int] = {}
    stems = []
    for f in files:
        n = seen.get(f.stem, 0) + 1
        seen[f.stem] = n
        stems.append(f.stem if n == 1 else f"{f.stem}_{n}")
    return stems


def _probabilities(model: Any, x: np.ndarray) -> np.ndarray:
    import keras

    y = keras.ops.convert_to_numpy(model(x[None].astype(np.float32), training=False))
    return np.asarray(y, np.float32)[0]


def _positive(y: np.ndarray, what: str) -> np.ndarray:
    """P(positive) from the last axis: one sigmoid unit, or the second of two softmax units."""
    if y.shape[-1] == 1:
        return y[..., 0]
    if y.shape[-1] == 2:
        return y[..., 1]
    raise MedzooError(f"predict handles binary models; this {what} model has {y.shape[-1]} output channels")


def predict_files(name: str, files: Sequence[str | Path], weights: Any = "default", out: str | Path | None = None,
                  threshold: float | None = None) -> list[dict[str, Any]]:
    """Run zoo entry ``name`` on image ``files``; write the results into ``out`` (when given).

    Args:
        name: a zoo entry (``"unet-lgg"``); with ``weights=None`` also an architecture.
        files: JPEG, PNG or TIFF images.
        weights: as for :func:`medzoo.load` (``"default"``, ``None``, a path or URL), or a ``keras.Model``
            to use as is.
        out: folder for ``predictions.csv`` (and, for segmentation, ``<stem>_mask.png`` and
            ``<stem>_overlay.png``); ``None`` writes nothing.
        threshold: probability threshold for labels and masks (default: the entry's weights'
            ``meta["threshold"]``, else 0.5).

    Returns:
        One dict per file: ``file, probability, label`` and, where the card names them, ``class``
        (classification), or
        ``file, height, width, lesion_pixels, lesion_fraction, max_probability, mask, overlay`` (segmentation).

    Raises:
        DataError: a file is missing or cannot be read as an image (the message names it).
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise MedzooError("no image files given")
    for p in paths:
        if not p.is_file():
            raise DataError(f"{p}: no such file")
    model = _load_model(name, weights)
    t = threshold_rule(name, threshold, weights)[0]
    classes = class_names(name)
    in_shape = tuple(model.inputs[0].shape)
    out_rank = len(model.outputs[0].shape)
    channels = int(in_shape[-1])
    fixed_hw = (int(in_shape[1]), int(in_shape[2])) if in_shape[1] is not None and in_shape[2] is not None else None
    if out_rank not in (2, 4):
        raise MedzooError(f"model output of rank {out_rank} is neither classification (2) nor segmentation (4)")
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    results: list[dict[str, Any]] = []
    for path, stem in zip(paths, _unique_stems(paths), strict=True):
        pixels = read_pixels(path)
        x = to_channels(pixels, channels, path)
        h, w = x.shape[:2]
        if fixed_hw is not None:
            x = resize(x, fixed_hw)
        elif out_rank == 4:
            x = _pad_to(x, MULTIPLE)
        y = _probabilities(model, x)
        if out_rank == 2:
            p = float(_positive(y, "classification"))
            row_c: dict[str, Any] = {"file": str(path), "probability": p, "label": int(p >= t)}
            if classes is not None:
                row_c["class"] = classes[row_c["label"]]
            results.append(row_c)
            continue
        prob = _positive(y, "segmentation")
        prob = resize(prob[..., None], (h, w))[..., 0] if fixed_hw is not None else prob[:h, :w]
        mask = prob >= t
        row: dict[str, Any] = {"file": str(path), "height": h, "width": w, "lesion_pixels": int(mask.sum()),
                               "lesion_fraction": float(mask.mean()), "max_probability": float(prob.max()),
                               "mask": None, "overlay": None}
        if out_dir is not None:
            row.update(_write_mask(out_dir, stem, pixels, mask))
        results.append(row)

    if out_dir is not None:
        _write_csv(out_dir, results)
    return results


def _write_mask(out_dir: Path, stem: str, pixels: np.ndarray, mask: np.ndarray) -> dict[str, str]:
    """Write ``<stem>_mask.png`` (0/255) and ``<stem>_overlay.png``; returns their paths."""
    paths = {"mask": str(out_dir / f"{stem}_mask.png"), "overlay": str(out_dir / f"{stem}_overlay.png")}
    _save_png(Path(paths["mask"]), mask.astype(np.uint8) * 255)
    _save_png(Path(paths["overlay"]), overlay(_display_rgb(pixels), mask))
    return paths


def _write_csv(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    with (out_dir / "predictions.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def predict_patient(name: str, folder: str | Path, weights: Any = "default", out: str | Path | None = None,
                    threshold: float | None = None, postprocess: str | None = "largest") -> list[dict[str, Any]]:
    """Run a segmentation entry on a patient's folder of slices as one volume (see :mod:`medzoo.volumes`).

    The slices (``<case>_<n>.tif``, ``*_mask`` files left out) are read in slice order, predicted one by one,
    thresholded and cleaned in 3-D by ``postprocess`` (``"largest"``: keep the largest connected component, as
    Buda et al. did; ``"min:N"``: drop components under N voxels; ``None``: keep everything). Writes, per
    slice, ``<stem>_mask.png`` and ``<stem>_overlay.png``, and ``predictions.csv``. Returns one row per slice.
    """
    from medzoo.volumes import Postprocess, patient_slices, predict_volume

    post = Postprocess.parse(postprocess)
    paths = patient_slices(folder)
    model = _load_model(name, weights)
    if len(model.outputs[0].shape) != 4:
        raise MedzooError(f"{name} is not a segmentation model: --patient needs one")
    t = threshold_rule(name, threshold, weights)[0]
    channels = int(model.inputs[0].shape[-1])
    pixels = [read_pixels(p) for p in paths]
    shapes = {px.shape[:2] for px in pixels}
    if len(shapes) != 1:
        raise DataError(f"{folder}: the slices differ in size ({sorted(shapes)}); a volume needs one size")
    h, w = pixels[0].shape[:2]
    x = np.stack([_pad_to(to_channels(px, channels, p), MULTIPLE) for px, p in zip(pixels, paths, strict=True)])
    probs, mask = predict_volume(model, x, t, post)
    probs, mask = probs[:, :h, :w], mask[:, :h, :w]
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for k, path in enumerate(paths):
        row: dict[str, Any] = {"file": str(path), "slice": k + 1, "lesion_pixels": int(mask[k].sum()),
                               "max_probability": float(probs[k].max()), "mask": None, "overlay": None}
        if out_dir is not None:
            row.update(_write_mask(out_dir, path.stem, pixels[k], mask[k]))
        rows.append(row)
    if out_dir is not None:
        _write_csv(out_dir, rows)
    return rows
