"""Joint image + mask augmentation that runs on any Keras 3 backend, inside or outside a jitted function.

It is split in two on purpose:

* :func:`sample_affine` draws each image's random flip, rotation, shift, shear and zoom on the host, with
  numpy, from an explicit ``numpy.random.Generator``, and composes them into one affine matrix per image.
  A few numbers per image: cheap, seeded per batch, so a run repeats exactly whatever the worker order.
* :func:`apply_affine` resamples a batch with those matrices, in ``keras.ops`` only: images bilinear, masks
  nearest-neighbour (so they stay binary and aligned). It is a pure function of arrays, so it can be
  jit-compiled (:func:`compile_fn`) and runs on the accelerator next to the train step.

Strengths (``augment`` dicts):

``hflip`` / ``vflip``
    probability of a left-right / up-down flip per image.
``rotation``
    the angle is uniform in ±``rotation`` of a full turn (0.05 = ±18°).
``shift``
    horizontal and vertical shifts, each uniform in ±``shift`` of the side.
``shear``
    horizontal and vertical shear factors, each uniform in ±``shear``.
``zoom``
    the sampled region's side is scaled by a factor uniform in [1 - ``zoom``, 1 + ``zoom``] (below 1 zooms in).

A flip alone lands on whole pixels, so it is exact.

Intensity (images only, after the resampling; what transfers to scans from another scanner or hospital):

``brightness``
    adds a shift uniform in ±``brightness`` × 255.
``contrast``
    scales each image about its own mean by a factor uniform in [1 - ``contrast``, 1 + ``contrast``].
``gamma``
    ``255 (x / 255) ** g`` with ``log g`` uniform in ±``gamma``.
``blur``
    mixes each image with its Gaussian blur (sigma 1.5 pixels) by a weight uniform in [0, ``blur``]: a softer
    or lower-resolution acquisition (``blur`` at most 1).

Results are clipped to [0, 255]. Intensity strengths run on the decoded-array path (any backend); the
TensorFlow runner switches to that path by itself when a recipe asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from medzoo.errors import MedzooError

GEOMETRIC = frozenset({"hflip", "vflip", "rotation", "shift", "shear", "zoom"})
INTENSITY = frozenset({"brightness", "contrast", "gamma", "blur"})
BLUR_SIGMA = 1.5
KEYS = GEOMETRIC | INTENSITY
FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def check_augment(augment: Mapping[str, float] | None, default: Mapping[str, float]) -> dict[str, float]:
    """The strengths to use (``None`` → ``default``; ``{}`` → none); unknown keys and bad values are errors."""
    aug = {k: float(v) for k, v in (default if augment is None else augment).items()}
    bad = sorted(set(aug) - KEYS)
    if bad:
        raise MedzooError(f"unknown augmentation {bad}; known: {sorted(KEYS)}")
    for key in ("hflip", "vflip"):
        if not 0.0 <= aug.get(key, 0.0) <= 1.0:
            raise MedzooError(f"augment[{key!r}] is a probability in [0, 1], got {aug[key]}")
    for key in ("rotation", "shift", "shear", "zoom", "brightness", "contrast", "gamma", "blur"):
        if aug.get(key, 0.0) < 0:
            raise MedzooError(f"augment[{key!r}] is a strength >= 0, got {aug[key]}")
    for key in ("zoom", "contrast"):
        if aug.get(key, 0.0) >= 1.0:
            raise MedzooError(f"augment[{key!r}] must be below 1, got {aug[key]}")
    if aug.get("blur", 0.0) > 1.0:
        raise MedzooError(f"augment['blur'] is a mixing weight in [0, 1], got {aug['blur']}")
    return aug


def sample_affine(rng: np.random.Generator, n: int, height: int, width: int,
                  augment: Mapping[str, float]) -> np.ndarray:
    """``(n, 8)`` float32 transforms in ``keras.ops.image.affine_transform``'s convention.

    Row ``[a0, a1, a2, b0, b1, b2, 0, 0]`` makes output pixel ``(x, y)`` sample the input at
    ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``: here ``c + Z R S F (p - c) + t`` about the image centre ``c``,
    with flip ``F``, shear ``S``, rotation ``R``, zoom ``Z`` and shift ``t``.
    """
    aug = dict(augment)

    def uniform(key: str, centre: float = 0.0) -> np.ndarray:
        half = aug.get(key, 0.0)
        return rng.uniform(centre - half, centre + half, n) if half else np.full(n, centre)

    def flips(key: str) -> np.ndarray:
        p = aug.get(key, 0.0)
        return np.where(rng.uniform(size=n) < p, -1.0, 1.0) if p else np.ones(n)

    fx, fy = flips("hflip"), flips("vflip")
    angle = uniform("rotation") * 2.0 * np.pi
    shx, shy = uniform("shear"), uniform("shear")
    scale = uniform("zoom", 1.0)
    tx, ty = uniform("shift") * width, uniform("shift") * height
    one, zero = np.ones(n), np.zeros(n)

    def mat(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.stack([a, b, c, d], axis=1).reshape(n, 2, 2)

    a = (mat(scale, zero, zero, scale) @ mat(np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle))
         @ mat(one, shx, shy, one) @ mat(fx, zero, zero, fy))
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    b = centre[None] + np.stack([tx, ty], axis=1) - a @ centre
    out = np.stack([a[:, 0, 0], a[:, 0, 1], b[:, 0], a[:, 1, 0], a[:, 1, 1], b[:, 1], zero, zero], axis=1)
    return out.astype(np.float32)


def sample_intensity(rng: np.random.Generator, n: int, augment: Mapping[str, float]) -> np.ndarray:
    """``(n, 4)`` float32: per image, the added shift, the contrast factor, the gamma and the blur weight (see the
    module doc)."""
    b, c, g, s = (float(augment.get(k, 0.0)) for k in ("brightness", "contrast", "gamma", "blur"))
    shift = rng.uniform(-b, b, n) * 255.0 if b else np.zeros(n)
    factor = rng.uniform(1.0 - c, 1.0 + c, n) if c else np.ones(n)
    gamma = np.exp(rng.uniform(-g, g, n)) if g else np.ones(n)
    blur = rng.uniform(0.0, s, n) if s else np.zeros(n)
    return np.stack([shift, factor, gamma, blur], axis=1).astype(np.float32)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def gaussian_blur(images: Any, sigma: float = BLUR_SIGMA) -> Any:
    """Separable Gaussian blur of ``images`` (N, H, W, C), edges replicated; ``keras.ops`` only, jit-compatible."""
    from keras import ops

    k = _gaussian_kernel(sigma)
    r, channels = len(k) // 2, images.shape[-1]
    x = ops.pad(ops.cast(images, "float32"), ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    x = ops.depthwise_conv(x, np.tile(k.reshape(-1, 1, 1, 1), (1, 1, channels, 1)), padding="valid")
    return ops.depthwise_conv(x, np.tile(k.reshape(1, -1, 1, 1), (1, 1, channels, 1)), padding="valid")


def apply_intensity(images: Any, params: Any) -> Any:
    """``images`` (N, H, W, C) in [0, 255] with ``params`` (N, 4) from :func:`sample_intensity`; ``keras.ops``
    only, jit-compatible; float32 in [0, 255]. Blur first (the acquisition), then gamma, contrast, brightness."""
    from keras import ops

    x = ops.cast(images, "float32")
    p = ops.cast(params, "float32")
    shift, factor, gamma, blur = (ops.reshape(p[:, i], (-1, 1, 1, 1)) for i in range(4))
    x = x + blur * (gaussian_blur(x) - x)
    x = 255.0 * ops.power(ops.clip(x / 255.0, 0.0, 1.0), gamma)
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return ops.clip((x - mean) * factor + mean + shift, 0.0, 255.0)


def needs_arrays(augment: Mapping[str, float] | None) -> bool:
    """Whether ``augment`` asks for what only the decoded-array path does (intensity strengths)."""
    return bool(augment) and any(float(augment.get(k, 0.0)) for k in INTENSITY)


def apply_affine(images: Any, transforms: Any, masks: Any = None, fill_mode: str = "constant") -> Any:
    """Resample ``images`` (N, H, W, C) with ``transforms`` (N, 8); ``masks`` (N, H, W, 1) alike.

    ``keras.ops`` only, any backend, jit-compatible. Images come back float32 (bilinear; pixels from outside
    follow ``fill_mode``, 0 for ``"constant"``); masks float32 in {0, 1} (nearest neighbour, outside = 0).
    Returns ``images`` or ``(images, masks)``.
    """
    from keras import ops

    if fill_mode not in FILL_MODES:
        raise MedzooError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    t = ops.cast(transforms, "float32")
    x = ops.image.affine_transform(ops.cast(images, "float32"), t, interpolation="bilinear", fill_mode=fill_mode)
    if masks is None:
        return x
    m = ops.image.affine_transform(ops.cast(masks, "float32"), t, interpolation="nearest", fill_mode="constant")
    return x, ops.cast(m > 0.5, "float32")


def compile_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled for the current Keras backend: ``jax.jit`` on JAX, a ``tf.function`` on TensorFlow."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    return fn
