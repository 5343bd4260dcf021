"""Joint image + mask augmentation with keras-cv (one random transform moves both)."""

from __future__ import annotations

from typing import Any

DEFAULT_AUGMENT: dict[str, float] = {"rotation": 0.05, "shift": 0.1, "shear": 0.1, "zoom": 0.1, "hflip": 1.0}


def joint_augmenter(augment: dict[str, float] | None = None, seed: int | None = None) -> Any:
    """A keras-cv pipeline over ``{"images", "segmentation_masks"}`` dicts, or ``None`` if ``augment`` is empty.

    ``rotation`` is a fraction of a full turn (0.05 = ±18°), ``shift``/``shear``/``zoom`` fractions of the
    side, ``hflip`` anything non-zero to flip left-right half the time. Out-of-image pixels are filled
    with 0 (the MRI background).
    """
    import random

    import keras_cv

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
    return keras_cv.layers.Augmenter(layers)
