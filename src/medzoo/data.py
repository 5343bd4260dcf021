"""Records, patient-grouped splits and the :class:`Dataset` interface every dataset plugin implements.

The one path for data::

    files on disk --Dataset.records()--> [Record] --split_by_patient()--> {"train": [...], "val": [...]}
        --Dataset.pipeline(records, training)--> tf.data of (raw image, label | mask)

Images leave the pipeline as raw pixels (uint8, or float32 in [0, 255]); the model holds its own preprocessing.
:meth:`Dataset.batches` is the one entry point for the runner and evaluation: by default
:class:`medzoo.loader.ArrayBatches` over the records decoded once by :meth:`Dataset.decode` (:mod:`medzoo.arrays`),
on any backend and without TensorFlow; on TensorFlow the dataset's tf.data :meth:`Dataset.pipeline` with
``loader="tfdata"`` (and under multi-replica ``tf.distribute``).
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

from medzoo.errors import DataError, MedzooError

log = logging.getLogger("medzoo.data")

SPLITS = ("train", "val", "test")


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


def fingerprint(records: Sequence[Record]) -> str:
    """A sha256 over the records' paths, sizes and targets: changes if the data on disk changes."""
    import hashlib

    h = hashlib.sha256()
    for r in records:
        for part in (r.image, str(r.target)):
            p = Path(part)
            size = p.stat().st_size if p.exists() else -1
            h.update(f"{p.name}:{size};".encode())
        h.update(f"{r.patient}|{r.split}\n".encode())
    return h.hexdigest()


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


@attrs.frozen(kw_only=True)
class PipelineOptions:
    """How a dataset's records become batches; unknown options are an error, not silently dropped.

    Every dataset takes the common fields; the others only where the dataset lists them in
    :attr:`Dataset.pipeline_options` (``patch_size`` and ``lesion_fraction`` are segmentation options).
    """

    batch_size: int = 32
    augment: dict[str, float] | None = None  # None: the dataset's default; {}: none
    seed: int = 0
    deterministic: bool = False
    repeat: bool = False  # forever (the caller sets steps_per_epoch)
    cache: str | None = "memory"
    patch_size: int | None = None  # train on random square crops
    lesion_fraction: float | None = None  # draw this fraction of training examples from positive records
    image_size: int | None = None  # resize to this side (datasets that resize, such as chest-xray)

    COMMON = ("batch_size", "augment", "seed", "deterministic", "repeat", "cache")

    @classmethod
    def make(cls, **options: Any) -> PipelineOptions:
        """Options from keyword arguments; an unknown name raises a :class:`MedzooError` listing the known."""
        known = [f.name for f in attrs.fields(cls)]
        bad = sorted(set(options) - set(known))
        if bad:
            raise MedzooError(f"unknown pipeline option(s) {bad}; known: {known}")
        if options.get("batch_size", 1) < 1:
            raise MedzooError(f"batch_size must be at least 1, got {options['batch_size']}")
        return cls(**options)

    def check(self, dataset: Dataset) -> dict[str, Any]:
        """The options as keyword arguments of ``dataset.pipeline``; an option the dataset does not take, set
        to other than its default, raises a :class:`MedzooError`."""
        out: dict[str, Any] = {}
        for f in attrs.fields(type(self)):
            value = getattr(self, f.name)
            if f.name in self.COMMON or f.name in dataset.pipeline_options:
                out[f.name] = value
            elif value != f.default:
                raise MedzooError(f"dataset {dataset.name!r} does not take pipeline option {f.name}={value!r}; "
                                  f"it takes {sorted({*self.COMMON, *dataset.pipeline_options})}")
        return out


