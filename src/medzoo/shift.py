"""The shift check: a classifier scored again on its validation images passed through fixed acquisition
perturbations, as a cheap stand-in for X-rays from another scanner or hospital.

Validation carved from the training hospital flatters a model; what transfers is robustness to contrast,
exposure, sharpness, compression and resolution. Each perturbation here is fixed (no randomness), applied to
the raw uint8 pixels before the model's own preprocessing, and the model is scored at the same operating
threshold as on the clean images. The report gives, per perturbation, AUC, accuracy, recall and specificity,
and the AUC drop against clean.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medzoo.evaluation import metrics as M
from medzoo.evaluation import predict_array


def _gamma(g: float) -> Callable[[np.ndarray], np.ndarray]:
    table = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** g), 0, 255).astype(np.uint8)
    return lambda img: table[img]


def _contrast(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float32)
        mean = x.mean(axis=(0, 1), keepdims=True)
        return np.clip(np.rint((x - mean) * factor + mean), 0, 255).astype(np.uint8)

    return apply


def _blur(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(img: np.ndarray) -> np.ndarray:
        from skimage.filters import gaussian

        out = gaussian(img.astype(np.float32), sigma=sigma, channel_axis=-1, preserve_range=True)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return apply


def _jpeg(quality: int) -> Callable[[np.ndarray], np.ndarray]:
    def apply(img: np.ndarray) -> np.ndarray:
        from PIL import Image

        mode = "L" if img.shape[-1] == 1 else "RGB"
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if mode == "L" else img, mode).save(buf, "JPEG", quality=quality)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
        return out[..., None] if out.ndim == 2 else out

    return apply


def _resolution(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(img: np.ndarray) -> np.ndarray:
        from medzoo.images import resize

        h, w = img.shape[:2]
        small = resize(img.astype(np.float32), (max(1, int(h * factor)), max(1, int(w * factor))))
        return np.clip(np.rint(resize(small, (h, w))), 0, 255).astype(np.uint8)

    return apply


#: name → (what it does, the function on one raw uint8 (H, W, C) image)
PERTURBATIONS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "contrast_low": ("contrast × 0.6 about the image mean", _contrast(0.6)),
    "contrast_high": ("contrast × 1.4 about the image mean", _contrast(1.4)),
    "gamma_dark": ("gamma 1.5 (darker mid-tones)", _gamma(1.5)),
    "gamma_bright": ("gamma 0.67 (brighter mid-tones)", _gamma(1 / 1.5)),
    "blur": ("Gaussian blur, sigma 1.5 pixels", _blur(1.5)),
    "jpeg": ("JPEG re-encoded at quality 20", _jpeg(20)),
    "low_resolution": ("down to half the side and back up", _resolution(0.5)),
}


def _point(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    m = M.binary_metrics(y, s, threshold)
    return {"auc": float(M.roc_auc(y, s)), **{k: float(m[k]) for k in ("accuracy", "recall", "specificity")}}


def shift_check(model: Any, dataset: Any, records: Sequence[Any], threshold: float = 0.5, batch_size: int = 32,
                perturbations: Sequence[str] | None = None) -> dict[str, Any]:
    """Score a binary classifier on ``records`` clean and under each fixed perturbation (see the module doc).

    Returns ``{"threshold", "clean": {auc, accuracy, recall, specificity}, "perturbed": {name: {..., "auc_drop",
    "what"}}, "worst_auc_drop"}``.
    """
    from medzoo.arrays import decoded

    arrays = decoded(dataset, records, cache="memory")
    x, y = np.asarray(arrays.images), np.asarray(arrays.targets).reshape(-1)
    clean = _point(y, predict_array(model, x, batch_size).reshape(-1), threshold)
    out: dict[str, Any] = {"threshold": float(threshold), "n": int(len(y)), "clean": clean, "perturbed": {}}
    for name in perturbations or list(PERTURBATIONS):
        what, fn = PERTURBATIONS[name]
        shifted = np.stack([fn(img) for img in x])
        point = _point(y, predict_array(model, shifted, batch_size).reshape(-1), threshold)
        out["perturbed"][name] = {"what": what, **point, "auc_drop": clean["auc"] - point["auc"]}
    out["worst_auc_drop"] = max(p["auc_drop"] for p in out["perturbed"].values())
    return out


def format_shift(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`shift_check`'s result."""
    lines = [f"shift check on {result['n']} images at threshold {result['threshold']:.3f}",
             f"{'condition':<16}{'AUC':>7}{'drop':>8}{'acc':>7}{'recall':>8}{'spec':>7}  what"]
    c = result["clean"]
    lines.append(f"{'clean':<16}{c['auc']:>7.3f}{'':>8}{c['accuracy']:>7.3f}{c['recall']:>8.3f}{c['specificity']:>7.3f}")
    for name, p in result["perturbed"].items():
        lines.append(f"{name:<16}{p['auc']:>7.3f}{-p['auc_drop']:>+8.3f}{p['accuracy']:>7.3f}{p['recall']:>8.3f}"
                     f"{p['specificity']:>7.3f}  {p['what']}")
    lines.append(f"worst AUC drop: {result['worst_auc_drop']:.3f} (aim: within 0.03 of clean)")
    return "\n".join(lines)
