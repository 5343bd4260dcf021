"""Why the LGG training pipeline is slow, and what a fix gains: a profile with a local, fixed copy.

1. Micro: CPU ms per image of the keras-cv joint augmenter (``medzoo_lgg_mri.augment.joint_augmenter``), in
   all and layer by layer, versus :func:`fused_joint_augment` below, which composes the same flip + rotation +
   shift + shear + zoom into ONE projective matrix per image and resamples image (bilinear) and mask
   (nearest) once each, on a batch of 32 real slices. It also checks the mask stays aligned with the image.
2. Pipeline: the plugin's ``segmentation_pipeline`` (cold, training) as it is, with the augmenter swapped for
   the fused one (monkeypatched here only), and additionally shuffling the record paths before decoding
   instead of decoded images after it (time to the first batch).

Run::

    python bench/profile_lgg_augment.py --data ../shared/data

Writes ``bench/results/profile_lgg_augment.json``. The plugin itself is not changed by this script.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, cpu_seconds, load_now, machine, ratio, throughput, write_result


def fused_joint_augment(images: Any, masks: Any, seed: Any, aug: dict[str, float]) -> tuple[Any, Any]:
    """Random flip, rotation, shift, shear and zoom of a batch, as one resampling of images and one of masks.

    ``seed``: a shape-(2,) integer tensor (stateless draws). Same parameter meaning as the plugin's
    ``DEFAULT_AUGMENT``: ``rotation`` a fraction of a full turn, ``shift`` / ``zoom`` fractions of the side,
    ``shear`` the shear factor, ``hflip`` non-zero for a left-right flip half of the time. Pixels from outside
    are 0 (the MRI background); masks use nearest-neighbour sampling, so they stay binary.
    """
    import tensorflow as tf

    n = tf.shape(images)[0]
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 6)
    ones, zeros = tf.ones([n]), tf.zeros([n])

    def uniform(i: int, half: float, centre: float = 0.0) -> Any:
        return tf.random.stateless_uniform([n], s[i], centre - half, centre + half) if half else centre + zeros

    flip = tf.where(tf.random.stateless_uniform([n], s[0]) < 0.5, -ones, ones) if aug.get("hflip") else ones
    angle = uniform(1, float(aug.get("rotation", 0.0))) * 2.0 * math.pi
    shear = uniform(2, float(aug.get("shear", 0.0)))
    zoom = uniform(3, float(aug.get("zoom", 0.0)), 1.0)
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    tx, ty = uniform(4, float(aug.get("shift", 0.0))) * w, uniform(5, float(aug.get("shift", 0.0))) * h
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    # output pixel p samples input c + zoom * R(angle) * Shear * Flip * (p - c) + t
    cos, sin = tf.cos(angle) * zoom, tf.sin(angle) * zoom
    m00, m01 = cos * flip, cos * shear - sin
    m10, m11 = sin * flip, sin * shear + cos
    transforms = tf.stack([m00, m01, cx - m00 * cx - m01 * cy + tx, m10, m11, cy - m10 * cx - m11 * cy + ty,
                           zeros, zeros], axis=1)
    size = tf.shape(images)[1:3]
    out_images = tf.raw_ops.ImageProjectiveTransformV3(images=images, transforms=transforms, output_shape=size,
                                                       fill_value=0.0, interpolation="BILINEAR",
                                                       fill_mode="CONSTANT")
    out_masks = tf.raw_ops.ImageProjectiveTransformV3(images=masks, transforms=transforms, output_shape=size,
                                                      fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")
    return out_images, out_masks


class FusedAugmenter:
    """Drop-in for the keras-cv ``Augmenter`` the pipeline calls: ``{"images", "segmentation_masks"}`` in and out."""

    def __init__(self, aug: dict[str, float]) -> None:
        self.aug = aug

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Augment one batch with a fresh random seed."""
        import tensorflow as tf

        seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int64)
        images, masks = fused_joint_augment(inputs["images"], inputs["segmentation_masks"], seed, self.aug)
        return {"images": images, "segmentation_masks": masks}


def _cpu_ms(fn: Any, x: Any, m: Any, reps: int) -> float:
    fn(x, m)
    c = cpu_seconds()
    for _ in range(reps):
        for t in fn(x, m):
            t.numpy()
    return round(1000 * (cpu_seconds() - c) / (reps * int(x.shape[0])), 2)


def micro(x: Any, m: Any, reps: int) -> dict[str, Any]:
    """CPU ms per image of each augmenter on the batch ``(x, m)``, and the fused one's mask alignment."""
    import tensorflow as tf

    from medzoo_lgg_mri.augment import DEFAULT_AUGMENT, joint_augmenter

    def keras_cv(aug: dict[str, float]) -> Any:
        layer = joint_augmenter(aug)

        @tf.function
        def f(i: Any, mm: Any) -> Any:
            o = layer({"images": i, "segmentation_masks": mm})
            return o["images"], o["segmentation_masks"]

        return f

    out: dict[str, Any] = {"keras_cv_all": _cpu_ms(keras_cv(DEFAULT_AUGMENT), x, m, reps)}
    print(f"  keras-cv, all {len(DEFAULT_AUGMENT)} layers: {out['keras_cv_all']} CPU ms/image", flush=True)
    for key, val in DEFAULT_AUGMENT.items():
        out[f"keras_cv_{key}"] = _cpu_ms(keras_cv({key: val}), x, m, reps)
        print(f"  keras-cv, {key} only: {out[f'keras_cv_{key}']} CPU ms/image", flush=True)
    fused = tf.function(lambda i, mm: fused_joint_augment(i, mm, tf.constant([1, 2]), DEFAULT_AUGMENT))
    out["fused_all"] = _cpu_ms(fused, x, m, reps)
    out["speedup"] = ratio(out["keras_cv_all"], out["fused_all"])
    print(f"  fused, all in one resampling: {out['fused_all']} CPU ms/image ({out['speedup']}x less)", flush=True)
    # alignment: the image channel built from the mask must land where the mask lands
    probe = tf.concat([m * 255.0] * 3, axis=-1)
    i2, m2 = fused(probe, m)
    a, b = i2[..., :1] > 127.5, m2 > 0.5
    inter = float(tf.reduce_sum(tf.cast(a & b, tf.float32)))
    union = float(tf.reduce_sum(tf.cast(a | b, tf.float32)))
    out["mask_alignment_iou"] = round(inter / union, 4) if union else None
    out["mask_binary"] = bool(tf.reduce_all((m2 == 0) | (m2 == 1)))
    print(f"  fused mask vs. transformed image of the mask: IoU {out['mask_alignment_iou']}, "
          f"binary {out['mask_binary']}", flush=True)
    return out


