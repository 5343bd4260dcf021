"""The weight store: medzoo.load with default, explicit, cached and downloaded weights; sha256; float16 export."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import medzoo
import medzoo_tests_tinyzoo as tz  # noqa: E402 - registered by tests/conftest.py
from medzoo import weights as W
from medzoo.images import to_channels


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A fresh tiny registry; MEDZOO_HOME in tmp_path/home."""
    return tz.install(monkeypatch, tmp_path / "home")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained tiny model's weights on disk (float32), with its sha256 and its outputs on fixed pixels."""
    model = tz.trained_model()
    path = tmp_path_factory.mktemp("w") / "tiny.weights.h5"
    model.save_weights(str(path))
    x = tz.random_pixels()
    return {"path": path, "sha": W.sha256_file(path), "x": x, "y": model.predict(x, verbose=0)}


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    return model.predict(x, verbose=0)


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    p = tmp_path / "f.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    p.write_bytes(data)
    assert W.sha256_file(p) == hashlib.sha256(data).hexdigest()


def test_default_weights_load_and_reproduce_outputs(zoo: Any, saved: dict[str, Any]) -> None:
    tz.add_trained(zoo, str(saved["path"]), saved["sha"])
    model = medzoo.load("tiny-trained")
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)
    assert model.medzoo_entry == "tiny-trained"


def test_explicit_path_loads_into_entry_architecture(zoo: Any, saved: dict[str, Any]) -> None:
    model = medzoo.load("tiny-untrained", weights=saved["path"])
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)
    model = W.load_entry("tiny", weights=str(saved["path"]))  # an architecture with an explicit file
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)


def test_package_resource_weights(zoo: Any, saved: dict[str, Any], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "site" / "tinyweights_pkg"
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "weights" / "t.weights.h5").write_bytes(saved["path"].read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    tz.add_trained(zoo, "tinyweights_pkg:weights/t.weights.h5", saved["sha"])
    model = medzoo.load("tiny-trained")
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)
    tz.add_trained(zoo, "tinyweights_pkg:weights/missing.weights.h5", saved["sha"], name="tiny-missing")
    with pytest.raises(medzoo.MedzooError, match="missing from the installed package 'tinyweights_pkg'"):
        medzoo.load("tiny-missing")


def test_untrained_for_entry_and_architecture(zoo: Any) -> None:
    entry_model = medzoo.load("tiny-untrained", weights=None)
    arch_model = medzoo.load("wide", weights=None)
    assert entry_model.medzoo_entry == "tiny-untrained"
    assert entry_model.get_layer("conv").filters == 2  # the entry's architecture with its defaults
    assert arch_model.get_layer("conv").filters == 5
    assert arch_model.output_shape == (None, *tz.SHAPE[:2], 1)


def test_entry_without_weights_refuses_default(zoo: Any) -> None:
    with pytest.raises(medzoo.MedzooError) as info:
        medzoo.load("tiny-untrained")
    msg = str(info.value)
    assert "no trained weights ship with 'tiny-untrained'" in msg
    assert "medzoo train tiny-untrained --data ROOT" in msg
    assert "weights=None" in msg


def test_architecture_has_no_default_weights(zoo: Any) -> None:
    with pytest.raises(medzoo.MedzooError, match="architecture, not a zoo entry"):
        medzoo.load("wide")


def test_unknown_name_suggests(zoo: Any) -> None:
    with pytest.raises(medzoo.UnknownNameError, match="tiny-trainde|did you mean"):
        medzoo.load("tiny-untrainde", weights=None)


def test_hash_mismatch_is_refused(zoo: Any, saved: dict[str, Any]) -> None:
    wrong = "0" * 64
    tz.add_trained(zoo, str(saved["path"]), wrong)
    with pytest.raises(medzoo.MedzooError) as info:
        medzoo.load("tiny-trained")
    msg = str(info.value)
    assert str(saved["path"]) in msg and wrong in msg and saved["sha"] in msg
    # an explicit sha256 for an explicit path is checked too
    with pytest.raises(medzoo.MedzooError, match="sha256 mismatch"):
        W.load_entry("tiny-untrained", weights=saved["path"], sha256="f" * 64)
    assert saved["path"].exists()  # a user's own file is never deleted


