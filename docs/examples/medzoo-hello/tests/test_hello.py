"""Tests of medzoo-hello: the plugin is discovered, and its model builds and runs."""

from __future__ import annotations

import numpy as np

import medzoo


def test_plugin_is_discovered() -> None:
    assert "hello-cnn" in medzoo.list_models()
    entry = medzoo.get_entry("hello-chest-xray")
    assert (entry.model, entry.dataset, entry.distribution) == ("hello-cnn", "chest-xray", "medzoo-hello")


def test_forward_pass_on_raw_pixels() -> None:
    model = medzoo.create_model("hello-cnn")
    pixels = np.random.default_rng(0).integers(0, 256, (2, 100, 80, 1)).astype("float32")
    probs = np.asarray(model.predict(pixels, verbose=0))
    assert probs.shape == (2, 1)
    assert np.all((probs >= 0) & (probs <= 1))