def shuffled_paths_pipeline(records: list[Any], batch_size: int, aug: dict[str, float], seed: int = 0) -> Any:
    """The plugin's cold training pipeline with both fixes: paths shuffled before decoding, fused augmentation."""
    import tensorflow as tf

    from medzoo_lgg_mri.pipeline import _decode

    augmenter = FusedAugmenter(aug)
    paths = tf.data.Dataset.from_tensor_slices(([r.image for r in records], [str(r.target) for r in records]))
    paths = paths.shuffle(len(records), seed=seed, reshuffle_each_iteration=True).repeat()

    def load(i: Any, m: Any) -> Any:
        img, mask = tf.numpy_function(_decode, [i, m], [tf.uint8, tf.uint8], stateful=False)
        img.set_shape([None, None, 3])
        mask.set_shape([None, None, 1])
        return tf.cast(img, tf.float32), tf.cast(mask, tf.float32)

    ds = paths.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.batch(batch_size, drop_remainder=True)

    def apply(i: Any, m: Any) -> Any:
        out = augmenter({"images": i, "segmentation_masks": m})
        return out["images"], out["segmentation_masks"]

    return ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).prefetch(tf.data.AUTOTUNE)


def pipelines(ds: Any, recs: list[Any], batch: int, epochs: int) -> list[dict[str, Any]]:
    """Cold training pipelines: as shipped, fused augmentation, fused + shuffled paths."""
    import medzoo_lgg_mri.pipeline as plugin_pipeline
    from medzoo_lgg_mri.augment import DEFAULT_AUGMENT

    per_epoch = len(recs) // batch
    count = lambda b: int(b[0].shape[0])  # noqa: E731
    lines = []

    def first_batch(make: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        pipe = make()
        it = iter(pipe)
        next(it)
        return it, round(time.perf_counter() - t0, 2)

    original = plugin_pipeline.joint_augmenter
    variants = [
        ("as shipped (keras-cv augmenter)", lambda: ds.pipeline(recs, training=True, batch_size=batch, cache=None,
                                                                repeat=True)),
        ("fused augmentation", None),
        ("fused augmentation + paths shuffled before decoding",
         lambda: shuffled_paths_pipeline(recs, batch, dict(DEFAULT_AUGMENT))),
    ]
    for name, make in variants:
        if make is None:
            plugin_pipeline.joint_augmenter = lambda augment=None, seed=None: FusedAugmenter(
                dict(DEFAULT_AUGMENT if augment is None else augment))
            make = lambda: ds.pipeline(recs, training=True, batch_size=batch, cache=None, repeat=True)  # noqa: E731
        try:
            it, ttfb = first_batch(make)
            res = throughput(it, per_epoch - 1, per_epoch * epochs, count)
        finally:
            plugin_pipeline.joint_augmenter = original
        print(f"  {name:55s} {res['images_per_s']:7.1f} images/s {res['cpu_ms_per_image']:7.2f} CPU ms/image, "
              f"first batch after {ttfb}s (load {res['loadavg'][0]:.1f})", flush=True)
        lines.append({"name": name, "first_batch_seconds": ttfb, **res})
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the profile; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding kaggle_3m/")
    p.add_argument("--records", type=int, default=128, help="training records per pipeline line")
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per pipeline line")
    p.add_argument("--reps", type=int, default=3, help="timed calls per augmenter")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    import random

    import numpy as np

    import medzoo

    root = args.data / "kaggle_3m"
    if not root.is_dir():
        print(f"{root} not found")
        return 1
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load {load_now()}", flush=True)
    ds = medzoo.get_dataset("lgg-mri", root)
    split = ds.splits()["train"]
    recs = random.Random(0).sample(split, min(args.records, len(split)))
    positive = [r for r in split if r.meta.get("positive")][:32]
    x, m = ds.load_arrays(positive)
    import tensorflow as tf

    print("augmentation of a batch of 32 real slices (256x256x3 + mask):")
    micro_res = micro(tf.constant(x, tf.float32), tf.constant(m, tf.float32), args.reps)
    print(f"cold training pipelines, {len(recs)} records, batch 32:")
    lines = pipelines(ds, recs, 32, args.epochs)
    gain = ratio(lines[1]["images_per_s"], lines[0]["images_per_s"])
    print(f"fused augmentation: {gain}x the images/s of the shipped pipeline")
    write_result("profile_lgg_augment", {"machine": info, "micro": micro_res, "pipelines": lines,
                                         "pipeline_gain": gain, "records": len(recs),
                                         "positive_records_in_batch": int(np.sum(m.any(axis=(1, 2, 3))))},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
