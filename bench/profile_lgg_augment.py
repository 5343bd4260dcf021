"""The LGG plugin's joint augmentation (one keras-cv ``RandomAffine``) against the keras-cv layer chain it replaces.

The plugin's ``medzoo_lgg_mri.augment.joint_augmenter`` returns ``RandomAffine``, a keras-cv layer that
composes flip + rotation + shift + shear + zoom into ONE projective matrix per image and resamples image
(bilinear) and mask (nearest) once each. The baseline is :func:`keras_cv_chain` below: the chain of keras-cv's
RandomFlip, RandomRotation, RandomTranslation, RandomShear and RandomZoom that a user would otherwise write
(and that the plugin used before), which resamples each image once per layer.

1. Micro: CPU ms per image of the chain (all layers, then each alone) and of the shipped ``RandomAffine`` on a
   batch of 32 real slices, their ratio, and whether the shipped layer keeps the mask aligned with the image
   (IoU of the transformed mask with the transformed image of the mask) and binary.
2. Pipeline: the plugin's ``segmentation_pipeline`` (cold, training) as shipped, the same with the chain
   monkeypatched in for ``medzoo_lgg_mri.pipeline.joint_augmenter`` (here only), and the shipped augmenter
   with the record paths shuffled before decoding instead of decoded images after it (time to the first
   batch). Gain: shipped / chain images/s.

Run::

    python bench/profile_lgg_augment.py --data ../shared/data

Writes ``bench/results/profile_lgg_augment.json``. The plugin itself is not changed by this script.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, cpu_seconds, load_now, machine, ratio, throughput, write_result


def keras_cv_chain(augment: dict[str, float] | None = None, seed: int | None = None) -> Any:
    """The baseline: keras-cv's layers chained in an ``Augmenter``, or ``None`` if ``augment`` is empty.

    Same signature and parameter meaning as ``medzoo_lgg_mri.augment.joint_augmenter`` (``rotation`` a fraction
    of a full turn, ``shift``/``shear``/``zoom`` fractions of the side, ``hflip``/``vflip`` non-zero to flip
    half the time; pixels from outside are 0), so it can be monkeypatched in for it.
    """
    import keras_cv

    from medzoo_lgg_mri.augment import DEFAULT_AUGMENT

    if seed is None:  # an explicit seed: keras-cv's global generator fails once TF op determinism is on
        seed = random.randrange(2**31)
    aug = DEFAULT_AUGMENT if augment is None else augment
    L = keras_cv.layers
    layers: list[Any] = []
    if aug.get("hflip"):
        layers.append(L.RandomFlip("horizontal", seed=seed))
    if aug.get("vflip"):
        layers.append(L.RandomFlip("vertical", seed=seed))
    if aug.get("rotation"):
        layers.append(L.RandomRotation(aug["rotation"], fill_mode="constant", segmentation_classes=2, seed=seed))
    if aug.get("shift"):
        layers.append(L.RandomTranslation(aug["shift"], aug["shift"], fill_mode="constant", seed=seed))
    if aug.get("shear"):
        layers.append(L.RandomShear(aug["shear"], aug["shear"], fill_mode="constant", seed=seed))
    if aug.get("zoom"):
        layers.append(L.RandomZoom(aug["zoom"], aug["zoom"], fill_mode="constant", seed=seed))
    if not layers:
        return None
    return L.Augmenter(layers)


def _cpu_ms(fn: Any, x: Any, m: Any, reps: int) -> float:
    fn(x, m)
    c = cpu_seconds()
    for _ in range(reps):
        for t in fn(x, m):
            t.numpy()
    return round(1000 * (cpu_seconds() - c) / (reps * int(x.shape[0])), 2)


def _as_function(layer: Any) -> Any:
    """``layer`` over ``{"images", "segmentation_masks"}`` as a ``tf.function`` of ``(images, masks)``."""
    import tensorflow as tf

    @tf.function
    def f(i: Any, mm: Any) -> Any:
        o = layer({"images": i, "segmentation_masks": mm})
        return o["images"], o["segmentation_masks"]

    return f


def micro(x: Any, m: Any, reps: int) -> dict[str, Any]:
    """CPU ms per image of the chain and of the shipped augmenter on ``(x, m)``, and the shipped one's alignment."""
    import tensorflow as tf

    from medzoo_lgg_mri.augment import DEFAULT_AUGMENT, joint_augmenter

    out: dict[str, Any] = {"chain_all": _cpu_ms(_as_function(keras_cv_chain(DEFAULT_AUGMENT, 1)), x, m, reps)}
    print(f"  keras-cv chain, all {len(DEFAULT_AUGMENT)} layers: {out['chain_all']} CPU ms/image", flush=True)
    for key, val in DEFAULT_AUGMENT.items():
        out[f"chain_{key}"] = _cpu_ms(_as_function(keras_cv_chain({key: val}, 1)), x, m, reps)
        print(f"  keras-cv chain, {key} only: {out[f'chain_{key}']} CPU ms/image", flush=True)
    shipped = _as_function(joint_augmenter(DEFAULT_AUGMENT, seed=1))
    out["shipped_all"] = _cpu_ms(shipped, x, m, reps)
    out["chain_over_shipped"] = ratio(out["chain_all"], out["shipped_all"])
    print(f"  shipped RandomAffine, one resampling: {out['shipped_all']} CPU ms/image "
          f"({out['chain_over_shipped']}x less than the chain)", flush=True)
    # alignment: the image channel built from the mask must land where the mask lands
    probe = tf.concat([m * 255.0] * 3, axis=-1)
    i2, m2 = shipped(probe, m)
    a, b = i2[..., :1] > 127.5, m2 > 0.5
    inter = float(tf.reduce_sum(tf.cast(a & b, tf.float32)))
    union = float(tf.reduce_sum(tf.cast(a | b, tf.float32)))
    out["mask_alignment_iou"] = round(inter / union, 4) if union else None
    out["mask_binary"] = bool(tf.reduce_all((m2 == 0) | (m2 == 1)))
    print(f"  shipped mask vs. transformed image of the mask: IoU {out['mask_alignment_iou']}, "
          f"binary {out['mask_binary']}", flush=True)
    return out


