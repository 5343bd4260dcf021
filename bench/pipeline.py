"""Input-pipeline throughput: medzoo's training pipelines versus the obvious baselines, on the real data.

What is timed is everything between the files on disk and a training batch: read, decode, preprocess
(grayscale, resize to 256²), shuffle, batch and the training augmentation, in training mode.

Both sides stream the same ``--records`` training records (a fixed random sample of medzoo's patient split;
cold and cached throughput do not depend on how many there are). Each line runs one untimed epoch
(warm-up: tracing, autotuning, and for a cached line filling the cache), then times ``--epochs`` whole
epochs. Whole epochs matter: medzoo shuffles decoded images in a buffer as large as the epoch, so inside an
epoch the decoding is bunched at its start. Two lines per data set and side: cold (``cache=None``, every image
decoded every epoch) and with the in-memory cache of decoded images.

* chest X-ray: ``medzoo.get_dataset("chest-xray", root).pipeline(recs, training=True, cache=None)`` versus
  ``keras.utils.image_dataset_from_directory(dir, color_mode="grayscale", image_size=(256, 256))`` (``dir``
  links to the same files) with Keras' ``RandomFlip`` / ``RandomRotation`` / ``RandomZoom`` mapped on it
  (``num_parallel_calls=AUTOTUNE``, prefetch; ``.cache()`` before the augmentation for the cached line).
* LGG MRI: ``medzoo.get_dataset("lgg-mri", root).pipeline(recs, training=True, cache=None)`` versus a plain
  Python loop: ``tifffile`` reads image and mask, scikit-image applies the same kind of random flip +
  rotation + shift + shear + zoom to both in one warp each (bilinear image, nearest mask), numpy stacks
  the batch (a dict of decoded arrays for the cached line).

Run::

    python bench/pipeline.py --data ../shared/data

Prints images/s and CPU ms per image per line and the medzoo/baseline ratios; writes
``bench/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEFAULT_DATA, load_now, machine, ratio, throughput, write_result

XRAY_AUGMENT = {"hflip": 0.5, "vflip": 0.5, "rotation": 0.03, "zoom": 0.1}  # medzoo_chest_xray's default


def _count(batch: Any) -> int:
    return int(batch[0].shape[0])


def sample(records: list[Any], n: int, seed: int = 0) -> list[Any]:
    """A fixed random sample of ``n`` records (all of them if ``n`` is 0 or too large)."""
    if not n or n >= len(records):
        return list(records)
    return random.Random(seed).sample(list(records), n)


def _line(name: str, batches: Any, per_epoch: int, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    print(f"  {name:40s}", end=" ", flush=True)
    res = throughput(batches, per_epoch, per_epoch * args.epochs, _count)
    print(f"{res['images_per_s']:7.1f} images/s {res['cpu_ms_per_image']:7.2f} CPU ms/image  "
          f"(warm-up epoch {res['warmup_seconds']:.1f}s, load {res['loadavg'][0]:.1f})", flush=True)
    del batches
    gc.collect()
    return {"name": name, **extra, **res}


def _ratios(lines: list[dict[str, Any]]) -> dict[str, float | None]:
    by = {(ln["side"], ln["cache"]): ln for ln in lines}
    out: dict[str, float | None] = {}
    for cache, label in ((False, "cold"), (True, "cached")):
        med, base = by.get(("medzoo", cache)), by.get(("baseline", cache))
        if med and base:
            out[label] = ratio(med["images_per_s"], base["images_per_s"])
            out[f"{label}_cpu"] = ratio(base["cpu_ms_per_image"], med["cpu_ms_per_image"])
    return out


# ------------------------------------------------------------------------------------------------- chest X-ray


def link_tree(records: list[Any], root: Path) -> Path:
    """``root/<CLASS>/<file>`` symbolic links to ``records``' images, the layout Keras reads labels from."""
    for r in records:
        cls = r.meta.get("class_name", str(r.target))
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / Path(r.image).name).symlink_to(Path(r.image).resolve())
    return root


