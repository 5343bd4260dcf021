"""Figures: each function writes a readable PNG; the helpers choose and scale what they show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medzoo import figures as F
from medzoo.tasks.segmentation.evaluation import _gallery_choice

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_learning_curves(tmp_path: Path) -> None:
    hist = {"epoch": [0, 1, 2, 3], "loss": [1.0, 0.7, 0.5, 0.45], "val_loss": [1.1, 0.8, 0.6, 0.65],
            "auc": [0.6, 0.7, 0.8, 0.85], "val_auc": [0.55, 0.65, 0.75, 0.74],
            "learning_rate": [1e-3, 1e-3, 2e-4, 2e-4]}
    path = F.learning_curves(hist, tmp_path / "lc.png", monitor="val_loss", mode="min")
    w, h = _png_size(path)
    assert w > 3 * h  # loss, AUC and learning rate side by side
    # more panels wrap onto a second row
    many = {**hist, "f1": [0.1, 0.2, 0.3, 0.4], "recall": [0.2, 0.3, 0.4, 0.5]}
    w2, h2 = _png_size(F.learning_curves(many, tmp_path / "lc2.png"))
    assert h2 > 1.5 * h
    assert F.learning_curves({}, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_classification_figures(tmp_path: Path) -> None:
    cms = [("threshold 0.5", np.array([[8, 2], [1, 9]])), ("threshold 0.3", np.array([[5, 5], [0, 10]]))]
    w, h = _png_size(F.confusion_matrices(cms, ["normal", "pneumonia"], tmp_path / "cm.png"))
    assert w > 1.5 * h
    fpr, tpr = np.array([0, 0.1, 0.5, 1.0]), np.array([0, 0.6, 0.9, 1.0])
    F.roc_curve(fpr, tpr, 0.85, [0.7, 0.95], [("threshold 0.5", 0.1, 0.6), ("t", 0.5, 0.9)], tmp_path / "roc.png")
    F.score_histogram(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4]), [("threshold 0.5", 0.5)],
                      ["neg", "pos"], tmp_path / "s.png")
    for name in ("roc.png", "s.png"):
        assert _png_size(tmp_path / name)[0] > 300


def test_display_uses_the_flair_channel_and_one_window() -> None:
    imgs = np.zeros((2, 4, 4, 3))
    imgs[0, ..., 1] = 100.0  # FLAIR
    imgs[0, ..., 0] = 255.0  # pre-contrast: must be ignored
    imgs[1, ..., 1] = 50.0
    grey = F._display(imgs)
    assert grey.shape == (2, 4, 4)
    assert grey[0].mean() > grey[1].mean()  # one intensity window for all slices: 100 stays brighter than 50
    assert F._display(np.full((1, 3, 3, 1), 7.0)).shape == (1, 3, 3)


def test_segmentation_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 255, (3, 16, 16, 3))
    masks = np.zeros((3, 16, 16, 1))
    masks[0, 4:8, 4:8] = 1
    probs = np.zeros((3, 16, 16, 1))
    probs[0, 5:9, 4:8] = 0.9
    w, h = _png_size(F.segmentation_gallery(imgs, masks, probs, ["a #1", "a #2", "b #1"], [0.75, 1.0, 1.0],
                                            tmp_path / "g.png"))
    assert h > w  # three rows of three panels
    _png_size(F.patient_dice_bars(["a", "b"], [0.5, 0.9], [3, 1], tmp_path / "bars.png", mean=0.7, ci=[0.5, 0.9]))


def test_gallery_choice_spans_the_dice_range_and_adds_empty_slices() -> None:
    dice = np.array([0.9, 1.0, 0.2, 0.5, 1.0, 0.0, 0.7])
    true = np.array([10, 0, 30, 5, 0, 0, 8.0])
    pred = np.array([9, 0, 3, 4, 0, 12, 8.0])
    chosen = _gallery_choice(dice, true, pred, rows=4, seed=0)
    assert chosen[:2] == [0, 2]  # best and worst lesion slices
    assert chosen[2] == 5  # the empty slice with the most false-positive pixels
    assert chosen[3] in (1, 4) and len(set(chosen)) == 4
    assert len(_gallery_choice(dice, true, pred, rows=10, seed=0)) == 6  # never more slices than exist
    assert _gallery_choice(dice, true, pred, rows=4, seed=0) == chosen


@pytest.mark.parametrize("n", [1, 40])
def test_patient_bars_scale_with_patients(tmp_path: Path, n: int) -> None:
    d = np.linspace(0, 1, n)
    _, h = _png_size(F.patient_dice_bars([f"p{i}" for i in range(n)], d, None, tmp_path / f"b{n}.png"))
    assert (h > 900) == (n == 40)
