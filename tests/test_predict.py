"""``medzoo predict`` / :func:`medzoo.predict.predict_files` on tiny synthetic files and tiny Keras models."""

from __future__ import annotations

import csv
import importlib
import math
from pathlib import Path

import numpy as np
import pytest

import medzoo
import medzoo.predict as P
import medzoo.weights
from medzoo.cli import main
from medzoo.data import DataError
from medzoo.images import InputProfile, input_warnings, read_pixels
from medzoo.predict import postprocess_rule, predict_files, predict_image, threshold_rule
from medzoo.registry import Registry
from medzoo.specs import DatasetSpec, Entry, Weights

keras = pytest.importorskip("keras")
PIL = pytest.importorskip("PIL.Image")
tifffile = pytest.importorskip("tifffile")

REGISTRY_MODULE = importlib.import_module("medzoo.registry")
W, B = 8.0, -4.0  # classifier: P = sigmoid(W * mean_gray / 255 + B)
SQUARE = (slice(5, 10), slice(6, 12))  # the bright square of the segmentation images (5 x 6 = 30 pixels)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.fixture(scope="module")
def classifier():
    """Fixed 8x8 grayscale input: P(positive) grows with the mean brightness."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([np.full((1, 1), W, np.float32), np.full((1,), B, np.float32)])
    return model


@pytest.fixture(scope="module")
def segmenter():
    """Any-size RGB input whose sides must divide by 16; the mask is 'green channel brighter than half'."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    coarse = keras.layers.UpSampling2D(16)(keras.layers.MaxPooling2D(16)(x))
    both = keras.layers.Concatenate()([x, coarse])  # fails unless the input was padded to a multiple of 16
    head = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, head(both))
    kernel = np.zeros((1, 1, 6, 1), np.float32)
    kernel[0, 0, 1, 0] = 20.0
    head.set_weights([kernel, np.full((1,), -10.0, np.float32)])
    return model


