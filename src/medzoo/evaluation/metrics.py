"""Metric functions on numpy arrays: binary classification, ROC, Dice/IoU, threshold choice, bootstrap.

Conventions, used everywhere in medzoo's evaluation:

* an image (or a pixel) is called positive when its probability is **>= threshold**;
* Dice and IoU of two empty masks are **1** (nothing to find, nothing found); an empty truth with a
  non-empty prediction (or the reverse) gives 0;
* a ratio whose denominator is 0 (precision with no predicted positives, recall with no positives) is
  ``nan``, written as ``null`` in ``metrics.json``;
* bootstrap intervals are percentile intervals over resampled *groups* (patients), seeded, so the same
  call gives the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

EMPTY_CONVENTION = ("Dice and IoU are 1 when the true and the predicted mask are both empty, and 0 when exactly "
                    "one of them is empty.")


def safe_ratio(num: Any, den: Any) -> Any:
    """``num / den`` elementwise with ``nan`` where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out if out.ndim else float(out)


def confusion_counts(y_true: Any, y_pred: Any) -> dict[str, int]:
    """Counts ``tn, fp, fn, tp`` of binary labels ``y_true`` against binary predictions ``y_pred``."""
    t = np.asarray(y_true).ravel().astype(bool)
    p = np.asarray(y_pred).ravel().astype(bool)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    return {"tn": int(np.sum(~t & ~p)), "fp": int(np.sum(~t & p)), "fn": int(np.sum(t & ~p)), "tp": int(np.sum(t & p))}


def confusion_matrix(y_true: Any, y_pred: Any) -> np.ndarray:
    """The 2×2 confusion matrix ``[[tn, fp], [fn, tp]]`` (rows: truth, columns: prediction)."""
    c = confusion_counts(y_true, y_pred)
    return np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=np.int64)


def rates_from_counts(tn: Any, fp: Any, fn: Any, tp: Any) -> dict[str, Any]:
    """Accuracy, precision, recall (sensitivity), specificity and F1 from counts (scalars or arrays)."""
    tn, fp, fn, tp = (np.asarray(v, dtype=np.float64) for v in (tn, fp, fn, tp))
    return {
        "accuracy": safe_ratio(tp + tn, tp + tn + fp + fn),
        "precision": safe_ratio(tp, tp + fp),
        "recall": safe_ratio(tp, tp + fn),
        "specificity": safe_ratio(tn, tn + fp),
        "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
    }


def binary_metrics(y_true: Any, scores: Any, threshold: float = 0.5) -> dict[str, Any]:
    """Counts and rates of the predictions ``scores >= threshold`` against ``y_true``."""
    counts = confusion_counts(y_true, np.asarray(scores) >= threshold)
    return {"threshold": float(threshold), **rates_from_counts(**counts), **counts}


def roc_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: ``(fpr, tpr, thresholds)``, from (0, 0) at threshold ``inf`` to (1, 1).

    Point ``k`` is the rate pair of the predictions ``scores >= thresholds[k]``.
    """
    t = np.asarray(y_true).ravel().astype(bool)
    s = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(-s, kind="mergesort")
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.array([], dtype=int)
    tps = np.cumsum(t)[last]
    fps = np.cumsum(~t)[last]
    n_pos, n_neg = t.sum(), (~t).sum()
    tpr = np.r_[0.0, tps / n_pos] if n_pos else np.full(last.size + 1, np.nan)
    fpr = np.r_[0.0, fps / n_neg] if n_neg else np.full(last.size + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve: P(score of a random positive > that of a random negative), ties count ½.

    ``nan`` when only one class is present.
    """
    t = np.asarray(y_true).ravel().astype(bool)
    s = np.asarray(scores, dtype=np.float64).ravel()
    return float(weighted_auc(t, s, np.ones((1, s.size)))[0])


def weighted_auc(y_true: Any, scores: Any, weights: np.ndarray) -> np.ndarray:
    """ROC AUC for each row of ``weights`` (``(B, N)`` multiplicities of the N examples), vectorised.

    With integer weights this is the AUC of the data set in which example ``i`` appears ``weights[b, i]``
    times, which is what a bootstrap needs. Ties between a positive and a negative count ½.
    """
    t = np.asarray(y_true).ravel().astype(bool)
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    uniq, group = np.unique(s, return_inverse=True)
    n_groups = uniq.size
    b = w.shape[0]
    neg_w = w * ~t
    offsets = (np.arange(b)[:, None] * n_groups + group[None, :]).ravel()
    neg_per_group = np.bincount(offsets, weights=neg_w.ravel(), minlength=b * n_groups).reshape(b, n_groups)
    neg_below = np.cumsum(neg_per_group, axis=1) - neg_per_group  # negatives with a strictly lower score
    wins = neg_below[:, group] + 0.5 * neg_per_group[:, group]  # (B, N): for each example as a positive
    num = np.sum(w * t * wins, axis=1)
    den = np.sum(w * t, axis=1) * np.sum(neg_w, axis=1)
    return np.asarray(safe_ratio(num, den), dtype=np.float64).reshape(b)


