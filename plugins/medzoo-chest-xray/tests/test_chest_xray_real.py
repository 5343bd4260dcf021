"""The reader on the real shared copy (skipped when ../shared/data is absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medzoo_chest_xray.names import parse_name
from medzoo_chest_xray.reader import ChestXray

pytestmark = pytest.mark.realdata


def test_counts_and_labels(real: ChestXray) -> None:
    recs = real.records()
    assert len(recs) == 5216
    assert Counter(r.target for r in recs) == {0: 1341, 1: 3875}
    assert all(r.split == "train" for r in recs)
    for r in recs:
        assert Path(r.image).parent.name == real.class_names[r.target]
    assert real.class_names == ["NORMAL", "PNEUMONIA"]


def test_patients_and_subtypes(real: ChestXray) -> None:
    recs = real.records()
    subtypes = Counter(r.meta["subtype"] for r in recs)
    assert subtypes["normal"] == 1341
    assert subtypes["bacteria"] + subtypes["virus"] == 3875
    assert subtypes["bacteria"] > 0 and subtypes["virus"] > 0
    for r in recs:
        name = Path(r.image).stem
        if r.target == 1:
            assert r.patient == name.split("_")[0] and r.patient.startswith("person")
            assert r.meta["subtype"] == name.split("_")[1]
        else:
            assert name.startswith(r.patient + "-") and "IM-" in r.patient
    # several images per patient exist, and no patient holds both labels
    per_patient = Counter(r.patient for r in recs)
    assert max(per_patient.values()) > 1
    labels: dict[str, set[int]] = {}
    for r in recs:
        labels.setdefault(r.patient, set()).add(int(r.target))
    assert all(len(v) == 1 for v in labels.values())


def test_splits_patient_disjoint_stratified_deterministic(real: ChestXray) -> None:
    a = real.splits(val_fraction=0.15, seed=0)
    assert set(a) == {"train", "val"}
    assert len(a["train"]) + len(a["val"]) == 5216
    pa = {k: {r.patient for r in v} for k, v in a.items()}
    assert not pa["train"] & pa["val"]
    assert all(r.split == k for k, v in a.items() for r in v)
    # stratified: the val split's pneumonia share is close to the whole set's
    share = sum(r.target for r in a["val"]) / len(a["val"])
    assert abs(share - 3875 / 5216) < 0.05
    n_patients = len(pa["train"] | pa["val"])
    assert abs(len(pa["val"]) / n_patients - 0.15) < 0.01
    b = real.splits(val_fraction=0.15, seed=0)
    assert [r.image for r in a["val"]] == [r.image for r in b["val"]]
    c = real.splits(val_fraction=0.15, seed=1)
    assert {r.patient for r in c["val"]} != pa["val"]


def test_class_weights(real: ChestXray) -> None:
    train = real.splits(seed=0)["train"]
    n0 = sum(r.target == 0 for r in train)
    n1 = len(train) - n0
    w = real.class_weights(train)
    assert w == pytest.approx({0: len(train) / (2 * n0), 1: len(train) / (2 * n1)})
    assert w[0] > 1.0 > w[1]


def test_summary_and_parent_root(real: ChestXray, real_root: Path) -> None:
    s = real.summary()
    assert s["train"]["classes"] == {"NORMAL": 1341, "PNEUMONIA": 3875}
    assert s["train"]["subtypes"]["normal"] == 1341
    assert s["patients"] == len({r.patient for r in real.records()})
    assert s["skipped"] == 0
    parent = ChestXray(real_root.parent)
    assert parent.root == real_root
    assert len(parent.records()) == 5216


def test_real_pipeline_batch(real: ChestXray) -> None:
    import numpy as np

    recs = real.records()[:4] + real.records()[-4:]
    x, y = next(iter(real.pipeline(recs, training=False, batch_size=8)))
    assert x.shape == (8, 256, 256, 1) and x.dtype.name == "float32"
    assert y.numpy().tolist() == [0.0] * 4 + [1.0] * 4
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 255.0 and float(np.std(x)) > 10.0
    assert parse_name(Path(recs[0].image).stem).subtype == "normal"
