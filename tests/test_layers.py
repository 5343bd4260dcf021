"""medzoo.layers: the preprocessing layers match keras.applications and survive .keras round trips."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.applications import imagenet_utils  # noqa: E402

from medzoo.images import to_channels  # noqa: E402
from medzoo.layers import GrayscaleToRGB, ImageNetPreprocessing, ToChannels  # noqa: E402


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, size=(3, 5, 7, 3)).astype("float32")


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_matches_keras_preprocess_input(rgb: np.ndarray, mode: str) -> None:
    expected = imagenet_utils.preprocess_input(rgb.copy(), data_format="channels_last", mode=mode)
    got = keras.ops.convert_to_numpy(ImageNetPreprocessing(mode)(rgb))
    assert got.shape == rgb.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_caffe_swaps_channels_and_subtracts_bgr_mean() -> None:
    pixel = np.array([[[[10.0, 20.0, 30.0]]]], dtype="float32")  # R, G, B
    got = keras.ops.convert_to_numpy(ImageNetPreprocessing("caffe")(pixel))
    np.testing.assert_allclose(got[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)


def test_integer_input_is_cast(rgb: np.ndarray) -> None:
    raw = rgb.astype("uint8")
    got = keras.ops.convert_to_numpy(ImageNetPreprocessing("torch")(raw))
    expected = imagenet_utils.preprocess_input(raw.astype("float32"), data_format="channels_last", mode="torch")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_unknown_mode_and_wrong_channels_raise() -> None:
    with pytest.raises(ValueError, match="mode"):
        ImageNetPreprocessing("bgr")
    with pytest.raises(ValueError, match="GrayscaleToRGB"):
        ImageNetPreprocessing("caffe")(np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        GrayscaleToRGB()(np.zeros((1, 4, 4, 2), "float32"))


def test_grayscale_to_rgb_repeats_one_channel_and_passes_three() -> None:
    gray = np.random.default_rng(1).uniform(0, 255, size=(2, 4, 6, 1)).astype("float32")
    out = keras.ops.convert_to_numpy(GrayscaleToRGB()(gray))
    assert out.shape == (2, 4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray[..., 0])
    rgb = np.random.default_rng(2).uniform(0, 255, size=(2, 4, 6, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(GrayscaleToRGB()(rgb)), rgb)
    symbolic = GrayscaleToRGB()(keras.Input((None, None, 1)))
    assert tuple(symbolic.shape) == (None, None, None, 3)


def test_keras_round_trip_safe_mode(tmp_path: object) -> None:
    inputs = keras.Input((None, None, 1))
    x = GrayscaleToRGB(name="to_rgb")(inputs)
    outputs = ImageNetPreprocessing("torch", name="imagenet")(x)
    model = keras.Model(inputs, outputs)
    path = os.path.join(str(tmp_path), "pre.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("imagenet").mode == "torch"
    assert isinstance(loaded.get_layer("to_rgb"), GrayscaleToRGB)
    data = np.random.default_rng(3).uniform(0, 255, size=(2, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def _pixels(c: int, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(2, 5, 7, c)).astype("float32")


@pytest.mark.parametrize("have", [1, 2, 3, 4])
@pytest.mark.parametrize("want", [1, 3])
def test_to_channels_converts_like_the_cli(have: int, want: int) -> None:
    """Gray, gray + alpha, RGB and RGBA become what ``medzoo predict`` makes of them (luma; repeat; alpha off)."""
    x = _pixels(have)
    got = keras.ops.convert_to_numpy(ToChannels(want)(x))
    base = x[..., :1] if have == 2 else x  # read_pixels drops the alpha of gray + alpha
    expected = np.stack([to_channels(img, want) for img in base])
    assert got.shape == (2, 5, 7, want)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_to_channels_decides_per_call_when_the_input_leaves_channels_open() -> None:
    inputs = keras.Input((None, None, None))
    model = keras.Model(inputs, ToChannels(1)(inputs))
    assert tuple(model.output.shape) == (None, None, None, 1)
    for have in (3, 1, 4, 3):  # predict retraces; TensorFlow relaxes the channel axis to None after a few
        x = _pixels(have, seed=have)
        expected = np.stack([to_channels(img, 1) for img in x])
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a graph with an unknown channel axis")
def test_to_channels_in_a_graph_with_an_unknown_channel_axis() -> None:
    import tensorflow as tf

    layer = ToChannels(3)
    fn = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, None), tf.float32)])
    for have in (1, 3, 4):
        x = _pixels(have)
        expected = np.stack([to_channels(img, 3) for img in x])
        np.testing.assert_allclose(fn(tf.constant(x)).numpy(), expected, rtol=1e-5, atol=1e-3)


def test_to_channels_refuses_bad_counts_and_survives_a_round_trip(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        ToChannels(2)
    with pytest.raises(ValueError, match="1 to 4 channels"):
        ToChannels(1)(np.zeros((1, 4, 4, 5), "float32"))
    inputs = keras.Input((None, None, None))
    model = keras.Model(inputs, ToChannels(3, name="to_rgb")(inputs))
    path = os.path.join(str(tmp_path), "to_channels.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("to_rgb").channels == 3
    x = _pixels(1)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), np.repeat(x, 3, axis=-1))


def test_nonzero_standardize_uses_the_foreground_of_each_image_and_channel(tmp_path: object) -> None:
    """Each image's nonzero pixels, per channel, get mean 0 and std 1 whatever their scale; zeros stay 0; a
    nearly empty slice is not blown up (std floored); the layer survives a save and safe-mode load."""
    from medzoo.layers import NonzeroStandardize

    rng = np.random.default_rng(0)
    x = np.zeros((3, 8, 8, 2), np.float32)
    x[0, 2:6, 2:6] = rng.uniform(20, 120, (4, 4, 2))
    x[1] = x[0] * 0.5  # the same slice, half as bright: a darker scanner
    x[2, 0, 0, 0] = 3.0  # one nonzero pixel
    y = keras.ops.convert_to_numpy(NonzeroStandardize()(x))
    fg = x[0, 2:6, 2:6]
    np.testing.assert_allclose(y[0, 2:6, 2:6], (fg - fg.mean((0, 1))) / fg.std((0, 1)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y[1], y[0], atol=1e-5)  # brightness scale is gone
    assert not y[0][x[0] == 0].any() and not y[2].any()
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, NonzeroStandardize(min_std=2.0, name="std")(inputs))
    path = os.path.join(str(tmp_path), "std.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("std").min_std == 2.0
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
