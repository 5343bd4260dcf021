"""Metric functions against values worked out by hand on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from medzoo.evaluation import metrics as M

# 7 images: 3 positive. At 0.5: tp = {0.7, 0.9}, fp = {0.6, 0.55}, fn = {0.4}, tn = {0.1, 0.3}.
Y = np.array([0, 0, 0, 1, 1, 1, 0])
S = np.array([0.1, 0.6, 0.55, 0.7, 0.4, 0.9, 0.3])


def test_confusion_and_rates_by_hand() -> None:
    assert M.confusion_counts(Y, S >= 0.5) == {"tn": 2, "fp": 2, "fn": 1, "tp": 2}
    assert M.confusion_matrix(Y, S >= 0.5).tolist() == [[2, 2], [1, 2]]
    m = M.binary_metrics(Y, S, 0.5)
    assert m["accuracy"] == pytest.approx(4 / 7)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))


def test_threshold_is_inclusive_and_undefined_ratios_are_nan() -> None:
    m = M.binary_metrics([0, 1], [0.2, 0.5], 0.5)
    assert m["tp"] == 1 and m["fp"] == 0
    none_predicted = M.binary_metrics([0, 1], [0.1, 0.2], 0.9)
    assert np.isnan(none_predicted["precision"]) and none_predicted["recall"] == 0.0


def test_auc_by_hand_and_with_ties() -> None:
    # positives 0.7, 0.4, 0.9 against negatives 0.1, 0.6, 0.55, 0.3: 4 + 2 + 4 wins of 12 pairs
    assert M.roc_auc(Y, S) == pytest.approx(10 / 12)
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert M.roc_auc([0, 0, 1], [0.2, 0.8, 0.8]) == pytest.approx(0.75)
    assert np.isnan(M.roc_auc([1, 1], [0.2, 0.3]))


def test_auc_matches_pairwise_count_and_weights_mean_repetition() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = (np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])) / (pos.size * neg.size)
    assert M.roc_auc(y, s) == pytest.approx(brute)
    w = rng.integers(0, 4, (3, 60))
    for row in range(3):
        rep = np.repeat(np.arange(60), w[row])
        assert M.weighted_auc(y, s, w)[row] == pytest.approx(M.roc_auc(y[rep], s[rep]))


def test_roc_curve_ends_and_points() -> None:
    fpr, tpr, thr = M.roc_curve(Y, S)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    k = int(np.flatnonzero(thr == 0.55)[0])  # predictions >= 0.55: 0.9, 0.7, 0.6, 0.55
    assert (fpr[k], tpr[k]) == (pytest.approx(2 / 4), pytest.approx(2 / 3))
    assert np.trapezoid(tpr, fpr) == pytest.approx(M.roc_auc(Y, S))


def test_threshold_for_recall() -> None:
    # positive scores 0.9, 0.7, 0.4
    assert M.threshold_for_recall(Y, S, 0.95) == 0.4
    assert M.threshold_for_recall(Y, S, 0.6) == 0.7
    assert M.threshold_for_recall(Y, S, 2 / 3) == 0.7
    assert M.threshold_for_recall(Y, S, 0.3) == 0.9
    for target in (0.3, 0.6, 0.95):
        t = M.threshold_for_recall(Y, S, target)
        assert M.binary_metrics(Y, S, t)["recall"] >= target
        assert M.binary_metrics(Y, S, np.nextafter(t, 1))["recall"] < target  # highest such threshold
    with pytest.raises(ValueError):
        M.threshold_for_recall([0, 0], [0.1, 0.2])


def _masks() -> tuple[np.ndarray, np.ndarray, list[str]]:
    t = np.zeros((4, 2, 2, 1))
    p = np.zeros((4, 2, 2, 1))
    t[0, 0, :, 0] = 1  # A: truth 2 px, prediction 2 px, overlap 1 -> Dice 0.5
    p[0, :, 0, 0] = 0.9
    # A, slice 1: both empty -> Dice 1
    p[2, 1, 1, 0] = 0.7  # B: empty truth, 1 predicted px -> Dice 0
    t[3, 1, :, 0] = 1  # B: truth 2 px found exactly -> Dice 1
    p[3, 1, :, 0] = 0.5
    return t, p, ["A", "A", "B", "B"]


def test_dice_per_slice_and_empty_convention() -> None:
    t, p, _ = _masks()
    assert M.dice_per_slice(t, p).tolist() == pytest.approx([0.5, 1.0, 0.0, 1.0])
    assert M.dice_iou_from_sums(0, 0, 0) == (1.0, 1.0)
    assert M.dice_iou_from_sums(1, 2, 2) == (pytest.approx(0.5), pytest.approx(1 / 3))


def test_dice_per_volume_sums_before_dividing() -> None:
    t, p, groups = _masks()
    vol = M.dice_per_volume(groups, t, p)
    assert vol["A"] == pytest.approx(2 * 1 / (2 + 2))  # not the slice mean 0.75
    assert vol["B"] == pytest.approx(2 * 2 / (2 + 3))  # not the slice mean 0.5


def test_bootstrap_is_seeded_and_contains_the_estimate() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, 200)
    groups = np.repeat(np.arange(40), 5)

    def mean(w: np.ndarray) -> np.ndarray:
        return w @ x / w.sum(1)

    a = M.bootstrap(mean, groups, x.size, n_boot=500, seed=3)["value"]
    b = M.bootstrap(mean, groups, x.size, n_boot=500, seed=3)["value"]
    c = M.bootstrap(mean, groups, x.size, n_boot=500, seed=4)["value"]
    assert a == b and a != c
    assert a[0] < x.mean() < a[1]
    assert 0.05 < a[1] - a[0] < 1.0


def test_grouped_bootstrap_moves_whole_groups() -> None:
    # every group holds one value: resampling groups keeps each group's examples together
    inverse, counts = M.group_counts(["p1", "p1", "p2", "p3", "p3", "p3"], 6, n_boot=50, seed=0)
    assert inverse.tolist() == [0, 0, 1, 2, 2, 2]
    assert counts.shape == (50, 3) and np.all(counts.sum(1) == 3)
    x = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    ci = M.bootstrap(lambda w: w @ x / w.sum(1), ["p1", "p1", "p2", "p3", "p3", "p3"], 6, n_boot=50)["value"]
    assert ci == [1.0, 1.0]


def test_jsonable() -> None:
    out = M.jsonable({"a": np.float32(0.5), "b": [np.nan, np.int64(2)], "c": np.arange(2), 3: np.inf})
    assert out == {"a": 0.5, "b": [None, 2], "c": [0, 1], "3": None}
