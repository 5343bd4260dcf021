"""medzoo.nets.densenet: DenseNet from keras.layers, identical to Keras Applications' DenseNet121."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from medzoo.cards import count_params  # noqa: E402
from medzoo.nets import build_densenet_backbone, densenet_features  # noqa: E402
from medzoo.nets.densenet import DENSENET161_BLOCKS  # noqa: E402


def _weight_shapes(model: keras.Model) -> dict[str, list[tuple[int, ...]]]:
    return {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}



@pytest.fixture(scope="module")
def keras_densenet121() -> keras.Model:
    return keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(224, 224, 3))


@pytest.fixture(scope="module")
def ours121() -> keras.Model:
    return build_densenet_backbone(input_shape=(224, 224, 3))


def test_densenet121_parameter_count(keras_densenet121: keras.Model, ours121: keras.Model) -> None:
    ours = ours121
    assert ours.count_params() == 7_037_504
    assert ours.count_params() == keras_densenet121.count_params()
    assert ours.output_shape == keras_densenet121.output_shape == (None, 7, 7, 1024)


def test_densenet121_layer_names_and_weight_shapes_match_keras(keras_densenet121: keras.Model,
                                                               ours121: keras.Model) -> None:
    ours = _weight_shapes(ours121)
    theirs = _weight_shapes(keras_densenet121)
    assert ours == theirs
    for name in ("conv1_conv", "conv1_bn", "conv2_block1_0_bn", "conv2_block1_1_conv", "pool2_conv",
                 "conv5_block16_2_conv", "bn"):
        assert name in ours


def test_keras_weights_load_by_name_and_give_the_same_features(keras_densenet121: keras.Model,
                                                               ours121: keras.Model) -> None:
    """Copy Keras' (randomly initialised) weights layer by layer: the same function, so the same outputs."""
    theirs, ours = keras_densenet121, ours121
    rng = np.random.default_rng(1)
    for layer in theirs.layers:
        if layer.weights:  # perturb batch-norm statistics too, so they matter
            values = [w + rng.uniform(0.0, 0.1, size=w.shape).astype("float32") for w in layer.get_weights()]
            layer.set_weights(values)
            ours.get_layer(layer.name).set_weights(values)
    x = rng.uniform(-1, 1, size=(1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=False)),
                               keras.ops.convert_to_numpy(theirs(x, training=False)), rtol=1e-4, atol=1e-4)


def test_densenet161_with_imagenet_head_matches_torchvision_count() -> None:
    inputs = keras.Input((224, 224, 3))
    x = densenet_features(inputs, blocks=DENSENET161_BLOCKS, growth_rate=48, stem_filters=96)
    assert x.shape[-1] == 2208
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1000)(x))
    assert count_params(model)["trainable"] == 28_681_000  # torchvision.models.densenet161
    assert model.count_params() == 28_900_936  # + batch-norm moving statistics


def test_parameters_change_the_architecture() -> None:
    small = build_densenet_backbone(input_shape=(None, None, 1), blocks=(2, 3), growth_rate=8, stem_filters=16,
                                    bn_size=2, compression=0.25, name="small")
    # stem 16 → block of 2 layers (+8 each) = 32 → transition ×0.25 = 8 → block of 3 layers = 32 channels.
    assert small.get_layer("conv2_block1_1_conv").kernel.shape == (1, 1, 16, 16)
    assert small.get_layer("pool2_conv").kernel.shape == (1, 1, 32, 8)
    assert small.get_layer("conv1_conv").kernel.shape == (7, 7, 1, 16)
    assert small.output_shape == (None, None, None, 32)
    out = keras.ops.convert_to_numpy(small(np.zeros((1, 64, 48, 1), "float32")))
    assert out.shape == (1, 8, 6, 32)  # stem /4, one transition /2
    assert "pool3_conv" not in [layer.name for layer in small.layers]


def test_name_prefix_allows_two_backbones_in_one_model() -> None:
    inputs = keras.Input((32, 32, 3))
    kw = {"blocks": (1, 1), "growth_rate": 4, "stem_filters": 8}
    a = densenet_features(inputs, name_prefix="a_", **kw)
    b = densenet_features(inputs, name_prefix="b_", **kw)
    model = keras.Model(inputs, keras.layers.Concatenate()([a, b]))
    names = [layer.name for layer in model.layers]
    assert "a_conv1_conv" in names and "b_conv1_conv" in names and "a_bn" in names
