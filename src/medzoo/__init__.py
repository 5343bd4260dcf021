"""medzoo: a plugin-based model zoo for medical image analysis on Keras 3.

``import medzoo`` is cheap: it imports neither TensorFlow nor any plugin. Plugins are discovered
through the ``medzoo`` entry-point group the first time a listing or lookup needs them.

>>> import medzoo
>>> medzoo.list_entries()                      # doctest: +SKIP
>>> model = medzoo.load("unet-lgg")            # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medzoo.errors import DataError, DuplicateNameError, MedzooError, UnknownNameError
from medzoo.hookspecs import hookimpl
from medzoo.registry import registry
from medzoo.specs import DatasetSpec, Entry, ModelSpec, Recipe, TaskSpec, Weights

if TYPE_CHECKING:
    import keras

    from medzoo.data import Dataset
    from medzoo.runner import Run

__version__ = "0.1.0"

__all__ = [
    "DataError", "DatasetSpec", "DuplicateNameError", "Entry", "MedzooError", "ModelSpec", "Recipe", "TaskSpec",
    "UnknownNameError", "Weights", "__version__", "create_model", "evaluate", "get_dataset", "get_entry",
    "hookimpl", "list_datasets", "list_entries", "list_models", "load", "predict_image", "train",
]


def _match(names: list[str], pattern: str | None) -> list[str]:
    if pattern is None:
        return sorted(names)
    import fnmatch

    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the installed architectures, optionally filtered by a wildcard ``pattern`` (``"cnn*"``)."""
    return _match(list(registry().models), pattern)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Names of the installed datasets."""
    return _match(list(registry().datasets), pattern)


def list_entries(pattern: str | None = None, trained: bool | None = None) -> list[str]:
    """Names of the installed zoo entries; ``trained=True`` keeps those that ship trained weights."""
    entries = registry().entries
    names = [n for n, e in entries.items() if trained is None or e.trained == trained]
    return _match(names, pattern)


def get_entry(name: str) -> Entry:
    """The zoo entry called ``name``."""
    return registry().get("entries", name)


def get_dataset(name: str, root: str | Path | None = None, on_error: str = "raise", **kwargs: Any) -> Dataset:
    """Open dataset ``name`` at ``root``; with ``root=None``, a synthetic copy in its real layout."""
    from medzoo.data import open_dataset

    return open_dataset(name, root, on_error=on_error, **kwargs)


def create_model(name: str, **kwargs: Any) -> keras.Model:
    """Build architecture ``name`` (untrained) with its defaults updated by ``kwargs``."""
    spec: ModelSpec = registry().get("models", name)
    return spec.create(**kwargs)


def load(name: str, weights: str | Path | None = "default", cache_dir: str | Path | None = None,
         sha256: str | None = None, tta: bool = False) -> keras.Model:
    """Load zoo entry ``name`` as a ``keras.Model`` that maps raw pixels to probabilities.

    The model takes what ``medzoo predict`` takes: raw pixels ``(N, H, W, C)`` (uint8, or float in [0, 255]) of
    any size and any channel count (gray, RGB, RGBA: it converts to its own channels and resizes itself), so
    ``model.predict(batch)`` works on the published RGB JPEGs as read. Like any Keras model it wants a batch
    axis; for one image (``(H, W)`` or ``(H, W, C)``, or a file) use :func:`predict_image`, which also pads
    segmentation inputs and applies the threshold.

    The model carries its metadata as ``model.medzoo_meta``: ``{"entry", "classes", "threshold",
    "threshold_rule", "weights", "sha256"}``: class names ``[negative, positive]`` (``None`` when the card
    names none), the operating threshold and why (the card's for the shipped weights, else 0.5), the weights
    loaded (``"default"``, a path or URL, or ``None``) and the sha256 of the file loaded.

    >>> model = medzoo.load("cnn1-chest-xray")                    # doctest: +SKIP
    >>> p = model.predict(rgb_batch)[:, 0]                          # doctest: +SKIP
    >>> labels = p >= model.medzoo_meta["threshold"]                # doctest: +SKIP

    Args:
        name: an entry (``"unet-lgg"``) or, with ``weights=None``, also an architecture (``"unet"``).
        weights: ``"default"`` for the entry's trained weights (offline, sha256-verified); ``None`` for an
            untrained model; a path or ``file://`` / ``https://`` URL to a ``.weights.h5`` file.
        cache_dir: where downloaded weights are kept (default ``$MEDZOO_HOME`` or the user cache dir).
        sha256: expected hash of a file given in ``weights`` (the entry's own hash is used for its default file).
        tta: average each prediction with that of the left-right mirrored image (:func:`medzoo.tta.flip_average`;
            twice the inference cost).
    """
    from medzoo.weights import load_entry

    model = load_entry(name, weights=weights, cache_dir=cache_dir, sha256=sha256)
    if tta:
        from medzoo.tta import flip_average

        model = flip_average(model)
    return model


def predict_image(model: str | keras.Model, image: Any, threshold: float | None = None) -> dict[str, Any]:
    """Run a model (or an entry, by name) on one image: a file or raw pixels ``(H, W)`` / ``(H, W, C)``, no batch
    axis needed; see :func:`medzoo.predict.predict_image`."""
    from medzoo.predict import predict_image as _predict_image

    return _predict_image(model, image, threshold=threshold)


def train(entry: str, data: str | Path | None = None, out: str | Path | None = None, **overrides: Any) -> Run:
    """Train zoo entry ``entry`` on ``data`` (its synthetic default when ``None``); see :mod:`medzoo.runner`."""
    from medzoo.runner import train as _train

    return _train(entry, data=data, out=out, **overrides)


def evaluate(entry: str, data: str | Path | None = None, split: str = "val", weights: str | Path | None = "default",
             out: str | Path | None = None, **kwargs: Any) -> dict[str, Any]:
    """Evaluate zoo entry ``entry`` on ``split`` of ``data``; returns the metrics dict."""
    from medzoo.report import evaluate_entry

    return evaluate_entry(entry, data=data, split=split, weights=weights, out=out, **kwargs)
