"""medzoo-xray3 on the real Kermany files (skipped, with the path, when ``../shared/data`` is absent): labels from
names, the chest-xray reader's patients, class-stratified patient splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def real3(real_root: Path):  # noqa: ANN201 - a ChestXray3
    """The real set as three classes, listed by name (check=False: no decode-check of 5,000 images here)."""
    from medzoo_xray3.dataset import ChestXray3

    return ChestXray3(real_root, check=False)


def test_labels_are_the_subtypes_in_the_file_names(real3, real_root: Path) -> None:  # noqa: ANN001
    recs = real3.records()
    on_disk = Counter()
    for f in (real_root / "train").glob("*/*"):
        on_disk["bacteria" if "_bacteria_" in f.name else "virus" if "_virus_" in f.name else "normal"] += 1
    got = Counter(real3.class_names[r.target] for r in recs if r.split == "train")
    assert got == on_disk
    assert got["normal"] > 1000 and got["bacteria"] > got["virus"] > 1000


def test_patients_are_the_chest_xray_readers(real3, real_root: Path) -> None:  # noqa: ANN001
    from medzoo_chest_xray.reader import ChestXray

    binary = {r.image: r.patient for r in ChestXray(real_root, check=False).records()}
    assert {r.image: r.patient for r in real3.records()} == binary


def test_splits_are_patient_disjoint_and_keep_the_class_mix(real3) -> None:  # noqa: ANN001
    parts = real3.splits(val_fraction=0.15, seed=0)
    train, val = parts["train"], parts["val"]
    assert not {r.patient for r in train} & {r.patient for r in val}
    assert 0.12 < len({r.patient for r in val}) / len({r.patient for r in train + val}) < 0.18
    from medzoo_xray3.dataset import patient_class

    classes = {k: Counter(patient_class(v).values()) for k, v in (("train", train), ("val", val))}
    for c in range(3):  # stratified by patient class: the patient shares agree to within rounding
        share = {k: n[c] / sum(n.values()) for k, n in classes.items()}
        assert abs(share["train"] - share["val"]) < 0.01, (real3.class_names[c], share)
