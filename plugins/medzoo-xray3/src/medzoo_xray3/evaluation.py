"""Multi-class evaluation: accuracy, per-class precision / recall / one-vs-rest ROC AUC, macro-AUC, the K×K
confusion matrix, with 95% intervals over patients resampled with replacement.

An image's predicted class is the one of highest probability (argmax); nothing is tuned on data. Pure numpy on
top of :mod:`medzoo.evaluation.metrics`, so it is tested without a model.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.evaluation import groups_of, predict_batches, write_metrics
from medzoo.evaluation import metrics as M

RULE = "an image's class is the one of highest probability (argmax); no threshold is chosen on data"


def predict(model: Any, dataset: Any, records: Sequence[Any], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(N,)`` and class probabilities ``(N, K)`` of ``records``, in record order."""
    ys, ps = [], []
    for _, y, p in predict_batches(model, dataset, records, batch_size):
        ys.append(np.asarray(y).reshape(len(y), -1)[:, 0])
        ps.append(p.reshape(len(p), -1))
    y_true, probs = np.concatenate(ys).astype(np.int64), np.concatenate(ps).astype(np.float64)
    if len(y_true) != len(records):
        raise RuntimeError(f"the pipeline gave {len(y_true)} examples for {len(records)} records")
    return y_true, probs


def _counts(w: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Weighted ``tp, fp, fn`` of class ``k`` for each row of ``w`` ``(B, N)``."""
    t, p = y == k, pred == k
    return w @ (t & p).astype(np.float64), w @ (~t & p).astype(np.float64), w @ (t & ~p).astype(np.float64)


def compute(y_true: Any, probs: Any, groups: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
            *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every multi-class metric from labels ``(N,)`` in ``0..K-1`` and probabilities ``(N, K)`` (no model).

    ``groups`` (one patient id per example) are what the bootstrap resamples; ``None`` resamples images.
    A class absent from ``y_true`` has no recall or AUC (``None``); macro-AUC averages the classes that have one.
    """
    y = np.asarray(y_true).ravel().astype(np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if y.size == 0:
        raise ValueError("no examples to evaluate")
    if p.ndim != 2 or p.shape[0] != y.size:
        raise ValueError(f"probabilities of shape {p.shape} for {y.size} labels; expected ({y.size}, K)")
    k = p.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a model with {k} outputs")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must be in 0..{k - 1}, got values {sorted(set(y.tolist()))}")
    pred = p.argmax(axis=1)
    ones = np.ones((1, y.size))

    def stat(w: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"accuracy": M.safe_ratio(w @ (pred == y).astype(np.float64), w.sum(axis=1))}
        aucs = []
        for c in range(k):
            tp, fp, fn = _counts(w, y, pred, c)
            out[f"{c}.precision"] = M.safe_ratio(tp, tp + fp)
            out[f"{c}.recall"] = M.safe_ratio(tp, tp + fn)
            out[f"{c}.auc"] = M.weighted_auc(y == c, p[:, c], w)
            aucs.append(out[f"{c}.auc"])
        with np.errstate(invalid="ignore"):
            stacked = np.vstack(aucs)
            finite = np.isfinite(stacked)
            out["macro_auc"] = np.where(finite.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(
                finite.sum(axis=0), 1), np.nan)
        return out

    point = {name: np.atleast_1d(v)[0] for name, v in stat(ones).items()}
    ci = M.bootstrap(stat, groups, y.size, n_boot, seed) if n_boot else {}

    def metric(name: str) -> dict[str, Any]:
        value = float(point[name])
        return {"value": value if np.isfinite(value) else None, "ci95": ci.get(name, [None, None])}

    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    n_groups = len(set(groups)) if groups is not None else y.size
    return {
        "task": "multiclass",
        "n": int(y.size), "n_patients": int(n_groups), "class_names": names,
        "class_counts": {names[c]: int(np.sum(y == c)) for c in range(k)},
        "rule": RULE,
        "accuracy": metric("accuracy"),
        "macro_auc": metric("macro_auc"),
        "per_class": {names[c]: {m: metric(f"{c}.{m}") for m in ("precision", "recall", "auc")} for c in range(k)},
        "confusion_matrix": cm.tolist(),
        "bootstrap": {"n_boot": int(n_boot), "seed": int(seed), "level": 0.95,
                      "resampled": "patients" if groups is not None and n_groups < y.size else "images",
                      "method": "percentile; AUC one-vs-rest per class, macro = their mean"},
    }


def evaluate(model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
             n_boot: int = 1000, seed: int = 0, batch_size: int = 32, figures: bool = True) -> dict[str, Any]:
    """Evaluate a multi-class model on ``records`` of ``dataset``; with ``out``, write ``metrics.json``,
    ``predictions.csv`` and ``figures/confusion_matrix.png``."""
    records = list(records)
    y, p = predict(model, dataset, records, batch_size)
    groups, _ = groups_of(records)
    names = list(getattr(dataset, "class_names", None) or range(p.shape[1]))
    result = compute(y, p, groups, [str(n) for n in names], n_boot=n_boot, seed=seed)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "predictions.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "patient", "label", "predicted", *(f"p_{n}" for n in result["class_names"])])
            for r, yi, pi in zip(records, y, p, strict=True):
                w.writerow([r.image, r.patient, int(yi), int(pi.argmax()), *(f"{v:.6f}" for v in pi)])
        if figures:
            result["figures"] = draw(result, out / "figures")
        write_metrics(out, result)
    return result


def draw(result: dict[str, Any], folder: Path) -> list[str]:
    """The K×K confusion matrix (counts and % of the true class) into ``folder``; returns the file names."""
    from medzoo import figures as F

    folder.mkdir(parents=True, exist_ok=True)
    title = f"argmax; accuracy {_fmt(result['accuracy'])}"
    path = F.confusion_matrices([(title, np.array(result["confusion_matrix"]))], result["class_names"],
                                folder / "confusion_matrix.png")
    return [path.name]


def _fmt(m: dict[str, Any]) -> str:
    v, ci = m["value"], m.get("ci95") or [None, None]
    if v is None:
        return "n/a"
    return f"{v:.3f}" if ci[0] is None else f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of ``result`` (what :func:`evaluate` returns)."""
    boot = result["bootstrap"]
    names = result["class_names"]
    counts = ", ".join(f"{result['class_counts'][n]} {n}" for n in names)
    width = 26
    lines = [f"multiclass: {result['n']} images ({counts}), {result['n_patients']} {boot['resampled']}",
             f"macro ROC AUC {_fmt(result['macro_auc'])}   accuracy {_fmt(result['accuracy'])}",
             f"(95% CI: {boot['n_boot']} bootstrap resamples of {boot['resampled']}, seed {boot['seed']}; "
             f"{result['rule']})", "",
             f"{'class':<12}" + "".join(f"{m:>{width}}" for m in ("precision", "recall", "AUC (one-vs-rest)"))]
    for n in names:
        row = result["per_class"][n]
        lines.append(f"{n:<12}" + "".join(f"{_fmt(row[m]):>{width}}" for m in ("precision", "recall", "auc")))
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              f"{'':<12}" + "".join(f"{n:>10}" for n in names)]
    for n, row in zip(names, result["confusion_matrix"], strict=True):
        lines.append(f"{n:<12}" + "".join(f"{v:>10}" for v in row))
    return "\n".join(lines)