@pytest.fixture(scope="module")
def fixed_segmenter():
    """Fixed 16x16 RGB input, same rule as ``segmenter``."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    head = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, head(x))
    head.set_weights([np.array([0.0, 20.0, 0.0], np.float32).reshape(1, 1, 3, 1), np.full((1,), -10.0, np.float32)])
    return model


def _uniform_png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (12, 10)) -> Path:
    PIL.fromarray(np.full((*size, 3), rgb, np.uint8)).save(path)
    return path


def _square_image(h: int = 20, w: int = 18) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 30  # dark red background, below the mask threshold
    img[SQUARE[0], SQUARE[1], 1] = 255
    return img


def _expected_mask(h: int = 20, w: int = 18) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[SQUARE] = True
    return mask


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_classification_reads_converts_resizes_and_thresholds(classifier, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bright = _uniform_png(tmp_path / "bright.png", (250, 250, 250))
    mid = _uniform_png(tmp_path / "mid.png", (200, 100, 50), size=(30, 20))  # RGB -> luminance 124.2
    dark = tmp_path / "dark.tif"
    tifffile.imwrite(dark, np.zeros((9, 7), np.uint8))  # grayscale TIFF
    p_bright = _sigmoid(W * 250 / 255 + B)
    p_mid = _sigmoid(W * (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255 + B)
    p_dark = _sigmoid(B)

    entry = Entry(name="fake-cls", model="m", dataset="d", task="classification",
                  weights=Weights(file="x.weights.h5", sha256="0" * 64,
                                  meta={"threshold": 0.3, "threshold_rule": "recall >= 0.95 on 9 patients",
                                        "classes": ["NORMAL", "PNEUMONIA"]}))
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", Registry(entries={"fake-cls": entry}))
    out = tmp_path / "out"
    results = predict_files("fake-cls", [bright, mid, dark], weights=classifier, out=out)
    assert [r["file"] for r in results] == [str(bright), str(mid), str(dark)]
    assert [r["probability"] for r in results] == pytest.approx([p_bright, p_mid, p_dark], abs=1e-4)
    assert [r["label"] for r in results] == [1, int(p_mid >= 0.3), 0]  # the entry's threshold
    assert [r["class"] for r in results] == [["NORMAL", "PNEUMONIA"][r["label"]] for r in results]
    assert threshold_rule("fake-cls") == (0.3, "from the weights card: recall >= 0.95 on 9 patients")
    assert threshold_rule("fake-cls", weights="other.weights.h5")[0] == 0.5  # the card's threshold is not theirs
    assert threshold_rule("fake-cls", 0.7) == (0.7, "given by the caller")
    rows = _read_csv(out / "predictions.csv")
    assert [(r["file"], int(r["label"])) for r in rows] == [(r["file"], r["label"]) for r in results]
    assert [float(r["probability"]) for r in rows] == pytest.approx([r["probability"] for r in results])

    results = predict_files("fake-cls", [mid], weights=classifier, threshold=p_mid + 0.01)
    assert results[0]["label"] == 0
    results = predict_files("not-an-entry", [mid], weights=classifier)  # default threshold 0.5
    assert results[0]["label"] == int(p_mid >= 0.5) and "class" not in results[0]


@pytest.mark.parametrize("fmt", ["tif", "png-gray"])
def test_segmentation_pads_and_writes_mask_overlay_and_csv(segmenter, tmp_path: Path, fmt: str) -> None:
    img = _square_image()
    if fmt == "tif":
        path = tmp_path / "slice_1.tif"
        tifffile.imwrite(path, img)
    else:
        path = tmp_path / "slice_1.png"
        PIL.fromarray(img[..., 1]).save(path)  # grayscale: the model sees it in all three channels
    out = tmp_path / "out"
    (result,) = predict_files("whatever", [path], weights=segmenter, out=out)
    expected = _expected_mask()
    assert result["lesion_pixels"] == expected.sum() == 30
    assert (result["height"], result["width"]) == (20, 18)
    assert result["max_probability"] > 0.99
    mask = np.asarray(PIL.open(out / "slice_1_mask.png"))
    assert mask.shape == (20, 18) and set(np.unique(mask)) == {0, 255}
    np.testing.assert_array_equal(mask == 255, expected)
    over = np.asarray(PIL.open(out / "slice_1_overlay.png").convert("RGB"))
    shown = img if fmt == "tif" else np.repeat(img[..., 1:2], 3, axis=-1)
    assert over.shape == (20, 18, 3)
    np.testing.assert_array_equal(over[~expected], shown[~expected])  # untouched outside the mask
    redness = over[expected].astype(int) @ [1, -1, 0]  # red minus green
    assert np.all(redness > shown[expected].astype(int) @ [1, -1, 0])  # tinted / outlined red inside
    rows = _read_csv(out / "predictions.csv")
    assert len(rows) == 1 and rows[0]["file"] == str(path) and int(rows[0]["lesion_pixels"]) == 30
    assert rows[0]["mask"] == str(out / "slice_1_mask.png")


def test_segmentation_with_fixed_input_resizes_there_and_back(fixed_segmenter, tmp_path: Path) -> None:
    path = tmp_path / "a" / "scan.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, _square_image())
    other = tmp_path / "b" / "scan.tif"  # same stem: its outputs must not overwrite the first's
    other.parent.mkdir()
    tifffile.imwrite(other, np.zeros((20, 18, 3), np.uint8))
    out = tmp_path / "out"
    first, second = predict_files("whatever", [path, other], weights=fixed_segmenter, out=out)
    mask = np.asarray(PIL.open(first["mask"])) == 255
    assert mask.shape == (20, 18)
    assert mask[7, 8] and mask[6, 9] and not mask[0, 0] and not mask[15, 2]
    assert 15 <= first["lesion_pixels"] <= 45
    assert second["lesion_pixels"] == 0
    assert first["mask"] != second["mask"]
    assert np.asarray(PIL.open(second["mask"])).max() == 0


def test_unreadable_and_missing_files_name_the_file(segmenter, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a PNG")
    with pytest.raises(DataError, match=r"bad\.png: not a readable image"):
        predict_files("whatever", [bad], weights=segmenter)
    with pytest.raises(DataError, match=r"missing\.tif: no such file"):
        predict_files("whatever", [tmp_path / "missing.tif"], weights=segmenter)


def test_cli_predict(segmenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    loads = []

    def fake_load(name, weights="default", cache_dir=None):
        loads.append((name, weights))
        return segmenter

    monkeypatch.setattr(medzoo.weights, "load_entry", fake_load)
    path = tmp_path / "slice_2.tif"
    tifffile.imwrite(path, _square_image())
    out = tmp_path / "out"
    assert main(["predict", "some-entry", str(path), "--out", str(out), "--weights", "none", "--threshold", "0.5"]) == 0
    assert loads == [("some-entry", None)]
    stdout = capsys.readouterr().out
    row = next(ln.split() for ln in stdout.splitlines() if ln.startswith(str(path)))
    assert "30" in row
    assert (out / "slice_2_mask.png").exists() and (out / "slice_2_overlay.png").exists()

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"\x00" * 10)
    assert main(["predict", "some-entry", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("medzoo: error: ") and "bad.tif" in err[0]


def test_predict_patient_cleans_the_volume(segmenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``medzoo predict --patient DIR`` reads the slices in order, predicts them as a volume and keeps the largest
    3-D component: a lone bright speck on another slice is dropped, the lesion kept."""
    monkeypatch.setattr(medzoo.weights, "load_entry", lambda name, weights="default", cache_dir=None: segmenter)
    patient = tmp_path / "TCGA_XX_0001_20000101"
    patient.mkdir()
    for n in (1, 2, 3, 10):
        img = _square_image() if n in (2, 3) else np.zeros((20, 18, 3), np.uint8)
        if n == 10:
            img[0:2, 15:17, 1] = 255  # a 4-pixel speck far from the lesion
        tifffile.imwrite(patient / f"TCGA_XX_0001_20000101_{n}.tif", img)
        tifffile.imwrite(patient / f"TCGA_XX_0001_20000101_{n}_mask.tif", np.zeros((20, 18), np.uint8))
    out = tmp_path / "out"
    assert main(["predict", "some-entry", "--patient", str(patient), "--out", str(out), "--threshold", "0.5"]) == 0
    rows = _read_csv(out / "predictions.csv")
    assert [Path(r["file"]).name.rsplit("_", 1)[1] for r in rows] == ["1.tif", "2.tif", "3.tif", "10.tif"]
    lesion = int(_expected_mask().sum())
    assert [int(r["lesion_pixels"]) for r in rows] == [0, lesion, lesion, 0]
    assert (out / "TCGA_XX_0001_20000101_2_overlay.png").exists()
    capsys.readouterr()
    assert main(["predict", "some-entry", "--patient", str(patient), "--out", str(out), "--threshold", "0.5",
                 "--postprocess", "none"]) == 0
    assert int(_read_csv(out / "predictions.csv")[-1]["lesion_pixels"]) == 4  # kept without the cleaning

    # the card chose "none" on its validation patients: that becomes the default, and the CLI says why
    entry = Entry(name="card-seg", model="m", dataset="d", task="segmentation",
                  weights=Weights(file="x.weights.h5", sha256="0" * 64,
                                  meta={"postprocess": "none", "postprocess_rule": "per-volume Dice 0.8 against 0.7"}))
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", Registry(entries={"card-seg": entry}))
    assert postprocess_rule("card-seg") == ("none", "from the weights card: per-volume Dice 0.8 against 0.7")
    assert postprocess_rule("card-seg", weights="mine.weights.h5")[0] == "largest"  # the card's choice is not theirs
    assert postprocess_rule("card-seg", "min:3") == ("min:3", "given by the caller")
    capsys.readouterr()
    assert main(["predict", "card-seg", "--patient", str(patient), "--out", str(out), "--threshold", "0.5"]) == 0
    assert "postprocess none: from the weights card: per-volume Dice 0.8" in capsys.readouterr().out
    assert int(_read_csv(out / "predictions.csv")[-1]["lesion_pixels"]) == 4


