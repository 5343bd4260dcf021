"""Figures of a run or an evaluation, as PNG files (matplotlib's Agg renderer; pyplot is never imported).

Each function draws one figure into ``path`` and returns ``path``. Training curves come from the run's
``history.csv``; the others from the numbers the evaluation computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TRAIN, VAL = "#1f6fb4", "#e4572e"
TRUE_COLOUR, PRED_COLOUR = (0.10, 0.85, 0.35), (1.0, 0.25, 0.20)
DPI = 120
SKIP = {"epoch", "lr", "learning_rate"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def _style(ax: Any) -> None:
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _pretty(name: str) -> str:
    special = {"auc": "ROC AUC", "iou": "IoU", "f1": "F1", "lr": "learning rate", "dice": "Dice"}
    return special.get(name, name.replace("_", " "))


def learning_curves(history: dict[str, Sequence[float]], path: str | Path, monitor: str | None = None,
                    mode: str = "min", title: str | None = None) -> Path | None:
    """Loss and every metric, train vs validation, per epoch, and the learning rate (log scale).

    ``monitor`` (e.g. ``"val_loss"``) marks its best epoch (``mode`` ``"min"`` or ``"max"``) on every panel.
    Returns ``None`` when ``history`` holds no epoch.
    """
    from matplotlib.ticker import MaxNLocator

    hist = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if len(v)}
    n = max((v.size for v in hist.values()), default=0)
    if n == 0:
        return None
    epochs = hist["epoch"] + 1 if "epoch" in hist else np.arange(1, n + 1)
    bases = []
    for k in hist:
        base = k.removeprefix("val_")
        if base not in SKIP and base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: (b != "loss", b))
    lr_key = next((k for k in ("learning_rate", "lr") if k in hist), None)
    panels = bases + ([lr_key] if lr_key else [])
    cols = 2 if len(panels) == 4 else min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = _figure(4.2 * cols, 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    best = None
    if monitor and monitor in hist and np.isfinite(hist[monitor]).any():
        vals = hist[monitor]
        best = int(np.nanargmin(vals) if mode == "min" else np.nanargmax(vals))
    marker = "o" if n <= 30 else None
    for ax, key in zip(axes, panels, strict=False):
        _style(ax)
        if key == lr_key:
            ax.plot(epochs, hist[key], color="0.3", marker=marker, markersize=3)
            values = hist[key][np.isfinite(hist[key])]
            if values.size and np.all(values > 0) and values.max() > 1.5 * values.min():
                ax.set_yscale("log")
                ax.minorticks_off()
                uniq = np.unique(values)
                if uniq.size <= 6:  # a step schedule: label each rate it used
                    ax.set_yticks(uniq, [f"{v:.2g}" for v in uniq])
            ax.set_title("learning rate")
        else:
            for name, colour, label in ((key, TRAIN, "train"), (f"val_{key}", VAL, "validation")):
                if name in hist:
                    ax.plot(epochs[:hist[name].size], hist[name], color=colour, marker=marker, markersize=3,
                            linewidth=1.8, label=label)
            ax.set_title(_pretty(key))
            if f"val_{key}" in hist and best is not None and best < hist[f"val_{key}"].size:
                v = hist[f"val_{key}"][best]
                ax.annotate(f"{v:.3g}", (epochs[best], v), textcoords="offset points", xytext=(4, 6),
                            fontsize=8, color=VAL)
            ax.legend(frameon=False, fontsize=8)
        if best is not None:
            ax.axvline(epochs[best], color="0.55", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    suptitle = title or "training curves"
    if best is not None:
        suptitle += f"  (dashed: best {monitor}, epoch {int(epochs[best])})"
    fig.suptitle(suptitle, fontsize=11)
    return _save(fig, path)


def confusion_matrices(matrices: Sequence[tuple[str, np.ndarray]], class_names: Sequence[str],
                       path: str | Path) -> Path:
    """2×2 confusion matrices side by side: counts and row percentages, cells shaded by the row fraction."""
    fig = _figure(4.3 * len(matrices), 4.0)
    axes = np.atleast_1d(fig.subplots(1, len(matrices)))
    for ax, (title, cm) in zip(axes, matrices, strict=True):
        cm = np.asarray(cm, dtype=np.float64)
        rows = cm.sum(axis=1, keepdims=True)
        frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
        ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                colour = "white" if frac[i, j] > 0.55 else "0.15"
                ax.text(j, i, f"{int(cm[i, j])}\n{100 * frac[i, j]:.1f}%", ha="center", va="center",
                        fontsize=13, color=colour, fontweight="bold" if i == j else "normal")
        ticks = range(len(class_names))
        ax.set_xticks(ticks, [str(c) for c in class_names])
        ax.set_yticks(ticks, [str(c) for c in class_names], rotation=90, va="center")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10)
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle("confusion matrix (counts, % of the true class)", fontsize=11)
    return _save(fig, path)


def roc_curve(fpr: np.ndarray, tpr: np.ndarray, auc: float, auc_ci: Sequence[float | None] | None,
              points: Sequence[tuple[str, float, float]], path: str | Path) -> Path:
    """The ROC curve with its AUC (and 95% CI) and the operating points ``(label, fpr, tpr)`` marked."""
    fig = _figure(5.2, 5.0)
    ax = fig.subplots()
    _style(ax)
    ax.plot([0, 1], [0, 1], color="0.75", linestyle=":", linewidth=1)
    label = f"AUC {auc:.3f}" if auc is not None and np.isfinite(auc) else "AUC n/a"
    if auc_ci and auc_ci[0] is not None:
        label += f" [{auc_ci[0]:.3f}, {auc_ci[1]:.3f}]"
    ax.fill_between(fpr, tpr, step=None, color=TRAIN, alpha=0.08)
    ax.plot(fpr, tpr, color=TRAIN, linewidth=2, label=label)
    for (name, x, y), colour, mk in zip(points, (VAL, "#2a9d8f", "#8e44ad"), ("o", "D", "s"), strict=False):
        if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
            continue
        ax.plot([x], [y], marker=mk, markersize=9, color=colour, markeredgecolor="white", linestyle="none",
                label=f"{name}\n    sensitivity {y:.2f}, specificity {1 - x:.2f}")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (recall)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9)
    return _save(fig, path)


def score_histogram(y_true: np.ndarray, scores: np.ndarray, thresholds: Sequence[tuple[str, float]],
                    class_names: Sequence[str], path: str | Path) -> Path:
    """Histograms of ``P(positive)`` per true class, with the thresholds drawn as vertical lines."""
    fig = _figure(8.5, 3.6)
    ax = fig.subplots()
    _style(ax)
    bins = np.linspace(0, 1, 41)
    y = np.asarray(y_true).astype(bool)
    s = np.clip(np.asarray(scores, dtype=np.float64), 0, 1)
    for mask, colour, name in ((~y, TRAIN, class_names[0]), (y, VAL, class_names[1])):
        ax.hist(s[mask], bins=bins, color=colour, alpha=0.55, label=f"true {name} (n={int(mask.sum())})")
    for (label, t), style in zip(thresholds, ("--", "-.", ":"), strict=False):
        ax.axvline(t, color="0.2", linestyle=style, linewidth=1.2, label=label)
    ax.set_xlabel("P(positive)")
    ax.set_ylabel("images")
    ax.set_title("predicted probability by true class")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def _display(images: np.ndarray) -> np.ndarray:
    """Grey images to show, ``(N, H, W)`` in [0, 1]: channel 1 (FLAIR) of 3-channel slices, else channel 0.

    One intensity window (0.5 to 99.5th percentile of every slice together) serves all slices, so a slice
    without a bright lesion is not stretched to look brighter than one with.
    """
    img = np.asarray(images, dtype=np.float64)
    if img.ndim == 4:
        img = img[..., 1] if img.shape[-1] == 3 else img[..., 0]
    lo, hi = np.percentile(img, [0.5, 99.5])
    return np.clip((img - lo) / (hi - lo if hi > lo else 1.0), 0, 1)


def _overlay(grey: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float], alpha: float = 0.45) -> np.ndarray:
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    m = mask.astype(bool)
    rgb[m] = (1 - alpha) * rgb[m] + alpha * np.asarray(colour)
    return rgb


def segmentation_gallery(images: np.ndarray, true_masks: np.ndarray, probs: np.ndarray, titles: Sequence[str],
                         dice: Sequence[float], path: str | Path, threshold: float = 0.5) -> Path:
    """Rows of slices: the image (FLAIR channel in grey), the true mask over it, the predicted mask over it.

    The prediction panel also outlines the true mask, and its title gives the slice's Dice.
    """
    n = len(images)
    fig = _figure(3 * 2.6, 2.6 * n + 0.4)
    axes = np.atleast_2d(fig.subplots(n, 3))
    greys = _display(images)
    for row, (grey, t, p, title, d) in enumerate(zip(greys, true_masks, probs, titles, dice, strict=True)):
        t2 = np.asarray(t).reshape(grey.shape) > 0.5
        p2 = np.asarray(p).reshape(grey.shape) >= threshold
        ax0, ax1, ax2 = axes[row]
        ax0.imshow(grey, cmap="gray", vmin=0, vmax=1)
        ax0.set_title(title, fontsize=9)
        ax1.imshow(_overlay(grey, t2, TRUE_COLOUR))
        ax1.set_title(f"true mask ({int(t2.sum())} px)" if t2.any() else "true mask (empty)", fontsize=9)
        ax2.imshow(_overlay(grey, p2, PRED_COLOUR))
        if t2.any():
            ax2.contour(t2.astype(float), levels=[0.5], colors=[TRUE_COLOUR], linewidths=1.0)
        ax2.set_title(f"prediction: Dice {d:.2f}", fontsize=9, color="0.1" if d >= 0.5 else "#b02a1a")
        for ax in (ax0, ax1, ax2):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("green: true lesion, red: predicted (outline: true)", fontsize=10)
    return _save(fig, path)


def patient_dice_bars(patients: Sequence[str], dice: Sequence[float], lesion_slices: Sequence[int] | None,
                      path: str | Path, mean: float | None = None, ci: Sequence[float | None] | None = None) -> Path:
    """Dice per patient volume as sorted horizontal bars, coloured by Dice, with the mean (and CI) drawn."""
    from matplotlib import colormaps

    d = np.asarray(dice, dtype=np.float64)
    order = np.argsort(d)
    n = d.size
    fig = _figure(6.5, max(2.2, 0.28 * n + 1.2))
    ax = fig.subplots()
    _style(ax)
    ax.grid(False, axis="y")
    cmap = colormaps["RdYlGn"]
    ax.barh(np.arange(n), d[order], height=0.7 if n > 3 else 0.5, color=cmap(np.clip(d[order], 0, 1)),
            edgecolor="0.3", linewidth=0.4)
    labels = [str(patients[i]) + (f"  ({lesion_slices[i]} lesion sl.)" if lesion_slices is not None else "")
              for i in order]
    ax.set_yticks(np.arange(n), labels, fontsize=7 if n > 30 else 8)
    for y, v in enumerate(d[order]):
        ax.text(min(v, 1.0) + 0.01, y, f"{v:.2f}", va="center", fontsize=7)
    title = "Dice per patient volume"
    if mean is not None and np.isfinite(mean):
        title += f"\nmean {mean:.3f} (dashed)"
        if ci and ci[0] is not None:
            ax.axvspan(ci[0], ci[1], color="0.5", alpha=0.15, linewidth=0)
            title += f", 95% CI [{ci[0]:.3f}, {ci[1]:.3f}] (shaded)"
        ax.axvline(mean, color="0.2", linestyle="--", linewidth=1.2)
    ax.set_xlim(0, 1.1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("Dice per volume")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
