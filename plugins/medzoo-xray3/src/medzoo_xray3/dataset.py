"""The chest X-ray files read as three classes: normal, bacterial and viral pneumonia.

The label comes from the subtype that :mod:`medzoo_chest_xray` parses out of each Kermany file name; everything
else (files, checks, patients, decoding, augmentation, the published test split) is the chest-xray reader's.
Validation patients are carved from the training patients stratified by their class, deterministic in ``seed``.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from medzoo.data import SPLITS, DataError, Record, split_by_patient
from medzoo_chest_xray.reader import ChestXray

log = logging.getLogger("medzoo.xray3")

CLASS_NAMES = ["normal", "bacteria", "virus"]


class ChestXray3(ChestXray):
    """The Kermany chest X-rays with labels normal=0, bacteria=1, virus=2 (from the file names).

    Images whose name gives no subtype (a PNEUMONIA image not named ``person<P>_{bacteria,virus}_<n>``) have no
    three-class label: they are left out, with a warning counting them. Takes the arguments of
    :class:`~medzoo_chest_xray.reader.ChestXray`.
    """

    name = "chest-xray3"
    task = "multiclass"
    class_names = CLASS_NAMES

    def records(self) -> list[Record]:
        """The chest-xray records with the three-class label as ``target`` (the binary one in ``meta``)."""
        cached = getattr(self, "_records3", None)
        if cached is not None:
            return cached
        out: list[Record] = []
        unlabelled = []
        for r in super().records():
            subtype = r.meta.get("subtype")
            if subtype not in CLASS_NAMES:
                unlabelled.append(Path(r.image).name)
                continue
            meta = {**r.meta, "binary_target": r.target, "class_name": subtype}
            out.append(attrs.evolve(r, target=CLASS_NAMES.index(subtype), meta=meta))
        if unlabelled:
            log.warning("%d images have no bacteria/virus subtype in their name and are left out: %s",
                        len(unlabelled), ", ".join(unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else ""))
        if not any(r.split == "train" for r in out):
            raise DataError(f"{self.root / 'train'}: no training images with a three-class label")
        self._records3 = out
        return out

    def carve_val(self, pool: list[Record], val_fraction: float, seed: int) -> dict[str, list[Record]]:
        """``{"train", "val"}`` from ``pool``, patient-disjoint and stratified by class: a patient's class is its
        most frequent label (Kermany patients are one subtype, bar a few). The rest of the split rule (published
        val folded into train unless ``use_published_val``, the test split kept) is chest-xray's."""
        return stratified_split(pool, val_fraction, seed)

    def class_weights(self, records: Sequence[Record]) -> dict[int, float] | None:
        """Balanced weights ``n / (K * n_c)`` from ``records`` (pass the training split)."""
        counts = Counter(int(r.target) for r in records)
        n = sum(counts.values())
        return {c: n / (len(CLASS_NAMES) * counts[c]) if counts[c] else 1.0 for c in range(len(CLASS_NAMES))}

    def summary(self) -> dict[str, Any]:
        """Counts per published split and class, patients and skipped files."""
        recs = self.records()
        out: dict[str, Any] = {"root": str(self.root), "images": len(recs),
                               "patients": len({r.patient for r in recs}), "skipped": len(self.skipped)}
        for split in SPLITS:
            part = [r for r in recs if r.split == split]
            if part:
                out[split] = {"images": len(part), "patients": len({r.patient for r in part}),
                              "classes": {c: sum(r.target == i for r in part) for i, c in enumerate(CLASS_NAMES)}}
        return out


def patient_class(records: Sequence[Record]) -> dict[str, int]:
    """Each patient's most frequent label (ties: the lowest)."""
    labels: dict[str, Counter[int]] = defaultdict(Counter)
    for r in records:
        labels[r.patient][int(r.target)] += 1
    return {p: min(c, key=lambda k: (-c[k], k)) for p, c in labels.items()}


def stratified_split(records: Sequence[Record], val_fraction: float, seed: int = 0) -> dict[str, list[Record]]:
    """Train/val by patient, each class's patients split ``1 - val_fraction`` : ``val_fraction`` on its own
    (with :func:`medzoo.data.split_by_patient`), records kept in their order."""
    cls = patient_class(records)
    assign: dict[str, str] = {}
    for k in sorted(set(cls.values())):
        mine = [r for r in records if cls[r.patient] == k]
        for name, part in split_by_patient(mine, {"train": 1 - val_fraction, "val": val_fraction}, seed).items():
            assign.update({r.patient: name for r in part})
    out: dict[str, list[Record]] = {"train": [], "val": []}
    for r in records:
        out[assign[r.patient]].append(attrs.evolve(r, split=assign[r.patient]))
    return out


def write_synthetic(root: str | Path, patients: int = 24, size: int = 128, seed: int = 0,
                    test_patients: int | None = None, max_images: int = 3) -> Path:
    """A synthetic set in the Kermany layout with all three classes (see
    :func:`medzoo_chest_xray.synthetic.write_synthetic`: every fourth patient is bacterial, every other even one
    viral)."""
    from medzoo_chest_xray.synthetic import write_synthetic as chest

    return chest(root, patients=patients, size=size, seed=seed, test_patients=test_patients, max_images=max_images)
