"""Bad input on synthetic roots: a clear DataError naming the file by default, logged skips with on_error='skip'."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from medzoo.data import DataError
from medzoo_chest_xray.reader import ChestXray
from medzoo_chest_xray.synthetic import write_synthetic


@pytest.fixture
def root(tmp_path: Path, synth_root: Path) -> Path:
    """A fresh copy of the synthetic set that a test may damage."""
    return Path(shutil.copytree(synth_root, tmp_path / "cx"))


def _first(root: Path, cls: str = "PNEUMONIA") -> Path:
    return sorted((root / "train" / cls).glob("*.jpeg"))[0]


def truncated(root: Path) -> Path:
    f = _first(root)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    return f


def corrupt(root: Path) -> Path:
    f = sorted((root / "train" / "PNEUMONIA").glob("*.jpeg"))[-1]
    data = bytearray(f.read_bytes())
    data[200:] = bytes(range(256)) * ((len(data) - 200) // 256) + bytes((len(data) - 200) % 256)
    data[-2:] = b"\xff\xd9"
    f.write_bytes(bytes(data))
    return f


def text_as_jpeg(root: Path) -> Path:
    f = root / "train" / "NORMAL" / "IM-0999-0001.jpeg"
    f.write_text("this is not an image\n")
    return f


def text_file(root: Path) -> Path:
    f = root / "train" / "PNEUMONIA" / "notes.txt"
    f.write_text("radiologist notes\n")
    return f


def empty_file(root: Path) -> Path:
    f = root / "train" / "NORMAL" / "IM-0998-0001.png"
    f.write_bytes(b"")
    return f


def truncated_png(root: Path) -> Path:
    from PIL import Image

    f = root / "train" / "NORMAL" / "IM-0997-0001.png"
    Image.open(_first(root, "NORMAL")).save(f)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) * 2 // 3])
    return f


def bomb(root: Path) -> Path:
    """A decompression bomb: 14000² pixels (over Pillow's own limit) in a PNG of a few hundred KB."""
    from PIL import Image

    f = root / "train" / "NORMAL" / "IM-0996-0001.png"
    Image.new("1", (14000, 14000)).save(f, optimize=True)
    return f


def wrong_folder(root: Path) -> Path:
    """A pneumonia name in NORMAL/: the folder and the name disagree on the label."""
    f = _first(root)
    dest = root / "train" / "NORMAL" / f.name
    shutil.move(f, dest)
    return dest


def empty_class(root: Path) -> Path:
    folder = root / "train" / "NORMAL"
    for f in folder.iterdir():
        f.unlink()
    return folder


def missing_class(root: Path) -> Path:
    folder = root / "test" / "PNEUMONIA"
    shutil.rmtree(folder)
    return folder


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "truncated": (truncated, "truncated"),
    "corrupt": (corrupt, "corrupt"),
    "text_as_jpeg": (text_as_jpeg, "not an image"),
    "text_file": (text_file, "not an image file"),
    "empty_file": (empty_file, "empty file"),
    "truncated_png": (truncated_png, "truncated"),
    "bomb": (bomb, "image too large"),
    "wrong_folder": (wrong_folder, "disagree"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_naming_it(root: Path, case: str) -> None:
    damage, why = BAD_FILES[case]
    bad = damage(root)
    with pytest.raises(DataError) as err:
        ChestXray(root).records()
    msg = str(err.value)
    assert str(bad) in msg and why in msg


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_skipped(root: Path, case: str) -> None:
    n_good = len(ChestXray(root).records())
    damage, why = BAD_FILES[case]
    bad = damage(root)
    ds = ChestXray(root, on_error="skip")
    recs = ds.records()
    assert [p for p, _ in ds.skipped] == [str(bad)] and why in ds.skipped[0][1]
    assert str(bad) not in {r.image for r in recs}
    expect = n_good if case in ("text_as_jpeg", "text_file", "empty_file", "truncated_png", "bomb") else n_good - 1
    assert len(recs) == expect
    assert ds.summary()["skipped"] == 1


def test_skipped_files_never_reach_the_pipeline(root: Path) -> None:
    """Every record that survives a skip decodes in tf.data (the damaged files would fail there)."""
    import tensorflow as tf

    for damage in (truncated, corrupt, text_as_jpeg):
        damage(root)
    ds = ChestXray(root, on_error="skip")
    recs = ds.records()
    assert len(ds.skipped) == 3
    n = sum(int(y.shape[0]) for _, y in ds.pipeline(recs, batch_size=16, image_size=32))
    assert n == len(recs)
    bad = tf.data.Dataset.from_tensor_slices([p for p, _ in ds.skipped]).map(
        lambda p: tf.io.decode_image(tf.io.read_file(p), channels=1, expand_animations=False))
    failures = 0
    for i in range(3):
        try:
            next(iter(bad.skip(i)))
        except tf.errors.InvalidArgumentError:
            failures += 1
    assert failures == 3


@pytest.mark.parametrize("damage", [empty_class, missing_class])
def test_bad_class_folder(root: Path, damage: Callable[[Path], Path]) -> None:
    folder = damage(root)
    with pytest.raises(DataError, match="class folder") as err:
        ChestXray(root).records()
    assert str(folder) in str(err.value)
    ds = ChestXray(root, on_error="skip")
    recs = ds.records()
    assert [p for p, _ in ds.skipped] == [str(folder)]
    assert not any(Path(r.image).parent == folder for r in recs)


def test_wrong_layout(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpeg").write_bytes(b"")
    for on_error in ("raise", "skip"):
        with pytest.raises(DataError, match="wrong layout"):
            ChestXray(tmp_path, on_error=on_error).records()
    with pytest.raises(DataError, match="no such folder"):
        ChestXray(tmp_path / "absent")
    # class folders without the split level are also the wrong layout
    write_synthetic(tmp_path / "flat", patients=2, size=32, test_patients=0)
    shutil.move(tmp_path / "flat" / "train", tmp_path / "flat2")
    with pytest.raises(DataError, match="wrong layout"):
        ChestXray(tmp_path / "flat2").records()


def test_no_train_split(root: Path) -> None:
    shutil.rmtree(root / "train")
    with pytest.raises(DataError, match="wrong layout"):
        ChestXray(root).records()


def test_unparseable_names_keep_folder_label(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = _first(root)
    odd = src.with_name("scan 17.jpeg")
    src.rename(odd)
    with caplog.at_level("WARNING", logger="medzoo.chest_xray"):
        recs = ChestXray(root).records()
    rec = next(r for r in recs if r.image == str(odd))
    assert (rec.target, rec.patient, rec.meta["subtype"]) == (1, "scan 17", "unknown")
    assert "scan 17.jpeg" in caplog.text


def test_check_cache_sees_changes(root: Path) -> None:
    """A file damaged after a first (cached) check is caught: verdicts are keyed by size and mtime."""
    assert ChestXray(root).records()
    bad = truncated(root)
    with pytest.raises(DataError, match="truncated") as err:
        ChestXray(root).records()
    assert str(bad) in str(err.value)


def test_pixel_limit_applies_to_the_check_its_cache_and_the_decoder(root: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``MEDZOO_MAX_PIXELS`` refuses large images by name; raising it again re-checks them (no stale verdict)."""
    from PIL import Image

    from medzoo_chest_xray.decode import read_gray

    n_good = len(ChestXray(root).records())
    large = root / "train" / "NORMAL" / "IM-0995-0001.jpeg"
    Image.open(_first(root, "NORMAL")).resize((100, 80)).save(large)
    monkeypatch.setenv("MEDZOO_MAX_PIXELS", "5000")  # the synthetic images are 64×64 = 4096
    ds = ChestXray(root, on_error="skip")
    assert len(ds.records()) == n_good
    assert ds.skipped == [(str(large), "image too large (100×80, 8,000 pixels; the limit is 5,000): a decompression "
                                       "bomb or a scan far larger than any model here needs; downsample it, or "
                                       "raise the limit with MEDZOO_MAX_PIXELS=N (or max_pixels=N)")]
    with pytest.raises(DataError, match=rf"{large.name}: image too large"):
        read_gray(large, 16)
    monkeypatch.delenv("MEDZOO_MAX_PIXELS")
    assert len(ChestXray(root).records()) == n_good + 1
    assert read_gray(large, 16).shape == (16, 16, 1)
