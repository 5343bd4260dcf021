"""Binary classification: metrics at 0.5 and at a threshold chosen for a target recall, with bootstrap CIs.

An image is called positive when ``P(positive) >= threshold``. The second operating point is the highest
threshold whose recall on a *separate* set of validation records is at least ``target_recall``; without
such records it is chosen on the evaluated records themselves, which flatters it, and the output says so.
Intervals are 95% percentile intervals over patients resampled with replacement (images when records carry
no patients); thresholds are held fixed inside the bootstrap.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.evaluation import groups_of, predict_batches, write_metrics
from medzoo.evaluation import metrics as M

RATES = ("accuracy", "precision", "recall", "specificity", "f1")


def predict(model: Any, dataset: Any, records: Sequence[Any], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Labels and ``P(positive)`` of ``records``, in record order."""
    ys, ps = [], []
    for _, y, p in predict_batches(model, dataset, records, batch_size):
        ys.append(np.asarray(y).reshape(len(y), -1)[:, 0])
        p = p.reshape(len(p), -1)
        ps.append(p[:, 1] if p.shape[1] == 2 else p[:, 0])  # (N, 2) softmax: column 1 is the positive class
    y_true, scores = np.concatenate(ys).astype(np.int64), np.concatenate(ps).astype(np.float64)
    if len(y_true) != len(records):
        raise RuntimeError(f"the pipeline gave {len(y_true)} examples for {len(records)} records")
    return y_true, scores


def _operating_point(y_true: np.ndarray, scores: np.ndarray, threshold: float, groups: Any, n_boot: int,
                     seed: int) -> dict[str, Any]:
    point = M.binary_metrics(y_true, scores, threshold)
    pred = scores >= threshold
    indicators = {"tn": ~y_true.astype(bool) & ~pred, "fp": ~y_true.astype(bool) & pred,
                  "fn": y_true.astype(bool) & ~pred, "tp": y_true.astype(bool) & pred}

    def stat(w: np.ndarray) -> dict[str, np.ndarray]:
        return M.rates_from_counts(**{k: w @ v.astype(np.float64) for k, v in indicators.items()})

    ci = M.bootstrap(stat, groups, len(y_true), n_boot, seed) if n_boot else {}
    out: dict[str, Any] = {"threshold": float(threshold)}
    for name in RATES:
        out[name] = {"value": point[name], "ci95": ci.get(name, [None, None])}
    out["confusion_matrix"] = [[point["tn"], point["fp"]], [point["fn"], point["tp"]]]
    out.update({k: point[k] for k in ("tn", "fp", "fn", "tp")})
    return out


