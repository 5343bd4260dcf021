"""Evaluation end to end: a tiny classifier on a stand-in dataset, a fixed-rule segmenter on synthetic LGG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import medzoo
from medzoo.data import Dataset, Record
from medzoo.evaluation import metrics as M
from medzoo.registry import MedzooError


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")


def mean_model(channels: int = 1) -> Any:
    """P(positive) = mean pixel / 255: an image filled with 255·p scores exactly p."""
    import keras

    inp = keras.Input((4, 4, channels))
    out = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=(1, 2, 3))[:, None] / 255.0)(inp)
    return keras.Model(inp, out)


class TinyXray(Dataset):
    """A stand-in classification dataset: each record's image is a 4×4 image filled with 255·score."""

    name = "tiny-xray"
    task = "classification"
    class_names = ("normal", "pneumonia")

    def __init__(self, scores: dict[str, float], labels: dict[str, int], patients: dict[str, str]) -> None:
        super().__init__(".")
        self.scores, self.labels, self.patient = scores, labels, patients

    def records(self) -> list[Record]:
        return [Record(image=k, target=self.labels[k], patient=self.patient[k]) for k in self.scores]

    def splits(self, val_fraction: float = 0.15, seed: int = 0, **kwargs: Any) -> dict[str, list[Record]]:
        return {"train": self.records()}

    def pipeline(self, records: Sequence[Record], training: bool = False, batch_size: int = 32,
                 **kwargs: Any) -> Any:
        import tensorflow as tf

        x = np.stack([np.full((4, 4, 1), 255.0 * self.scores[r.image], np.float32) for r in records])
        y = np.array([[r.target] for r in records], np.float32)  # (N, 1) labels
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def tiny_xray(n: int, seed: int) -> tuple[TinyXray, list[Record], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.35 * labels + rng.uniform(0.05, 0.65, n), 0, 1).round(3)
    keys = [f"s{seed}_{i}.png" for i in range(n)]
    ds = TinyXray(dict(zip(keys, scores.tolist(), strict=True)), dict(zip(keys, labels.tolist(), strict=True)),
                  {k: f"p{seed}_{i // 3}" for i, k in enumerate(keys)})
    return ds, ds.records(), labels, scores


def test_classification_evaluate_matches_the_metric_functions(tmp_path: Path) -> None:
    from medzoo.tasks.classification.evaluation import evaluate, format_table

    ds, recs, y, s = tiny_xray(60, seed=0)
    vds, vrecs, vy, vs = tiny_xray(45, seed=1)
    ds.scores.update(vds.scores)
    ds.labels.update(vds.labels)
    ds.patient.update(vds.patient)
    model = mean_model()
    res = evaluate(model, ds, recs, tmp_path / "cls", val_records=vrecs, n_boot=200, batch_size=16)

    point = res["operating_points"]["default"]
    ref = M.binary_metrics(y, s, 0.5)
    for k in ("accuracy", "precision", "recall", "specificity", "f1"):
        assert point[k]["value"] == pytest.approx(ref[k], abs=1e-6)
        lo, hi = point[k]["ci95"]
        assert 0.0 <= lo <= point[k]["value"] <= hi <= 1.0
    assert point["confusion_matrix"] == [[ref["tn"], ref["fp"]], [ref["fn"], ref["tp"]]]
    assert res["auc"]["value"] == pytest.approx(M.roc_auc(y, s), abs=1e-6)
    assert res["bootstrap"]["resampled"] == "patients" and res["n_patients"] == 20

    chosen = res["operating_points"]["target_recall"]
    assert chosen["threshold"] == pytest.approx(M.threshold_for_recall(vy, vs, 0.95), abs=1e-6)
    assert chosen["optimistic"] is False and "separate validation" in chosen["chosen_on"]
    assert chosen["recall"]["value"] == pytest.approx(M.binary_metrics(y, s, chosen["threshold"])["recall"], abs=1e-6)

    saved = json.loads((tmp_path / "cls" / "metrics.json").read_text())
    assert saved["class_names"] == ["normal", "pneumonia"]
    assert saved["auc"]["value"] == pytest.approx(res["auc"]["value"])
    for name in ("confusion_matrix.png", "roc.png", "scores.png"):
        assert (tmp_path / "cls" / "figures" / name).stat().st_size > 5000
    assert len((tmp_path / "cls" / "predictions.csv").read_text().splitlines()) == 61
    assert "recall" in format_table(res) and "separate validation" in format_table(res)


def test_classification_without_val_records_is_flagged_optimistic(tmp_path: Path) -> None:
    from medzoo.tasks.classification.evaluation import evaluate, format_table

    ds, recs, y, s = tiny_xray(30, seed=2)
    res = evaluate(mean_model(), ds, recs, None, n_boot=0)
    chosen = res["operating_points"]["target_recall"]
    assert chosen["optimistic"] is True
    assert chosen["threshold"] == pytest.approx(M.threshold_for_recall(y, s, 0.95), abs=1e-6)
    assert chosen["recall"]["value"] >= 0.95
    assert any("optimistic" in n for n in res["notes"])
    assert "optimistic" in format_table(res)
    assert not (tmp_path / "metrics.json").exists()


