"""Binary segmentation: Dice per slice and per patient volume, IoU, bootstrap CIs over patients, figures.

A pixel is lesion when its probability is ``>= threshold`` (0.5). **Dice per volume** follows Buda et al.
(2019): a patient's intersections and mask sizes are added up over all of its slices before the ratio, and
the volumes' Dice values are averaged over patients. Empty masks: Dice and IoU are 1 when the true and the
predicted mask are both empty, 0 when only one is (see :data:`medzoo.evaluation.metrics.EMPTY_CONVENTION`).
Intervals are 95% percentile intervals over patients resampled with replacement.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.evaluation import groups_of, predict_batches, write_metrics
from medzoo.evaluation import metrics as M

SUMMARY = ("dice_per_volume", "iou_per_volume", "dice_per_slice", "dice_per_lesion_slice", "dice_global")


def slice_sums(model: Any, dataset: Any, records: Sequence[Any], threshold: float = 0.5,
               batch_size: int = 16, postprocess: Any = None) -> dict[str, np.ndarray]:
    """Per slice, in record order: intersection, true and predicted pixel counts (streamed batch by batch).

    With ``postprocess`` (a :class:`medzoo.volumes.Postprocess` or its text), each patient's predicted slices
    are stacked into a volume and cleaned in 3-D before counting (a patient's records must be contiguous, as
    the datasets list them); the counts without it come back too, as ``raw_inter`` and ``raw_sum_pred``.
    """
    from medzoo.volumes import Postprocess, keep_components

    post = Postprocess.parse(postprocess)
    inter, true, pred, raw_inter, raw_pred = [], [], [], [], []
    volume: list[tuple[np.ndarray, np.ndarray]] = []
    patients = [getattr(r, "patient", "") for r in records]
    seen: set[str] = set()

    def flush() -> None:
        if not volume:
            return
        kept = keep_components(np.concatenate([v[1] for v in volume]), post)
        i, _, q = M.mask_sums(np.concatenate([v[0] for v in volume]), kept, 0.5)  # kept is already thresholded
        inter.append(i)
        pred.append(q)
        volume.clear()

    done = 0
    for _, y, prob in predict_batches(model, dataset, records, batch_size):
        i, t, q = M.mask_sums(y, prob, threshold)
        true.append(t)
        raw_inter.append(i)
        raw_pred.append(q)
        if post is None:
            continue
        for k in range(len(y)):
            patient = patients[done + k]
            if volume and patient != patients[done + k - 1]:
                flush()
            if patient in seen and not volume:
                raise ValueError(f"records of patient {patient!r} are not contiguous; cannot rebuild its volume")
            seen.add(patient)
            volume.append((y[k:k + 1, ..., 0], prob[k:k + 1, ..., 0] >= threshold))
        done += len(y)
    flush()
    out = {"sum_true": np.concatenate(true)}
    if post is None:
        out.update(inter=np.concatenate(raw_inter), sum_pred=np.concatenate(raw_pred))
    else:
        out.update(inter=np.concatenate(inter), sum_pred=np.concatenate(pred),
                   raw_inter=np.concatenate(raw_inter), raw_sum_pred=np.concatenate(raw_pred))
    if out["inter"].size != len(records):
        raise RuntimeError(f"the pipeline gave {out['inter'].size} slices for {len(records)} records")
    return out


def compute(patients: Sequence[Any], inter: Any, sum_true: Any, sum_pred: Any, *, n_boot: int = 1000,
            seed: int = 0, threshold: float = 0.5) -> dict[str, Any]:
    """All segmentation metrics from per-slice sums (no model): the core of :func:`evaluate`.

    Args:
        patients: the patient of each slice (volumes and bootstrap groups).
        inter: per-slice intersection of the true and the predicted mask (pixels).
        sum_true: per-slice true-mask pixels.
        sum_pred: per-slice predicted-mask pixels.
        n_boot: bootstrap resamples over patients (0: no intervals).
        seed: bootstrap seed.
        threshold: the probability threshold the sums were made with (recorded in the output).
    """
    inter, sum_true, sum_pred = (np.asarray(a, dtype=np.float64).ravel() for a in (inter, sum_true, sum_pred))
    patients = np.asarray([str(p) for p in patients])
    if inter.size == 0:
        raise ValueError("no slices to evaluate")
    dice_s, iou_s = (np.atleast_1d(a) for a in M.dice_iou_from_sums(inter, sum_true, sum_pred))
    lesion = sum_true > 0
    vol = M.volume_sums(patients, inter, sum_true, sum_pred)
    dice_v, iou_v = (np.atleast_1d(a) for a in M.dice_iou_from_sums(vol["inter"], vol["sum_true"], vol["sum_pred"]))
    first = np.array([np.flatnonzero(patients == g)[0] for g in vol["groups"]])
    inverse = np.unique(patients, return_inverse=True)[1]
    lesion_slices = np.bincount(inverse, weights=lesion, minlength=vol["groups"].size)

    def stats(w: np.ndarray) -> dict[str, np.ndarray]:
        c = w[:, first]  # how often each patient was drawn
        return {
            "dice_per_volume": M.safe_ratio(c @ dice_v, c.sum(1)),
            "iou_per_volume": M.safe_ratio(c @ iou_v, c.sum(1)),
            "dice_per_slice": M.safe_ratio(w @ dice_s, w.sum(1)),
            "dice_per_lesion_slice": M.safe_ratio(w @ (dice_s * lesion), w @ lesion.astype(np.float64)),
            "dice_global": M.dice_iou_from_sums(w @ inter, w @ sum_true, w @ sum_pred)[0],
        }

    point = {k: float(np.asarray(v)[0]) for k, v in stats(np.ones((1, inter.size))).items()}
    ci = M.bootstrap(stats, patients, inter.size, n_boot, seed) if n_boot else {}
    empty = ~lesion
    fp_slices = int(np.sum(empty & (sum_pred > 0)))
    per_patient = [
        {"patient": str(g), "slices": int(vol["slices"][k]), "lesion_slices": int(lesion_slices[k]),
         "true_pixels": int(vol["sum_true"][k]), "pred_pixels": int(vol["sum_pred"][k]),
         "intersection": int(vol["inter"][k]), "dice": float(dice_v[k]), "iou": float(iou_v[k])}
        for k, g in enumerate(vol["groups"])
    ]
    return {
        "task": "segmentation",
        "n_slices": int(inter.size), "n_lesion_slices": int(lesion.sum()), "n_patients": int(vol["groups"].size),
        "threshold": float(threshold),
        "rule": "a pixel is lesion when its probability >= threshold",
        **{k: {"value": point[k], "ci95": ci.get(k, [None, None])} for k in SUMMARY},
        "empty_slices_with_prediction": {"count": fp_slices, "of": int(empty.sum()),
                                         "fraction": M.safe_ratio(fp_slices, empty.sum())},
        "lesion_slices_missed": {"count": int(np.sum(lesion & (sum_pred == 0))), "of": int(lesion.sum())},
        "definitions": {
            "dice_per_volume": "per patient: 2·ΣI / (ΣT + ΣP) over all its slices; then the mean over patients "
                               "(Buda et al. 2019)",
            "iou_per_volume": "per patient: ΣI / (ΣT + ΣP − ΣI) over its slices; mean over patients",
            "dice_per_slice": "Dice of each slice, mean over all slices (empty ones included)",
            "dice_per_lesion_slice": "Dice of each slice, mean over slices whose true mask is not empty",
            "dice_global": "2·ΣI / (ΣT + ΣP) over every pixel of every slice",
            "empty_masks": M.EMPTY_CONVENTION,
        },
        "bootstrap": {"n_boot": int(n_boot), "seed": int(seed), "level": 0.95, "resampled": "patients",
                      "method": "percentile"},
        "per_patient": per_patient,
    }


def _gallery_choice(dice: np.ndarray, sum_true: np.ndarray, sum_pred: np.ndarray, rows: int,
                    seed: int) -> list[int]:
    """Slices to show: lesion slices spread from the best to the worst Dice, plus two without a lesion."""
    lesion = np.flatnonzero(sum_true > 0)
    empty = np.flatnonzero(sum_true == 0)
    n_empty = min(2, empty.size, max(rows - 1, 0)) if lesion.size else min(rows, empty.size)
    n_lesion = min(rows - n_empty, lesion.size)
    chosen: list[int] = []
    if n_lesion:
        order = lesion[np.lexsort((-sum_true[lesion], -dice[lesion]))]  # best first; larger lesions first on ties
        picks = np.unique(np.round(np.linspace(0, order.size - 1, n_lesion)).astype(int))
        chosen += order[picks].tolist()
    if n_empty:
        worst = empty[np.argmax(sum_pred[empty])]  # the empty slice with the most false-positive pixels
        chosen.append(int(worst))
        rest = empty[empty != worst]
        if n_empty > 1 and rest.size:
            chosen.append(int(np.random.default_rng(seed).choice(rest)))
    return chosen


def evaluate(model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
             threshold: float = 0.5, n_boot: int = 1000, seed: int = 0, batch_size: int = 16,
             figures: bool = True, gallery_rows: int = 6, postprocess: Any = None) -> dict[str, Any]:
    """Evaluate a binary segmentation model on ``records`` of ``dataset``.

    Args:
        model: a ``keras.Model`` mapping raw images ``(N, H, W, C)`` to probabilities ``(N, H, W, 1)``.
        dataset: the :class:`medzoo.data.Dataset` the records come from.
        records: slices to evaluate; ``Record.patient`` groups them into volumes, ``Record.index`` orders them.
        out: where to write ``metrics.json``, ``slices.csv`` and ``figures/``; ``None`` writes nothing.
        threshold: probability threshold of a lesion pixel.
        n_boot: bootstrap resamples over patients (0: no intervals).
        seed: bootstrap and gallery seed.
        batch_size: inference batch size.
        figures: draw the gallery and the per-patient Dice chart.
        gallery_rows: slices in the gallery.
        postprocess: clean each patient's predicted volume in 3-D first (``"largest"``, ``"min:N"``; see
            :mod:`medzoo.volumes`); the metrics without it are kept under ``"without_postprocess"``.

    Returns:
        The metrics dict (also written to ``out/metrics.json``).
    """
    records = list(records)
    sums = slice_sums(model, dataset, records, threshold, batch_size, postprocess)
    raw = {"inter": sums.pop("raw_inter", None), "sum_pred": sums.pop("raw_sum_pred", None)}
    groups, _ = groups_of(records)
    patients = groups if groups is not None else [str(i) for i in range(len(records))]
    result = compute(patients, **sums, n_boot=n_boot, seed=seed, threshold=threshold)
    if raw["inter"] is not None:
        from medzoo.volumes import Postprocess

        result["postprocess"] = str(Postprocess.parse(postprocess))
        before = compute(patients, raw["inter"], sums["sum_true"], raw["sum_pred"], n_boot=n_boot, seed=seed,
                         threshold=threshold)
        result["without_postprocess"] = {k: before[k] for k in (*SUMMARY, "empty_slices_with_prediction",
                                                                "lesion_slices_missed", "per_patient")}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        dice_s = np.atleast_1d(M.dice_iou_from_sums(sums["inter"], sums["sum_true"], sums["sum_pred"])[0])
        with (out / "slices.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "patient", "index", "true_pixels", "pred_pixels", "intersection", "dice"])
            for r, i, t, p, d in zip(records, sums["inter"], sums["sum_true"], sums["sum_pred"], dice_s, strict=True):
                w.writerow([r.image, r.patient, r.index, int(t), int(p), int(i), f"{d:.4f}"])
        if figures:
            result["figures"] = draw(model, dataset, records, result, sums, out / "figures", threshold=threshold,
                                     rows=gallery_rows, seed=seed)
        write_metrics(out, result)
    return result


def draw(model: Any, dataset: Any, records: Sequence[Any], result: dict[str, Any], sums: dict[str, np.ndarray],
         folder: Path, threshold: float = 0.5, rows: int = 6, seed: int = 0) -> list[str]:
    """The slice gallery and the per-patient Dice chart into ``folder``; returns the file names."""
    from medzoo import figures as F

    folder.mkdir(parents=True, exist_ok=True)
    dice_s = np.atleast_1d(M.dice_iou_from_sums(sums["inter"], sums["sum_true"], sums["sum_pred"])[0])
    chosen = _gallery_choice(dice_s, sums["sum_true"], sums["sum_pred"], rows, seed)
    made = []
    if chosen:
        picked = [records[i] for i in chosen]
        xs, ys, ps = [], [], []
        for x, y, p in predict_batches(model, dataset, picked, batch_size=len(picked)):
            xs.append(x)
            ys.append(y)
            ps.append(p)
        titles = [f"{records[i].patient} #{records[i].index}" for i in chosen]
        made.append(F.segmentation_gallery(np.concatenate(xs), np.concatenate(ys), np.concatenate(ps),
                                           titles, dice_s[chosen], folder / "gallery.png", threshold=threshold))
    pp = result["per_patient"]
    made.append(F.patient_dice_bars([p["patient"] for p in pp], [p["dice"] for p in pp],
                                    [p["lesion_slices"] for p in pp], folder / "dice_per_patient.png",
                                    mean=result["dice_per_volume"]["value"], ci=result["dice_per_volume"]["ci95"]))
    return [p.name for p in made]


def _fmt(m: dict[str, Any]) -> str:
    v, ci = m["value"], m.get("ci95") or [None, None]
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.3f}" if ci[0] is None else f"{v:.3f}  [{ci[0]:.3f}, {ci[1]:.3f}]"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of ``result`` (what :func:`evaluate` returns)."""
    boot = result["bootstrap"]
    post = result.get("postprocess")
    lines = [f"segmentation: {result['n_slices']} slices ({result['n_lesion_slices']} with a lesion), "
             f"{result['n_patients']} patients, threshold {result['threshold']:g}"
             + (f", 3-D postprocess {post}" if post else ""),
             f"{'metric':<24}{'value  [95% CI]':>28}" + (f"{'without postprocess':>32}" if post else "")]
    labels = {"dice_per_volume": "Dice per volume (mean)", "iou_per_volume": "IoU per volume (mean)",
              "dice_per_slice": "Dice per slice (all)", "dice_per_lesion_slice": "Dice per slice (lesion)",
              "dice_global": "Dice over all pixels"}
    for k in SUMMARY:
        before = f"{_fmt(result['without_postprocess'][k]):>32}" if post else ""
        lines.append(f"{labels[k]:<24}{_fmt(result[k]):>28}{before}")
    e = result["empty_slices_with_prediction"]
    m = result["lesion_slices_missed"]
    lines.append(f"empty slices with a predicted lesion: {e['count']}/{e['of']}; lesion slices missed: "
                 f"{m['count']}/{m['of']}")
    lines.append(f"CI: {boot['n_boot']} bootstrap resamples of patients (seed {boot['seed']}). "
                 f"{result['definitions']['empty_masks']}")
    lines.append("")
    lines.append(f"{'patient':<20}{'slices':>7}{'lesion':>8}{'Dice':>8}{'IoU':>8}")
    for p in sorted(result["per_patient"], key=lambda p: p["dice"]):
        lines.append(f"{p['patient']:<20}{p['slices']:>7}{p['lesion_slices']:>8}{p['dice']:>8.3f}{p['iou']:>8.3f}")
    return "\n".join(lines)
