"""Joint image + mask augmentation: one random affine transform moves both, in a single resampling.

:class:`RandomAffine` is a keras-cv augmentation layer (it takes keras-cv's ``{"images",
"segmentation_masks"}`` dicts, seeds and batching), but where a chain of keras-cv's RandomFlip, RandomRotation,
RandomTranslation, RandomShear and RandomZoom resamples each image six times (shear takes two), blurring it
a little more each time, this composes the flip, rotation, shift, shear and zoom into one matrix per image and
resamples images (bilinear) and masks (nearest neighbour) once.
"""

from __future__ import annotations

import math
from typing import Any

from keras_cv.layers import VectorizedBaseImageAugmentationLayer

DEFAULT_AUGMENT: dict[str, float] = {"rotation": 0.05, "shift": 0.1, "shear": 0.1, "zoom": 0.1, "hflip": 0.5}
KEYS = frozenset({"rotation", "shift", "shear", "zoom", "hflip", "vflip"})


class RandomAffine(VectorizedBaseImageAugmentationLayer):
    """Random flip, rotation, shift, shear and zoom of a batch, applied to images and masks alike.

    Args:
        rotation: the angle is uniform in ±``rotation`` of a full turn (0.05 = ±18°).
        shift: horizontal and vertical shifts, each uniform in ±``shift`` of the side.
        shear: horizontal and vertical shear factors, each uniform in ±``shear``.
        zoom: the sampled region's height and width are each scaled by a factor uniform in
            [1 - ``zoom``, 1 + ``zoom``] (below 1 zooms in).
        hflip: probability of a left-right flip. ``vflip``: the same, up-down.
        seed: seed of the layer's random generator.

    Pixels from outside the image are 0 (the MRI background). A flip alone moves whole pixels, so it is exact.
    """

    def __init__(self, rotation: float = 0.0, shift: float = 0.0, shear: float = 0.0, zoom: float = 0.0,
                 hflip: float = 0.0, vflip: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rotation, self.shift, self.shear, self.zoom = (float(rotation), float(shift), float(shear),
                                                            float(zoom))
        self.hflip, self.vflip = float(hflip), float(vflip)
        self.seed = seed

    def _uniform(self, n: Any, half: float, centre: float = 0.0) -> Any:
        import tensorflow as tf

        if not half:
            return tf.fill([n], centre)
        return self._random_generator.uniform([n], centre - half, centre + half)

    def _flip(self, n: Any, p: float) -> Any:
        import tensorflow as tf

        if not p:
            return tf.ones([n])
        return tf.where(self._random_generator.uniform([n]) < p, -1.0, 1.0)

    def get_random_transformation_batch(self, batch_size: Any, images: Any = None, **kwargs: Any) -> dict[str, Any]:
        """One projective transform (8 numbers, TF's convention) per image of the batch."""
        import tensorflow as tf

        n = batch_size
        angle = self._uniform(n, self.rotation) * 2.0 * math.pi
        cos, sin = tf.cos(angle), tf.sin(angle)
        one, zero = tf.ones([n]), tf.zeros([n])

        def mat(a: Any, b: Any, c: Any, d: Any) -> Any:  # (n, 2, 2) from four (n,) entries
            return tf.reshape(tf.stack([a, b, c, d], axis=1), [-1, 2, 2])

        flip = mat(self._flip(n, self.hflip), zero, zero, self._flip(n, self.vflip))
        shear = mat(one, self._uniform(n, self.shear), self._uniform(n, self.shear), one)
        rotate = mat(cos, -sin, sin, cos)
        zoom = mat(self._uniform(n, self.zoom, 1.0), zero, zero, self._uniform(n, self.zoom, 1.0))
        a = zoom @ rotate @ shear @ flip  # output pixel p samples input c + A (p - c) + t, (x, y) order
        h = tf.cast(tf.shape(images)[1], tf.float32)
        w = tf.cast(tf.shape(images)[2], tf.float32)
        centre = tf.stack([(w - 1.0) / 2.0, (h - 1.0) / 2.0])
        t = tf.stack([self._uniform(n, self.shift) * w, self._uniform(n, self.shift) * h], axis=1)
        b = centre[None] + t - tf.einsum("nij,j->ni", a, centre)
        return {"transforms": tf.stack([a[:, 0, 0], a[:, 0, 1], b[:, 0], a[:, 1, 0], a[:, 1, 1], b[:, 1],
                                        zero, zero], axis=1)}

    def _transform(self, images: Any, transforms: Any, interpolation: str) -> Any:
        import tensorflow as tf

        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
            fill_value=tf.constant(0.0, images.dtype), interpolation=interpolation, fill_mode="CONSTANT")

    def augment_images(self, images: Any, transformations: dict[str, Any], **kwargs: Any) -> Any:
        """Resample the images (bilinear)."""
        return self._transform(images, transformations["transforms"], "BILINEAR")

    def augment_segmentation_masks(self, segmentation_masks: Any, transformations: dict[str, Any],
                                   **kwargs: Any) -> Any:
        """Resample the masks (nearest neighbour, so they stay binary)."""
        return self._transform(segmentation_masks, transformations["transforms"], "NEAREST")

    def augment_labels(self, labels: Any, transformations: dict[str, Any], **kwargs: Any) -> Any:
        """Labels do not move."""
        return labels

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return super().get_config() | {"rotation": self.rotation, "shift": self.shift, "shear": self.shear,
                                       "zoom": self.zoom, "hflip": self.hflip, "vflip": self.vflip,
                                       "seed": self.seed}


def joint_augmenter(augment: dict[str, float] | None = None, seed: int | None = None) -> RandomAffine | None:
    """A :class:`RandomAffine` over ``{"images", "segmentation_masks"}`` dicts, or ``None`` if ``augment`` is empty.

    ``augment`` (default :data:`DEFAULT_AUGMENT`) maps :class:`RandomAffine`'s arguments to values; unknown
    keys are an error.
    """
    import random

    aug = DEFAULT_AUGMENT if augment is None else augment
    bad = sorted(set(aug) - KEYS)
    if bad:
        raise ValueError(f"unknown augmentation {bad}; known: {sorted(KEYS)}")
    if not any(aug.values()):
        return None
    if seed is None:  # an explicit seed: keras-cv's global generator fails once TF op determinism is on
        seed = random.randrange(2**31)
    return RandomAffine(**aug, seed=seed)
