"""Run a zoo model on image files: ``medzoo predict`` and :func:`predict_files`.

Each file (JPEG, PNG, TIFF) is read into the model's input channels (1: grayscale, 3: RGB) as raw pixels in
[0, 255], resized only when the model has fixed spatial dimensions that differ from the file's, and fed to
the model one image at a time (files may differ in size). The model's output rank says what it does:

- rank 2, ``(N, 1)``: classification; ``predictions.csv`` holds ``file, probability, label``.
- rank 4, ``(N, H, W, 1)``: segmentation; images are zero-padded (bottom and right) to a multiple of 16 for
  fully convolutional models, and the mask is cropped back; ``<stem>_mask.png`` (0/255),
  ``<stem>_overlay.png`` (the image, mask tinted and outlined) and ``predictions.csv`` (lesion pixels).

Guards: files over :func:`medzoo.images.max_pixels` are refused before they are decoded; a fully
convolutional model runs on an image larger than :data:`TILE`² in overlapping tiles, so memory stays bounded
(a 4000×4000 image takes 16 tiles, not 16 GB); an input unlike the entry's training data (a mask, an image far
brighter or darker than its dataset's, see :func:`medzoo.images.input_warnings`) is predicted but logged as a
warning (logger ``medzoo.predict``).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.errors import DataError, MedzooError
from medzoo.images import InputProfile, input_warnings, read_pixels, resize, to_255, to_channels
from medzoo.registry import registry

log = logging.getLogger("medzoo.predict")

MULTIPLE = 16  # fully convolutional models here pool four times
TILE = 1024  # a fully convolutional model sees at most (TILE + 2 * MARGIN)² pixels at a time
MARGIN = 64  # context around each tile, cut off again (more than the U-Net's receptive field reaches in)
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


def _check_files(paths: Sequence[Path]) -> None:
    for p in paths:
        if p.is_dir():
            raise DataError(f"{p}: is a folder; give image files (e.g. {p / '*.jpeg'}), or --patient DIR "
                            f"(predict_patient) for a segmentation entry on a patient's folder of slices")
        if not p.is_file():
            raise DataError(f"{p}: no such file")


def _card_meta(name: str) -> dict[str, Any]:
    """The ``meta`` of entry ``name``'s weights card (``{}`` for an unknown entry or one without weights)."""
    entry = registry().entries.get(name)
    return dict(entry.weights.meta) if entry is not None and entry.weights is not None else {}


def threshold_rule(name: str, threshold: float | None = None, weights: Any = "default") -> tuple[float, str]:
    """The threshold :func:`predict_files` uses for ``name`` and why: ``threshold`` when given, else the one on
    the entry's weights card (with the card's rule for choosing it) unless other weights are named (``None``, a
    path or URL), else 0.5. A ``keras.Model`` passed as ``weights`` counts as the entry's loaded model; one
    from :func:`medzoo.load` carries its own (``model.medzoo_meta``)."""
    if threshold is not None:
        return float(threshold), "given by the caller"
    meta = getattr(weights, "medzoo_meta", None)
    if isinstance(meta, dict) and meta.get("threshold") is not None:
        return float(meta["threshold"]), str(meta.get("threshold_rule", "from the loaded model's metadata"))
    if weights is None or (isinstance(weights, (str, Path)) and str(weights) != "default"):
        return 0.5, "0.5, the default (the card's threshold belongs to the shipped weights, not these)"
    meta = _card_meta(name)
    if "threshold" in meta:
        return float(meta["threshold"]), "from the weights card: " + meta.get("threshold_rule", "rule not stated")
    return 0.5, "0.5, the default (no threshold on a weights card)"


def postprocess_rule(name: str, postprocess: str | None = None, weights: Any = "default") -> tuple[str, str]:
    """The 3-D postprocess :func:`predict_patient` uses for ``name`` and why: ``postprocess`` when given, else
    the one on the entry's weights card (chosen there by per-volume Dice on the validation patients) unless
    other weights are named, else ``"largest"`` (Buda et al. 2019 kept each patient's largest component)."""
    if postprocess is not None:
        return str(postprocess), "given by the caller"
    default = "largest", "largest, the default (Buda et al. 2019 kept each patient's largest 3-D component)"
    meta = getattr(weights, "medzoo_meta", None)
    if isinstance(meta, dict) and meta.get("postprocess"):
        return str(meta["postprocess"]), str(meta.get("postprocess_rule", "from the loaded model's metadata"))
    if weights is None or (isinstance(weights, (str, Path)) and str(weights) != "default"):
        return default
    meta = _card_meta(name)
    if meta.get("postprocess"):
        return str(meta["postprocess"]), "from the weights card: " + meta.get("postprocess_rule", "rule not stated")
    return default


