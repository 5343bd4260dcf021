"""Reader of the chest X-ray set: records with patient and subtype, patient-grouped splits, class weights."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from medzoo.data import SPLITS, DataError, Dataset, Record, split_by_patient
from medzoo.images import InputProfile
from medzoo_chest_xray.augment import DEFAULT_AUGMENT
from medzoo_chest_xray.check import IMAGE_SUFFIXES, check_images
from medzoo_chest_xray.names import parse_name

log = logging.getLogger("medzoo.chest_xray")

CLASS_NAMES = ["NORMAL", "PNEUMONIA"]
LAYOUT = "ROOT/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg"
IMAGE_SIZE = 256


class ChestXray(Dataset):
    """The Kermany pediatric chest X-ray set (pneumonia vs normal) in its published folder layout.

    Labels come from the class folder: NORMAL=0, PNEUMONIA=1. The patient and the subtype (``bacteria``,
    ``virus``, ``normal``) come from the file name. Every image is checked (decoded once, verdicts cached)
    before it is listed, so a bad file is reported by name instead of failing inside tf.data.

    Args:
        root: the folder holding ``train/`` (and optionally ``val/``, ``test/``), or a folder containing
            ``chest_xray/``.
        on_error: ``"raise"`` (default) stops at the first bad file or folder with a message naming it;
            ``"skip"`` logs and skips it (see :attr:`skipped`).
        check: decode-check every image (cached); ``False`` only checks names and folders.
    """

    name = "chest-xray"
    task = "classification"
    class_names = CLASS_NAMES
    fill_mode = "nearest"  # rotated-in corners repeat the edge, as the tf.data path does
    default_augment = DEFAULT_AUGMENT
    pipeline_options = frozenset({"image_size"})
    # gray-level mean and std of 150 random training X-rays: means 69-166 (1st-99th percentile 76-163), stds
    # 28-78; widened so that only clearly different images (a mask, an MRI slice, a blank page) are flagged
    input_profile = InputProfile("pediatric chest X-rays", mean=(50, 200), std=(20, 100))

    def __init__(self, root: str | Path, on_error: str = "raise", check: bool = True,
                 image_size: int = IMAGE_SIZE) -> None:
        root = Path(root)
        while not (root / "train").is_dir() and (root / "chest_xray").is_dir():
            root = root / "chest_xray"
        super().__init__(root, on_error)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such folder (expected {LAYOUT})")
        self.check = check
        self.image_size = int(image_size)
        self._records: list[Record] | None = None

    def split_dirs(self) -> list[Path]:
        """The published split folders present (``train``, ``val``, ``test``), in that order."""
        dirs = [self.root / s for s in SPLITS if (self.root / s).is_dir()]
        if not any(d.name == "train" for d in dirs) or not any((d / c).is_dir() for d in dirs for c in CLASS_NAMES):
            found = sorted(p.name for p in self.root.iterdir())[:10]
            raise DataError(f"{self.root}: wrong layout, expected {LAYOUT} (found {found or 'nothing'})")
        return dirs

    def _files(self) -> list[tuple[Path, str, int]]:
        """(file, split, label) for every candidate image; folders and names are checked here."""
        out: list[tuple[Path, str, int]] = []
        for split_dir in self.split_dirs():
            for extra in sorted(split_dir.iterdir()):
                if extra.name not in CLASS_NAMES and not extra.name.startswith("."):
                    log.warning("ignoring %s: not a class folder (%s)", extra, ", ".join(CLASS_NAMES))
            for label, cls in enumerate(CLASS_NAMES):
                folder = split_dir / cls
                if not folder.is_dir():
                    self.problems(folder, f"missing class folder (expected {LAYOUT})")
                    continue
                n_before = len(out)
                for f in sorted(folder.iterdir()):
                    if f.name.startswith("."):
                        continue
                    if f.is_dir():
                        self.problems(f, "unexpected folder inside a class folder")
                    elif f.suffix.lower() not in IMAGE_SUFFIXES:
                        self.problems(f, f"not an image file ({f.suffix or 'no extension'}; expected "
                                         f"{', '.join(IMAGE_SUFFIXES)})")
                    else:
                        out.append((f, split_dir.name, label))
                if len(out) == n_before:
                    self.problems(folder, "empty class folder (no .jpeg/.jpg/.png images)")
        return out

    def records(self) -> list[Record]:
        """Every readable image, split by split and class by class, in name order."""
        if self._records is not None:
            return self._records
        files = self._files()
        verdicts = check_images([f for f, _, _ in files], self.root) if self.check else {}
        out: list[Record] = []
        unparsed: list[str] = []
        for f, split, label in files:
            why = verdicts.get(str(f))
            if why is not None:
                self.problems(f, why)
                continue
            parsed = parse_name(f.stem)
            subtype = parsed.subtype
            if subtype is None:
                unparsed.append(f.name)
                subtype = "normal" if label == 0 else "unknown"
            elif (subtype == "normal") != (label == 0):
                self.problems(f, f"file name says {subtype} but the image is in {CLASS_NAMES[label]}/ "
                                 "(label from folder and name disagree)")
                continue
            out.append(Record(image=str(f), target=label, patient=parsed.patient, split=split, index=parsed.index,
                              meta={"subtype": subtype, "class_name": CLASS_NAMES[label], "published_split": split}))
        if unparsed:
            log.warning("%d file names are not Kermany names; their patient id is the file stem: %s",
                        len(unparsed), ", ".join(unparsed[:10]) + (" ..." if len(unparsed) > 10 else ""))
        if not any(r.split == "train" for r in out):
            raise DataError(f"{self.root / 'train'}: no readable training images (expected {LAYOUT})")
        self._records = out
        return out

    def splits(self, val_fraction: float = 0.15, seed: int = 0, use_published_val: bool = False,
               **kwargs: Any) -> dict[str, list[Record]]:
        """``{"train", "val"}`` (+ ``"test"`` when published): validation carved from train by patient.

        Validation patients are drawn from the published train split (and the published val split, which is
        folded into train first unless ``use_published_val``), stratified by label and deterministic in
        ``seed``. The published test split is kept as it is.
        """
        recs = self.records()
        published_val = [r for r in recs if r.split == "val"]
        pool = [r for r in recs if r.split == "train"]
        if published_val and not use_published_val:
            pool += published_val
        if use_published_val:
            if not published_val:
                raise DataError(f"{self.root / 'val'}: use_published_val=True but there is no published val split")
            out = {"train": pool, "val": published_val}
        else:
            if not 0.0 < val_fraction < 1.0:
                raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
            out = self.carve_val(pool, val_fraction, seed)
        test = [attrs.evolve(r, split="test") for r in recs if r.split == "test"]
        if test:
            out["test"] = test
        return out

    def carve_val(self, pool: list[Record], val_fraction: float, seed: int) -> dict[str, list[Record]]:
        """``{"train", "val"}`` from ``pool`` by patient, stratified by label: the one step of :meth:`splits` a
        view of these files with other labels (``medzoo-xray3``'s three classes) overrides."""
        return split_by_patient(pool, {"train": 1.0 - val_fraction, "val": val_fraction}, seed=seed)

    def decode(self, record: Record) -> tuple[np.ndarray, np.float32]:
        """One X-ray as ``(S, S, 1)`` uint8 grayscale (S = ``image_size``), and its label.

        Pillow decodes it (RGB to luma as ITU-R 601, 16-bit to 8-bit by /257) and resizes it bilinearly,
        antialiased when it shrinks: what the tf.data path's decode does.
        """
        from medzoo_chest_xray.decode import read_gray

        return read_gray(record.image, self.image_size), np.float32(record.target)

    def configured(self, options: Any) -> ChestXray:
        """A copy that decodes to ``options.image_size`` when that is set and differs."""
        if not options.image_size or options.image_size == self.image_size:
            return self
        import copy

        other = copy.copy(self)
        other.image_size = int(options.image_size)
        return other

    def decode_settings(self) -> dict[str, Any]:
        """The side images are resized to."""
        return {"image_size": self.image_size}

    def class_weights(self, records: Sequence[Record]) -> dict[int, float] | None:
        """Balanced weights ``n / (2 * n_c)`` from ``records`` (pass the training split)."""
        counts = Counter(int(r.target) for r in records)
        n = sum(counts.values())
        weights = {}
        for c in range(len(CLASS_NAMES)):
            if counts[c] == 0:
                log.warning("no %s records: its class weight is 1.0", CLASS_NAMES[c])
                weights[c] = 1.0
            else:
                weights[c] = n / (len(CLASS_NAMES) * counts[c])
        return weights

    def summary(self) -> dict[str, Any]:
        """Counts per published split and class, subtypes, patients and skipped files."""
        recs = self.records()
        out: dict[str, Any] = {"root": str(self.root), "images": len(recs),
                               "patients": len({r.patient for r in recs}), "skipped": len(self.skipped)}
        for split in SPLITS:
            part = [r for r in recs if r.split == split]
            if part:
                out[split] = {
                    "images": len(part),
                    "classes": {c: sum(r.target == i for r in part) for i, c in enumerate(CLASS_NAMES)},
                    "subtypes": dict(sorted(Counter(r.meta["subtype"] for r in part).items())),
                    "patients": len({r.patient for r in part}),
                }
        return out

    def pipeline(self, records: Sequence[Record], training: bool = False, batch_size: int = 32,
                 augment: dict[str, float] | None = None, seed: int = 0, deterministic: bool = False,
                 repeat: bool = False, cache: str | None = "memory", image_size: int | None = None,
                 shuffle_buffer: int | None = None) -> Any:
        """A ``tf.data.Dataset`` of ``(image float32 (N, S, S, 1) in [0, 255], label float32 (N,))``.

        Args:
            records: the records to stream (decoded in parallel, to grayscale, resized to ``image_size``²).
            training: shuffle and augment.
            batch_size: examples per batch.
            augment: augmentation strengths (``hflip``, ``vflip`` probabilities, ``rotation`` a fraction of a
                full turn, ``zoom`` a fraction of the side); ``None`` uses
                :data:`medzoo_chest_xray.augment.DEFAULT_AUGMENT`; ``{}`` turns it off.
            seed: seed for shuffling and augmentation.
            deterministic: fixed order, for repeatable runs.
            repeat: repeat forever (the caller sets ``steps_per_epoch``).
            cache: ``"memory"`` (default), a file path prefix, or ``None``: where decoded uint8 images are kept.
            image_size: side the images are resized to (default the dataset's ``image_size``, 256: what the
                study's CNNs expect).
            shuffle_buffer: shuffle buffer (default: every record).
        """
        from medzoo_chest_xray.pipeline import classification_pipeline

        image_size = image_size or self.image_size
        return classification_pipeline(list(records), training=training, batch_size=batch_size, augment=augment,
                                       seed=seed, deterministic=deterministic, repeat=repeat, cache=cache,
                                       image_size=image_size, shuffle_buffer=shuffle_buffer)