# ------------------------------------------------------------------------------------------- bad inputs, named


def test_a_folder_is_called_a_folder(segmenter, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is a folder; give image files .*--patient"):
        predict_files("whatever", [tmp_path], weights=segmenter)


def test_a_decompression_bomb_is_refused_by_name_before_decoding(segmenter, tmp_path: Path) -> None:
    """A PNG of 14000² pixels in a few hundred KB: a DataError naming the file, not Pillow's bomb error."""
    bomb = tmp_path / "bomb.png"
    PIL.new("1", (14000, 14000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DataError, match=r"bomb\.png: image too large .*MEDZOO_MAX_PIXELS"):
        read_pixels(bomb)
    with pytest.raises(DataError, match=r"bomb\.png: image too large"):
        predict_files("whatever", [bomb], weights=segmenter)


def test_the_pixel_limit_is_named_and_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = _uniform_png(tmp_path / "wide.png", (9, 9, 9), size=(30, 40))
    tif = tmp_path / "wide.tif"
    tifffile.imwrite(tif, np.zeros((30, 40, 3), np.uint8))
    monkeypatch.setenv("MEDZOO_MAX_PIXELS", "1000")
    with pytest.raises(DataError, match=r"wide\.png: image too large \(40×30, 1,200 pixels; the limit is 1,000\)"):
        read_pixels(png)
    with pytest.raises(DataError, match=r"wide\.tif: image too large \(30×40×3, 1,200 pixels"):
        read_pixels(tif)
    assert read_pixels(png, max_pixels=1200).shape == (30, 40, 3)  # the argument wins over the variable
    monkeypatch.setenv("MEDZOO_MAX_PIXELS", "1_200")
    assert read_pixels(tif).shape == (30, 40, 3)
    monkeypatch.setenv("MEDZOO_MAX_PIXELS", "lots")
    with pytest.raises(medzoo.MedzooError, match="MEDZOO_MAX_PIXELS='lots'"):
        read_pixels(png)


def test_a_large_image_is_segmented_in_tiles(segmenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above TILE² pixels the fully convolutional model sees bounded windows, and the mask is the same."""
    img = np.zeros((45, 38, 3), np.uint8)
    img[10:30, 5:33, 1] = 255  # a lesion across tile borders
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, img)
    whole = predict_files("whatever", [path], weights=segmenter, out=tmp_path / "whole")[0]
    seen: list[tuple[int, ...]] = []
    original = P._probabilities

    def spy(model, x):
        seen.append(x.shape)
        return original(model, x)

    monkeypatch.setattr(P, "_probabilities", spy)
    monkeypatch.setattr(P, "TILE", 16)
    monkeypatch.setattr(P, "MARGIN", 4)
    tiled = predict_files("whatever", [path], weights=segmenter, out=tmp_path / "tiled")[0]
    assert len(seen) == 9 and max(h * w for h, w, _ in seen) <= 32 * 32
    assert tiled["lesion_pixels"] == whole["lesion_pixels"] == 20 * 28
    np.testing.assert_array_equal(np.asarray(PIL.open(tiled["mask"])), np.asarray(PIL.open(whole["mask"])))


# ------------------------------------------------------------------------------ unlike the training data: warn


def test_input_warnings_flag_masks_and_intensities_far_from_the_profile() -> None:
    rng = np.random.default_rng(0)
    scan = rng.normal(120, 50, (64, 64, 1)).clip(0, 255).astype(np.float32)
    profile = InputProfile("chest X-rays", mean=(50, 200), std=(20, 100))
    assert input_warnings(scan, profile) == []
    mask = np.zeros((64, 64, 1), np.float32)
    mask[20:30, 20:40] = 255
    found = input_warnings(mask, profile)
    assert len(found) == 2 and "nearly binary" in found[0] and "mean gray level 12" in found[1]
    assert input_warnings(mask) == [found[0]]  # without a profile: the binary check only
    dark = (scan * 0.1).astype(np.float32)
    assert [w.split(" (")[0].split(" is")[0] for w in input_warnings(dark, profile)] == ["mean gray level 12",
                                                                                          "contrast"]
    assert input_warnings(np.zeros((64, 64, 3), np.float32)) == []  # blank: not binary (one level only)


class _FakeXrays:
    input_profile = InputProfile("fake X-rays", mean=(50, 200), std=(20, 100))
    class_names = ["NORMAL", "PNEUMONIA"]


def test_predict_warns_when_the_input_is_unlike_the_training_data(classifier, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    entry = Entry(name="fake-cls", model="m", dataset="fake-xrays", task="classification")
    data = DatasetSpec(name="fake-xrays", task="classification", factory=_FakeXrays)
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", Registry(entries={"fake-cls": entry},
                                                               datasets={"fake-xrays": data}))
    scan = tmp_path / "scan.png"
    PIL.fromarray(np.random.default_rng(0).normal(120, 50, (16, 16)).clip(0, 255).astype(np.uint8)).save(scan)
    mask = tmp_path / "mask.png"
    PIL.fromarray(np.where(np.arange(256).reshape(16, 16) < 40, 255, 0).astype(np.uint8)).save(mask)
    with caplog.at_level("WARNING", logger="medzoo.predict"):
        rows = predict_files("fake-cls", [scan, mask], weights=classifier, out=tmp_path / "out")
    assert len(rows) == 2 and [r["class"] for r in rows] == [["NORMAL", "PNEUMONIA"][r["label"]] for r in rows]
    warned = [r.getMessage() for r in caplog.records]
    assert warned and all(m.startswith(str(mask)) for m in warned)
    assert any("nearly binary" in m for m in warned) and any("fake X-rays" in m for m in warned)
    # the same reasons stay beside the prediction in predictions.csv, where a table reader looks
    csv_rows = _read_csv(tmp_path / "out" / "predictions.csv")
    assert csv_rows[0]["warning"] == "" and "nearly binary" in csv_rows[1]["warning"]
    assert rows[1]["warning"] == csv_rows[1]["warning"]


# ------------------------------------------------------------------------------------- one image, Python API


def test_predict_image_takes_one_image_without_a_batch_axis(classifier, segmenter, tmp_path: Path) -> None:
    classifier.medzoo_meta = {"entry": "none", "classes": ["NORMAL", "PNEUMONIA"], "threshold": 0.3}
    try:
        rgb = np.zeros((12, 10, 3), np.uint8)
        rgb[...] = (200, 100, 50)
        p = _sigmoid(W * (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255 + B)
        for image in (rgb, rgb[None], rgb.astype(np.float32), _uniform_png(tmp_path / "one.png", (200, 100, 50))):
            out = predict_image(classifier, image)
            assert out["probability"] == pytest.approx(p, abs=1e-4)
            assert (out["label"], out["class"], out["threshold"]) == (int(p >= 0.3), ["NORMAL", "PNEUMONIA"][
                int(p >= 0.3)], 0.3)
        gray = np.full((9, 7), 250, np.uint8)  # (H, W)
        assert predict_image(classifier, gray, threshold=0.99)["probability"] == pytest.approx(
            _sigmoid(W * 250 / 255 + B), abs=1e-4)
        with pytest.raises(DataError, match=r"\(H, W\) or \(H, W, C\)"):
            predict_image(classifier, np.zeros((2, 8, 8, 1)))
    finally:
        del classifier.medzoo_meta
    seg = predict_image(segmenter, _square_image())  # 20 x 18: padded to 32 x 32 and cropped back
    assert seg["probability"].shape == (20, 18) and seg["threshold"] == 0.5
    np.testing.assert_array_equal(seg["mask"], _expected_mask())
    assert seg["lesion_pixels"] == 30


def test_nan_pixels_are_refused_naming_the_file(classifier, tmp_path: Path) -> None:
    """A float TIFF with a NaN pixel is bad input, not an image whose probability is NaN."""
    bad = tmp_path / "nan.tif"
    img = np.full((8, 8), 0.5, np.float32)
    img[3, 4] = np.nan
    tifffile.imwrite(bad, img)
    with pytest.raises(DataError, match="NaN or infinite") as info:
        predict_files("not-an-entry", [bad], weights=classifier)
    assert str(bad) in str(info.value)
    img[3, 4] = np.inf
    tifffile.imwrite(bad, img)
    with pytest.raises(DataError, match="NaN or infinite"):
        predict_files("not-an-entry", [bad], weights=classifier)


def test_predict_files_reports_progress(classifier, tmp_path: Path) -> None:
    files = [_uniform_png(tmp_path / f"{i}.png", (10 * i, 10 * i, 10 * i)) for i in range(3)]
    seen: list[int] = []
    predict_files("not-an-entry", files, weights=classifier, progress=seen.append)
    assert seen == [0, 1, 2, 3]
