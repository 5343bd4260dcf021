"""The torchvision/timm DenseNet → Keras converter and its safetensors reader, on a small DenseNet."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from medzoo_transfer import convert as cv
from medzoo_transfer.backbone import build_transfer_model
from medzoo_transfer.safetensors_io import SafetensorsError, read_safetensors, write_safetensors


@pytest.fixture
def source(h: SimpleNamespace) -> keras.Model:
    """A small DenseNet with random kernels and batch-norm statistics: the 'PyTorch' model."""
    model = h.tiny_backbone((None, None, 3))
    h.randomize_bn(model, seed=3)
    return model


def _outputs(model: keras.Model, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(2, 32, 32, 3)).astype("float32")
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_safetensors_round_trip_and_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.normal(size=(3, 2, 5)).astype("float32"), "b": np.arange(4, dtype="int64"),
               "c": rng.normal(size=(2,)).astype("float16"), "scalar": np.array(1.5, dtype="float64")}
    path = tmp_path / "t.safetensors"
    write_safetensors(path, tensors, metadata={"format": "pt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert n % 8 == 0 and header["__metadata__"] == {"format": "pt"}
    assert header["a.weight"]["dtype"] == "F32" and header["a.weight"]["shape"] == [3, 2, 5]
    assert len(raw) == 8 + n + sum(t.nbytes for t in tensors.values())
    back = read_safetensors(path)
    assert set(back) == set(tensors)
    for key, value in tensors.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key], value)


def test_bf16_is_read_as_float32(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 0.15625], dtype="float32")
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bf16.tobytes())
    np.testing.assert_array_equal(read_safetensors(path)["x"], values)  # all three are exact in bfloat16


def test_truncated_safetensors_raises(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"x": np.zeros((10,), "float32")})
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(SafetensorsError, match="outside the file"):
        read_safetensors(path)
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00")
    with pytest.raises(SafetensorsError, match="too short"):
        read_safetensors(tmp_path / "junk.safetensors")


def test_name_mapping_matches_torchvision() -> None:
    cases = {
        "features.conv0": "conv1_conv", "features.norm0": "conv1_bn",
        "features.denseblock1.denselayer1.norm1": "conv2_block1_0_bn",
        "features.denseblock1.denselayer1.conv1": "conv2_block1_1_conv",
        "features.denseblock2.denselayer12.norm2": "conv3_block12_1_bn",
        "features.denseblock3.denselayer36.conv2": "conv4_block36_2_conv",
        "features.transition1.norm": "pool2_bn", "features.transition3.conv": "pool4_conv",
        "features.norm5": "bn",
    }
    for module, layer in cases.items():
        assert cv.keras_layer_name(module) == layer
        assert cv.torch_module_name(layer, n_blocks=4) == module
    assert cv.keras_layer_name("classifier") is None
    assert cv.normalize_key("module.features.denseblock1.denselayer1.norm.1.weight") == \
        "features.denseblock1.denselayer1.norm1.weight"


def test_kernels_are_transposed_oihw_to_hwio(source: keras.Model) -> None:
    state = cv.torch_state(source, n_blocks=4)
    kernel = keras.ops.convert_to_numpy(source.get_layer("conv1_conv").kernel)  # (7, 7, 3, 16) HWIO
    torch_kernel = state["features.conv0.weight"]
    assert torch_kernel.shape == (16, 3, 7, 7)
    assert torch_kernel[5, 2, 1, 6] == kernel[1, 6, 2, 5]
    bn = source.get_layer("conv1_bn")
    np.testing.assert_array_equal(state["features.norm0.running_var"],
                                  keras.ops.convert_to_numpy(bn.moving_variance))
    np.testing.assert_array_equal(state["features.norm0.weight"], keras.ops.convert_to_numpy(bn.gamma))


def test_infer_config(h: SimpleNamespace, source: keras.Model) -> None:
    assert cv.infer_config(cv.torch_state(source, n_blocks=4)) == h.TINY
    with pytest.raises(cv.ConversionError, match="features.conv0.weight"):
        cv.infer_config({"fc.weight": np.zeros((2, 2))})


def test_convert_file_gives_identical_outputs(h: SimpleNamespace, source: keras.Model, tmp_path: Path) -> None:
    src = tmp_path / "tiny.safetensors"
    state = cv.torch_state(source, n_blocks=4)
    # what a real torchvision/timm file also holds: a classifier and batch counters (both dropped)
    state["classifier.weight"] = np.zeros((1000, 8 * 4 + 28), "float32")
    state["features.norm0.num_batches_tracked"] = np.array(7, dtype="int64")
    write_safetensors(src, {f"module.{k}": v for k, v in state.items()})
    dst = cv.convert(src, tmp_path / "out" / "tiny.weights.h5")
    assert dst.is_file()
    target = h.tiny_backbone((32, 32, 3))
    before = _outputs(target)
    target.load_weights(str(dst))
    np.testing.assert_allclose(_outputs(target), _outputs(source), rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, _outputs(source))
    # and as the backbone of a transfer model, through backbone_weights=PATH
    model = build_transfer_model(h.tiny_backbone, mode="torch", backbone_path=dst, unfreeze_top_blocks=0,
                                 image_size=32, dropout=0.3, name="tiny_tl")
    np.testing.assert_allclose(_outputs(model.get_layer("tiny_densenet")), _outputs(source), rtol=1e-5, atol=1e-6)


def test_cli(h: SimpleNamespace, source: keras.Model, tmp_path: Path, keras_home: Path,
             capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "tiny.safetensors"
    cv.write_torch_safetensors(source, src, n_blocks=4)
    # the default destination is only for DenseNet161
    assert cv.main([str(src)]) == 1
    assert "not DenseNet161" in capsys.readouterr().err
    assert not (keras_home / "models").exists()
    assert cv.main([str(src), str(tmp_path / "x.h5")]) == 1
    assert ".weights.h5" in capsys.readouterr().err
    assert cv.main([str(src), str(tmp_path / "ok.weights.h5")]) == 0
    assert "ok.weights.h5" in capsys.readouterr().out


def test_convert_rejects_a_mismatching_state(source: keras.Model, tmp_path: Path) -> None:
    state = cv.torch_state(source, n_blocks=4)
    del state["features.transition2.conv.weight"]
    src = tmp_path / "broken.safetensors"
    write_safetensors(src, state)
    with pytest.raises(cv.ConversionError, match="pool3_conv"):
        cv.convert(src, tmp_path / "broken.weights.h5")
    state = cv.torch_state(source, n_blocks=4)
    state["features.denseblock1.denselayer1.conv2.bias"] = np.zeros((8,), "float32")
    write_safetensors(src, state)
    with pytest.raises(cv.ConversionError, match="bias-free"):
        cv.convert(src, tmp_path / "broken.weights.h5")
