"""The backend-neutral data path: typed pipeline options, the decoded-array cache, ArrayBatches, the joint
augmentation in keras.ops, and the placement rules (precision, replicas). Runs in-process on TensorFlow; the
same code under JAX without TensorFlow is in ``test_no_tensorflow.py``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from medzoo.arrays import decoded, forget
from medzoo.augment import (
    apply_affine,
    apply_intensity,
    check_augment,
    needs_arrays,
    sample_affine,
    sample_intensity,
)
from medzoo.data import PipelineOptions
from medzoo.distribution import choose_precision
from medzoo.errors import MedzooError


@pytest.fixture(scope="module")
def lgg(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from medzoo_lgg_mri.reader import LGGMRI
    from medzoo_lgg_mri.synthetic import write_synthetic

    return LGGMRI(write_synthetic(tmp_path_factory.mktemp("lgg"), patients=3, slices=8, size=48, seed=4))


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    forget()


def test_unknown_and_unsupported_options_are_errors(lgg) -> None:
    with pytest.raises(MedzooError, match=r"unknown pipeline option\(s\) \['lesion_fractoin'\]"):
        PipelineOptions.make(lesion_fractoin=0.5)
    with pytest.raises(MedzooError, match="batch_size must be at least 1"):
        PipelineOptions.make(batch_size=0)
    with pytest.raises(MedzooError, match=r"does not take pipeline option image_size=64"):
        lgg.batches(lgg.records(), options=PipelineOptions(image_size=64), loader="arrays")
    with pytest.raises(TypeError):  # a typo passed straight to the tf.data pipeline is no longer swallowed
        lgg.pipeline(lgg.records(), lesion_fractoin=0.5)


def test_decoded_arrays_equal_the_files_and_the_disk_cache_is_reused(lgg, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = lgg.records()
    images, masks = lgg.load_arrays(recs)
    arrays = decoded(lgg, recs, cache="disk")
    np.testing.assert_array_equal(arrays.images, images)
    np.testing.assert_array_equal(arrays.targets, masks)
    assert arrays.images.dtype == np.uint8 and arrays.segmentation

    forget()  # a new process: nothing in memory, the .npy files on disk
    monkeypatch.setattr(type(lgg), "decode", lambda self, r: (_ for _ in ()).throw(AssertionError("decoded")))
    again = decoded(lgg, recs, cache="disk")
    assert isinstance(again.images, np.memmap) and again.key == arrays.key
    np.testing.assert_array_equal(again.images, images)
    monkeypatch.undo()

    first = Path(recs[0].image)
    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rewritten in place: a new key
    forget()
    assert decoded(lgg, recs, cache="disk").key != arrays.key


def test_evaluation_batches_are_ordered_raw_and_complete(lgg) -> None:
    recs = lgg.records()[:10]
    images, masks = lgg.load_arrays(recs)
    batches = list(lgg.batches(recs, batch_size=4, loader="arrays"))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), images)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), masks)


def test_training_batches_repeat_for_a_seed_and_reshuffle_each_epoch(lgg) -> None:
    recs = lgg.records()
    opts = PipelineOptions(batch_size=5, augment={}, seed=3)
    a, b = (lgg.batches(recs, training=True, options=opts, loader="arrays") for _ in range(2))
    assert len(a) == len(recs) // 5  # the short last batch is dropped in training
    first = [x for x, _ in a]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate([x for x, _ in b]))
    a.on_epoch_end()
    assert not np.array_equal(np.concatenate(first), np.concatenate([x for x, _ in a]))
    seen = np.concatenate([x for x, _ in b])
    assert len({arr.tobytes() for arr in seen}) == len(seen)  # a permutation: no record twice in an epoch


def test_lesion_fraction_draws_and_centres_on_lesions(lgg) -> None:
    recs = lgg.records()
    feed = lgg.batches(recs, training=True, loader="arrays", batch_size=16, augment={}, patch_size=16,
                       lesion_fraction=1.0, seed=1)
    shares = []
    for x, y in feed:
        assert x.shape == (16, 16, 16, 3) and y.shape == (16, 16, 16, 1)
        shares.append((np.asarray(y).reshape(16, -1).max(axis=1) > 0).mean())
    assert np.mean(shares) >= 0.95
    with pytest.raises(MedzooError, match="both"):
        lgg.batches([r for r in recs if r.meta["positive"]], training=True, loader="arrays", lesion_fraction=0.5)


def test_augmented_masks_stay_binary_and_move_with_the_lesion(lgg) -> None:
    recs = [r for r in lgg.records() if r.meta["positive"]]
    feed = lgg.batches(recs, training=True, loader="arrays", batch_size=len(recs), seed=2,
                       augment={"rotation": 0.1, "shift": 0.1, "zoom": 0.1, "hflip": 0.5})
    x, y = (np.asarray(a) for a in feed[0])
    assert set(np.unique(y)) <= {0.0, 1.0}
    lesion = x[..., 1] > 150  # the synthetic lesion is bright in the FLAIR channel
    agree = (lesion == (y[..., 0] > 0.5)).mean()
    assert agree > 0.97


def test_sample_affine_conventions() -> None:
    rng = np.random.default_rng(0)
    identity = np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32)
    np.testing.assert_allclose(sample_affine(rng, 3, 8, 8, {}), np.tile(identity, (3, 1)), atol=1e-6)
    x = np.arange(2 * 5 * 7 * 1, dtype=np.float32).reshape(2, 5, 7, 1)
    both = sample_affine(rng, 2, 5, 7, {"hflip": 1.0, "vflip": 1.0})
    np.testing.assert_array_equal(np.asarray(apply_affine(x, both)), x[:, ::-1, ::-1])
    with pytest.raises(MedzooError, match="probability"):
        check_augment({"hflip": 2.0}, {})
    with pytest.raises(MedzooError, match="unknown augmentation"):
        check_augment({"rotate": 0.1}, {})
    assert check_augment(None, {"zoom": 0.1}) == {"zoom": 0.1}


def test_intensity_augmentation() -> None:
    rng = np.random.default_rng(0)
    x = np.tile(np.linspace(0, 255, 16, dtype=np.float32), (4, 16, 1))[..., None]  # (4, 16, 16, 1) ramps
    np.testing.assert_allclose(np.asarray(apply_intensity(x, sample_intensity(rng, 4, {}))), x, atol=1e-3)
    params = np.array([[0, 1, 2.0, 0], [0, 1, 0.5, 0], [20, 1, 1, 0], [0, 0.5, 1, 0]], np.float32)  # no blur
    out = np.asarray(apply_intensity(x, params))
    assert out[0].mean() < x[0].mean() < out[1].mean()  # gamma 2 darkens, 0.5 brightens
    np.testing.assert_allclose(out[2], np.clip(x[2] + 20, 0, 255), atol=1e-3)
    np.testing.assert_allclose(out[3].mean(), x[3].mean(), atol=1e-3)  # contrast keeps the mean
    assert out[3].std() == pytest.approx(x[3].std() / 2, rel=1e-3)
    drawn = sample_intensity(rng, 500, {"brightness": 0.1, "contrast": 0.2, "gamma": 0.3})
    assert np.abs(drawn[:, 0]).max() <= 25.5 and np.abs(drawn[:, 1] - 1).max() <= 0.2
    assert np.abs(np.log(drawn[:, 2])).max() <= 0.3
    assert needs_arrays({"gamma": 0.2}) and not needs_arrays({"hflip": 0.5}) and not needs_arrays(None)


@pytest.mark.parametrize(("accelerator", "capability", "asked", "expected"), [
    (None, None, None, "float32"),
    ("gpu", "9.0", None, "mixed_bfloat16"),  # H100
    ("gpu", "7.5", None, "mixed_float16"),  # T4: no bfloat16 tensor cores
    ("tpu", None, None, "mixed_bfloat16"),
    ("gpu", "9.0", False, "float32"),
    (None, None, True, "mixed_bfloat16"),
    ("gpu", "8.0", "mixed_float16", "mixed_float16"),
])
def test_precision_policy(accelerator: str | None, capability: str | None, asked: object, expected: str) -> None:
    assert choose_precision(accelerator, capability, asked) == expected  # type: ignore[arg-type]


def test_unknown_precision_is_an_error() -> None:
    with pytest.raises(MedzooError, match="unknown precision"):
        choose_precision(None, None, "float8")


@pytest.mark.slow
def test_runner_on_the_array_path_under_tensorflow(lgg, tmp_path: Path) -> None:
    """On TensorFlow the runner's default is the decoded-array path too (intensity augmentation included); the
    tf.data pipeline stays one option away."""
    import json

    from medzoo.runner import train

    run = train("unet-lgg", data=lgg.root, out=tmp_path / "run", epochs=2, batch_size=4, augment={},
                seed=0, verbose=0, evaluate=False, loader="arrays")
    auto = train("unet-lgg", data=lgg.root, out=tmp_path / "auto", epochs=1, batch_size=4, seed=0, verbose=0,
                 evaluate=False, augment={"hflip": 0.5, "gamma": 0.2, "contrast": 0.1})
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["loader"] == "arrays"  # the default
    assert np.isfinite(auto.history["loss"]).all()
    tfdata = train("unet-lgg", data=lgg.root, out=tmp_path / "tfdata", epochs=1, batch_size=4, seed=0, verbose=0,
                   evaluate=False, augment={}, loader="tfdata")
    assert json.loads((tmp_path / "tfdata" / "config.json").read_text())["loader"] == "tfdata"
    assert np.isfinite(tfdata.history["loss"]).all()
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["loader"] == "arrays" and config["backend"] == "tensorflow"
    assert config["precision"] == "float32" and config["replicas"] == 1
    assert len(run.history["loss"]) == 2 and run.history["loss"][1] < run.history["loss"][0]