def flair_model() -> Any:
    """A fixed rule: lesion where the FLAIR channel (1) is above 150 (synthetic lesions are ~200, tissue ~90)."""
    import keras

    inp = keras.Input((None, None, 3))
    out = keras.layers.Lambda(lambda x: keras.ops.sigmoid((x[..., 1:2] - 150.0) / 5.0))(inp)
    return keras.Model(inp, out)


def nothing_model() -> Any:
    """Predicts no lesion anywhere."""
    import keras

    inp = keras.Input((None, None, 3))
    out = keras.layers.Lambda(lambda x: keras.ops.zeros_like(x[..., :1]))(inp)
    return keras.Model(inp, out)


@pytest.fixture
def lgg(tmp_path: Path) -> Any:
    pytest.importorskip("medzoo_lgg_mri")
    from medzoo_lgg_mri.synthetic import write_synthetic

    root = write_synthetic(tmp_path / "lgg", patients=3, slices=4, size=32)
    return medzoo.get_dataset("lgg-mri", root=root)


def test_segmentation_of_a_model_that_finds_nothing(lgg: Any, tmp_path: Path) -> None:
    from medzoo.tasks.segmentation.evaluation import evaluate

    recs = lgg.records()  # 3 patients x 4 slices; slices 2 and 3 of each carry a lesion
    res = evaluate(nothing_model(), lgg, recs, None, n_boot=100, batch_size=5)
    assert res["n_slices"] == 12 and res["n_lesion_slices"] == 6 and res["n_patients"] == 3
    assert res["dice_per_volume"]["value"] == 0.0  # every volume has a lesion and none is found
    assert res["dice_per_slice"]["value"] == pytest.approx(0.5)  # empty slices count 1 by convention
    assert res["dice_per_lesion_slice"]["value"] == 0.0
    assert res["lesion_slices_missed"]["count"] == 6
    assert "both empty" in res["definitions"]["empty_masks"]


def test_segmentation_end_to_end(lgg: Any, tmp_path: Path) -> None:
    from medzoo.tasks.segmentation.evaluation import evaluate, format_table

    recs = lgg.records()
    res = evaluate(flair_model(), lgg, recs, tmp_path / "seg", n_boot=200, batch_size=5, gallery_rows=4)
    imgs, masks = lgg.load_arrays(recs)
    probs = np.asarray(flair_model().predict(imgs.astype(np.float32), verbose=0))
    by_patient = M.dice_per_volume([r.patient for r in recs], masks, probs)
    assert res["dice_per_volume"]["value"] == pytest.approx(np.mean(list(by_patient.values())))
    assert {p["patient"]: p["dice"] for p in res["per_patient"]} == pytest.approx(by_patient)
    assert res["dice_per_volume"]["value"] > 0.8  # the rule nearly matches the synthetic lesions
    for k in ("dice_per_volume", "iou_per_volume", "dice_per_slice", "dice_per_lesion_slice", "dice_global"):
        lo, hi = res[k]["ci95"]
        assert 0.0 <= lo <= res[k]["value"] <= hi <= 1.0
    saved = json.loads((tmp_path / "seg" / "metrics.json").read_text())
    assert len(saved["per_patient"]) == 3 and saved["figures"] == ["gallery.png", "dice_per_patient.png"]
    for name in saved["figures"]:
        assert (tmp_path / "seg" / "figures" / name).stat().st_size > 5000
    assert "Dice per volume" in format_table(res)


def test_evaluate_entry_with_a_model_and_missing_split(lgg: Any, tmp_path: Path) -> None:
    entry = medzoo.get_entry("unet-lgg")
    entry = attrs.evolve(entry, recipe=entry.recipe.evolve(val_fraction=0.34))
    res = medzoo.evaluate(entry, data=lgg.root, split="val", weights=flair_model(), out=tmp_path / "ev",
                          n_boot=50, echo=False)
    assert res["context"]["split"] == "val" and res["n_patients"] == 1
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["context"]["entry"] == "unet-lgg"
    with pytest.raises(MedzooError, match="no published test split"):
        medzoo.evaluate(entry, data=lgg.root, split="test", weights=flair_model(), out=tmp_path / "t", echo=False)


def test_report_run(lgg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medzoo.report import report_run
    from medzoo.runner import Run

    entry = medzoo.get_entry("unet-lgg")
    recs = lgg.records()
    history = {"epoch": [0.0, 1.0, 2.0], "loss": [0.9, 0.6, 0.5], "val_loss": [0.95, 0.7, 0.72],
               "dice": [0.1, 0.4, 0.6], "val_dice": [0.1, 0.5, 0.45], "learning_rate": [1e-3, 1e-3, 5e-4]}
    run = Run(tmp_path / "run", flair_model(), history, {"train": recs[:4], "val": recs[4:]}, lgg, entry,
              entry.recipe)
    res = report_run(run, n_boot=50)
    out = capsys.readouterr().out
    assert "Dice per volume" in out and "unet-lgg" in out
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["figures"][0] == "learning_curves.png" and saved["context"]["records"] == 8
    assert res["n_patients"] == 2
    for name in saved["figures"]:
        assert (tmp_path / "run" / "figures" / name).is_file()
