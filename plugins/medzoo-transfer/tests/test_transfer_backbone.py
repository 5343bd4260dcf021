"""The shared transfer-model machinery on a tiny DenseNet backbone: weights files, freezing, unfreezing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from medzoo import MedzooError
from medzoo_transfer.backbone import build_transfer_model, freeze, residual_blocks, resolve_backbone_weights


def _model(h: SimpleNamespace, path: Path | None = None, unfreeze: int = 0) -> keras.Model:
    return build_transfer_model(h.tiny_backbone, mode="torch", backbone_path=path, unfreeze_top_blocks=unfreeze,
                                image_size=32, dropout=0.3, name="tiny_tl")


def test_resolve_weights(keras_home: Path, tmp_path: Path) -> None:
    assert resolve_backbone_weights(None, "x.h5", "") is None
    with pytest.raises(MedzooError) as err:
        resolve_backbone_weights("imagenet", "some_notop.h5", "Get it from SOMEWHERE.")
    message = str(err.value)
    assert str(keras_home / "models" / "some_notop.h5") in message
    assert str(keras_home / "models") in message and "SOMEWHERE" in message
    (keras_home / "models").mkdir()
    (keras_home / "models" / "some_notop.h5").write_bytes(b"")
    assert resolve_backbone_weights("imagenet", "some_notop.h5", "") == keras_home / "models" / "some_notop.h5"
    with pytest.raises(MedzooError, match="nowhere.weights.h5"):
        resolve_backbone_weights(tmp_path / "nowhere.weights.h5", "x.h5", "")


def test_local_weights_file_gives_identical_backbone(h: SimpleNamespace, tmp_path: Path, raw: np.ndarray) -> None:
    source = h.tiny_backbone()
    h.randomize_bn(source)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(str(path))
    model = _model(h, path)
    backbone = model.get_layer("tiny_densenet")
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone(x, training=False)),
                               keras.ops.convert_to_numpy(source(x, training=False)), rtol=1e-5, atol=1e-6)
    fresh = _model(h)  # different random init: the file really changed the weights
    assert not np.allclose(keras.ops.convert_to_numpy(fresh.get_layer("tiny_densenet")(x, training=False)),
                           keras.ops.convert_to_numpy(backbone(x, training=False)))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_wrong_weights_file_raises_medzoo_error(h: SimpleNamespace, tmp_path: Path) -> None:
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    path = tmp_path / "other.weights.h5"
    other.save_weights(str(path))
    with pytest.raises(MedzooError, match="other.weights.h5"):
        _model(h, path)


def test_frozen_backbone_keeps_weights_and_bn_statistics(h: SimpleNamespace) -> None:
    model = _model(h)
    backbone = model.get_layer("tiny_densenet")
    h.randomize_bn(backbone)
    assert not backbone.trainable and backbone.trainable_weights == []
    assert {w.path for w in model.trainable_weights} == {"pneumonia/kernel", "pneumonia/bias"}
    before = h.snapshot(model.weights)
    h.train_step(model)
    assert h.changed(before, backbone.weights) == set()  # kernels, gamma/beta, moving mean/variance
    assert h.changed(before, model.get_layer("pneumonia").weights) == {"pneumonia/kernel", "pneumonia/bias"}


def test_unfreeze_top_blocks_trains_them_but_not_their_batch_norms(h: SimpleNamespace) -> None:
    model = _model(h, unfreeze=2)
    backbone = model.get_layer("tiny_densenet")
    assert residual_blocks(backbone) == ["conv2_block1", "conv3_block1", "conv4_block1", "conv5_block1"]
    h.randomize_bn(backbone)
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"conv5_block1_1_conv", "conv5_block1_2_conv", "conv4_block1_1_conv", "conv4_block1_2_conv"}
    before = h.snapshot(model.weights)
    h.train_step(model)
    moved = {path.split("/")[0] for path in h.changed(before, backbone.weights)}
    assert moved == trainable  # the unfrozen convolutions learn; every batch norm (stats included) is untouched
    assert h.changed(before, model.get_layer("pneumonia").weights)


def test_freeze_rejects_bad_counts(h: SimpleNamespace) -> None:
    backbone = h.tiny_backbone()
    with pytest.raises(ValueError, match="between 0 and 4"):
        freeze(backbone, 5)
    with pytest.raises(ValueError, match="between 0 and 4"):
        freeze(backbone, -1)
    assert freeze(backbone, 4) == ["conv5_block1", "conv4_block1", "conv3_block1", "conv2_block1"]
    assert freeze(backbone, 0) == [] and not backbone.trainable


def test_tiny_transfer_model_round_trips(h: SimpleNamespace, tmp_path: Path, raw: np.ndarray) -> None:
    model = _model(h, unfreeze=1)
    h.randomize_bn(model.get_layer("tiny_densenet"))
    path = tmp_path / "tiny.keras"
    model.save(str(path))
    loaded = keras.saving.load_model(str(path), safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(raw, training=False)),
                               keras.ops.convert_to_numpy(model(raw, training=False)), rtol=1e-6, atol=1e-7)
    assert {w.path for w in loaded.trainable_weights} == {w.path for w in model.trainable_weights}
