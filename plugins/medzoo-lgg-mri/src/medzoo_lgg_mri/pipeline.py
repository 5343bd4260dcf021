"""tf.data pipelines for slice/mask records: parallel decode, cache, crop, joint augmentation, prefetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medzoo.data import Record
from medzoo_lgg_mri.augment import joint_augmenter
from medzoo_lgg_mri.files import read_image, read_mask


def _decode(image_path: bytes, mask_path: bytes) -> tuple[np.ndarray, np.ndarray]:
    img = read_image(image_path.decode())
    return img, read_mask(mask_path.decode(), img.shape[:2])


def _paths(records: Sequence[Record], tf: Any, deterministic: bool) -> Any:
    ds = tf.data.Dataset.from_tensor_slices(([r.image for r in records], [str(r.target) for r in records]))

    def load(i: Any, m: Any) -> tuple[Any, Any]:
        img, mask = tf.numpy_function(_decode, [i, m], [tf.uint8, tf.uint8], stateful=False)
        img.set_shape([None, None, 3])
        mask.set_shape([None, None, 1])
        return img, mask

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)


def _crop(tf: Any, patch: int, centre_on_lesion: bool, seed: int) -> Any:
    def crop(img: Any, mask: Any) -> tuple[Any, Any]:
        shape = tf.shape(img)
        h, w = shape[0], shape[1]
        pos = tf.where(mask[..., 0] > 0)
        rnd = tf.random.uniform((2,), 0, 1, seed=seed)
        random_corner = tf.cast(rnd * tf.cast(tf.stack([h - patch + 1, w - patch + 1]), tf.float32), tf.int32)
        if centre_on_lesion:
            def on_lesion() -> Any:
                k = tf.random.uniform((), 0, tf.shape(pos)[0], dtype=tf.int32, seed=seed)
                jitter = tf.random.uniform((2,), -patch // 4, patch // 4 + 1, dtype=tf.int32, seed=seed)
                return tf.cast(pos[k], tf.int32) + jitter - patch // 2

            corner = tf.cond(tf.shape(pos)[0] > 0, on_lesion, lambda: random_corner)
        else:
            corner = random_corner
        y = tf.clip_by_value(corner[0], 0, h - patch)
        x = tf.clip_by_value(corner[1], 0, w - patch)
        return img[y:y + patch, x:x + patch], mask[y:y + patch, x:x + patch]

    return crop


def segmentation_pipeline(records: list[Record], training: bool = False, batch_size: int = 16,
                          augment: dict[str, float] | None = None, patch_size: int | None = None,
                          lesion_fraction: float | None = None, cache: str | None = "memory",
                          deterministic: bool = False, seed: int = 0, repeat: bool = False) -> Any:
    """See :meth:`medzoo_lgg_mri.reader.LGGMRI.pipeline`."""
    import tensorflow as tf

    if not records:
        raise ValueError("no records to build a pipeline from")
    if patch_size and patch_size >= min(read_image(records[0].image).shape[:2]):
        patch_size = None  # patches as large as the images are the images themselves

    def source(recs: list[Record]) -> Any:
        ds = _paths(recs, tf, deterministic or not training)
        if cache is not None:
            ds = ds.cache("" if cache == "memory" else cache)
        return ds

    if training and lesion_fraction is not None:
        pos = [r for r in records if r.meta.get("positive")]
        neg = [r for r in records if not r.meta.get("positive")]
        if not pos or not neg:
            raise ValueError("lesion_fraction needs slices both with and without a lesion")
        parts = [source(pos).shuffle(len(pos), seed=seed).repeat(),
                 source(neg).shuffle(len(neg), seed=seed + 1).repeat()]
        ds = tf.data.Dataset.sample_from_datasets(parts, [lesion_fraction, 1.0 - lesion_fraction], seed=seed,
                                                  stop_on_empty_dataset=False)
    else:
        ds = source(records)
        if training:
            ds = ds.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
    if training and patch_size:
        ds = ds.map(_crop(tf, patch_size, lesion_fraction is not None, seed), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=deterministic)
    ds = ds.map(lambda i, m: (tf.cast(i, tf.float32), tf.cast(m, tf.float32)))
    ds = ds.batch(batch_size, drop_remainder=training)
    if training:
        augmenter = joint_augmenter(augment, seed=seed if deterministic else None)
        if augmenter is not None:
            def apply(i: Any, m: Any) -> tuple[Any, Any]:
                out = augmenter({"images": i, "segmentation_masks": m})
                masks = tf.cast(out["segmentation_masks"], tf.float32)
                return out["images"], tf.cast(masks > 0.5, tf.float32)

            ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = deterministic or not training
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