def test_truncated_file(zoo: Any, saved: dict[str, Any], tmp_path: Path) -> None:
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(saved["path"].read_bytes()[: saved["path"].stat().st_size // 2])
    # with a declared hash: refused before loading, naming both hashes
    with pytest.raises(medzoo.MedzooError, match=f"expected {saved['sha']}, got {W.sha256_file(cut)}"):
        W.load_entry("tiny-untrained", weights=cut, sha256=saved["sha"])
    # without one: Keras cannot read it, and the error names the file
    with pytest.raises(medzoo.MedzooError, match=f"cannot load weights {cut}"):
        medzoo.load("tiny-untrained", weights=cut)


def test_weights_of_another_architecture(zoo: Any, saved: dict[str, Any]) -> None:
    with pytest.raises(medzoo.MedzooError, match="cannot load weights"):
        W.load_entry("wide", weights=saved["path"])


def test_pickle_and_unknown_formats_refused(zoo: Any, tmp_path: Path) -> None:
    p = tmp_path / "model.pkl"
    p.write_bytes(b"not read")
    with pytest.raises(medzoo.MedzooError, match="never pickle"):
        medzoo.load("tiny-untrained", weights=p)
    with pytest.raises(medzoo.MedzooError, match="does not exist"):
        medzoo.load("tiny-untrained", weights=tmp_path / "nope.weights.h5")


def test_file_url_is_cached_and_reused(zoo: Any, saved: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    url = saved["path"].as_uri()
    tz.add_trained(zoo, url, saved["sha"])
    calls: list[str] = []
    real_open = W._open_url

    def counting_open(u: str, timeout: float) -> Any:
        calls.append(u)
        return real_open(u, timeout)

    monkeypatch.setattr(W, "_open_url", counting_open)
    first = medzoo.load("tiny-trained")
    cached = W.cached_path(url)
    assert cached.is_file() and cached.parent.parent == Path(os.environ["MEDZOO_HOME"]) / "weights"
    assert W.sha256_file(cached) == saved["sha"]
    second = medzoo.load("tiny-trained")
    assert calls == [url]  # downloaded once, reused the second time
    # no temp or second copy; the download's sha256 is recorded beside it
    assert sorted(p.name for p in cached.parent.iterdir()) == [cached.name, cached.name + ".sha256"]
    np.testing.assert_allclose(_predict(second, saved["x"]), _predict(first, saved["x"]), rtol=1e-6)
    np.testing.assert_allclose(_predict(second, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)


def test_corrupt_cache_entry_is_fetched_again(zoo: Any, saved: dict[str, Any]) -> None:
    url = saved["path"].as_uri()
    tz.add_trained(zoo, url, saved["sha"])
    medzoo.load("tiny-trained")
    cached = W.cached_path(url)
    cached.write_bytes(b"garbage")
    medzoo.load("tiny-trained")
    assert W.sha256_file(cached) == saved["sha"]


def test_cached_download_without_a_sha256_is_still_checked(zoo: Any, saved: dict[str, Any]) -> None:
    """A URL loaded without a sha256: its cached copy is checked against the sha256 recorded at download."""
    url = saved["path"].as_uri()
    medzoo.load("tiny-untrained", weights=url)
    cached = W.cached_path(url)
    assert cached.with_name(cached.name + ".sha256").read_text().strip() == saved["sha"]
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")  # changed on disk since
    model = medzoo.load("tiny-untrained", weights=url)
    assert W.sha256_file(cached) == saved["sha"]  # fetched again, not loaded as it was
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)


def test_cache_dir_argument(zoo: Any, saved: dict[str, Any], tmp_path: Path) -> None:
    url = saved["path"].as_uri()
    medzoo.load("tiny-untrained", weights=url, cache_dir=tmp_path / "mine")
    assert W.cached_path(url, tmp_path / "mine").is_file()
    assert not (Path(os.environ["MEDZOO_HOME"]) / "weights").exists()


def test_download_with_wrong_hash_leaves_nothing_in_cache(zoo: Any, saved: dict[str, Any]) -> None:
    url = saved["path"].as_uri()
    with pytest.raises(medzoo.MedzooError) as info:
        W.load_entry("tiny-untrained", weights=url, sha256="a" * 64)
    assert url in str(info.value) and "a" * 64 in str(info.value) and saved["sha"] in str(info.value)
    folder = W.cached_path(url).parent
    assert not folder.exists() or list(folder.iterdir()) == []


class _ShortResponse(io.BytesIO):
    """A response whose body stops before its Content-Length (a dropped connection)."""

    def __init__(self, data: bytes, length: int) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(length)}


def test_truncated_download(zoo: Any, saved: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    data = saved["path"].read_bytes()
    monkeypatch.setattr(W, "_open_url", lambda u, timeout: _ShortResponse(data[:1000], len(data)))
    url = "https://example.invalid/tiny.weights.h5"
    with pytest.raises(medzoo.MedzooError, match=f"download of {url} is truncated: got 1000 of {len(data)} bytes"):
        medzoo.load("tiny-untrained", weights=url)
    folder = W.cached_path(url).parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_url_fails_fast_and_says_where_to_put_the_file(zoo: Any, saved: dict[str, Any]) -> None:
    url = "https://127.0.0.1:9/x.weights.h5"
    tz.add_trained(zoo, url, saved["sha"])
    with pytest.raises(medzoo.MedzooError) as info:
        medzoo.load("tiny-trained")
    msg = str(info.value)
    target = W.cached_path(url)
    assert url in msg and str(target) in msg
    # putting the file there by hand makes it work offline
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(saved["path"].read_bytes())
    model = medzoo.load("tiny-trained")
    np.testing.assert_allclose(_predict(model, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)


def test_plain_http_refused(zoo: Any) -> None:
    with pytest.raises(medzoo.MedzooError, match="https"):
        medzoo.load("tiny-untrained", weights="http://example.invalid/x.weights.h5")


def test_float16_export_round_trip(zoo: Any, saved: dict[str, Any], tmp_path: Path) -> None:
    import h5py

    model = tz.trained_model()
    out = tmp_path / "half.weights.h5"
    digest = W.export_weights(model, out, dtype="float16")
    assert digest == W.sha256_file(out)
    with h5py.File(out) as f:
        dtypes: set[str] = set()
        f.visititems(lambda n, o: dtypes.add(str(o.dtype)) if isinstance(o, h5py.Dataset) else None)
    assert dtypes == {"float16"}
    assert out.stat().st_size < saved["path"].stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name != out.name]  # no temp files left behind
    tz.add_trained(zoo, str(out), digest)
    loaded = medzoo.load("tiny-trained")
    assert {w.dtype for w in loaded.weights} == {"float32"}
    y = _predict(loaded, saved["x"])
    assert not np.array_equal(y, saved["y"])  # really the rounded weights...
    np.testing.assert_allclose(y, saved["y"], atol=2e-3)  # ...within float16 tolerance


def test_keras_archive_weights_only(zoo: Any, saved: dict[str, Any], tmp_path: Path) -> None:
    model = tz.trained_model()
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = medzoo.load("tiny-untrained", weights=path)
    np.testing.assert_allclose(_predict(loaded, saved["x"]), saved["y"], rtol=1e-5, atol=1e-6)


def test_runner_checkpoint_with_optimizer_state_loads(zoo: Any, tmp_path: Path) -> None:
    """A compiled model's checkpoint (the runner's best.weights.h5) also holds the optimizer's arrays."""
    import h5py
    import keras

    model = tz.trained_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    x = tz.random_pixels()
    model.train_on_batch(x, np.ones((len(x),) + tuple(model.output_shape[1:]), "float32"))
    path = tmp_path / "best.weights.h5"
    model.save_weights(str(path))
    with h5py.File(path, "r") as f:
        assert "optimizer" in f  # otherwise this test tests nothing
    loaded = medzoo.load("tiny-untrained", weights=path)
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=1e-5, atol=1e-6)


def test_file_with_fewer_arrays_than_the_model(zoo: Any, tmp_path: Path) -> None:
    import keras

    inputs = keras.Input(tz.SHAPE)
    small = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    path = tmp_path / "small.weights.h5"
    small.save_weights(str(path))
    with pytest.raises(medzoo.MedzooError, match="holds 2 arrays, the model has 8 weights"):
        medzoo.load("tiny-untrained", weights=path)


class _Response(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_large_download_shows_progress(zoo: Any, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = os.urandom(5 * W.PROGRESS_MIN_BYTES)
    monkeypatch.setattr(W, "_open_url", lambda u, timeout: _Response(data))
    path = W.download("https://example.invalid/big.weights.h5", expected_sha256=None)
    assert path.read_bytes() == data
    err = capsys.readouterr().err
    assert "downloading big.weights.h5" in err and "(100%)" in err


# ------------------------------------------------------------------------------------- metadata on the model


def test_loaded_model_carries_its_class_names_threshold_and_hash(zoo: Any, saved: dict[str, Any]) -> None:
    tz.add_trained(zoo, str(saved["path"]), saved["sha"],
                   meta={"threshold": 0.3, "threshold_rule": "recall >= 0.95", "classes": ["healthy", "lesion"]})
    model = medzoo.load("tiny-trained")
    assert model.medzoo_meta == {"entry": "tiny-trained", "classes": ["healthy", "lesion"], "threshold": 0.3,
                                 "threshold_rule": "from the weights card: recall >= 0.95", "weights": "default",
                                 "sha256": saved["sha"]}
    # other weights: the card's threshold is not theirs; the hash is that of the file loaded
    other = medzoo.load("tiny-trained", weights=saved["path"])
    assert other.medzoo_meta["threshold"] == 0.5 and other.medzoo_meta["sha256"] == saved["sha"]
    assert other.medzoo_meta["weights"] == str(saved["path"]) and other.medzoo_meta["classes"] == ["healthy", "lesion"]
    untrained = medzoo.load("tiny-untrained", weights=None)
    assert untrained.medzoo_meta["sha256"] is None and untrained.medzoo_meta["weights"] is None
    assert untrained.medzoo_meta["threshold"] == 0.5 and untrained.medzoo_meta["classes"] is None
    # the metadata is no weight: saving and loading the weights still works, with the same file layout
    out = Path(str(saved["path"])).with_name("again.weights.h5")
    model.save_weights(str(out))
    assert W._count_arrays(out) == W._count_arrays(saved["path"])


# ------------------------------------------------------------------------------- the shipped weights, raw pixels


def test_shipped_cnn1_loads_verified_and_takes_any_channels_with_or_without_a_batch_axis() -> None:
    """The published X-rays are RGB JPEGs: ``medzoo.load(...)`` takes them as the CLI does, one at a time too."""
    entry = medzoo.get_entry("cnn1-chest-xray")
    model = medzoo.load("cnn1-chest-xray")
    meta = model.medzoo_meta
    assert meta["sha256"] == entry.weights.sha256 and meta["classes"] == ["NORMAL", "PNEUMONIA"]
    assert meta["threshold"] == pytest.approx(entry.weights.meta["threshold"])
    # pinned outputs of the shipped file (v2) on a fixed gray input, as log-odds (the probabilities are near 0)
    gray = np.random.default_rng(0).integers(0, 256, (2, 300, 280, 1)).astype("float32")
    p = model.predict(gray, verbose=0)[:, 0].astype("float64")
    np.testing.assert_allclose(np.log(p / (1 - p)), [-10.0844, -10.6795], atol=0.01)
    rgb = np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3)).astype("uint8")
    luma = np.stack([to_channels(img.astype("float32"), 1) for img in rgb])
    p_rgb = model.predict(rgb, verbose=0)[:, 0]
    np.testing.assert_allclose(p_rgb, model.predict(luma, verbose=0)[:, 0], atol=1e-5)
    one = medzoo.predict_image(model, rgb[0])  # (H, W, 3), no batch axis
    assert one["probability"] == pytest.approx(float(p_rgb[0]), abs=1e-5)
    assert one["threshold"] == meta["threshold"] and one["class"] == meta["classes"][one["label"]]
    assert medzoo.predict_image(model, luma[0, ..., 0])["probability"] == pytest.approx(one["probability"], abs=1e-5)
