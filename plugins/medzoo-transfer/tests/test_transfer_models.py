"""resnet152-tl and densenet161-tl themselves (untrained backbones, 32×32 inputs), and the plugin's specs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

import medzoo
from medzoo.nets.densenet import build_densenet_backbone
from medzoo_transfer import convert as cv
from medzoo_transfer.densenet import DENSENET161, DENSENET161_FILE, build_densenet161_tl
from medzoo_transfer.resnet import RESNET152_FILE, RESNET152_URL, build_resnet152_tl

SIZE = 32  # the smallest side ResNet152 accepts; 224 (the study's) is far too slow on a 2-core CPU


@pytest.fixture(scope="module")
def resnet() -> keras.Model:
    return build_resnet152_tl(backbone_weights=None, image_size=SIZE)


@pytest.fixture(scope="module")
def densenet() -> keras.Model:
    return build_densenet161_tl(backbone_weights=None, image_size=SIZE)


def _backbone_out(backbone: keras.Model) -> np.ndarray:
    x = np.random.default_rng(5).normal(0, 50, size=(2, SIZE, SIZE, 3)).astype("float32")
    return keras.ops.convert_to_numpy(backbone(x, training=False))


# ------------------------------------------------------------------------------------------- missing weights


def test_missing_resnet152_weights_error(keras_home: Path) -> None:
    with pytest.raises(medzoo.MedzooError) as err:
        build_resnet152_tl(image_size=SIZE)
    message = str(err.value)
    assert str(keras_home / "models" / RESNET152_FILE) in message
    assert RESNET152_URL in message and "never downloads" in message
    assert RESNET152_URL.endswith("/" + RESNET152_FILE)
    with pytest.raises(medzoo.MedzooError, match=RESNET152_FILE):
        medzoo.create_model("resnet152-tl")  # the registered defaults ask for ImageNet weights


def test_missing_densenet161_weights_error(keras_home: Path) -> None:
    with pytest.raises(medzoo.MedzooError) as err:
        build_densenet161_tl(image_size=SIZE)
    message = str(err.value)
    assert str(keras_home / "models" / DENSENET161_FILE) in message
    for source in ("densenet161-8d451a50.pth", "densenet161.tv_in1k", "model.safetensors",
                   "python -m medzoo_transfer.convert"):
        assert source in message
    with pytest.raises(medzoo.MedzooError, match=DENSENET161_FILE):
        medzoo.create_model("densenet161-tl")


# ---------------------------------------------------------------------------------------------- the models


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet", "densenet"])
def test_one_training_step_trains_only_the_head(name: str, request: pytest.FixtureRequest,
                                                h: SimpleNamespace) -> None:
    model = request.getfixturevalue(name)
    backbone = model.get_layer("resnet152" if name == "resnet" else "densenet161")
    assert not backbone.trainable
    assert {w.path for w in model.trainable_weights} == {"pneumonia/kernel", "pneumonia/bias"}
    moving = [w for w in backbone.weights if "moving" in w.path]
    assert moving  # the batch-norm statistics are among the weights checked below
    before = h.snapshot(model.weights)
    h.train_step(model, size=40)
    assert h.changed(before, backbone.weights) == set()
    assert h.changed(before, model.get_layer("pneumonia").weights) == {"pneumonia/kernel", "pneumonia/bias"}
    assert model.output.dtype == "float32"


def test_gray_is_repeated_to_rgb_in_the_model(densenet: keras.Model) -> None:
    """Gray pixels give what their RGB repetition gives; RGBA loses its alpha (the model converts both)."""
    assert densenet.input_shape == (None, None, None, None)
    gray = np.random.default_rng(2).integers(0, 256, size=(1, 40, 36, 1)).astype("float32")
    rgb = np.repeat(gray, 3, axis=-1)
    rgba = np.concatenate([rgb, np.zeros_like(gray)], axis=-1)
    expected = keras.ops.convert_to_numpy(densenet(rgb, training=False))
    for x in (gray, rgba):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(densenet(x, training=False)), expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet", "densenet"])
def test_keras_round_trip(name: str, request: pytest.FixtureRequest, tmp_path: Path, raw: np.ndarray) -> None:
    model = request.getfixturevalue(name)
    path = tmp_path / f"{name}.keras"
    model.save(str(path))
    loaded = keras.saving.load_model(str(path), safe_mode=True)
    expected = keras.ops.convert_to_numpy(model(raw, training=False))
    assert expected.shape == (2, 1) and np.all((expected >= 0) & (expected <= 1))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(raw, training=False)), expected)
    assert {w.path for w in loaded.trainable_weights} == {"pneumonia/kernel", "pneumonia/bias"}


@pytest.mark.slow
def test_resnet152_loads_imagenet_file_from_keras_cache(resnet: keras.Model, keras_home: Path) -> None:
    source = resnet.get_layer("resnet152")
    (keras_home / "models").mkdir()
    # Keras Applications' file is a legacy (Keras 2) HDF5 file; a legacy .h5 model save has the same layout
    source.save(str(keras_home / "models" / RESNET152_FILE))
    model = build_resnet152_tl(backbone_weights="imagenet", image_size=SIZE, unfreeze_top_blocks=2)
    backbone = model.get_layer("resnet152")
    np.testing.assert_allclose(_backbone_out(backbone), _backbone_out(source), rtol=1e-5, atol=1e-5)
    trainable = {"_".join(layer.name.split("_")[:2]) for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"conv5_block3", "conv5_block2"}
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in backbone.layers)
    assert backbone.get_layer("conv5_block2_1_conv").trainable
    assert not backbone.get_layer("conv5_block1_1_conv").trainable


@pytest.mark.slow
def test_densenet161_loads_local_weights_file(densenet: keras.Model, h: SimpleNamespace, tmp_path: Path) -> None:
    source = densenet.get_layer("densenet161")
    h.randomize_bn(source, seed=11)
    path = tmp_path / "densenet161.weights.h5"
    source.save_weights(str(path))
    model = build_densenet161_tl(backbone_weights=path, image_size=SIZE, unfreeze_top_blocks=2)
    backbone = model.get_layer("densenet161")
    np.testing.assert_allclose(_backbone_out(backbone), _backbone_out(source), rtol=1e-5, atol=1e-5)
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {f"conv5_block{b}_{c}_conv" for b in (23, 24) for c in (1, 2)}


def test_densenet161_backbone_is_torchvisions(densenet: keras.Model) -> None:
    backbone = densenet.get_layer("densenet161")
    features = backbone.output.shape[-1]
    assert features == 2208
    head = features * 1000 + 1000
    stats = sum(int(np.prod(w.shape)) for w in backbone.weights if "moving" in w.path)
    # torchvision's densenet161: 28,681,000 parameters; + batch-norm running statistics: 28,900,936
    assert backbone.count_params() + head == 28_900_936
    assert backbone.count_params() - stats + head == 28_681_000
    reference = build_densenet_backbone((SIZE, SIZE, 3), **DENSENET161)
    assert [w.shape for w in reference.weights] == [w.shape for w in backbone.weights]
    assert cv.infer_config(cv.torch_state(backbone, n_blocks=4)) == DENSENET161  # the converter's default target


def test_resnet152_backbone_is_keras_applications(resnet: keras.Model) -> None:
    backbone = resnet.get_layer("resnet152")
    # Keras Applications' ResNet152: 60,419,944 parameters with its 2048 → 1000 classifier
    assert backbone.count_params() + 2048 * 1000 + 1000 == 60_419_944
    assert [layer.name for layer in resnet.layers[1:4]] == ["resize", "to_rgb", "imagenet_preprocessing"]
    assert resnet.get_layer("imagenet_preprocessing").mode == "caffe"


# ---------------------------------------------------------------------------------------------- the plugin


def test_plugin_specs_and_entries() -> None:
    assert {"resnet152-tl", "densenet161-tl"} <= set(medzoo.list_models())
    for model, study in (("resnet152-tl", {"accuracy": 0.82, "recall": 0.97}),
                         ("densenet161-tl", {"accuracy": 0.846, "recall": 0.98})):
        entry = medzoo.get_entry(f"{model}-chest-xray")
        assert entry.model == model and entry.dataset == "chest-xray" and entry.task == "classification"
        assert entry.weights is None and not entry.trained
        assert {k: entry.study[k] for k in study} == study
        assert entry.recipe.class_weights and entry.recipe.optimizer == "rmsprop"
        assert entry.recipe.loss == "binary_crossentropy"
        with pytest.raises(medzoo.MedzooError, match="no trained weights"):
            medzoo.load(entry.name)


def test_plugin_module_imports_no_keras() -> None:
    code = ("import sys, medzoo_transfer.plugin as p; p.medzoo_models(); p.medzoo_entries(); "
            "print('keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
