"""LGG MRI reader on synthetic roots: records, order, splits, and every kind of bad input (raise and skip)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from medzoo.data import DataError
from medzoo_lgg_mri.reader import LGGMRI
from medzoo_lgg_mri.synthetic import write_synthetic

PATIENTS, SLICES, SIZE = 4, 6, 32


@pytest.fixture(scope="module")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("lgg"), patients=PATIENTS, slices=SLICES, size=SIZE)


@pytest.fixture
def root(clean_root: Path, tmp_path: Path) -> Path:
    """A fresh copy to damage."""
    return Path(shutil.copytree(clean_root, tmp_path / "kaggle_3m"))


def _first_case(root: Path) -> Path:
    return sorted(d for d in root.iterdir() if d.is_dir())[0]


def test_records_of_a_clean_root(clean_root: Path) -> None:
    ds = LGGMRI(clean_root)
    recs = ds.records()
    assert len(recs) == PATIENTS * SLICES and ds.skipped == []
    assert len({r.patient for r in recs}) == PATIENTS
    assert all(r.patient.startswith("TCGA_SY_") and r.patient.count("_") == 2 for r in recs)
    for p in {r.patient for r in recs}:
        assert [r.index for r in recs if r.patient == p] == list(range(1, SLICES + 1))
    for r in recs:  # the lesion flag agrees with the mask on disk
        assert r.meta["positive"] == bool(tifffile.imread(r.target).any())
        assert Path(r.target).name == Path(r.image).stem + "_mask.tif"
    assert 0 < sum(r.meta["positive"] for r in recs) < len(recs)
    images, masks = ds.load_arrays(recs[:3])
    assert images.shape == (3, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert masks.shape == (3, SIZE, SIZE, 1) and set(np.unique(masks)) <= {0, 1}


def test_parent_of_kaggle_3m_is_accepted(root: Path) -> None:
    assert len(LGGMRI(root.parent).records()) == PATIENTS * SLICES


def test_splits_are_patient_disjoint_and_seeded(clean_root: Path) -> None:
    ds = LGGMRI(clean_root)
    a = ds.splits(val_fraction=0.25, seed=3)
    assert not {r.patient for r in a["train"]} & {r.patient for r in a["val"]}
    assert len(a["train"]) + len(a["val"]) == PATIENTS * SLICES
    b = LGGMRI(clean_root).splits(val_fraction=0.25, seed=3)
    assert [r.image for r in a["val"]] == [r.image for r in b["val"]]
    vals = {tuple(sorted({r.patient for r in ds.splits(val_fraction=0.25, seed=s)["val"]})) for s in range(8)}
    assert len(vals) > 1  # another seed, another split
    folds = [ds.splits(k=4, fold=f, seed=0) for f in range(4)]
    assert sorted(p for f in folds for p in {r.patient for r in f["val"]}) == sorted({r.patient for r in ds.records()})


def _truncate(root: Path) -> Path:
    f = sorted(_first_case(root).glob("*_3.tif"))[0]
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return f


def _not_an_image(root: Path) -> Path:
    f = _first_case(root) / f"{_first_case(root).name}_2.tif"
    f.write_text("this is not a TIFF\n")
    return f


def _truncated_mask(root: Path) -> Path:
    f = _first_case(root) / f"{_first_case(root).name}_4_mask.tif"
    f.write_bytes(f.read_bytes()[:40])
    return f


def _image_without_mask(root: Path) -> Path:
    f = _first_case(root) / f"{_first_case(root).name}_5_mask.tif"
    f.unlink()
    return _first_case(root) / f"{_first_case(root).name}_5.tif"


def _mask_without_image(root: Path) -> Path:
    f = _first_case(root) / f"{_first_case(root).name}_1.tif"
    f.unlink()
    return _first_case(root) / f"{_first_case(root).name}_1_mask.tif"


def _mask_wrong_shape(root: Path) -> Path:
    f = _first_case(root) / f"{_first_case(root).name}_2_mask.tif"
    tifffile.imwrite(f, np.zeros((SIZE // 2, SIZE), np.uint8))
    return f


def _badly_named(root: Path) -> Path:
    f = _first_case(root) / "notes.tif"
    shutil.copy(_first_case(root) / f"{_first_case(root).name}_1.tif", f)
    return f


BAD: dict[str, Callable[[Path], Path]] = {
    "truncated image": _truncate, "not an image": _not_an_image, "truncated mask": _truncated_mask,
    "image without mask": _image_without_mask, "mask without image": _mask_without_image,
    "mask of the wrong shape": _mask_wrong_shape, "badly named file": _badly_named,
}


@pytest.mark.parametrize("damage", list(BAD), ids=list(BAD))
def test_bad_file_raises_naming_it(root: Path, damage: str) -> None:
    bad = BAD[damage](root)
    with pytest.raises(DataError) as info:
        LGGMRI(root).records()
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("damage", list(BAD), ids=list(BAD))
def test_bad_file_is_skipped_and_listed(root: Path, damage: str) -> None:
    bad = BAD[damage](root)
    ds = LGGMRI(root, on_error="skip")
    recs = ds.records()
    assert [path for path, _ in ds.skipped] == [str(bad)]
    assert str(bad) not in {r.image for r in recs} | {str(r.target) for r in recs}
    lost = 0 if damage == "badly named file" else 1  # every other damage costs one slice/mask pair
    assert len(recs) == PATIENTS * SLICES - lost


def test_nonexistent_root(tmp_path: Path) -> None:
    for mode in ("raise", "skip"):
        with pytest.raises(DataError, match="no such folder"):
            LGGMRI(tmp_path / "missing", on_error=mode)


@pytest.mark.parametrize("layout", ["empty", "flat", "no tifs"])
def test_wrong_layout(tmp_path: Path, clean_root: Path, layout: str) -> None:
    bad = tmp_path / "root"
    bad.mkdir()
    if layout == "flat":  # slices directly under the root, no patient folders
        for f in sorted(_first_case(clean_root).glob("*.tif"))[:4]:
            shutil.copy(f, bad / f.name)
    elif layout == "no tifs":
        (bad / "TCGA_XX_0001_20000101").mkdir()
        (bad / "TCGA_XX_0001_20000101" / "slice_1.png").write_bytes(b"\x89PNG")
    for mode in ("raise", "skip"):
        with pytest.raises(DataError, match="wrong layout") as info:
            LGGMRI(bad, on_error=mode).records()
        assert str(bad) in str(info.value)


def test_every_pair_bad_raises_even_when_skipping(tmp_path: Path) -> None:
    case = tmp_path / "root" / "TCGA_XX_0001_20000101"
    case.mkdir(parents=True)
    (case / "TCGA_XX_0001_20000101_1.tif").write_text("junk")
    (case / "TCGA_XX_0001_20000101_1_mask.tif").write_text("junk")
    with pytest.raises(DataError, match="no readable slice/mask pairs"):
        LGGMRI(tmp_path / "root", on_error="skip").records()


def test_16_bit_and_float_slices_are_rescaled_as_predict_reads_them(tmp_path: Path) -> None:
    """A 16-bit slice is scaled by its maximum and a float slice in [0, 1] by 255 (never wrapped around), the
    same rule as ``medzoo predict``'s reader, so training and prediction see the same pixels."""
    from medzoo.images import read_pixels
    from medzoo_lgg_mri.reader import read_image

    wide = np.array([[0, 255, 256, 1000, 4095]], np.uint16)
    tifffile.imwrite(tmp_path / "wide.tif", wide)
    got = read_image(tmp_path / "wide.tif")[..., 0]
    np.testing.assert_array_equal(got, np.rint(wide / 4095 * 255).astype(np.uint8))  # 0 16 16 62 255
    np.testing.assert_array_equal(got, np.rint(read_pixels(tmp_path / "wide.tif")[..., 0]).astype(np.uint8))
    unit = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    tifffile.imwrite(tmp_path / "unit.tif", unit)
    np.testing.assert_array_equal(read_image(tmp_path / "unit.tif")[..., 0], [[0, 64, 128, 255]])
    tifffile.imwrite(tmp_path / "nan.tif", np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(DataError, match=r"nan\.tif: the image holds NaN"):
        read_image(tmp_path / "nan.tif")


@pytest.mark.parametrize("values", [[0, 7], [0, 128, 255]])
def test_a_mask_that_is_not_binary_is_named(tmp_path: Path, values: list[int]) -> None:
    from medzoo_lgg_mri.reader import read_mask

    mask = np.zeros((4, 4), np.uint8)
    mask[0, : len(values)] = values
    tifffile.imwrite(tmp_path / "m_mask.tif", mask)
    with pytest.raises(DataError, match=r"m_mask\.tif: not a binary mask"):
        read_mask(tmp_path / "m_mask.tif")
    tifffile.imwrite(tmp_path / "ok_mask.tif", (mask > 0).astype(np.uint8))  # 0/1 masks are fine
    assert read_mask(tmp_path / "ok_mask.tif").max() == 1
    tifffile.imwrite(tmp_path / "frac_mask.tif", np.array([[0.0, 0.3]], np.float32))
    with pytest.raises(DataError, match="not a binary mask"):
        read_mask(tmp_path / "frac_mask.tif")


def test_duplicate_slice_numbers_are_named_not_dropped_silently(root: Path) -> None:
    """``_3.tif`` and ``_003.tif`` both claim slice 3: an error naming the file, or both left out when skipping."""
    case = _first_case(root)
    dup = case / f"{case.name}_003.tif"
    shutil.copy(case / f"{case.name}_3.tif", dup)
    with pytest.raises(DataError, match="slice number 3 again") as info:
        LGGMRI(root).records()
    assert dup.name in str(info.value) and f"{case.name}_3.tif" in str(info.value)  # both files named
    ds = LGGMRI(root, on_error="skip")
    recs = ds.records()
    assert [Path(path).name for path, why in ds.skipped if "again" in why] == [f"{case.name}_3.tif"]
    assert 3 not in [r.index for r in recs if r.meta["case"] == case.name]  # which one is slice 3 is unknowable
    assert len(recs) == PATIENTS * SLICES - 1
