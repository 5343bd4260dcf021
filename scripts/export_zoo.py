"""Ship a finished training run as a zoo entry's weights: float16 weights file, sha256 card, figures.

    python scripts/export_zoo.py unet-lgg runs/unet-lgg

1. loads the run's best checkpoint into the entry's architecture;
2. writes ``<plugin>/weights/<entry>.weights.h5`` in float16 (:func:`medzoo.weights.export_weights`);
3. re-evaluates the float16 weights on the run's validation patients (same split, same code as training's
   report), so the card's numbers are those of the file that ships;
4. writes the card ``<plugin>/weights/<entry>.json`` (file, sha256, metrics with 95% intervals, training facts,
   the reproducing command) and copies the figures to ``docs/zoo/figures/<entry>/``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs

import medzoo
from medzoo.registry import registry

ROOT = Path(__file__).resolve().parents[1]
LICENCES = {
    "lgg-mri": "CC BY-NC-SA 4.0: trained on the LGG MRI set (TCGA-LGG via TCIA, Kaggle 'Brain MRI segmentation'), "
               "so these weights are for non-commercial use and share-alike.",
    "chest-xray": "CC BY 4.0: trained on the Kermany pediatric chest X-rays (attribution required).",
}

# The copy of each dataset the zoo's weights were trained on, in words a reader of the card can check.
DATA_COPIES = {
    "chest-xray": "chest_xray: the published train split of the Kermany set (Kaggle copy, 5,216 images re-encoded as "
                  "224×224 RGB JPEG); its test split was withheld",
    "lgg-mri": "kaggle_3m: 53 of the 110 patients of the Kaggle LGG set (1,925 slices); the other patients were "
               "withheld",
}

# What a reader of the card must know about the validation numbers, per dataset.
NOTES = {
    "chest-xray": "The validation children come from the same published train split as the training children "
                  "(same hospital and period), so these numbers flatter: the study's recipe written as a plain "
                  "Keras script and trained on this share scored validation accuracy 0.98 but accuracy 0.755 "
                  "(specificity 0.35) on withheld images (measured outside medzoo). Expect "
                  "lower specificity on new data. The recall-target threshold was chosen on these same records.",
    "lgg-mri": "Dice per patient volume weights every validation patient equally, so a missed small lesion "
               "counts as much as a large one found. The study's Dice came from a slice-level split (slices of "
               "one patient on both sides) and is not comparable. *_largest_component: each validation patient's "
               "predicted volume keeps only its largest 3-D connected component (Buda et al. 2019; `medzoo "
               "evaluate ENTRY --postprocess largest`); the other numbers keep every predicted pixel. `medzoo "
               "predict ENTRY --patient DIR` applies the card's postprocess (meta.postprocess) by default.",
}


def _summary(metrics: dict) -> dict:
    """The scalar metrics (with intervals) that a card shows; per-image and curve data stay in the run."""
    if metrics.get("task") == "segmentation":
        keys = ("dice_per_volume", "iou_per_volume", "dice_per_slice", "dice_per_lesion_slice", "dice_global")
        return {k: metrics[k] for k in keys if k in metrics} | {
            "per_patient_dice": {p["patient"]: round(p["dice"], 4) for p in metrics.get("per_patient", [])}}
    out = {"auc": metrics["auc"]}
    for name, point in metrics["operating_points"].items():
        out[name] = {k: v for k, v in point.items() if k not in ("confusion_matrix",)}
        if "confusion_matrix" in point:
            out[name]["confusion_matrix"] = point["confusion_matrix"]
    return out


def postprocess_choice(metrics: dict) -> tuple[dict, dict, str, str]:
    """From metrics evaluated with ``postprocess="largest"``: the raw metrics (the model's own), the card summary
    with both per-volume Dice values and lesion-free-slice false positives, and the default postprocess for a
    patient's volume (whichever per-volume Dice on these validation patients favours) with its rule in words."""
    raw = {**metrics, **metrics["without_postprocess"]}
    summary = _summary(raw)
    largest = metrics["dice_per_volume"]
    summary["dice_per_volume_largest_component"] = largest

    def fp(m: dict) -> dict:
        e = m["empty_slices_with_prediction"]
        return {"value": e["fraction"], "count": e["count"], "of": e["of"]}

    summary["lesion_free_slices_with_prediction"] = fp(raw)
    summary["lesion_free_slices_with_prediction_largest_component"] = fp(metrics)
    d_raw, d_big = raw["dice_per_volume"]["value"], largest["value"]
    post = "largest" if d_big >= d_raw else "none"
    rule = (f"per-volume Dice on {metrics['n_patients']} validation patients: {d_big:.3f} keeping each patient's "
            f"largest 3-D component against {d_raw:.3f} keeping every component; lesion-free slices with a "
            f"false lesion {summary['lesion_free_slices_with_prediction_largest_component']['count']} against "
            f"{summary['lesion_free_slices_with_prediction']['count']} of {fp(raw)['of']}")
    return raw, summary, post, rule


def _round(d: Any, places: int = 4) -> Any:
    """``d`` with its floats rounded (cards stay readable)."""
    if isinstance(d, dict):
        return {k: _round(v, places) for k, v in d.items()}
    if isinstance(d, list):
        return [_round(v, places) for v in d]
    return round(d, places) if isinstance(d, float) else d


def training_time(run: Path) -> float:
    """Seconds spent in training epochs, from the run's ``train.log`` (every attempt of a resumed run)."""
    pattern = re.compile(r"epoch \d+ done in (\d+)s")
    log = run / "train.log"
    return float(sum(int(m.group(1)) for m in pattern.finditer(log.read_text()))) if log.exists() else 0.0


def threshold_rule(point: dict, context: dict) -> str:
    """How the card's threshold was chosen, in words (printed wherever the threshold is used)."""
    return (f"the highest threshold with recall >= {point.get('target_recall', 0.95):.2f} on "
            f"{context.get('records')} validation records of {context.get('patients')} patients the model never "
            "trained on (the same records the card's numbers come from, so its numbers there flatter)")


def _best_epoch(history: dict, monitor: str, mode: str) -> int | None:
    values = history.get(monitor)
    if not values:
        return None
    best = max(values) if mode == "max" else min(values)
    return values.index(best) + 1


def entry_splits(entry: medzoo.Entry, data: str) -> dict:
    """The splits that ``medzoo evaluate`` uses for ``entry`` (its recipe's val_fraction and seed)."""
    from medzoo.data import open_dataset, recipe_splits

    return recipe_splits(open_dataset(entry.dataset, data), entry.recipe)


def main() -> None:
    """Export one run."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("entry")
    p.add_argument("run", type=Path)
    p.add_argument("--command", default=None,
                   help="the command that reproduces the run, for the card (write the data folder as ROOT)")
    args = p.parse_args()

    from medzoo import figures
    from medzoo.cards import count_params
    from medzoo.report import evaluate_entry
    from medzoo.runner import read_history
    from medzoo.weights import export_weights, sha256_file

    entry = registry().get("entries", args.entry)
    config = json.loads((args.run / "config.json").read_text())
    history = read_history(args.run / "history.csv")
    if not (args.run / "figures" / "learning_curves.png").exists():  # a run stopped before its report
        figures.learning_curves(history, args.run / "figures" / "learning_curves.png", monitor=entry.recipe.monitor,
                                mode=entry.recipe.monitor_mode, title=f"{entry.name}: training curves")
    package = entry.distribution.replace("-", "_")
    weights_dir = Path(str(files(package))) / "weights"
    weights_dir.mkdir(exist_ok=True)
    target = weights_dir / f"{entry.name}.weights.h5"

    # the run's own builder arguments (a run may change them, e.g. a smaller image_size): the card's preset
    entry = attrs.evolve(entry, model_kwargs=config["model_kwargs"])
    build = registry().get("models", entry.model).create
    model = build(**entry.model_kwargs)
    model.load_weights(args.run / "best.weights.h5")
    sha = export_weights(model, target, dtype="float16")
    shipped = build(**entry.model_kwargs)
    if sha256_file(target) != sha:
        raise SystemExit(f"{target} changed while it was written")
    shipped.load_weights(target)

    recipe = config["recipe"]
    eval_dir = args.run / "shipped-eval"
    if config["split_sizes"] != {k: len(v) for k, v in entry_splits(entry, config["data_root"]).items()}:
        raise SystemExit("the entry's recipe no longer gives the run's split; export from a matching run")
    classification = entry.task == "classification"
    metrics = evaluate_entry(entry, data=config["data_root"], split="val", weights=shipped, out=eval_dir, echo=True,
                             **({"shift": True} if classification else {"postprocess": "largest"}))
    context = metrics.get("context", {})
    overrides = {k: v for k, v in recipe.items() if getattr(entry.recipe, k, None) != v}
    threshold = rule = None
    if classification:
        point = metrics["operating_points"].get("target_recall")
        if point is not None:
            threshold, rule = point["threshold"], threshold_rule(point, context)
    post = post_rule = None
    if "without_postprocess" in metrics:  # segmentation evaluated both ways: the raw numbers lead the card
        metrics, summary, post, post_rule = postprocess_choice(metrics)
    else:
        summary = _summary(metrics)
    if "shift_check" in metrics:
        summary["shift_check"] = _round(metrics["shift_check"])
    if entry.dataset in NOTES:
        summary["notes"] = NOTES[entry.dataset]
    card = {
        "file": f"{package}:weights/{target.name}",
        "sha256": sha,
        "licence": LICENCES.get(entry.dataset, ""),
        # the preset: what the registry rebuilds and retrains this entry with
        "model_kwargs": config["model_kwargs"],
        "recipe": recipe,
        "metrics": summary,
        "meta": {
            "data": DATA_COPIES.get(entry.dataset, Path(config["data_root"]).name),
            "data_fingerprint": config["data_fingerprint"],
            "split": f"by patient, stratified, val_fraction={recipe['val_fraction']}, seed={recipe['seed']}",
            "split_sizes": config["split_sizes"],
            "patients": {k: len(v) for k, v in config["splits"].items()},
            "val_patients": config["splits"]["val"] if len(config["splits"]["val"]) <= 20 else
            f"{len(config['splits']['val'])} patients (reproduce with the split rule)",
            "evaluated_on": f"{context.get('records')} validation records of {context.get('patients')} patients "
                            "never used for gradient updates (used for checkpoint and learning-rate selection)",
            "epochs_run": len(history.get("loss", [])),
            "best_epoch": _best_epoch(history, recipe["monitor"], recipe["monitor_mode"]),
            "best_checkpoint_monitor": f"{recipe['monitor']} ({recipe['monitor_mode']})",
            "storage": "float16 (metrics above measured on the float16 file)",
            "params": count_params(shipped),
            "trained_on": f"{config.get('accelerator') or ', '.join(config['devices'])} ({config['backend']}, "
                          f"{config['precision']}, "
                          f"{config['loader']} loader)",
            "training_time": f"{training_time(args.run) / 60:.0f} min over {len(history.get('loss', []))} epochs",
            "versions": config["versions"],
            "overrides": overrides,
            # the card is read by users: the data folder is theirs (ROOT), not this checkout's
            "command": args.command or f"medzoo train {entry.name} --data ROOT --out runs/{entry.name}",
        },
    }
    if threshold is not None:
        card["meta"]["threshold"] = threshold
        card["meta"]["threshold_rule"] = rule
    if post is not None:
        card["meta"]["postprocess"] = post
        card["meta"]["postprocess_rule"] = post_rule
    from medzoo.data import open_dataset

    classes = getattr(open_dataset(entry.dataset, config["data_root"]), "class_names", None)
    if classification and classes:
        card["meta"]["classes"] = list(classes)
    (weights_dir / f"{entry.name}.json").write_text(json.dumps(card, indent=2) + "\n")

    figs = ROOT / "docs" / "zoo" / "figures" / entry.name
    figs.mkdir(parents=True, exist_ok=True)
    for src in [*(args.run / "figures").glob("*.png"), *(eval_dir / "figures").glob("*.png")]:
        if src.parent.parent == eval_dir and (figs / src.name).exists() and src.name == "learning_curves.png":
            continue
        shutil.copy(src, figs / src.name)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, sha256 {sha}) and {weights_dir / entry.name}.json")


if __name__ == "__main__":
    main()
