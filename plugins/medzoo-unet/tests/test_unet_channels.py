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


def test_nonzero_normalization_makes_the_unet_blind_to_a_patient_s_brightness() -> None:
    """``normalize="nonzero"``: a slice and the same slice at half the brightness give the same mask; the
    study's ``/255`` does not. Unknown choices are refused."""
    import pytest

    rng = np.random.default_rng(1)
    x = np.zeros((1, 32, 32, 3), np.float32)
    x[0, 4:28, 4:28] = rng.uniform(30, 200, (24, 24, 3))
    keras.utils.set_random_seed(0)
    model = medzoo.create_model("unet", base_filters=4, normalize="nonzero")
    same = [keras.ops.convert_to_numpy(model(v, training=False)) for v in (x, x * 0.5)]
    np.testing.assert_allclose(same[0], same[1], atol=1e-5)
    keras.utils.set_random_seed(0)
    study = medzoo.create_model("unet", base_filters=4)
    differ = [keras.ops.convert_to_numpy(study(v, training=False)) for v in (x, x * 0.5)]
    assert np.abs(differ[0] - differ[1]).max() > 1e-3
    with pytest.raises(ValueError, match="normalize='zscore'"):
        medzoo.create_model("unet", normalize="zscore")
