"""Reader of the LGG MRI set: records by patient, patient-level splits, batches (tf.data or decoded arrays)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.data import DataError, Dataset, Record, kfold_by_patient, split_by_patient
from medzoo.images import InputProfile
from medzoo_lgg_mri.files import read_image, read_mask

SLICE = re.compile(r"^(?P<case>.+)_(?P<n>\d+)\.tiff?$", re.IGNORECASE)
MASK = re.compile(r"^(?P<case>.+)_(?P<n>\d+)_mask\.tiff?$", re.IGNORECASE)
LAYOUT = "ROOT/TCGA_<inst>_<patient>_<date>/<case>_<n>.tif with <case>_<n>_mask.tif"


def _image_shape(path: Path) -> tuple[int, ...]:
    """The image's shape, decoding all of it: a truncated or corrupt file fails here, not mid-training."""
    return tuple(read_image(path).shape)


class LGGMRI(Dataset):
    """The LGG FLAIR segmentation set (``kaggle_3m`` layout).

    Args:
        root: the ``kaggle_3m`` folder, or a folder that contains it.
        on_error: ``"raise"`` (default) stops at the first bad file with a message naming it; ``"skip"``
            logs and skips it (see :attr:`skipped`).
    """

    name = "lgg-mri"
    task = "segmentation"
    pipeline_options = frozenset({"patch_size", "lesion_fraction"})
    fill_mode = "constant"  # the MRI background is black
    default_augment = {"rotation": 0.05, "shift": 0.1, "shear": 0.1, "zoom": 0.1, "hflip": 0.5}
    # gray-level mean and std of 300 random kaggle_3m slices: at most 49 and 52 (mostly black background);
    # a chest X-ray (mean ~120) or a photograph is far outside
    input_profile = InputProfile("FLAIR brain MRI slices", mean=(0, 70), std=(0, 70))

    def __init__(self, root: str | Path, on_error: str = "raise") -> None:
        root = Path(root)
        if (root / "kaggle_3m").is_dir():
            root = root / "kaggle_3m"
        super().__init__(root, on_error)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such folder (expected {LAYOUT})")
        self._records: list[Record] | None = None

    def patient_dirs(self) -> list[Path]:
        """Patient folders: sub-folders holding ``.tif`` files."""
        dirs = sorted(d for d in self.root.iterdir() if d.is_dir() and any(d.glob("*.tif")))
        if not dirs:
            raise DataError(f"{self.root}: wrong layout, no patient folders with .tif slices (expected {LAYOUT})")
        return dirs

    @staticmethod
    def patient_id(folder: str) -> str:
        """``TCGA_CS_4941_19960909`` → ``TCGA_CS_4941`` (institution and patient; the date is dropped)."""
        parts = folder.split("_")
        return "_".join(parts[:3]) if len(parts) >= 4 and parts[0] == "TCGA" else folder

    def patient_data(self) -> dict[str, dict[str, str]]:
        """The optional ``ROOT/data.csv`` (genomic clusters, grade, age, ...) as ``{patient: {column: value}}``;
        empty when the file is absent. Patients are keyed as in :meth:`patient_id` (``TCGA_CS_4941``)."""
        import csv

        path = self.root / "data.csv"
        if not path.is_file():
            return {}
        with path.open(newline="") as f:
            return {row["Patient"]: row for row in csv.DictReader(f) if row.get("Patient")}

    def records(self) -> list[Record]:
        """Every slice/mask pair, patient by patient, slices in order; masks are read to flag lesions."""
        if self._records is not None:
            return self._records
        out: list[Record] = []
        for folder in self.patient_dirs():
            images: dict[int, Path] = {}
            masks: dict[int, Path] = {}
            for f in sorted(folder.iterdir()):
                if f.suffix.lower() not in (".tif", ".tiff"):
                    continue
                m_mask, m_img = MASK.match(f.name), SLICE.match(f.name)
                if m_mask or m_img:
                    found = masks if m_mask else images
                    n = int((m_mask or m_img)["n"])  # type: ignore[index]
                    if n in found:  # _10 and _010: which one is slice 10 cannot be known, so neither
                        other = f" (also {found[n].name})" if found[n] is not None else ""
                        self.problems(f, f"slice number {n} again{other}; all files of that number left out")
                        found[n] = None  # type: ignore[assignment]
                    else:
                        found[n] = f
                else:
                    self.problems(f, "file name is not <case>_<n>.tif or <case>_<n>_mask.tif")
            for found in (images, masks):
                for n in [n for n, f in found.items() if f is None]:
                    del found[n]
            for n in sorted(set(masks) - set(images)):
                self.problems(masks[n], "mask without its image")
            patient = self.patient_id(folder.name)
            for n in sorted(images):
                img = images[n]
                if n not in masks:
                    self.problems(img, f"image without its mask (expected {img.stem}_mask.tif)")
                    continue
                try:
                    shape = _image_shape(img)
                    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, 3)):
                        raise DataError(f"{img}: expected an (H, W, 3) image, got shape {shape}")
                    mask = read_mask(masks[n], shape[:2])
                except DataError as exc:
                    self.problems(str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[1])
                    continue
                out.append(Record(image=str(img), target=str(masks[n]), patient=patient, index=n,
                                  meta={"positive": bool(mask.any()), "lesion_pixels": int(mask.sum()),
                                        "case": folder.name}))
        if not out:
            raise DataError(f"{self.root}: no readable slice/mask pairs (expected {LAYOUT})")
        self._records = out
        return out

    def splits(self, val_fraction: float = 0.15, seed: int = 0, test_fraction: float = 0.0,
               k: int | None = None, fold: int = 0, **kwargs: Any) -> dict[str, list[Record]]:
        """Patient-level splits, stratified by whether a patient has any lesion; or fold ``fold`` of ``k``."""
        records = self.records()
        if k is not None:
            return kfold_by_patient(records, k, fold, seed=seed)
        fractions = {"train": 1.0 - val_fraction - test_fraction, "val": val_fraction}
        if test_fraction:
            fractions["test"] = test_fraction
        return split_by_patient(records, fractions, seed=seed)

    def summary(self) -> dict[str, Any]:
        """Patients, slices and lesion slices."""
        recs = self.records()
        return {"root": str(self.root), "patients": len({r.patient for r in recs}), "slices": len(recs),
                "slices_with_lesion": sum(r.meta["positive"] for r in recs), "skipped": len(self.skipped)}

    def decode(self, record: Record) -> tuple[np.ndarray, np.ndarray]:
        """One slice as ``(H, W, 3)`` uint8 and its mask as ``(H, W, 1)`` uint8 in {0, 1}."""
        image = read_image(record.image)
        return image, read_mask(str(record.target), image.shape[:2])

    def load_arrays(self, records: Sequence[Record]) -> tuple[np.ndarray, np.ndarray]:
        """Decode ``records`` into ``(N, H, W, 3)`` uint8 images and ``(N, H, W, 1)`` {0, 1} masks."""
        images = np.stack([read_image(r.image) for r in records])
        masks = np.stack([read_mask(r.target, images.shape[1:3]) for r in records])
        return images, masks

    def pipeline(self, records: Sequence[Record], training: bool = False, batch_size: int = 16,
                 augment: dict[str, float] | None = None, patch_size: int | None = None,
                 lesion_fraction: float | None = None, cache: str | None = "memory",
                 deterministic: bool = False, seed: int = 0, repeat: bool = False) -> Any:
        """A ``tf.data.Dataset`` of ``(image float32 [0, 255] (N, H, W, 3), mask float32 {0, 1} (N, H, W, 1))``.

        Args:
            records: the records to stream (decoded in parallel from disk).
            training: shuffle and augment (image and mask jointly; masks stay binary and aligned).
            batch_size: examples per batch.
            augment: augmentation strengths (``rotation``, ``shift``, ``shear``, ``zoom``, ``hflip`` and ``vflip``
                probabilities);
                ``None`` uses :data:`medzoo_lgg_mri.augment.DEFAULT_AUGMENT`; ``{}`` turns it off.
            patch_size: train on random ``patch_size``² crops (the U-Net is fully convolutional).
            lesion_fraction: draw this fraction of training examples from slices with a lesion, and
                centre their crops on the lesion (the pipeline then repeats forever).
            cache: ``"memory"``, a file path prefix, or ``None`` to decode every epoch.
            deterministic: fixed order and seeds, for repeatable runs.
            seed: seed for shuffling, cropping and augmentation.
            repeat: repeat forever (the caller sets ``steps_per_epoch``).
        """
        from medzoo_lgg_mri.pipeline import segmentation_pipeline

        return segmentation_pipeline(list(records), training=training, batch_size=batch_size, augment=augment,
                                     patch_size=patch_size, lesion_fraction=lesion_fraction, cache=cache,
                                     deterministic=deterministic, seed=seed, repeat=repeat)