class Dataset(abc.ABC):
    """A dataset in its on-disk layout. Plugins subclass this.

    Subclasses set ``name`` and ``task`` and implement :meth:`records` and :meth:`pipeline`.
    """

    name: str = ""
    task: str = ""
    #: the :class:`PipelineOptions` beyond the common ones that :meth:`pipeline` and :meth:`batches` take
    pipeline_options: frozenset[str] = frozenset()
    #: how the array path fills pixels from outside the image when it rotates or shifts (``keras.ops.image``)
    fill_mode: str = "constant"
    #: augmentation strengths used when a recipe says ``augment=None`` (see :mod:`medzoo.augment`)
    default_augment: dict[str, float] = {}

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

    def decode(self, record: Record) -> tuple[Any, Any]:
        """One record as ``(image (H, W, C) uint8, target)``: the label, or the mask ``(H, W, 1)`` in {0, 1}.

        Every image of a dataset decodes to the same shape. Bad files raise :class:`DataError` naming them.
        Needed by the array path (:meth:`batches`), the default on every backend.
        """
        raise NotImplementedError(f"dataset {self.name!r} has no decode(): it can only feed the TensorFlow backend")

    def decode_settings(self) -> dict[str, Any]:
        """What :meth:`decode`'s output depends on besides the files (image size...): part of the cache key."""
        return {}

    def batches(self, records: Sequence[Record], training: bool = False,
                options: PipelineOptions | None = None, loader: str = "auto", steps: int | None = None,
                **kwargs: Any) -> Any:
        """Batches of ``(raw image, target)`` for ``records``, on any Keras backend.

        ``loader="arrays"`` (what ``"auto"`` picks where the dataset has :meth:`decode`): a
        :class:`medzoo.loader.ArrayBatches` over the records decoded once (:mod:`medzoo.arrays`), which needs no
        TensorFlow. ``loader="tfdata"``: the dataset's tf.data :meth:`pipeline` (TensorFlow only; what
        ``tf.distribute`` shards over replicas and workers). ``options`` (or keyword arguments, as in
        :meth:`PipelineOptions.make`) say how; ``steps`` fixes the array path's batches per epoch (the tf.data
        path repeats with ``repeat=True``).
        """
        base = attrs.asdict(options, recurse=False) if options is not None else {}
        opts = PipelineOptions.make(**{**base, **kwargs}) if kwargs or options is None else options
        checked = opts.check(self)
        if not records:
            raise MedzooError("no records to build batches from")
        if loader not in ("auto", "arrays", "tfdata"):
            raise MedzooError(f"unknown loader {loader!r}; choose from auto, arrays, tfdata")
        if loader == "auto":
            loader = "arrays" if self.can_decode else "tfdata"
        if loader == "tfdata":
            return self.pipeline(list(records), training=training, **checked)
        from medzoo.loader import ArrayBatches

        return ArrayBatches.from_dataset(self.configured(opts), list(records), training=training, options=opts,
                                         steps=steps)

    @property
    def can_decode(self) -> bool:
        """Whether this dataset implements :meth:`decode` (and so feeds the array path, on any backend)."""
        return type(self).decode is not Dataset.decode

    def configured(self, options: PipelineOptions) -> Dataset:
        """This dataset as :meth:`decode` should see it under ``options`` (a copy with another
        ``image_size``, say); the default is the dataset itself."""
        return self

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


def open_dataset(name: str, root: str | Path | None = None, on_error: str = "raise", **kwargs: Any) -> Dataset:
    """Open the registered dataset ``name`` at ``root``; with ``root=None``, a synthetic copy in its real layout."""
    from medzoo.registry import registry

    spec = registry().get("datasets", name)
    if root is None:
        from medzoo.synthetic import synthetic_root

        root = synthetic_root(spec)
    return spec.open(root, on_error=on_error, **kwargs)


def recipe_splits(dataset: Dataset, recipe: Any) -> dict[str, list[Record]]:
    """The patient split a recipe trains and is evaluated with (its ``val_fraction`` and ``seed``): the one
    place where training, evaluation and the cards compute it."""
    return dataset.splits(val_fraction=recipe.val_fraction, seed=recipe.seed)
