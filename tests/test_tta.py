"""Test-time flip averaging (``medzoo.tta``, ``medzoo.load(..., tta=True)``, ``--tta``) on tiny models whose
outputs can be worked out by hand."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import medzoo
import medzoo.weights
from medzoo.cli import main
from medzoo.errors import MedzooError
from medzoo.layers import ToChannels, input_channels
from medzoo.registry import Registry
from medzoo.specs import Entry, Weights
from medzoo.tta import flip_average

keras = pytest.importorskip("keras")
PIL = pytest.importorskip("PIL.Image")
REGISTRY_MODULE = importlib.import_module("medzoo.registry")


def _left_weighted_classifier() -> keras.Model:
    """P = sigmoid(mean of the left half / 255 · 8 - 4): a left-right mirror changes its answer."""
    inputs = keras.Input((4, 4, None))
    gray = ToChannels(1)(inputs)
    left = keras.layers.Lambda(lambda t: keras.ops.mean(t[:, :, :2, :], axis=(1, 2)))(gray)
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, dense(keras.layers.Rescaling(1 / 255)(left)))
    dense.set_weights([np.full((1, 1), 8.0, np.float32), np.full((1,), -4.0, np.float32)])
    return model


def _shift_segmenter() -> keras.Model:
    """Each output pixel is its right neighbour's brightness (not mirror-symmetric; zero at the right edge)."""
    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(1, (1, 3), padding="same", use_bias=False)
    model = keras.Model(inputs, conv(keras.layers.Rescaling(1 / 255)(inputs)))
    kernel = np.zeros((1, 3, 1, 1), np.float32)
    kernel[0, 2, 0, 0] = 1.0  # out[i, j] = in[i, j + 1]
    conv.set_weights([kernel])
    return model


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_a_classifier_is_averaged_with_its_mirror_image() -> None:
    model = _left_weighted_classifier()
    x = np.zeros((2, 4, 4, 1), np.float32)
    x[0, :, :2] = 255  # bright left half: P high; its mirror is dark on the left
    x[1] = 128
    got = flip_average(model).predict(x, verbose=0)[:, 0]
    left = x[:, :, :2].mean(axis=(1, 2, 3)) / 255
    right = x[:, :, 2:].mean(axis=(1, 2, 3)) / 255
    expected = (_sigmoid(8 * left - 4) + _sigmoid(8 * right - 4)) / 2
    assert got == pytest.approx(expected, abs=1e-5)
    assert model.predict(x, verbose=0)[0, 0] == pytest.approx(_sigmoid(4.0), abs=1e-5)  # the model alone differs
    both = flip_average(model, ("horizontal", "vertical")).predict(x, verbose=0)[:, 0]
    assert both == pytest.approx((2 * _sigmoid(8 * left - 4) + _sigmoid(8 * right - 4)) / 3, abs=1e-5)
    assert input_channels(flip_average(model)) == 1  # the wrapped model's ToChannels is found


def test_a_mask_is_flipped_back_before_it_is_averaged() -> None:
    model = _shift_segmenter()
    x = np.zeros((1, 3, 5, 1), np.float32)
    x[0, 1, 2] = 255  # one bright pixel in the middle row
    got = flip_average(model).predict(x, verbose=0)[0, :, :, 0]
    # the model alone lights the pixel left of it; on the mirror image, mapped back, the pixel right of it
    expected = np.zeros((3, 5), np.float32)
    expected[1, 1] = expected[1, 3] = 0.5
    assert got == pytest.approx(expected, abs=1e-6)


def test_flip_names_are_checked() -> None:
    with pytest.raises(MedzooError, match="unknown flip"):
        flip_average(_shift_segmenter(), ("diagonal",))
    with pytest.raises(MedzooError, match="none given"):
        flip_average(_shift_segmenter(), ())


def test_load_and_the_cli_average_and_say_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``medzoo.load(..., tta=True)`` keeps the card's metadata and says the threshold was chosen without flips;
    ``medzoo predict --tta`` writes the averaged probability."""
    entry = Entry(name="fake-cls", model="m", dataset="d", task="classification",
                  weights=Weights(file="x.weights.h5", sha256="0" * 64,
                                  meta={"threshold": 0.3, "threshold_rule": "recall >= 0.95 on 9 patients"}))
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", Registry(entries={"fake-cls": entry}))

    def fake_load(name: str, weights: str | None = "default", cache_dir: str | None = None,
                  sha256: str | None = None) -> keras.Model:
        from medzoo.predict import entry_meta

        model = _left_weighted_classifier()
        model.medzoo_entry, model.medzoo_meta = name, entry_meta(name, weights)
        return model

    monkeypatch.setattr(medzoo.weights, "load_entry", fake_load)
    model = medzoo.load("fake-cls", tta=True)
    assert model.medzoo_meta["threshold"] == 0.3 and "horizontal flip" in model.medzoo_meta["tta"]
    assert model.medzoo_meta["threshold_rule"].endswith("(chosen without test-time flips)")

    img = np.full((4, 4), 40, np.uint8)
    img[:, :2] = 200
    left, right = 8 * 200 / 255 - 4, 8 * 40 / 255 - 4
    PIL.fromarray(img).save(tmp_path / "left.png")
    out = tmp_path / "out"
    assert main(["predict", "fake-cls", str(tmp_path / "left.png"), "--out", str(out), "--tta"]) == 0
    printed = capsys.readouterr().out
    rule = "from the weights card: recall >= 0.95 on 9 patients (chosen without test-time flips)"
    assert f"threshold 0.3: {rule}" in printed
    row = (out / "predictions.csv").read_text().splitlines()[1].split(",")
    assert float(row[1]) == pytest.approx((_sigmoid(left) + _sigmoid(right)) / 2, abs=1e-4)
    assert main(["predict", "fake-cls", str(tmp_path / "left.png"), "--out", str(out)]) == 0
    row = (out / "predictions.csv").read_text().splitlines()[1].split(",")
    assert float(row[1]) == pytest.approx(_sigmoid(left), abs=1e-4)  # without --tta: the model alone
