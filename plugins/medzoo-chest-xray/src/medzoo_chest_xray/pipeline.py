"""tf.data pipelines for chest X-ray records: parallel decode to grayscale, resize, cache, augment, prefetch."""

from __future__ import annotations

from typing import Any

from medzoo.data import Record
from medzoo_chest_xray.augment import augment_batch, check_augment


def decode(path: Any, image_size: int) -> Any:
    """Read and decode one JPEG/PNG to ``(image_size, image_size, 1)`` uint8 grayscale (tf ops)."""
    import tensorflow as tf

    img = tf.io.decode_image(tf.io.read_file(path), channels=1, expand_animations=False, dtype=tf.uint8)
    img.set_shape([None, None, 1])
    shape = tf.shape(img)

    def shrink() -> Any:  # antialiased, so large originals do not alias
        return tf.image.resize(img, [image_size, image_size], method="bilinear", antialias=True)

    def grow() -> Any:  # same result as antialiased when upsampling, and several times faster
        return tf.image.resize(img, [image_size, image_size], method="bilinear")

    out = tf.cond(tf.reduce_max(shape[:2]) > image_size, shrink, grow)
    return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)


def classification_pipeline(records: list[Record], training: bool = False, batch_size: int = 32,
                            augment: dict[str, float] | None = None, seed: int = 0, deterministic: bool = False,
                            repeat: bool = False, cache: str | None = "memory", image_size: int = 256,
                            shuffle_buffer: int | None = None) -> Any:
    """See :meth:`medzoo_chest_xray.reader.ChestXray.pipeline`."""
    import tensorflow as tf

    if not records:
        raise ValueError("no records to build a pipeline from")
    aug = check_augment(augment) if training else {}
    ordered = deterministic or not training
    ds = tf.data.Dataset.from_tensor_slices(([r.image for r in records],
                                             [float(r.target) for r in records]))
    ds = ds.map(lambda p, y: (decode(p, image_size), y), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=ordered)
    if cache is not None:
        ds = ds.cache("" if cache == "memory" else str(cache))
    if training:
        ds = ds.shuffle(shuffle_buffer or len(records), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    # a short last batch is dropped in training (stable shapes for XLA), unless it is the only one
    ds = ds.batch(batch_size, drop_remainder=training and len(records) > batch_size,
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=ordered)
    if training and any(aug.values()):
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(lambda xy, s: (augment_batch(xy[0], s, aug), xy[1]),
                                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    options = tf.data.Options()
    options.deterministic = ordered
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
