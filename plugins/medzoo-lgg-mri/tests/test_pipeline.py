"""The LGG tf.data pipeline: joint augmentation keeps masks aligned and binary; lesion-centred patch crops."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from medzoo_lgg_mri.augment import joint_augmenter
from medzoo_lgg_mri.reader import LGGMRI
from medzoo_lgg_mri.synthetic import write_synthetic

LESION = 150  # synthetic lesions are ~200 in channel 1, the rest of the head ~90 ± 12


@pytest.fixture(scope="module")
def lgg(tmp_path_factory: pytest.TempPathFactory) -> LGGMRI:
    return LGGMRI(write_synthetic(tmp_path_factory.mktemp("lgg"), patients=4, slices=8, size=64))


def _near_edge(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels within ``width`` of a boundary of the binary ``mask`` (N, H, W)."""
    m = mask.astype(bool)
    edge = np.zeros_like(m)
    for axis in (1, 2):
        for shift in range(1, width + 1):
            for s in (shift, -shift):
                edge |= m != np.roll(m, s, axis=axis)
    return edge


def test_joint_augmentation_keeps_mask_aligned_and_binary(lgg: LGGMRI) -> None:
    recs = [r for r in lgg.records() if r.meta["positive"]]
    ds = lgg.pipeline(recs, training=True, batch_size=len(recs), seed=4, deterministic=True,
                      augment={"rotation": 0.1, "shift": 0.15, "shear": 0.15, "zoom": 0.15, "hflip": 1.0})
    raw, _ = lgg.load_arrays(recs)
    for images, masks in ds.take(2):
        images, masks = images.numpy(), masks.numpy()[..., 0]
        assert set(np.unique(masks)) <= {0.0, 1.0}
        from_image = images[..., 1] > LESION
        assert masks.sum() > 0.5 * (raw[..., 1] > LESION).sum()  # lesions survive the transforms
        wrong = (masks > 0.5) != from_image
        # bilinear images and nearest-neighbour masks may differ on the lesion's rim (up to a few pixels after
        # a 15% zoom of 64 px); anything further away would be a misaligned mask
        assert not (wrong & ~_near_edge(from_image, 3)).any()
        assert wrong.sum() < 0.2 * from_image.sum()  # small lesions: the rim is a good part of them
        assert not np.array_equal(images, raw.astype("float32"))  # something did move


@pytest.mark.parametrize("augment", [{"rotation": 0.1}, {"zoom": 0.15}, {"shear": 0.15}, {"shift": 0.15}],
                         ids=lambda a: next(iter(a)))
def test_each_transform_alone_keeps_masks_binary(lgg: LGGMRI, augment: dict[str, float]) -> None:
    recs = [r for r in lgg.records() if r.meta["positive"]][:8]
    images, masks = next(iter(lgg.pipeline(recs, training=True, batch_size=8, seed=2, augment=augment)))
    assert masks.dtype == "float32" and set(np.unique(masks.numpy())) <= {0.0, 1.0}
    from_image = images.numpy()[..., 1] > LESION
    assert not (((masks.numpy()[..., 0] > 0.5) != from_image) & ~_near_edge(from_image, 3)).any()


def test_hflip_moves_image_and_mask_together() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (16, 8, 12, 3)).astype("float32")
    m = (rng.uniform(size=(16, 8, 12, 1)) > 0.7).astype("float32")
    out = joint_augmenter({"hflip": 0.5}, seed=3)({"images": x, "segmentation_masks": m})
    xi, mi = np.asarray(out["images"]), np.asarray(out["segmentation_masks"])
    flipped = []
    for i in range(len(x)):
        same = np.array_equal(xi[i], x[i]) and np.array_equal(mi[i], m[i])
        flip = np.array_equal(xi[i], np.flip(x[i], axis=1)) and np.array_equal(mi[i], np.flip(m[i], axis=1))
        assert same != flip, f"example {i} is neither kept nor flipped pixel for pixel"
        flipped.append(flip)
    assert 0 < sum(flipped) < len(x)  # some flipped, some not
    always = joint_augmenter({"hflip": 1.0}, seed=3)({"images": x, "segmentation_masks": m})
    np.testing.assert_array_equal(np.asarray(always["images"]), np.flip(x, axis=2))  # a probability of 1


def test_no_augmentation_when_empty() -> None:
    assert joint_augmenter({}) is None


def _lesion_share(ds: object, batches: int) -> float:
    hits = [float(m.numpy().reshape(m.shape[0], -1).max(axis=1).mean()) for _, m in ds.take(batches)]  # type: ignore[attr-defined]
    return float(np.mean(hits))


def test_lesion_fraction_centres_crops_on_lesions(lgg: LGGMRI) -> None:
    recs = lgg.records()
    centred = lgg.pipeline(recs, training=True, batch_size=16, augment={}, patch_size=16, lesion_fraction=1.0,
                           seed=1, deterministic=True)
    images, masks = next(iter(centred))
    assert images.shape == (16, 16, 16, 3) and masks.shape == (16, 16, 16, 1)
    share = _lesion_share(centred, 4)
    assert share >= 0.95
    pos = [r for r in recs if r.meta["positive"]]
    uncentred = lgg.pipeline(pos, training=True, batch_size=16, augment={}, patch_size=16, seed=1, repeat=True,
                             deterministic=True)
    assert _lesion_share(uncentred, 4) < share  # random crops of the same slices miss the lesion more often


def test_lesion_fraction_needs_both_kinds(lgg: LGGMRI) -> None:
    pos = [r for r in lgg.records() if r.meta["positive"]]
    with pytest.raises(ValueError, match="both"):
        lgg.pipeline(pos, training=True, lesion_fraction=0.5)


def test_validation_pipeline_is_ordered_and_raw(lgg: LGGMRI, tmp_path: Path) -> None:
    recs = lgg.records()[:10]
    images, masks = lgg.load_arrays(recs)
    got = list(lgg.pipeline(recs, training=False, batch_size=4))
    assert [len(b[0]) for b in got] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in got]), images.astype("float32"))
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in got]), masks.astype("float32"))
