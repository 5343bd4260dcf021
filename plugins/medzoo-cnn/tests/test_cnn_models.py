"""medzoo-cnn: cnn1-3 build, predict on raw pixels, train a step, survive .keras round trips; exact sizes."""

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
from medzoo_cnn import cnn  # noqa: E402

# (total, trainable) on 256×256×1, as documented in each builder's docstring.
COUNTS = {"cnn1": (8_673_793, 8_673_089), "cnn2": (9_016_545, 9_015_137), "cnn3": (6_595_553, 6_592_609)}
NAMES = sorted(COUNTS)
SMALL = {"image_size": 64}  # same layers, smaller feature maps: keeps the training and saving tests fast



@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    """Two tiny raw grayscale images (the models resize to 256×256 themselves)."""
    return np.random.default_rng(0).integers(0, 256, size=(2, 64, 64, 1), dtype=np.uint8)


@pytest.mark.parametrize("name", NAMES)
def test_exact_parameter_counts(name: str) -> None:
    model = medzoo.create_model(name)
    assert model.name == name
    assert (model.count_params(), count_params(model)["trainable"]) == COUNTS[name]


@pytest.mark.parametrize("name", NAMES)
def test_documented_counts_match(name: str) -> None:
    doc = getattr(cnn, f"build_{name}").__doc__
    total, trainable = COUNTS[name]
    assert f"{total:,} parameters" in doc and f"{trainable:,} trainable" in doc


def test_deeper_networks_have_more_convolutions() -> None:
    convs = {n: sum(isinstance(layer, keras.layers.Conv2D) for layer in medzoo.create_model(n).layers)
             for n in NAMES}
    assert convs == {"cnn1": 4, "cnn2": 8, "cnn3": 10}


@pytest.mark.parametrize("name", NAMES)
def test_predicts_probabilities_from_raw_pixels(name: str, raw: np.ndarray) -> None:
    model = medzoo.create_model(name)
    out = keras.ops.convert_to_numpy(model(raw, training=False))
    assert out.shape == (2, 1)
    assert out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))


def test_takes_rgb_and_rgba_as_their_luminance(raw: np.ndarray) -> None:
    """The published X-ray JPEGs are RGB: the model converts them itself, as ``medzoo predict`` does."""
    from medzoo.images import to_channels

    model = medzoo.create_model("cnn1", **SMALL)
    assert model.input_shape == (None, None, None, None)
    rgb = np.random.default_rng(1).integers(0, 256, size=(2, 40, 48, 3)).astype("float32")
    gray = np.stack([to_channels(img, 1) for img in rgb])
    rgba = np.concatenate([rgb, np.full((2, 40, 48, 1), 255.0, np.float32)], axis=-1)
    expected = keras.ops.convert_to_numpy(model(gray, training=False))
    for x in (rgb, rgba):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)), expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_updates_weights(name: str, raw: np.ndarray) -> None:
    model = medzoo.create_model(name, **SMALL)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", run_eagerly=True)  # one step: skip tracing
    kernel = model.get_layer("dense1").kernel
    before = keras.ops.convert_to_numpy(kernel).copy()
    loss = model.train_on_batch(raw, np.array([[0.0], [1.0]], dtype="float32"))
    assert np.isfinite(loss)
    assert not np.allclose(before, keras.ops.convert_to_numpy(kernel))


@pytest.mark.parametrize("name", NAMES)
def test_keras_round_trip_safe_mode(name: str, raw: np.ndarray, tmp_path: Path) -> None:
    model = medzoo.create_model(name, **SMALL)
    # Non-default batch-norm statistics, so the round trip must carry them too.
    bn = model.get_layer("block1_bn1")
    bn.moving_mean.assign(np.full(bn.moving_mean.shape, 0.3, dtype="float32"))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(raw, training=False)),
                                  keras.ops.convert_to_numpy(model(raw, training=False)))
    assert loaded.count_params() == model.count_params()
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_entries_registered() -> None:
    for name in NAMES:
        entry = medzoo.get_entry(f"{name}-chest-xray")
        assert (entry.model, entry.dataset, entry.task) == (name, "chest-xray", "classification")
        assert entry.recipe.class_weights
        if entry.weights is None:  # untrained: the study's recipe
            assert entry.recipe.optimizer == "rmsprop"
        else:  # trained: the recipe on its card (a preset), which medzoo train ENTRY repeats
            assert attrs.asdict(entry.recipe) == entry.weights.recipe
    assert medzoo.get_entry("cnn1-chest-xray").study["recall"] == 0.94
    assert medzoo.get_entry("cnn2-chest-xray").study == {}


def test_batch_norm_statistics_settle_within_a_short_run() -> None:
    """After 200 training steps the moving variance must match the batch variance it tracks.

    With Keras' default momentum 0.99 the initial moving variance (1.0) keeps 13% of its weight after
    200 steps, while the first layer's activation variance on [0, 1] pixels is ~1e-4: in inference mode
    the model divided activations by a standard deviation tens of times too large and answered one class
    for every X-ray.
    """
    model = medzoo.create_model("cnn1", image_size=32)
    x = np.random.default_rng(1).integers(0, 256, size=(8, 32, 32, 1)).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")  # weights stay, stats move
    for _ in range(200):
        model.train_on_batch(x, np.ones((8, 1), "float32"))
    conv = keras.Model(model.input, model.get_layer("block1_conv1").output)
    acts = keras.ops.convert_to_numpy(conv(x)).reshape(-1, 32)
    live = acts.var(axis=0) > 1e-8  # channels that ReLU leaves all-zero have nothing to track
    ratio = keras.ops.convert_to_numpy(model.get_layer("block1_bn1").moving_variance)[live] / acts.var(axis=0)[live]
    assert live.sum() >= 8
    np.testing.assert_allclose(ratio, 1.0, rtol=0.05)
