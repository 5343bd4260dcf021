"""The multiclass metrics on numbers worked out by hand (no model): per-class rates, AUC, bootstrap, table."""

from __future__ import annotations

import numpy as np
import pytest

from medzoo_xray3.evaluation import compute, format_table

NAMES = ["normal", "bacteria", "virus"]


def _probs(pred: list[int], k: int = 3, confidence: float = 0.8) -> np.ndarray:
    p = np.full((len(pred), k), (1 - confidence) / (k - 1))
    p[np.arange(len(pred)), pred] = confidence
    return p


def test_per_class_rates_and_confusion_matrix_by_hand() -> None:
    y = [0, 0, 0, 1, 1, 1, 2, 2]
    pred = [0, 0, 1, 1, 1, 2, 2, 0]
    res = compute(y, _probs(pred), class_names=NAMES, n_boot=0)
    assert res["confusion_matrix"] == [[2, 1, 0], [0, 2, 1], [1, 0, 1]]
    assert res["accuracy"]["value"] == pytest.approx(5 / 8)
    pc = res["per_class"]
    assert pc["normal"]["precision"]["value"] == pytest.approx(2 / 3)  # predicted normal: 0, 0, (virus)
    assert pc["normal"]["recall"]["value"] == pytest.approx(2 / 3)
    assert pc["bacteria"]["precision"]["value"] == pytest.approx(2 / 3)
    assert pc["virus"]["recall"]["value"] == pytest.approx(1 / 2)
    assert res["class_counts"] == {"normal": 3, "bacteria": 3, "virus": 2}
    assert res["task"] == "multiclass" and res["per_class"]["virus"]["auc"]["ci95"] == [None, None]


def test_auc_is_one_vs_rest_and_macro_is_their_mean() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    virus = np.where(y == 2, rng.uniform(0.6, 0.9, y.size), rng.uniform(0.0, 0.5, y.size))  # separates virus
    rest = rng.dirichlet(np.ones(2), size=y.size) * (1 - virus)[:, None]
    p = np.column_stack([rest, virus])
    res = compute(y, p, class_names=NAMES, n_boot=0)
    aucs = []
    for c, name in enumerate(NAMES):
        pos, neg = p[y == c, c], p[y != c, c]
        want = np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])
        assert res["per_class"][name]["auc"]["value"] == pytest.approx(want)
        aucs.append(want)
    assert res["per_class"]["virus"]["auc"]["value"] == pytest.approx(1.0)
    assert res["macro_auc"]["value"] == pytest.approx(np.mean(aucs))


def test_perfect_model_has_macro_auc_one_and_a_degenerate_interval() -> None:
    y = np.repeat([0, 1, 2], 10)
    res = compute(y, _probs(list(y)), [f"p{i // 2}" for i in range(30)], NAMES, n_boot=200, seed=1)
    assert res["macro_auc"]["value"] == pytest.approx(1.0)
    assert res["macro_auc"]["ci95"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert res["bootstrap"]["resampled"] == "patients" and res["n_patients"] == 15


def test_bootstrap_resamples_patients_not_images() -> None:
    """Six patients of 30 images each, half read perfectly and half at random: what varies is between patients,
    so resampling patients gives a wider interval than resampling the (correlated) images."""
    rng = np.random.default_rng(3)
    y = np.tile([0, 1, 2], 60)
    patients = np.repeat([f"p{i}" for i in range(6)], 30)
    p = rng.dirichlet(np.ones(3), size=y.size)
    good = np.isin(patients, ["p0", "p1", "p2"])
    p[good] = _probs(list(y[good]), confidence=0.9)
    by_patient = compute(y, p, list(patients), NAMES, n_boot=400, seed=0)
    by_image = compute(y, p, None, NAMES, n_boot=400, seed=0)
    assert by_patient["macro_auc"]["value"] == by_image["macro_auc"]["value"]
    lo, hi = by_patient["macro_auc"]["ci95"]
    assert lo <= by_patient["macro_auc"]["value"] <= hi
    assert (by_patient["bootstrap"]["resampled"], by_image["bootstrap"]["resampled"]) == ("patients", "images")
    width = {k: r["macro_auc"]["ci95"][1] - r["macro_auc"]["ci95"][0]
             for k, r in (("patients", by_patient), ("images", by_image))}
    assert width["patients"] > 1.5 * width["images"], width


def test_absent_class_has_no_recall_or_auc_and_macro_averages_the_rest() -> None:
    y = [0, 0, 1, 1]
    p = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.5, 0.1]])
    res = compute(y, p, class_names=NAMES, n_boot=50)
    assert res["per_class"]["virus"]["recall"]["value"] is None
    assert res["per_class"]["virus"]["auc"]["value"] is None
    assert res["macro_auc"]["value"] == pytest.approx(1.0)  # normal and bacteria both separate perfectly


@pytest.mark.parametrize(("y", "p", "match"), [
    ([0, 3], _probs([0, 1]), "labels must be in 0..2"),
    ([0, 1], np.ones((2,)), "expected"),
    ([], np.ones((0, 3)), "no examples"),
])
def test_bad_inputs_are_named(y: list[int], p: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute(y, p, class_names=NAMES, n_boot=0)


def test_table_shows_every_class_and_the_matrix() -> None:
    res = compute([0, 1, 2, 2], _probs([0, 1, 2, 1]), [f"p{i}" for i in range(4)], NAMES, n_boot=20)
    text = format_table(res)
    assert "macro ROC AUC" in text and "argmax" in text
    for name in NAMES:
        assert name in text
    assert "confusion matrix (rows: true, columns: predicted)" in text
    assert text.splitlines()[-1].split() == ["virus", "0", "1", "1"]