def compute(y_true: Any, scores: Any, groups: Sequence[Any] | None = None, *, val_true: Any = None,
            val_scores: Any = None, target_recall: float = 0.95, n_boot: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """All classification metrics from labels and scores (no model): the core of :func:`evaluate`.

    Args:
        y_true: 0/1 labels.
        scores: ``P(positive)``, same length.
        groups: one id per example (the patient) for the bootstrap; ``None`` resamples examples.
        val_true: labels of separate validation examples to choose the target-recall threshold on.
        val_scores: their scores. Without them the threshold is chosen on ``y_true``/``scores`` (optimistic).
        target_recall: the recall the second operating point must reach.
        n_boot: bootstrap resamples (0: no intervals).
        seed: bootstrap seed.
    """
    y = np.asarray(y_true).ravel().astype(np.int64)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("no examples to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got values {sorted(set(y.tolist()))}")
    n_groups = len(set(groups)) if groups is not None else y.size
    resampled = "patients" if groups is not None and n_groups < y.size else "images"
    notes = []

    separate = val_true is not None and val_scores is not None
    choose_y = np.asarray(val_true).ravel() if separate else y
    choose_s = np.asarray(val_scores, dtype=np.float64).ravel() if separate else s
    try:
        chosen = M.threshold_for_recall(choose_y, choose_s, target_recall)
    except ValueError as exc:
        chosen = None
        notes.append(f"no target-recall threshold: {exc}")
    if not separate:
        notes.append("the target-recall threshold was chosen on the evaluated records themselves, so its "
                      "metrics are optimistic; pass separate validation records to choose it fairly")

    auc = M.roc_auc(y, s)
    auc_ci = M.bootstrap(lambda w: M.weighted_auc(y, s, w), groups, y.size, n_boot, seed)["value"] if n_boot \
        else [None, None]
    points = {"default": _operating_point(y, s, 0.5, groups, n_boot, seed)}
    if chosen is not None:
        tr = _operating_point(y, s, chosen, groups, n_boot, seed)
        tr.update({"target_recall": float(target_recall), "optimistic": not separate,
                   "chosen_on": (f"separate validation records (n={choose_y.size}, "
                                 f"{int(np.sum(choose_y == 1))} positive)") if separate
                   else "the evaluated records (optimistic)"})
        points["target_recall"] = tr
    fpr, tpr, thr = M.roc_curve(y, s)
    return {
        "task": "classification",
        "n": int(y.size), "n_positive": int(np.sum(y == 1)), "n_negative": int(np.sum(y == 0)),
        "n_patients": int(n_groups),
        "rule": "an image is positive when P(positive) >= threshold",
        "auc": {"value": auc, "ci95": auc_ci},
        "operating_points": points,
        "bootstrap": {"n_boot": int(n_boot), "seed": int(seed), "level": 0.95, "resampled": resampled,
                      "method": "percentile; thresholds held fixed"},
        "roc": {"fpr": fpr, "tpr": tpr, "thresholds": thr},
        "notes": notes,
    }


def evaluate(model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
             val_records: Sequence[Any] | None = None, target_recall: float = 0.95, n_boot: int = 1000,
             seed: int = 0, batch_size: int = 32, figures: bool = True, shift: bool = False) -> dict[str, Any]:
    """Evaluate a binary classifier on ``records`` of ``dataset``.

    Args:
        model: a ``keras.Model`` mapping raw images to ``P(positive)``, shape ``(N, 1)``.
        dataset: the :class:`medzoo.data.Dataset` the records come from (its pipeline feeds the model).
        records: the records to evaluate.
        out: where to write ``metrics.json``, ``predictions.csv`` and ``figures/``; ``None`` writes nothing.
        val_records: separate validation records on which to choose the target-recall threshold.
        target_recall: recall the second operating point must reach on ``val_records`` (default 0.95).
        n_boot: bootstrap resamples for the 95% intervals (0: none).
        seed: bootstrap seed.
        batch_size: inference batch size.
        figures: draw the confusion matrices, ROC curve and score histogram.
        shift: also run the shift check (:mod:`medzoo.shift`): the same records under fixed acquisition
            perturbations, scored at threshold 0.5; stored under ``"shift_check"``.

    Returns:
        The metrics dict (also written to ``out/metrics.json``).
    """
    records = list(records)
    y, s = predict(model, dataset, records, batch_size)
    vy = vs = None
    if val_records:
        vy, vs = predict(model, dataset, list(val_records), batch_size)
    groups, _ = groups_of(records)
    result = compute(y, s, groups, val_true=vy, val_scores=vs, target_recall=target_recall, n_boot=n_boot, seed=seed)
    names = list(getattr(dataset, "class_names", None) or ("negative", "positive"))
    result["class_names"] = names
    if shift:
        from medzoo.shift import shift_check

        result["shift_check"] = shift_check(model, dataset, records, threshold=0.5, batch_size=batch_size)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "predictions.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "patient", "label", "p_positive"])
            for r, yi, si in zip(records, y, s, strict=True):
                w.writerow([r.image, r.patient, int(yi), f"{si:.6f}"])
        if figures:
            result["figures"] = draw(result, y, s, out / "figures")
        write_metrics(out, result)
    return result


def point_label(key: str, point: dict[str, Any]) -> str:
    """A short name for an operating point: ``"threshold 0.5"`` or ``"t=0.404 (recall ≥ 0.95 on val)"``."""
    if key != "target_recall":
        return f"threshold {point['threshold']:.3g}"
    where = "optimistic: on these records" if point.get("optimistic") else "chosen on val"
    return f"threshold {point['threshold']:.3g} (recall ≥ {point['target_recall']:.2g}, {where})"


def draw(result: dict[str, Any], y: np.ndarray, s: np.ndarray, folder: Path) -> list[str]:
    """Confusion matrices, ROC curve and score histogram of ``result`` into ``folder``; returns the file names."""
    from medzoo import figures as F

    folder.mkdir(parents=True, exist_ok=True)
    names = result.get("class_names", ["negative", "positive"])
    pts = result["operating_points"]
    labels = {k: point_label(k, p) for k, p in pts.items()}
    mats = [(labels[k], np.array(p["confusion_matrix"])) for k, p in pts.items()]
    made = [F.confusion_matrices(mats, names, folder / "confusion_matrix.png")]
    ops = [(labels[k], 1 - p["specificity"]["value"], p["recall"]["value"]) for k, p in pts.items()]
    roc = result["roc"]
    made.append(F.roc_curve(np.asarray(roc["fpr"]), np.asarray(roc["tpr"]), result["auc"]["value"],
                            result["auc"]["ci95"], ops, folder / "roc.png"))
    made.append(F.score_histogram(y, s, [(labels[k], p["threshold"]) for k, p in pts.items()], names,
                                  folder / "scores.png"))
    return [p.name for p in made]


def _fmt(m: dict[str, Any]) -> str:
    v, ci = m["value"], m.get("ci95") or [None, None]
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if ci[0] is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of ``result`` (what :func:`evaluate` returns)."""
    pts = result["operating_points"]
    cols = [("threshold 0.5", pts["default"])]
    if "target_recall" in pts:
        p = pts["target_recall"]
        cols.append((f"recall>={p['target_recall']:.2f}" + ("*" if p.get("optimistic") else ""), p))
    boot = result["bootstrap"]
    lines = [f"classification: {result['n']} images ({result['n_positive']} positive, {result['n_negative']} "
             f"negative), {result['n_patients']} {'patients' if boot['resampled'] == 'patients' else 'groups'}",
             f"ROC AUC {_fmt(result['auc'])}   (95% CI: {boot['n_boot']} bootstrap resamples of "
             f"{boot['resampled']}, seed {boot['seed']})", ""]
    width = 34
    lines.append(f"{'metric':<12}" + "".join(f"{name:>{width}}" for name, _ in cols))
    lines.append(f"{'threshold':<12}" + "".join(f"{p['threshold']:>{width}.4f}" for _, p in cols))
    for name in RATES:
        lines.append(f"{name:<12}" + "".join(f"{_fmt(p[name]):>{width}}" for _, p in cols))
    lines.append(f"{'tn fp fn tp':<12}" + "".join(
        f"{'{} {} {} {}'.format(p['tn'], p['fp'], p['fn'], p['tp']):>{width}}" for _, p in cols))
    if "target_recall" in pts:
        lines.append(f"recall-target threshold chosen on {pts['target_recall']['chosen_on']}")
    for note in result.get("notes", []):
        lines.append(f"* {note}")
    if "shift_check" in result:
        from medzoo.shift import format_shift

        lines += ["", format_shift(result["shift_check"])]
    return "\n".join(lines)