def class_names(name: str) -> list[str] | None:
    """The class names ``[negative, positive]`` on the entry's weights card, else the two ``class_names`` of
    its dataset class (``["NORMAL", "PNEUMONIA"]`` for the chest X-rays), else ``None``."""
    entry = registry().entries.get(name)
    classes = entry.weights.meta.get("classes") if entry is not None and entry.weights is not None else None
    if not classes and entry is not None:  # two class names: a binary classifier's (no task special case)
        names = getattr(_dataset_class(name), "class_names", None)
        classes = names if isinstance(names, (list, tuple)) and len(names) == 2 else None
    return [str(c) for c in classes] if classes else None


def _dataset_class(name: str) -> Any:
    """The class that opens entry ``name``'s dataset (imported: plugin readers import no Keras), or ``None``."""
    try:
        from medzoo.specs import resolve

        reg = registry()
        entry = reg.entries.get(name)
        spec = reg.datasets.get(entry.dataset) if entry is not None else None
        return resolve(spec.factory) if spec is not None else None
    except Exception as exc:  # noqa: BLE001 - a plugin that cannot say only costs the class names and checks
        log.debug("cannot import the dataset of %s: %s", name, exc)
        return None


def entry_meta(name: str, weights: Any = "default", sha256: str | None = None) -> dict[str, Any]:
    """What :func:`medzoo.load` attaches to a model as ``model.medzoo_meta``.

    ``{"entry", "classes", "threshold", "threshold_rule", "weights", "sha256"}``, plus ``"postprocess"`` and
    ``"postprocess_rule"`` when the card chose a 3-D postprocess (see :func:`postprocess_rule`): the entry's class names
    ``[negative, positive]`` (``None`` when its card has none), the operating threshold and why (as
    :func:`threshold_rule`: the card's for the shipped weights, 0.5 for others), which weights were loaded
    (``"default"``, a path or URL, or ``None`` for untrained) and the loaded file's sha256.
    """
    t, rule = threshold_rule(name, None, weights)
    meta = {"entry": name, "classes": class_names(name), "threshold": t, "threshold_rule": rule,
            "weights": None if weights is None else str(weights), "sha256": sha256}
    if weights == "default" and _card_meta(name).get("postprocess"):  # a segmentation card's choice for whole volumes
        meta["postprocess"], meta["postprocess_rule"] = postprocess_rule(name, None, weights)
    return meta


def input_profile(name: str) -> InputProfile | None:
    """The ``input_profile`` of entry ``name``'s dataset class (what its training images look like), if any."""
    profile = getattr(_dataset_class(name), "input_profile", None)
    return profile if isinstance(profile, InputProfile) else None


def _warn_unlike(path: Any, pixels: np.ndarray, profile: InputProfile | None, name: str) -> list[str]:
    found = input_warnings(pixels, profile)
    for why in found:
        log.warning("%s: %s; %s's prediction for it is not to be trusted", path, why, name)
    return found


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


