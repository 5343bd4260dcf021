"""Reproduce the zoo's quality numbers: evaluate every trained entry on a data root and split.

For each entry that ships weights (``medzoo.list_entries(trained=True)``) this calls
``medzoo.evaluate(entry, data=ROOT, split=SPLIT, out=OUT/<entry>)`` with ROOT chosen by the entry's dataset,
prints each entry's own metrics table and then one summary table, and writes ``bench/results/quality.json``.
The split is the one training used (the recipe's ``val_fraction`` and ``seed``), so ``--split val`` gives
the numbers on the validation patients the weights were selected on, and each card's numbers are checked
against them ("card reproduced" when all agree within 0.005). With no trained entry it says so.

Run::

    python bench/quality.py --data-xray ../shared/data/chest_xray --data-lgg ../shared/data/kaggle_3m --split val

``--weights ENTRY=PATH`` evaluates ``ENTRY`` with a weights file instead (a run's ``best.weights.h5``), trained
or not.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, load_now, machine, write_result

CLASSIFICATION = ("accuracy", "precision", "recall", "specificity")
SEGMENTATION = ("dice_per_volume", "iou_per_volume", "dice_per_slice", "dice_global")
LARGEST = "largest_component"  # card key suffix: each patient's volume keeps its largest 3-D component


def _value(d: Any) -> float | None:
    return d.get("value") if isinstance(d, dict) else d


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one evaluation (value and 95% CI), by task."""
    out: dict[str, Any] = {}
    if metrics.get("task") == "classification":
        out["n"] = metrics.get("n")
        out["auc"] = metrics.get("auc")
        point = metrics.get("operating_points", {}).get("default", {})
        out.update({k: point.get(k) for k in CLASSIFICATION})
    elif metrics.get("task") == "segmentation":
        out["n"] = metrics.get("n_slices")
        raw = metrics.get("without_postprocess", {})  # evaluated with a 3-D postprocess: the model's own numbers
        out.update({k: raw.get(k, metrics.get(k)) for k in SEGMENTATION})
        if raw:
            out[f"dice_per_volume_{LARGEST}"] = metrics.get("dice_per_volume")
    out["patients"] = metrics.get("context", {}).get("patients")
    return out


def card_values(task: str | None, card: dict[str, Any]) -> dict[str, float]:
    """The headline numbers a weights card states (``Weights.metrics``), keyed like :func:`summary`."""
    out: dict[str, float] = {}
    if task == "classification":
        keys = {"auc": card.get("auc"), **{k: card.get("default", {}).get(k) for k in CLASSIFICATION}}
    else:
        keys = {k: card.get(k) for k in (*SEGMENTATION, f"dice_per_volume_{LARGEST}")}
    for k, v in keys.items():
        value = _value(v)
        if isinstance(value, (int, float)):
            out[k] = float(value)
    return out


def reproduced(card: dict[str, float], measured: dict[str, Any], tolerance: float = 0.005) -> dict[str, Any]:
    """Each card number beside the measured one; ``ok`` when every one is within ``tolerance``."""
    rows = {k: {"card": v, "measured": _value(measured.get(k))} for k, v in card.items()}
    ok = all(r["measured"] is not None and abs(r["measured"] - r["card"]) <= tolerance for r in rows.values())
    return {"ok": ok and bool(rows), "tolerance": tolerance, "metrics": rows}


def _fmt(d: Any) -> str:
    v = _value(d)
    if v is None:
        return "-"
    if isinstance(d, dict) and d.get("ci95") and None not in d["ci95"]:
        lo, hi = d["ci95"]
        return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the trained entries; see the module docstring."""
    import medzoo

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-xray", type=Path, default=DEFAULT_DATA / "chest_xray", help="chest-xray root")
    p.add_argument("--data-lgg", type=Path, default=DEFAULT_DATA / "kaggle_3m", help="lgg-mri root")
    p.add_argument("--data", action="append", default=[], metavar="DATASET=ROOT",
                   help="root of any other dataset (repeatable)")
    p.add_argument("--split", default="val", help="val (default), train or test")
    p.add_argument("--entries", default="*", help="wildcard on entry names")
    p.add_argument("--weights", action="append", default=[], metavar="ENTRY=PATH",
                   help="evaluate ENTRY with this weights file (repeatable)")
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default: the task's)")
    p.add_argument("--eval-out", type=Path, default=None, help="where each entry's metrics and figures go")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    roots = {"chest-xray": args.data_xray, "lgg-mri": args.data_lgg}
    roots.update({k: Path(v) for k, v in (s.split("=", 1) for s in args.data)})
    files = dict(s.split("=", 1) for s in args.weights)
    names = [n for n in medzoo.list_entries(trained=True) if fnmatch.fnmatch(n, args.entries)]
    names += [n for n in files if n not in names]
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load {load_now()}", flush=True)
    rows: list[dict[str, Any]] = []
    if not names:
        print("no trained entries: no zoo entry ships weights yet, so there is nothing to evaluate "
              "(pass --weights ENTRY=PATH to evaluate a training run's weights)")
    with tempfile.TemporaryDirectory() as tmp:
        eval_out = args.eval_out or Path(tmp)
        for name in names:
            entry = medzoo.get_entry(name)
            root = roots.get(entry.dataset)
            row: dict[str, Any] = {"entry": name, "dataset": entry.dataset, "split": args.split,
                                   "data": str(root), "weights": files.get(name, "default")}
            if root is None or not Path(root).exists():
                row["error"] = f"no data root for {entry.dataset} (give --data {entry.dataset}=ROOT)"
                print(f"{name}: {row['error']}")
                rows.append(row)
                continue
            kwargs: dict[str, Any] = {} if args.n_boot is None else {"n_boot": args.n_boot}
            if entry.task == "segmentation":
                kwargs["postprocess"] = "largest"  # both ways at once: the raw and the cleaned volumes
            try:
                metrics = medzoo.evaluate(name, data=root, split=args.split, weights=files.get(name, "default"),
                                          out=eval_out / name, **kwargs)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other entries
                row["error"] = f"{type(exc).__name__}: {exc}"
                print(f"{name}: {row['error']}")
                rows.append(row)
                continue
            row.update({"task": metrics.get("task"), "summary": summary(metrics), "study": entry.study,
                        "published": entry.weights.metrics if entry.weights is not None else {}})
            if name not in files and args.split == "val" and entry.weights is not None:
                row["reproduced"] = reproduced(card_values(row["task"], row["published"]), row["summary"])
            rows.append(row)
    if rows:
        print(f"\nsplit {args.split!r}; value [95% CI]")
        for row in rows:
            if "error" in row:
                print(f"  {row['entry']:28s} error: {row['error']}")
                continue
            cells = "  ".join(f"{k}={_fmt(v)}" for k, v in row["summary"].items())
            print(f"  {row['entry']:28s} {cells}")
            if "reproduced" in row:
                r = row["reproduced"]
                diffs = ", ".join(f"{k} {m['card']:.3f}→{m['measured']:.3f}" for k, m in r["metrics"].items()
                                  if m["measured"] is not None)
                print(f"  {'':28s} card {'reproduced' if r['ok'] else 'NOT reproduced'} "
                      f"(within {r['tolerance']}): {diffs}")
    write_result("quality", {"machine": info, "split": args.split, "entries": names, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
