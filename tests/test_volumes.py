"""Patient-level segmentation: 3-D component cleaning, volume prediction, ``--patient`` and the evaluation with
and without the cleaning, on synthetic volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from medzoo.errors import DataError, MedzooError
from medzoo.tasks.segmentation.evaluation import compute, slice_sums
from medzoo.volumes import Postprocess, keep_components, patient_slices, predict_volume


def _blobs() -> np.ndarray:
    vol = np.zeros((6, 20, 20), bool)
    vol[1:5, 5:12, 5:12] = True  # the lesion: 4 × 7 × 7 = 196 voxels across four slices
    vol[2, 16:18, 16:18] = True  # a speck: 4 voxels
    vol[5, 0:3, 15:20] = True  # a second, smaller blob: 15 voxels
    return vol


def test_keep_components_largest_and_min_size() -> None:
    vol = _blobs()
    largest = keep_components(vol, Postprocess(largest=True))
    assert largest.sum() == 196 and not largest[2, 16, 16] and not largest[5, 0, 15]
    sized = keep_components(vol, Postprocess(min_size=10))
    assert sized.sum() == 196 + 15 and not sized[2, 16, 16]
    assert keep_components(vol, None).sum() == vol.sum()
    assert not keep_components(np.zeros((2, 4, 4), bool), Postprocess(largest=True)).any()
    diagonal = np.zeros((2, 3, 3), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True  # touching corners are one component (26-connectivity)
    assert keep_components(diagonal, Postprocess(largest=True)).sum() == 2


def test_postprocess_parse() -> None:
    assert Postprocess.parse("largest") == Postprocess(largest=True)
    assert Postprocess.parse("min:50") == Postprocess(min_size=50)
    assert Postprocess.parse("none") is None and Postprocess.parse(None) is None
    with pytest.raises(MedzooError, match="unknown postprocess"):
        Postprocess.parse("biggest")


class _Echo:
    """A stand-in segmentation model: the probability is the image's first channel / 255."""

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32)[..., :1] / 255.0


def test_predict_volume_cleans_in_3d() -> None:
    vol = _blobs()
    x = np.repeat(vol[..., None].astype(np.float32) * 255, 3, axis=-1)
    probs, mask = predict_volume(_Echo(), x, 0.5, "largest", batch_size=4)
    assert probs.shape == (6, 20, 20) and mask.sum() == 196


def test_patient_slices_order_and_errors(tmp_path: Path) -> None:
    for n in (10, 2, 1):
        tifffile.imwrite(tmp_path / f"case_{n}.tif", np.zeros((4, 4, 3), np.uint8))
        tifffile.imwrite(tmp_path / f"case_{n}_mask.tif", np.zeros((4, 4), np.uint8))
    assert [p.name for p in patient_slices(tmp_path)] == ["case_1.tif", "case_2.tif", "case_10.tif"]
    tifffile.imwrite(tmp_path / "case_010.tif", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match=r"share slice number\(s\) \[10\]"):
        patient_slices(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        patient_slices(tmp_path / "nope")


class _Records:
    """Two patients of three slices each, fed through a stand-in dataset."""

    def __init__(self) -> None:
        from medzoo.data import Record

        self.records = [Record(image=f"{p}_{i}", target="", patient=p, index=i) for p in ("A", "B") for i in range(3)]
        y = np.zeros((6, 8, 8, 1), np.float32)
        y[0:2, 2:6, 2:6] = 1  # patient A's lesion on its first two slices
        prob = y.copy()
        prob[1, 0, 7] = 1  # a false-positive speck beside A's lesion, on the same slice
        prob[4, 6:8, 0:2] = 1  # patient B has no lesion, but a predicted speck
        self.x, self.y, self.prob = prob * 255, y, prob

    def batches(self, records, training=False, batch_size=4):  # noqa: ANN001, ANN201
        for i in range(0, len(records), batch_size):
            yield self.x[i:i + batch_size], self.y[i:i + batch_size]


def test_evaluation_with_and_without_postprocess() -> None:
    data = _Records()
    sums = slice_sums(_Echo(), data, data.records, batch_size=4, postprocess="largest")
    raw = compute([r.patient for r in data.records], sums["raw_inter"], sums["sum_true"], sums["raw_sum_pred"],
                  n_boot=0)
    clean = compute([r.patient for r in data.records], sums["inter"], sums["sum_true"], sums["sum_pred"], n_boot=0)
    # A: the speck beside the lesion goes; B: no true lesion, and its only (largest) component stays: Dice 0
    assert [p["dice"] for p in clean["per_patient"]] == [1.0, 0.0]
    assert raw["per_patient"][0]["dice"] < 1.0 and raw["per_patient"][1]["dice"] == 0.0
    assert raw["dice_per_volume"]["value"] < clean["dice_per_volume"]["value"] == pytest.approx(0.5)
    sized = slice_sums(_Echo(), data, data.records, batch_size=4, postprocess="min:5")
    assert int(sized["sum_pred"].sum()) == int(data.y.sum())  # both specks (1 and 4 voxels) dropped


def test_the_card_keeps_raw_numbers_and_picks_the_postprocess_validation_favours() -> None:
    """``scripts/export_zoo.py`` writes a segmentation card from one evaluation with ``postprocess="largest"``:
    the headline numbers are the model's own (every component kept), both per-volume Dice values and both
    false-positive counts are on the card, and the default postprocess is the one with the higher Dice."""
    import importlib.util
    import sys

    from medzoo.tasks.segmentation.evaluation import evaluate

    path = Path(__file__).resolve().parents[1] / "scripts" / "export_zoo.py"
    if "medzoo_scripts_export_zoo_text" not in sys.modules:
        spec = importlib.util.spec_from_file_location("medzoo_scripts_export_zoo_text", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    export = sys.modules["medzoo_scripts_export_zoo_text"]
    data = _Records()
    metrics = evaluate(_Echo(), data, data.records, n_boot=0, batch_size=4, figures=False, postprocess="largest")
    raw, summary, post, rule = export.postprocess_choice(metrics)
    assert raw["dice_per_volume"]["value"] < 0.5  # A's speck costs Dice without the cleaning
    assert summary["dice_per_volume"] == raw["dice_per_volume"]
    assert summary["dice_per_volume_largest_component"]["value"] == pytest.approx(0.5)
    assert summary["per_patient_dice"]["A"] < 1.0  # the raw per-patient numbers, not the cleaned ones
    assert summary["lesion_free_slices_with_prediction"]["count"] == 1  # B's speck on a lesion-free slice
    assert summary["lesion_free_slices_with_prediction_largest_component"]["count"] == 1  # B's only component stays
    assert post == "largest" and "2 validation patients: 0.500 keeping each patient's largest" in rule