def _segment(model: Any, x: np.ndarray) -> np.ndarray:
    """P(lesion) ``(H, W)`` from a fully convolutional model; tiled (see :data:`TILE`) above ``TILE``² pixels."""
    h, w = x.shape[:2]
    if h * w <= TILE * TILE:
        return _positive(_probabilities(model, _pad_to(x, MULTIPLE)), "segmentation")[:h, :w]
    log.info("%d×%d image: predicting it in %d×%d tiles", w, h, TILE, TILE)
    prob = np.empty((h, w), np.float32)
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            y1, x1 = min(y0 + TILE, h), min(x0 + TILE, w)
            ya, xa = max(0, y0 - MARGIN), max(0, x0 - MARGIN)
            window = x[ya:min(h, y1 + MARGIN), xa:min(w, x1 + MARGIN)]
            p = _positive(_probabilities(model, _pad_to(window, MULTIPLE)), "segmentation")
            prob[y0:y1, x0:x1] = p[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return prob


def _model_io(model: Any) -> tuple[int | None, tuple[int, int] | None, int]:
    """The channels the model works on, its fixed ``(H, W)`` (``None`` when open) and its output rank."""
    from medzoo.layers import input_channels

    in_shape = tuple(model.inputs[0].shape)
    out_rank = len(model.outputs[0].shape)
    fixed_hw = (int(in_shape[1]), int(in_shape[2])) if in_shape[1] is not None and in_shape[2] is not None else None
    if out_rank not in (2, 4):
        raise MedzooError(f"model output of rank {out_rank} is neither classification (2) nor segmentation (4)")
    return input_channels(model), fixed_hw, out_rank


def _predict_pixels(model: Any, pixels: np.ndarray, io: tuple[int | None, tuple[int, int] | None, int],
                    path: Any = "") -> Any:
    """P(positive) for one ``(H, W, C)`` image: a float (classification) or an ``(H, W)`` map (segmentation)."""
    channels, fixed_hw, out_rank = io
    x = to_channels(pixels, channels, path) if channels is not None else pixels
    h, w = x.shape[:2]
    if fixed_hw is not None:
        x = resize(x, fixed_hw)
    if out_rank == 2:
        return float(_positive(_probabilities(model, x), "classification"))
    if fixed_hw is None:
        return _segment(model, x)
    prob = _positive(_probabilities(model, x), "segmentation")
    return resize(prob[..., None], (h, w))[..., 0]


def _positive(y: np.ndarray, what: str) -> np.ndarray:
    """P(positive) from the last axis: one sigmoid unit, or the second of two softmax units."""
    if y.shape[-1] == 1:
        return y[..., 0]
    if y.shape[-1] == 2:
        return y[..., 1]
    raise MedzooError(f"predict handles binary models; this {what} model has {y.shape[-1]} output channels")


def predict_files(name: str, files: Sequence[str | Path], weights: Any = "default", out: str | Path | None = None,
                  threshold: float | None = None,
                  progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
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
        progress: called with the number of files done, before each file and once at the end (the CLI
            shows it as a counter on a terminal).

    Returns:
        One dict per file: ``file, probability, label`` and, where the card names them, ``class``
        (classification), or
        ``file, height, width, lesion_pixels, lesion_fraction, max_probability, mask, overlay`` (segmentation);
        both end with ``warning``: why the image looks unlike the training data (also logged), else ``""``.

    Raises:
        DataError: a file is missing or cannot be read as an image (the message names it).
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise MedzooError("no image files given")
    _check_files(paths)
    model = _load_model(name, weights)
    t = threshold_rule(name, threshold, weights)[0]
    classes = class_names(name)
    io = _model_io(model)
    out_rank = io[2]
    profile = input_profile(name)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    results: list[dict[str, Any]] = []
    for done, (path, stem) in enumerate(zip(paths, _unique_stems(paths), strict=True)):
        if progress is not None:
            progress(done)
        pixels = read_pixels(path)
        warning = "; ".join(_warn_unlike(path, pixels, profile, name))
        h, w = pixels.shape[:2]
        if out_rank == 2:
            p = float(_predict_pixels(model, pixels, io, path))
            row_c: dict[str, Any] = {"file": str(path), "probability": p, "label": int(p >= t)}
            if classes is not None:
                row_c["class"] = classes[row_c["label"]]
            row_c["warning"] = warning
            results.append(row_c)
            continue
        prob = _predict_pixels(model, pixels, io, path)
        mask = prob >= t
        row: dict[str, Any] = {"file": str(path), "height": h, "width": w, "lesion_pixels": int(mask.sum()),
                               "lesion_fraction": float(mask.mean()), "max_probability": float(prob.max()),
                               "mask": None, "overlay": None, "warning": warning}
        if out_dir is not None:
            row.update(_write_mask(out_dir, stem, pixels, mask))
        results.append(row)

    if progress is not None:
        progress(len(paths))
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
                    threshold: float | None = None, postprocess: str | None = None) -> list[dict[str, Any]]:
    """Run a segmentation entry on a patient's folder of slices as one volume (see :mod:`medzoo.volumes`).

    The slices (``<case>_<n>.tif``, ``*_mask`` files left out) are read in slice order, predicted one by one,
    thresholded and cleaned in 3-D by ``postprocess`` (``"largest"``: keep the largest connected component, as
    Buda et al. did; ``"min:N"``: drop components under N voxels; ``"none"``: keep everything; ``None``: the
    weights card's choice, see :func:`postprocess_rule`). Writes, per
    slice, ``<stem>_mask.png`` and ``<stem>_overlay.png``, and ``predictions.csv``. Returns one row per slice.
    """
    from medzoo.layers import input_channels
    from medzoo.volumes import Postprocess, patient_slices, predict_volume

    paths = patient_slices(folder)
    model = _load_model(name, weights)
    chosen, why = postprocess_rule(name, postprocess, weights)
    post = Postprocess.parse(chosen)
    log.info("postprocess %s: %s", chosen, why)
    if len(model.outputs[0].shape) != 4:
        raise MedzooError(f"{name} is not a segmentation model: --patient needs one")
    t = threshold_rule(name, threshold, weights)[0]
    channels = input_channels(model)
    pixels = [read_pixels(p) for p in paths]
    shapes = {px.shape[:2] for px in pixels}
    if len(shapes) != 1:
        raise DataError(f"{folder}: the slices differ in size ({sorted(shapes)}); a volume needs one size")
    h, w = pixels[0].shape[:2]
    if h * w > TILE * TILE:
        raise DataError(f"{folder}: slices of {w}×{h} pixels are too large to predict as one volume (at most "
                        f"{TILE}×{TILE}); predict them as files, which are tiled, or downsample them")
    profile = input_profile(name)
    for px, p in zip(pixels, paths, strict=True):
        _warn_unlike(p, px, profile, name)
    x = np.stack([_pad_to(to_channels(px, channels, p) if channels is not None else px, MULTIPLE)
                  for px, p in zip(pixels, paths, strict=True)])
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


def _as_image(image: Any) -> tuple[np.ndarray, str]:
    """One image as ``(H, W, C)`` float32 raw pixels, and what to call it in messages."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        _check_files([path])
        return read_pixels(path), str(path)
    arr = np.asarray(image)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or not 1 <= arr.shape[-1] <= 4:
        raise DataError(f"expected one image of shape (H, W) or (H, W, C) with C in 1-4 (or (1, H, W, C)), got "
                        f"an array of shape {arr.shape}; for a batch, call model.predict on (N, H, W, C)")
    if arr.shape[-1] == 2:  # gray + alpha, as read_pixels drops it
        arr = arr[..., :1]
    if not (arr.dtype == np.uint8 or np.issubdtype(arr.dtype, np.floating)):
        arr = to_255(arr)  # 16-bit or boolean: scaled as a file of that depth is
    return arr.astype(np.float32), "the image"


def predict_image(model: Any, image: Any, threshold: float | None = None) -> dict[str, Any]:
    """Run a zoo model on one image, as ``medzoo predict`` runs it on a file.

    >>> model = medzoo.load("cnn1-chest-xray")                            # doctest: +SKIP
    >>> medzoo.predict_image(model, "person1_virus_6.jpeg")["class"]       # doctest: +SKIP
    'PNEUMONIA'

    Args:
        model: a model from :func:`medzoo.load` (its ``medzoo_meta`` gives the threshold and class names), any
            ``keras.Model`` taking raw pixels, or an entry name (loaded with its shipped weights).
        image: a JPEG/PNG/TIFF path, or raw pixels ``(H, W)``, ``(H, W, C)`` or ``(1, H, W, C)`` with any of
            1-4 channels (gray, gray + alpha, RGB, RGBA; uint8, or float in [0, 255]; 16-bit and boolean
            arrays are scaled as files are). The model converts channels itself; segmentation images are
            padded (and tiled when large) and the map is cropped back to ``(H, W)``.
        threshold: probability threshold (default: the loaded model's ``medzoo_meta["threshold"]``, else 0.5).

    Returns:
        Classification: ``{"probability", "label", "class", "threshold", "warnings"}`` (``class`` is
        ``None`` without class names). Segmentation: ``{"probability"`` (H, W) float32, ``"mask"`` (H, W) bool,
        ``"lesion_pixels", "threshold", "warnings"}``. ``warnings`` lists why the image looks unlike the
        entry's training data (also logged; see :func:`medzoo.images.input_warnings`).
    """
    if isinstance(model, str):
        model = _load_model(model, "default")
    meta = getattr(model, "medzoo_meta", None)
    meta = meta if isinstance(meta, dict) else {}
    name = meta.get("entry") or getattr(model, "medzoo_entry", None) or ""
    t = float(threshold) if threshold is not None else float(meta.get("threshold") or 0.5)
    pixels, label = _as_image(image)
    found = _warn_unlike(label, pixels, input_profile(name) if name else None, name or "the model")
    io = _model_io(model)
    prob = _predict_pixels(model, pixels, io, label)
    if io[2] == 2:
        classes = meta.get("classes")
        lab = int(prob >= t)
        return {"probability": prob, "label": lab, "class": classes[lab] if classes else None, "threshold": t,
                "warnings": found}
    mask = prob >= t
    return {"probability": prob, "mask": mask, "lesion_pixels": int(mask.sum()), "threshold": t, "warnings": found}