def shuffled_paths_pipeline(records: list[Any], batch_size: int, aug: dict[str, float], seed: int = 0) -> Any:
    """The plugin's cold training pipeline, shuffling the paths before decoding; the shipped augmenter."""
    import tensorflow as tf

    from medzoo_lgg_mri.augment import joint_augmenter
    from medzoo_lgg_mri.pipeline import _decode

    augmenter = joint_augmenter(aug)
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
        return out["images"], tf.cast(tf.cast(out["segmentation_masks"], tf.float32) > 0.5, tf.float32)

    return ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).prefetch(tf.data.AUTOTUNE)


def pipelines(ds: Any, recs: list[Any], batch: int, epochs: int) -> list[dict[str, Any]]:
    """Cold training pipelines: as shipped, with the keras-cv chain, shipped + paths shuffled before decoding.

    Each line's ``variant`` is ``shipped``, ``chain`` or ``shipped_shuffled_paths``.
    """
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

    def plugin() -> Any:
        return ds.pipeline(recs, training=True, batch_size=batch, cache=None, repeat=True)

    original = plugin_pipeline.joint_augmenter
    variants = [
        ("shipped", "as shipped (RandomAffine, one resampling)", original, plugin),
        ("chain", "keras-cv layer chain monkeypatched in", keras_cv_chain, plugin),
        ("shipped_shuffled_paths", "as shipped + paths shuffled before decoding", original,
         lambda: shuffled_paths_pipeline(recs, batch, dict(DEFAULT_AUGMENT))),
    ]
    for variant, name, augmenter, make in variants:
        plugin_pipeline.joint_augmenter = augmenter
        try:
            it, ttfb = first_batch(make)
            res = throughput(it, per_epoch - 1, per_epoch * epochs, count)
        finally:
            plugin_pipeline.joint_augmenter = original
        print(f"  {name:45s} {res['images_per_s']:7.1f} images/s {res['cpu_ms_per_image']:7.2f} CPU ms/image, "
              f"first batch after {ttfb}s (load {res['loadavg'][0]:.1f})", flush=True)
        lines.append({"variant": variant, "name": name, "first_batch_seconds": ttfb, **res})
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
    ips = {ln["variant"]: ln["images_per_s"] for ln in lines}
    gain = ratio(ips["shipped"], ips["chain"])
    print(f"shipped augmenter: {gain}x the images/s of the keras-cv chain in the same pipeline")
    write_result("profile_lgg_augment", {"machine": info, "micro": micro_res, "pipelines": lines,
                                         "pipeline_gain_shipped_over_chain": gain, "records": len(recs),
                                         "positive_records_in_batch": int(np.sum(m.any(axis=(1, 2, 3))))},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
