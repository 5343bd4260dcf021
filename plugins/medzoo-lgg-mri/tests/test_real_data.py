"""The LGG reader on the shared real data (``<repo>/../shared/data/kaggle_3m``); skipped when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from medzoo_lgg_mri.reader import LGGMRI

REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "kaggle_3m"

pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not REAL.is_dir(), reason=f"real LGG data not found at {REAL}")]


@pytest.fixture(scope="module")
def lgg() -> LGGMRI:
    return LGGMRI(REAL)


def test_counts(lgg: LGGMRI) -> None:
    recs = lgg.records()
    assert len({r.patient for r in recs}) == 53
    assert len(recs) == 1925
    assert sum(r.meta["positive"] for r in recs) == 663
    assert lgg.skipped == []
    assert lgg.summary()["slices_with_lesion"] == 663


def test_slices_in_order_per_patient(lgg: LGGMRI) -> None:
    recs = lgg.records()
    for p in {r.patient for r in recs}:
        idx = [r.index for r in recs if r.patient == p]
        assert idx == sorted(idx) and len(idx) == len(set(idx))


@pytest.mark.parametrize("seed", [0, 1])
def test_splits_are_patient_disjoint(lgg: LGGMRI, seed: int) -> None:
    parts = lgg.splits(val_fraction=0.2, seed=seed)
    train, val = ({r.patient for r in parts[k]} for k in ("train", "val"))
    assert not train & val and len(train | val) == 53
    assert len(parts["train"]) + len(parts["val"]) == 1925
    again = LGGMRI(REAL).splits(val_fraction=0.2, seed=seed)
    assert [r.image for r in again["val"]] == [r.image for r in parts["val"]]


def test_kfold_is_patient_disjoint(lgg: LGGMRI) -> None:
    vals = []
    for fold in range(5):
        parts = lgg.splits(k=5, fold=fold, seed=0)
        train, val = ({r.patient for r in parts[k]} for k in ("train", "val"))
        assert not train & val
        vals += sorted(val)
    assert sorted(vals) == sorted({r.patient for r in lgg.records()})


def test_data_csv_is_read_as_patient_metadata(lgg: LGGMRI) -> None:
    data = lgg.patient_data()
    patients = {r.patient for r in lgg.records()}
    assert patients <= set(data)
    row = data[sorted(patients)[0]]
    assert {"RNASeqCluster", "neoplasm_histologic_grade"} <= set(row)
