"""Core data types: Record, Problems, patient-grouped splits and k-fold."""

from __future__ import annotations

import attrs
import pytest

from medzoo.data import DataError, Problems, Record, kfold_by_patient, patient_label, split_by_patient


def _records(n_pos: int = 8, n_neg: int = 12, slices: int = 3) -> list[Record]:
    """Segmentation-style records: ``slices`` per patient, the first n_pos patients with a lesion."""
    out = []
    for p in range(n_pos + n_neg):
        for i in range(slices):
            out.append(Record(image=f"p{p}_{i}.tif", target=f"p{p}_{i}_mask.tif", patient=f"P{p:02d}", index=i,
                              meta={"positive": p < n_pos and i == 1}))
    return out


def _patients(records: list[Record]) -> set[str]:
    return {r.patient for r in records}


def test_record_is_frozen_and_meta_not_in_equality() -> None:
    a = Record("a.tif", 1, "P1", meta={"x": 1})
    b = Record("a.tif", 1, "P1", meta={"x": 2})
    assert a == b and hash(a) == hash(b)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.patient = "P2"  # type: ignore[misc]


def test_patient_label_classification_and_segmentation() -> None:
    recs = [Record("a", 0, "A"), Record("b", 1, "A"), Record("c", 0, "B"),
            Record("d", "m", "C", meta={"positive": True}), Record("e", "m", "D")]
    assert patient_label(recs) == {"A": 1, "B": 0, "C": 1, "D": 0}


def test_split_by_patient_is_disjoint_complete_and_stratified() -> None:
    recs = _records()
    parts = split_by_patient(recs, {"train": 0.75, "val": 0.25}, seed=1)
    assert sum(len(v) for v in parts.values()) == len(recs)
    assert not _patients(parts["train"]) & _patients(parts["val"])
    assert _patients(parts["train"]) | _patients(parts["val"]) == _patients(recs)
    assert all(r.split == name for name, v in parts.items() for r in v)
    labels = patient_label(recs)
    val_pos = sum(labels[p] for p in _patients(parts["val"]))
    assert len(_patients(parts["val"])) == 5 and val_pos == 2  # 25% of 8 positive and of 12 negative patients
    # a patient's slices stay together and in their order
    for v in parts.values():
        for p in _patients(v):
            assert [r.index for r in v if r.patient == p] == [0, 1, 2]


def test_split_by_patient_is_deterministic_by_seed() -> None:
    recs = _records()
    fr = {"train": 0.6, "val": 0.2, "test": 0.2}
    a = split_by_patient(recs, fr, seed=7)
    b = split_by_patient(list(recs), fr, seed=7)
    assert {k: _patients(v) for k, v in a.items()} == {k: _patients(v) for k, v in b.items()}
    others = [split_by_patient(recs, fr, seed=s) for s in range(8, 12)]
    assert any(_patients(o["val"]) != _patients(a["val"]) for o in others)


def test_split_by_patient_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_patient(_records(), {"train": 0.7, "val": 0.2})


def test_kfold_by_patient_partitions_patients() -> None:
    recs = _records()
    k = 4
    vals = [kfold_by_patient(recs, k, f, seed=3) for f in range(k)]
    seen: list[str] = []
    for fold in vals:
        assert not _patients(fold["train"]) & _patients(fold["val"])
        assert len(fold["train"]) + len(fold["val"]) == len(recs)
        assert {r.split for r in fold["val"]} == {"val"} and {r.split for r in fold["train"]} == {"train"}
        seen += sorted(_patients(fold["val"]))
    assert sorted(seen) == sorted(_patients(recs))  # each patient validates in exactly one fold
    again = kfold_by_patient(recs, k, 2, seed=3)
    assert _patients(again["val"]) == _patients(vals[2]["val"])
    with pytest.raises(ValueError, match="fold"):
        kfold_by_patient(recs, k, k)


def test_problems_raise_or_skip() -> None:
    with pytest.raises(DataError, match="bad.tif: broken"):
        Problems("raise")("bad.tif", "broken")
    skip = Problems("skip")
    skip("bad.tif", "broken")
    assert skip.skipped == [("bad.tif", "broken")]
    with pytest.raises(ValueError):
        Problems("ignore")