def threshold_for_recall(y_true: Any, scores: Any, target: float = 0.95) -> float:
    """The highest threshold whose recall (``scores >= threshold``) is at least ``target``.

    It is the ``ceil(target · n_pos)``-th highest score among the positives: a higher threshold would
    miss one of those. Raises ``ValueError`` when there is no positive.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target recall must be in (0, 1], got {target}")
    t = np.asarray(y_true).ravel().astype(bool)
    pos = np.sort(np.asarray(scores, dtype=np.float64).ravel()[t])[::-1]
    if pos.size == 0:
        raise ValueError("cannot choose a threshold for a target recall without positive examples")
    k = max(1, math.ceil(target * pos.size - 1e-9))
    return float(pos[k - 1])


def dice_iou_from_sums(inter: Any, sum_true: Any, sum_pred: Any) -> tuple[Any, Any]:
    """Dice ``2I / (T + P)`` and IoU ``I / (T + P - I)``; both 1 where ``T + P == 0`` (both masks empty)."""
    inter = np.asarray(inter, dtype=np.float64)
    total = np.asarray(sum_true, dtype=np.float64) + np.asarray(sum_pred, dtype=np.float64)
    empty = total <= 0
    safe = np.where(empty, 1.0, total)
    dice = np.where(empty, 1.0, 2.0 * inter / safe)
    union = np.where(empty, 1.0, total - inter)
    iou = np.where(empty, 1.0, inter / union)
    return (dice, iou) if dice.ndim else (float(dice), float(iou))


def mask_sums(y_true: Any, y_prob: Any, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice (first axis): intersection, true pixels and predicted pixels (``prob >= threshold``)."""
    t = np.asarray(y_true) > 0.5
    p = np.asarray(y_prob) >= threshold
    n = t.shape[0]
    t, p = t.reshape(n, -1), p.reshape(n, -1)
    return (np.sum(t & p, axis=1).astype(np.float64), np.sum(t, axis=1).astype(np.float64),
            np.sum(p, axis=1).astype(np.float64))


def dice_per_slice(y_true: Any, y_prob: Any, threshold: float = 0.5) -> np.ndarray:
    """Dice of each slice (first axis) of thresholded predictions, 1 where both masks are empty."""
    return np.asarray(dice_iou_from_sums(*mask_sums(y_true, y_prob, threshold))[0], dtype=np.float64)


def volume_sums(groups: Sequence[Any], inter: Any, sum_true: Any, sum_pred: Any) -> dict[str, np.ndarray]:
    """Sum slice-level intersections and mask sizes per group (patient volume), groups in sorted order."""
    ids, inv = np.unique(np.asarray(groups), return_inverse=True)
    n = ids.size
    return {"groups": ids, "inter": np.bincount(inv, weights=inter, minlength=n),
            "sum_true": np.bincount(inv, weights=sum_true, minlength=n),
            "sum_pred": np.bincount(inv, weights=sum_pred, minlength=n),
            "slices": np.bincount(inv, minlength=n).astype(np.float64)}


def dice_per_volume(groups: Sequence[Any], y_true: Any, y_prob: Any, threshold: float = 0.5) -> dict[Any, float]:
    """Dice per patient volume (Buda et al.): the patient's slices' intersections and sums added up first."""
    v = volume_sums(groups, *mask_sums(y_true, y_prob, threshold))
    dice, _ = dice_iou_from_sums(v["inter"], v["sum_true"], v["sum_pred"])
    dice = np.atleast_1d(dice)
    return {g.item() if hasattr(g, "item") else g: float(d) for g, d in zip(v["groups"], dice, strict=True)}


def group_counts(groups: Sequence[Any] | None, n: int, n_boot: int = 1000,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap multiplicities: ``(inverse, counts)`` where ``counts[b, g]`` is how often group ``g`` is drawn.

    ``groups`` (one id per example, e.g. the patient) are resampled with replacement, as many as there
    are groups; ``None`` resamples the examples themselves. ``inverse[i]`` is example ``i``'s group.
    """
    if groups is None:
        inverse = np.arange(n)
    else:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        if inverse.size != n:
            raise ValueError(f"{inverse.size} group ids for {n} examples")
    n_groups = int(inverse.max()) + 1 if n else 0
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    offsets = (np.arange(n_boot)[:, None] * n_groups + draws).ravel()
    counts = np.bincount(offsets, minlength=n_boot * n_groups).reshape(n_boot, n_groups)
    return inverse, counts.astype(np.float64)


def percentile_interval(samples: Any, level: float = 0.95) -> list[float | None]:
    """The ``level`` percentile interval of bootstrap ``samples`` (``nan`` samples dropped)."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return [None, None]
    lo, hi = np.percentile(s, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def bootstrap(statistic: Callable[[np.ndarray], Any], groups: Sequence[Any] | None, n: int, n_boot: int = 1000,
              seed: int = 0, level: float = 0.95, chunk: int = 250) -> dict[str, list[float | None]]:
    """Percentile intervals of ``statistic`` under a (grouped) bootstrap.

    ``statistic(weights)`` gets a ``(B, n)`` array of example multiplicities (a whole patient's examples
    share its draw count) and returns ``{name: (B,) array}`` or a ``(B,)`` array (named ``"value"``). It
    runs in chunks of ``chunk`` resamples to bound memory.
    """
    inverse, counts = group_counts(groups, n, n_boot, seed)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_boot, chunk):
        out = statistic(counts[start:start + chunk][:, inverse])
        if not isinstance(out, dict):
            out = {"value": out}
        for k, v in out.items():
            parts.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
    return {k: percentile_interval(np.concatenate(v), level) for k, v in parts.items()}


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python ones and ``nan``/``inf`` into ``None``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
