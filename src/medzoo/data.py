"""Records, patient-grouped splits and the :class:`Dataset` interface every dataset plugin implements.

The one path for data::

    files on disk --Dataset.records()--> [Record] --split_by_patient()--> {"train": [...], "val": [...]}
        --Dataset.pipeline(records, training)--> tf.data of (raw image, label | mask)

Images leave the pipeline as raw pixels (float32 in [0, 255]); the model holds its own preprocessing.
"""

from __future__ import annotations

import abc
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from medzoo.registry import MedzooError

log = logging.getLogger("medzoo.data")

SPLITS = ("train", "val", "test")


class DataError(MedzooError, ValueError):
    """Bad input on disk: the message names the file and what is wrong with it."""


@attrs.frozen
class Record:
    """One example on disk.

    ``target`` is the class label (int) for classification or the mask path for segmentation.
    ``index`` orders a patient's slices so a volume can be rebuilt.
    """

    image: str
    target: int | str
    patient: str
    split: str | None = None
    index: int = 0
    meta: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


@attrs.define
class Problems:
    """Collects bad files: raises at once (``on_error="raise"``) or logs and keeps a list (``"skip"``)."""

    on_error: str = attrs.field(default="raise", validator=attrs.validators.in_(("raise", "skip")))
    skipped: list[tuple[str, str]] = attrs.field(factory=list)

    def __call__(self, path: str | Path, why: str) -> None:
        """Report one bad file."""
        if self.on_error == "raise":
            raise DataError(f"{path}: {why} (pass on_error='skip' to skip such files and log them)")
        log.warning("skipping %s: %s", path, why)
        self.skipped.append((str(path), why))


def patient_label(records: Iterable[Record]) -> dict[str, int]:
    """Per patient, 1 if any of its records is positive (label 1, or a non-empty mask flag)."""
    out: dict[str, int] = defaultdict(int)
    for r in records:
        positive = r.target == 1 if isinstance(r.target, int) else bool(r.meta.get("positive", False))
        out[r.patient] = max(out[r.patient], int(positive))
    return dict(out)


def split_by_patient(records: Sequence[Record], fractions: dict[str, float], seed: int = 0) -> dict[str, list[Record]]:
    """Split ``records`` into named parts by patient, stratified by the patient's label, deterministically.

    ``fractions`` maps split names to fractions of the patients; they must sum to 1. Every patient lands
    in exactly one split, so the splits are patient-disjoint.
    """
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    labels = patient_label(records)
    by_label: dict[int, list[str]] = defaultdict(list)
    for patient, label in sorted(labels.items()):
        by_label[label].append(patient)
    assign: dict[str, str] = {}
    rng = random.Random(seed)
    names = list(fractions)
    for label in sorted(by_label):
        patients = by_label[label]
        rng.shuffle(patients)
        n = len(patients)
        start = 0
        cum = 0.0
        for i, name in enumerate(names):
            cum += fractions[name]
            end = n if i == len(names) - 1 else int(round(cum * n))
            for p in patients[start:end]:
                assign[p] = name
            start = end
    parts: dict[str, list[Record]] = {name: [] for name in names}
    for r in records:
        parts[assign[r.patient]].append(attrs.evolve(r, split=assign[r.patient]))
    return parts


def kfold_by_patient(records: Sequence[Record], k: int, fold: int, seed: int = 0) -> dict[str, list[Record]]:
    """Fold ``fold`` of ``k`` patient-grouped, label-stratified folds: ``{"train": ..., "val": ...}``."""
    if not 0 <= fold < k:
        raise ValueError(f"fold must be in [0, {k}), got {fold}")
    parts = split_by_patient(records, {str(i): 1.0 / k for i in range(k)}, seed=seed)
    val = parts[str(fold)]
    train = [r for i in range(k) if i != fold for r in parts[str(i)]]
    return {"train": [attrs.evolve(r, split="train") for r in train],
            "val": [attrs.evolve(r, split="val") for r in val]}


class Dataset(abc.ABC):
    """A dataset in its on-disk layout. Plugins subclass this.

    Subclasses set ``name`` and ``task`` and implement :meth:`records` and :meth:`pipeline`.
    """

    name: str = ""
    task: str = ""

    def __init__(self, root: str | Path, on_error: str = "raise") -> None:
        self.root = Path(root)
        self.problems = Problems(on_error)

    @abc.abstractmethod
    def records(self) -> list[Record]:
        """Every readable record under ``root``, in a stable order."""

    @abc.abstractmethod
    def splits(self, val_fraction: float = 0.15, seed: int = 0, **kwargs: Any) -> dict[str, list[Record]]:
        """Train/val(/test) records, patient-disjoint; published splits are kept where present."""

    @abc.abstractmethod
    def pipeline(self, records: Sequence[Record], training: bool = False, batch_size: int = 32,
                 **kwargs: Any) -> Any:
        """A ``tf.data.Dataset`` of ``(raw image, target)`` batches for ``records``."""

    def class_weights(self, records: Sequence[Record]) -> dict[int, float] | None:
        """Balanced class weights (n / (k * n_c)) for classification; None for segmentation."""
        return None

    def summary(self) -> dict[str, Any]:
        """Counts per split and class, for ``medzoo info``."""
        return {}

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Files skipped with ``on_error="skip"`` and why."""
        return self.problems.skipped