def keras_xray_baseline(folder: Path, batch_size: int, cache: bool, seed: int = 0) -> Any:
    """The tutorial pipeline: ``image_dataset_from_directory`` + Keras augmentation layers mapped on it."""
    import keras
    import tensorflow as tf

    ds = keras.utils.image_dataset_from_directory(
        str(folder), labels="inferred", label_mode="binary", color_mode="grayscale", image_size=(256, 256),
        batch_size=batch_size, shuffle=True, seed=seed, verbose=False)
    if cache:
        ds = ds.cache()
    augment = keras.Sequential([
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomRotation(XRAY_AUGMENT["rotation"], fill_mode="nearest", seed=seed),
        keras.layers.RandomZoom(XRAY_AUGMENT["zoom"], fill_mode="nearest", seed=seed),
    ])

    def apply(x: Any, y: Any) -> tuple[Any, Any]:
        return augment(x, training=True), y

    ds = ds.repeat().map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def bench_xray(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The four chest X-ray lines: medzoo and Keras, cold and cached."""
    import medzoo

    ds = medzoo.get_dataset("chest-xray", root)
    split = ds.splits()["train"]
    b = args.batch_size
    recs = sample(split, args.records - args.records % b if args.records else 0)
    per_epoch = len(recs) // b
    print(f"chest-xray: {len(recs)} of {len(split)} train records, batch {b}, {per_epoch} batches per epoch")
    with tempfile.TemporaryDirectory() as tmp:
        folder = link_tree(recs, Path(tmp) / "train")
        lines = [
            _line("medzoo cold", ds.pipeline(recs, training=True, batch_size=b, cache=None, repeat=True),
                  per_epoch, args, side="medzoo", cache=False),
            _line("keras baseline cold", keras_xray_baseline(folder, b, cache=False), per_epoch, args,
                  side="baseline", cache=False),
            _line("medzoo cached", ds.pipeline(recs, training=True, batch_size=b, cache="memory", repeat=True),
                  per_epoch, args, side="medzoo", cache=True),
            _line("keras baseline cached", keras_xray_baseline(folder, b, cache=True), per_epoch, args,
                  side="baseline", cache=True),
        ]
    return {"records": len(recs), "split_records": len(split), "batch_size": b, "augment": XRAY_AUGMENT,
            "lines": lines, "ratios": _ratios(lines)}


# ---------------------------------------------------------------------------------------------------- LGG MRI


def random_affine(rng: random.Random, size: int, aug: dict[str, float]) -> Any:
    """A random flip + rotation + shift + shear + zoom about the image centre, as one scikit-image transform."""
    from skimage.transform import AffineTransform

    c = (size - 1) / 2.0
    rot = rng.uniform(-aug["rotation"], aug["rotation"]) * 2 * math.pi
    shear = rng.uniform(-aug["shear"], aug["shear"])
    zoom = 1.0 + rng.uniform(-aug["zoom"], aug["zoom"])
    shift = [rng.uniform(-aug["shift"], aug["shift"]) * size for _ in range(2)]
    flip = -1.0 if aug.get("hflip") and rng.random() < 0.5 else 1.0
    m = (AffineTransform(translation=(c + shift[0], c + shift[1])).params
         @ AffineTransform(scale=zoom, rotation=rot, shear=shear).params
         @ AffineTransform(scale=(flip, 1.0)).params @ AffineTransform(translation=(-c, -c)).params)
    return AffineTransform(matrix=m)


def numpy_lgg_batches(records: list[Any], batch_size: int, augment: dict[str, float], cache: bool,
                      seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The plain loader: a Python loop that reads, augments and stacks, one file pair at a time, forever."""
    import tifffile
    from skimage.transform import warp

    rng = random.Random(seed)
    store: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    order = list(records)
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            xs, ys = [], []
            for r in order[start:start + batch_size]:
                if r.image in store:
                    img, mask = store[r.image]
                else:
                    img = tifffile.imread(r.image)
                    mask = (tifffile.imread(r.target) > 0).astype(np.uint8)
                    if cache:
                        store[r.image] = (img, mask)
                inverse = random_affine(rng, img.shape[0], augment).inverse
                xs.append(warp(img.astype(np.float32), inverse, order=1, mode="constant", cval=0.0,
                               preserve_range=True).astype(np.float32))
                ys.append(warp(mask, inverse, order=0, mode="constant", cval=0, preserve_range=True)
                          .astype(np.float32)[..., None])
            yield np.stack(xs), np.stack(ys)


def bench_lgg(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The four LGG lines: medzoo and the numpy/scikit-image loop, cold and cached."""
    import medzoo
    from medzoo_lgg_mri.augment import DEFAULT_AUGMENT

    ds = medzoo.get_dataset("lgg-mri", root)
    split = ds.splits()["train"]
    b = args.batch_size
    recs = sample(split, args.records - args.records % b if args.records else 0)
    per_epoch = len(recs) // b
    aug = dict(DEFAULT_AUGMENT)
    print(f"lgg-mri: {len(recs)} of {len(split)} train records, batch {b}, {per_epoch} batches per epoch, "
          f"augmentation {aug}")
    lines = [
        _line("medzoo cold", ds.pipeline(recs, training=True, batch_size=b, cache=None, repeat=True),
              per_epoch, args, side="medzoo", cache=False),
        _line("numpy/scikit-image baseline cold", numpy_lgg_batches(recs, b, aug, cache=False), per_epoch, args,
              side="baseline", cache=False),
        _line("medzoo cached", ds.pipeline(recs, training=True, batch_size=b, cache="memory", repeat=True),
              per_epoch, args, side="medzoo", cache=True),
        _line("numpy/scikit-image baseline cached", numpy_lgg_batches(recs, b, aug, cache=True), per_epoch, args,
              side="baseline", cache=True),
    ]
    return {"records": len(recs), "split_records": len(split), "batch_size": b, "augment": aug, "lines": lines,
            "ratios": _ratios(lines)}


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline benchmark; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding chest_xray/ and kaggle_3m/")
    p.add_argument("--datasets", default="chest-xray,lgg-mri", help="comma-separated subset")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--records", type=int, default=160, help="training records streamed per line (0: all)")
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per line, after one warm-up epoch")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load {load_now()}")
    results: dict[str, Any] = {}
    roots = {"chest-xray": args.data / "chest_xray", "lgg-mri": args.data / "kaggle_3m"}
    for name in [s.strip() for s in args.datasets.split(",") if s.strip()]:
        if not roots[name].is_dir():
            print(f"{name}: {roots[name]} not found, skipped")
            continue
        results[name] = (bench_xray if name == "chest-xray" else bench_lgg)(roots[name], args)
    print("\nmedzoo / baseline, images/s (target >= 2x); CPU time per image, baseline / medzoo:")
    for name, res in results.items():
        r = res["ratios"]
        print(f"  {name:11s} cold {r.get('cold')}x  cached {r.get('cached')}x   "
              f"(CPU: cold {r.get('cold_cpu')}x, cached {r.get('cached_cpu')}x)")
    write_result("pipeline", {"machine": info, "settings": {k: str(v) for k, v in vars(args).items()},
                              "datasets": results}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
