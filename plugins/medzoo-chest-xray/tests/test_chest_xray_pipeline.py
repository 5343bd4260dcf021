"""The tf.data pipeline: shapes, dtypes, decoding of any format, train-only augmentation, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medzoo.data import Record
from medzoo_chest_xray.augment import DEFAULT_AUGMENT, augment_batch, check_augment
from medzoo_chest_xray.reader import ChestXray


def _batches(ds) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001 - a tf.data.Dataset
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_shapes_and_dtypes(synth_root: Path) -> None:
    ds = ChestXray(synth_root)
    recs = ds.splits(seed=0)["train"]
    x, y = next(iter(ds.pipeline(recs, training=True, batch_size=4)))
    assert x.shape == (4, 256, 256, 1) and x.dtype.name == "float32"
    assert y.shape == (4,) and y.dtype.name == "float32"
    xe, ye = _batches(ds.pipeline(recs, training=False, batch_size=5, image_size=96))
    assert xe.shape == (len(recs), 96, 96, 1)
    assert ye.tolist() == [float(r.target) for r in recs]  # evaluation keeps the records' order
    assert xe.min() >= 0.0 and xe.max() <= 255.0 and xe.max() > 100.0
    # training drops a short last batch (stable shapes) but never everything
    n_train = sum(int(y.shape[0]) for _, y in ds.pipeline(recs, training=True, batch_size=5, image_size=32))
    assert n_train == len(recs) // 5 * 5
    assert sum(int(y.shape[0]) for _, y in ds.pipeline(recs[:3], training=True, batch_size=5, image_size=32)) == 3


def test_any_format_size_and_channels(tmp_path: Path) -> None:
    """RGB PNG, large grayscale JPEG and small RGB JPEG all come out as (256, 256, 1) grey of the same scene."""
    from PIL import Image

    grey = np.tile(np.linspace(0, 255, 400, dtype=np.float32), (300, 1)).astype(np.uint8)
    files = {"big.jpeg": Image.fromarray(grey, "L"), "rgb.png": Image.fromarray(np.dstack([grey] * 3), "RGB"),
             "small.jpeg": Image.fromarray(np.dstack([grey] * 3), "RGB").resize((224, 224))}
    recs = []
    for name, img in files.items():
        img.save(tmp_path / name)
        recs.append(Record(image=str(tmp_path / name), target=1, patient=name))
    from medzoo_chest_xray.decode import read_gray
    from medzoo_chest_xray.pipeline import classification_pipeline

    x, _ = next(iter(classification_pipeline(recs, batch_size=3, cache=None)))
    x = x.numpy()
    assert x.shape == (3, 256, 256, 1)
    pillow = np.stack([read_gray(r.image, 256) for r in recs])  # the array path's decode (no TensorFlow)
    assert np.abs(pillow.astype(float) - x).max() <= 3  # the two decoders agree within 3 grey levels
    for img in x:  # a left-to-right ramp whatever the format and size
        row = img[128, :, 0]
        assert row[0] < 10 and row[-1] > 245 and np.all(np.diff(row[8:-8]) >= -3)
    assert np.abs(x[0] - x[1]).mean() < 3 and np.abs(x[1] - x[2]).mean() < 3


def test_augmentation_only_in_training(synth_root: Path) -> None:
    ds = ChestXray(synth_root)
    recs = ds.records()[:6]
    plain, _ = _batches(ds.pipeline(recs, training=False, batch_size=6, augment={"hflip": 1.0}))
    flipped, y = _batches(ds.pipeline(recs, training=True, batch_size=6, augment={"hflip": 1.0}, seed=1))
    # training shuffles: match each flipped image to its original
    order = [int(np.argmin([np.abs(f - p[:, ::-1]).max() for p in plain])) for f in flipped]
    assert sorted(order) == list(range(6))
    for f, i in zip(flipped, order, strict=True):
        np.testing.assert_array_equal(f, plain[i][:, ::-1])
    assert y.tolist() == [float(recs[i].target) for i in order]
    none, _ = _batches(ds.pipeline(recs, training=True, batch_size=6, augment={}, seed=1))
    assert all(any(np.array_equal(n, p) for p in plain) for n in none)


def test_augment_batch_exact_flips_and_range() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 16, 20, 1)).astype(np.float32)
    seed = tf.constant([3, 4])
    np.testing.assert_array_equal(augment_batch(x, seed, {"hflip": 1.0}).numpy(), x[:, :, ::-1])
    np.testing.assert_array_equal(augment_batch(x, seed, {"vflip": 1.0}).numpy(), x[:, ::-1])
    np.testing.assert_array_equal(augment_batch(x, seed, {"hflip": 1.0, "vflip": 1.0}).numpy(), x[:, ::-1, ::-1])
    np.testing.assert_array_equal(np.asarray(augment_batch(x, seed, {})), x)  # {} is the identity
    y = augment_batch(x, seed, DEFAULT_AUGMENT).numpy()
    assert y.shape == x.shape and y.min() >= 0.0 and y.max() <= 255.0
    assert not np.array_equal(y, x)
    np.testing.assert_array_equal(y, augment_batch(x, seed, DEFAULT_AUGMENT).numpy())  # stateless
    assert not np.array_equal(y, augment_batch(x, tf.constant([3, 5]), DEFAULT_AUGMENT).numpy())
    # a small rotation keeps the centre of a smooth image and moves its corners
    smooth = np.tile(np.linspace(0, 255, 33, dtype=np.float32), (33, 1))[None, :, :, None]
    rot = augment_batch(smooth, seed, {"rotation": 0.05}).numpy()
    assert abs(rot[0, 16, 16, 0] - smooth[0, 16, 16, 0]) < 1.0
    assert np.abs(rot - smooth).max() > 5.0


def test_bad_augment_config() -> None:
    with pytest.raises(ValueError, match="unknown augmentation"):
        check_augment({"shear": 0.1})
    with pytest.raises(ValueError, match="probability"):
        check_augment({"hflip": 2.0})


def test_deterministic_and_seeded(synth_root: Path) -> None:
    ds = ChestXray(synth_root)
    recs = ds.records()

    def run(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        pipe = ds.pipeline(recs, training=True, batch_size=8, seed=seed, deterministic=True, image_size=64)
        return [(x.numpy(), y.numpy()) for x, y in pipe]

    a, b, c = run(0), run(0), run(1)
    assert all(np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))
    # a second pass over the same pipeline draws new augmentations and a new order
    pipe = ds.pipeline(recs, training=True, batch_size=8, seed=0, deterministic=True, image_size=64)
    first, second = [x.numpy() for x, _ in pipe], [x.numpy() for x, _ in pipe]
    assert not all(np.array_equal(p, q) for p, q in zip(first, second, strict=True))


def test_file_cache_and_repeat(synth_root: Path, tmp_path: Path) -> None:
    ds = ChestXray(synth_root)
    recs = ds.records()[:5]
    pipe = ds.pipeline(recs, training=False, batch_size=5, cache=str(tmp_path / "decoded"), image_size=32)
    a, _ = _batches(pipe)
    assert any(p.name.startswith("decoded") for p in tmp_path.iterdir())
    b, _ = _batches(pipe)
    np.testing.assert_array_equal(a, b)
    rep = ds.pipeline(recs, training=True, batch_size=2, repeat=True, image_size=32)
    assert sum(1 for _ in rep.take(7)) == 7
    with pytest.raises(ValueError, match="no records"):
        ds.pipeline([], training=False)
