"""medzoo-unet: the U-Net takes raw pixels of any channel count and converts them itself."""

from __future__ import annotations

import keras
import numpy as np

import medzoo


def test_gray_and_rgba_are_converted_to_rgb_in_the_model() -> None:
    model = medzoo.create_model("unet", base_filters=4)
    assert model.input_shape == (None, None, None, None)
    gray = np.random.default_rng(0).integers(0, 256, size=(1, 32, 48, 1)).astype("float32")
    rgb = np.repeat(gray, 3, axis=-1)
    rgba = np.concatenate([rgb, np.full_like(gray, 255.0)], axis=-1)
    expected = keras.ops.convert_to_numpy(model(rgb, training=False))
    assert expected.shape == (1, 32, 48, 1)
    for x in (gray, rgba):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)), expected, atol=1e-6)
