"""medzoo-densenet: densenet121 builds, predicts from raw pixels, trains a step, survives .keras round trips."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import attrs  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import medzoo  # noqa: E402
from medzoo.cards import count_params  # noqa: E402

SMALL = {"image_size": 64}  # same layers, smaller feature maps: keeps the training and saving tests fast



@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    """Two tiny raw grayscale images (the model resizes to 256×256 itself)."""
    return np.random.default_rng(0).integers(0, 256, size=(2, 64, 64, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return medzoo.create_model("densenet121")


@pytest.fixture(scope="module")
def small() -> keras.Model:
    return medzoo.create_model("densenet121", **SMALL)


def test_exact_parameter_counts(model: keras.Model) -> None:
    # Keras' DenseNet121 without top (7,037,504) minus 7·7·2·64 for one input channel instead of three,
    # plus the 1,024 + 1 of the sigmoid head.
    assert model.count_params() == 7_037_504 - 7 * 7 * 2 * 64 + 1_025 == 7_032_257
    assert count_params(model)["trainable"] == 6_948_609


def test_structure(model: keras.Model) -> None:
    assert model.input_shape == (None, None, None, None)  # any channel count: converted to gray in the model
    assert model.get_layer("resize").get_config()["height"] == 256
    assert model.get_layer("conv1_conv").kernel.shape == (7, 7, 1, 64)
    assert model.get_layer("bn").output.shape[-1] == 1024
    assert isinstance(model.get_layer("head_dropout"), keras.layers.Dropout)
    head = model.get_layer("pneumonia")
    assert head.units == 1 and head.dtype_policy.name == "float32"


def test_predicts_probabilities_from_raw_pixels(model: keras.Model, raw: np.ndarray) -> None:
    out = keras.ops.convert_to_numpy(model(raw, training=False))
    assert out.shape == (2, 1)
    assert out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))


def test_takes_rgb_as_its_luminance(small: keras.Model) -> None:
    from medzoo.images import to_channels

    rgb = np.random.default_rng(1).integers(0, 256, size=(1, 40, 48, 3)).astype("float32")
    gray = np.stack([to_channels(img, 1) for img in rgb])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(small(rgb, training=False)),
                               keras.ops.convert_to_numpy(small(gray, training=False)), atol=1e-5)


@pytest.mark.slow
def test_one_training_step_updates_weights(small: keras.Model, raw: np.ndarray) -> None:
    # One eager step: tracing and optimising the graph of ~430 layers costs far more than the step itself.
    small.compile(optimizer="rmsprop", loss="binary_crossentropy", run_eagerly=True)
    kernel = small.get_layer("conv1_conv").kernel
    before = keras.ops.convert_to_numpy(kernel).copy()
    loss = small.train_on_batch(raw, np.array([[0.0], [1.0]], dtype="float32"))
    assert np.isfinite(loss)
    assert not np.allclose(before, keras.ops.convert_to_numpy(kernel))


def test_keras_round_trip_safe_mode(small: keras.Model, raw: np.ndarray, tmp_path: Path) -> None:
    bn = small.get_layer("conv1_bn")  # non-default statistics, so the round trip must carry them too
    bn.moving_mean.assign(np.full(bn.moving_mean.shape, 0.2, dtype="float32"))
    path = tmp_path / "densenet121.keras"
    small.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(raw, training=False)),
                                  keras.ops.convert_to_numpy(small(raw, training=False)))
    assert loaded.count_params() == small.count_params() == 7_032_257


def test_entry_registered() -> None:
    entry = medzoo.get_entry("densenet121-chest-xray")
    assert (entry.model, entry.dataset, entry.task) == ("densenet121", "chest-xray", "classification")
    assert entry.study["accuracy"] == 0.854 and entry.study["recall"] == 0.95
    assert entry.recipe.class_weights
    if entry.weights is None:  # untrained: the study's recipe
        assert entry.recipe.optimizer == "rmsprop"
    else:  # trained: the recipe and builder arguments on its card (a preset)
        assert attrs.asdict(entry.recipe) == entry.weights.recipe
        assert entry.model_kwargs == entry.weights.model_kwargs
    assert medzoo.get_entry("densenet121-chest-xray").distribution == "medzoo-densenet"
