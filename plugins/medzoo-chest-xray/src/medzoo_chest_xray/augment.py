"""Training augmentation of X-ray batches: random flips, small rotations and zoom, in one resampling.

Random draws are stateless, from a per-batch seed, so a pipeline with a fixed seed repeats exactly.
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_AUGMENT: dict[str, float] = {"hflip": 0.5, "vflip": 0.5, "rotation": 0.03, "zoom": 0.1}
KEYS = frozenset(DEFAULT_AUGMENT)


def check_augment(augment: dict[str, float] | None) -> dict[str, float]:
    """The augmentation config to use (``None`` → :data:`DEFAULT_AUGMENT`); unknown keys are an error."""
    aug = dict(DEFAULT_AUGMENT if augment is None else augment)
    bad = sorted(set(aug) - KEYS)
    if bad:
        raise ValueError(f"unknown augmentation {bad}; known: {sorted(KEYS)}")
    for key in ("hflip", "vflip"):
        if not 0.0 <= float(aug.get(key, 0.0)) <= 1.0:
            raise ValueError(f"augment[{key!r}] is a probability in [0, 1], got {aug[key]}")
    return aug


def augment_batch(images: Any, seed: Any, augment: dict[str, float] | None = None) -> Any:
    """Augment a float batch ``(N, H, W, C)``; ``seed`` is a shape-(2,) int tensor for stateless randomness.

    ``hflip`` / ``vflip``: probability of a left-right / up-down flip per image. ``rotation``: the angle is
    uniform in ±``rotation`` of a full turn (0.03 ≈ ±11°). ``zoom``: the sampled region's side is scaled by a
    factor uniform in [1 - zoom, 1 + zoom] (below 1 zooms in). Pixels from outside repeat the nearest edge.
    """
    import tensorflow as tf

    aug = check_augment(augment)
    if not any(aug.values()):
        return images
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    n = tf.shape(images)[0]
    ones = tf.ones([n])

    def flip(key: str, s: Any) -> Any:
        p = float(aug.get(key, 0.0))
        return tf.where(tf.random.stateless_uniform([n], s) < p, -ones, ones) if p > 0 else ones

    fx, fy = flip("hflip", seeds[0]), flip("vflip", seeds[1])
    rot, zoom = float(aug.get("rotation", 0.0)), float(aug.get("zoom", 0.0))
    angle = tf.random.stateless_uniform([n], seeds[2], -rot, rot) * 2.0 * math.pi if rot else 0.0 * ones
    scale = tf.random.stateless_uniform([n], seeds[3], 1.0 - zoom, 1.0 + zoom) if zoom else ones
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    # output pixel p samples input c + s R(angle) F (p - c): flips F, rotation R and scale s about the centre c,
    # all in one bilinear resampling (a flip alone lands on whole pixels, so it is exact)
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    m00, m01, m10, m11 = cos * fx, -sin * fy, sin * fx, cos * fy
    zeros = tf.zeros([n])
    transforms = tf.stack([m00, m01, cx - m00 * cx - m01 * cy, m10, m11, cy - m10 * cx - m11 * cy, zeros, zeros],
                          axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")
