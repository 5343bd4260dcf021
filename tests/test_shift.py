"""The shift check: fixed acquisition perturbations of raw pixels, and a classifier scored under each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medzoo.shift import PERTURBATIONS, format_shift, shift_check


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbations_keep_shape_and_dtype_and_are_fixed(name: str) -> None:
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(120, 40, (32, 24, 1)), 0, 255).astype(np.uint8)
    fn = PERTURBATIONS[name][1]
    out = fn(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, fn(img))  # no randomness
    assert not np.array_equal(out, img)  # it does change the image


def test_contrast_and_gamma_go_the_stated_way() -> None:
    img = np.tile(np.linspace(20, 235, 64).astype(np.uint8), (8, 1))[..., None]
    low, high = PERTURBATIONS["contrast_low"][1](img), PERTURBATIONS["contrast_high"][1](img)
    assert low.std() < img.std() < high.std()
    assert PERTURBATIONS["gamma_dark"][1](img).mean() < img.mean() < PERTURBATIONS["gamma_bright"][1](img).mean()


class _Brightness:
    """A stand-in classifier: P(positive) rises with the image's mean brightness."""

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(np.asarray(x, np.float32).mean(axis=(1, 2, 3)) - 128) / 10))[:, None]


def test_shift_check_reports_every_condition(tmp_path: Path) -> None:
    from medzoo_chest_xray.reader import ChestXray
    from medzoo_chest_xray.synthetic import write_synthetic

    ds = ChestXray(write_synthetic(tmp_path / "cx", patients=8, size=48, seed=1, test_patients=0), image_size=48)
    records = ds.records()
    result = shift_check(_Brightness(), ds, records, threshold=0.5, batch_size=8)
    assert result["n"] == len(records) and set(result["perturbed"]) == set(PERTURBATIONS)
    for point in (result["clean"], *result["perturbed"].values()):
        assert 0.0 <= point["auc"] <= 1.0 and 0.0 <= point["specificity"] <= 1.0
    dark = result["perturbed"]["gamma_dark"]
    assert dark["recall"] <= result["clean"]["recall"]  # darker images look less 'positive' to this model
    assert result["worst_auc_drop"] == max(p["auc_drop"] for p in result["perturbed"].values())
    table = format_shift(result)
    assert "clean" in table and "jpeg" in table and "threshold 0.500" in table
