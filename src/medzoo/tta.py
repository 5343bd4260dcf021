"""Test-time augmentation: average a model over its input and flipped copies of it.

The zoo's models trained with random flips, so a flipped image is one they know; averaging the prediction for
an image and for its mirror image smooths out what either one alone gets wrong by chance (torchvision's and
MONAI's ``TTA`` helpers do the same). A segmentation output is flipped back before it is averaged, so every
pixel is averaged with itself. It doubles the inference cost per flip.

>>> model = medzoo.load("cnn1-chest-xray", tta=True)        # doctest: +SKIP
>>> from medzoo.tta import flip_average                      # doctest: +SKIP
>>> model = flip_average(my_model, ("horizontal", "vertical"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medzoo.errors import MedzooError

#: flip name → image axis (channels last: batch, height, width, channels)
FLIPS = {"horizontal": 2, "vertical": 1}


def flip_average(model: Any, flips: Sequence[str] = ("horizontal",)) -> Any:
    """A ``keras.Model`` whose output is the mean of ``model``'s outputs on the input and on each flip of it.

    Args:
        model: a Keras model mapping images ``(N, H, W, C)`` to probabilities ``(N, K)`` or masks
            ``(N, H, W, K)``; spatial outputs are flipped back before averaging.
        flips: any of ``"horizontal"`` (left-right) and ``"vertical"`` (up-down).

    Returns:
        The averaging model (it shares ``model``'s weights), named ``<model>_tta``, carrying ``model``'s
        ``medzoo_entry`` and ``medzoo_meta`` (with ``"tta"`` added).
    """
    import keras

    flips = tuple(flips)
    bad = [f for f in flips if f not in FLIPS]
    if bad or not flips:
        raise MedzooError(f"unknown flip(s) {bad or '(none given)'}; choose from {sorted(FLIPS)}")
    inputs = keras.Input(model.inputs[0].shape[1:], name="image")
    outputs = [model(inputs)]
    for flip in flips:
        y = model(keras.ops.flip(inputs, axis=FLIPS[flip]))
        outputs.append(keras.ops.flip(y, axis=FLIPS[flip]) if len(y.shape) == 4 else y)
    mean = keras.layers.Average(name="flip_average")(outputs)
    wrapped = keras.Model(inputs, mean, name=f"{model.name}_tta")
    if hasattr(model, "medzoo_entry"):
        wrapped.medzoo_entry = model.medzoo_entry
    meta = dict(getattr(model, "medzoo_meta", None) or {})
    if meta:
        meta["tta"] = f"mean over the image and its {' and '.join(flips)} flip{'s' if len(flips) > 1 else ''}"
        if meta.get("threshold_rule"):
            meta["threshold_rule"] += " (chosen without test-time flips)"
        wrapped.medzoo_meta = meta
    return wrapped
