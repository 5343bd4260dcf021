"""Typed specs that plugins return from their hooks.

Every hook returns a list of these frozen attrs classes, never dicts, so a typo in a plugin fails
where it is made. Heavy objects (Keras models, tf.data pipelines) are never built here: a spec holds
a *factory*, either a callable or a ``"module:attr"`` import path resolved on first use, so listing
the zoo stays fast and imports no TensorFlow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import attrs

from medzoo.errors import MedzooError, RecipeError


def resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """Return ``target`` itself if callable, else import ``"package.module:attr"`` and return it."""
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attr', got {target!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@attrs.frozen
class ModelSpec:
    """An architecture: how to build an (untrained) ``keras.Model``.

    ``build(**kwargs)`` returns a model that takes raw pixels (uint8 or float in [0, 255]) and returns
    probabilities; ``defaults`` are the keyword arguments the study used.
    """

    name: str
    task: str  # a registered task (the registry checks it exists and that entries agree with it)
    build: str | Callable[..., Any]
    description: str = ""
    defaults: dict[str, Any] = attrs.field(factory=dict)
    reference: str = ""
    distribution: str = ""  # filled in by the registry

    def create(self, **kwargs: Any) -> Any:
        """Build the model with ``defaults`` updated by ``kwargs``."""
        return resolve(self.build)(**{**self.defaults, **kwargs})


@attrs.frozen
class DatasetSpec:
    """A dataset in its published on-disk layout.

    ``factory(root, **kwargs)`` returns a :class:`medzoo.data.Dataset`. ``synthetic(root, **kwargs)``
    writes a small synthetic copy in the same layout, so everything runs without the real data.
    """

    name: str
    task: str  # a registered task (the registry checks it exists and that entries agree with it)
    factory: str | Callable[..., Any]
    synthetic: str | Callable[..., Any] | None = None
    description: str = ""
    layout: str = ""
    licence: str = ""
    citation: str = ""
    homepage: str = ""
    distribution: str = ""

    def open(self, root: Any, **kwargs: Any) -> Any:
        """Read ``root`` and return the dataset object."""
        return resolve(self.factory)(root, **kwargs)


@attrs.frozen
class TaskSpec:
    """A kind of problem: ``factory`` names a :class:`medzoo.tasks.Task` subclass (or a function returning a task),
    which owns the losses, training metrics, output contract, evaluation, table and operating-point rule.

    ``description`` says what its models output, for listings and cards, without importing the task.
    """

    name: str
    factory: str | Callable[[], Any]
    description: str = ""
    distribution: str = ""

    def load(self) -> Any:
        """The :class:`medzoo.tasks.Task` itself (its module imported on first use)."""
        from medzoo.tasks import Task

        task = resolve(self.factory)()
        if not isinstance(task, Task) or task.name != self.name:
            raise MedzooError(f"task {self.name!r} ({self.distribution or 'no distribution'}): its factory "
                              f"{self.factory!r} made {task!r}, not a medzoo.tasks.Task named {self.name!r}")
        return task


@attrs.frozen
class Recipe:
    """How an entry is trained: the study's recipe, every field overridable."""

    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    weight_decay: float | None = None  # None: the optimizer's own default (AdamW: 0.004; others: none)
    ema: bool = False  # keep a moving average of the weights; validate and save it (batch-norm stats recomputed)
    loss: str = "binary_crossentropy"
    label_smoothing: float = 0.0  # classification: targets move this far towards 0.5
    epochs: int = 100
    batch_size: int = 32
    early_stopping_patience: int = 10
    reduce_lr_patience: int = 5
    reduce_lr_factor: float = 0.2
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    class_weights: bool = False
    val_fraction: float = 0.15
    steps_per_epoch: int | None = None
    patch_size: int | None = None  # train on random square crops (segmentation)
    augment: dict[str, float] | None = None  # None: the dataset's default augmentation; {}: none
    train_pipeline: dict[str, Any] = attrs.field(factory=dict)  # extra kwargs for Dataset.pipeline
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        def need(ok: bool, field: str, rule: str) -> None:
            if not ok:
                raise RecipeError(f"recipe {field}={getattr(self, field)!r}: {rule}")

        for field in ("epochs", "batch_size"):
            value = getattr(self, field)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1, field,
                 "must be a whole number >= 1")
        for field in ("steps_per_epoch", "patch_size"):
            value = getattr(self, field)
            need(value is None or (isinstance(value, int) and value >= 1), field, "must be None or a whole number >= 1")
        need(isinstance(self.learning_rate, (int, float)) and self.learning_rate >= 0, "learning_rate",
             "must be a number >= 0")
        need(isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing < 1, "label_smoothing",
             "must be in [0, 1)")
        need(self.weight_decay is None or (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0),
             "weight_decay", "must be None or a number >= 0")
        need(isinstance(self.ema, bool), "ema", "must be true or false")
        need(isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 1, "val_fraction",
             "must be between 0 and 1")
        need(self.monitor_mode in ("min", "max"), "monitor_mode", "must be 'min' or 'max'")
        need(0 < self.reduce_lr_factor < 1, "reduce_lr_factor", "must be between 0 and 1")
        for field in ("early_stopping_patience", "reduce_lr_patience"):
            need(isinstance(getattr(self, field), int) and getattr(self, field) >= 0, field, "must be >= 0")

    def evolve(self, **overrides: Any) -> "Recipe":
        """Return a copy with ``overrides`` applied; ``None`` is a value (``patch_size=None`` trains on whole
        images, ``steps_per_epoch=None`` makes an epoch one pass). Bad names or values raise a
        :class:`~medzoo.errors.RecipeError` that says which."""
        known = {f.name for f in attrs.fields(Recipe)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise RecipeError(f"unknown recipe field(s) {bad}; known: {sorted(known)}")
        return attrs.evolve(self, **overrides)


@attrs.frozen
class Weights:
    """A set of trained weights: a file (package resource, path or URL) and its sha256; with ``model_kwargs`` and
    ``recipe``, a preset (keras-hub's config + weights + metadata side by side).

    A preset decides the build: the registry gives its entry the preset's ``model_kwargs`` and ``recipe``, so
    :func:`medzoo.load` rebuilds exactly what was trained and ``medzoo train ENTRY`` reproduces it.
    ``file`` is ``"package:relative/path.weights.h5"`` for weights shipped as package data, a path, or
    a ``file://`` / ``https://`` URL. ``metrics`` are the numbers measured on the validation patients,
    ``meta`` the training facts (data, split, seed, command) that the model card shows.
    """

    file: str
    sha256: str
    metrics: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)
    licence: str = ""
    model_kwargs: dict[str, Any] | None = None  # the builder's arguments the weights were trained with
    recipe: dict[str, Any] | None = None  # the recipe they were trained with (every Recipe field)

    @classmethod
    def from_json(cls, path: Any) -> Weights | None:
        """Read a weights card (``{"file", "sha256", "metrics", "meta", "licence", "model_kwargs", "recipe"}``);
        ``None`` if absent.

        ``path`` may be a path or an ``importlib.resources`` traversable, so plugins can keep the card
        beside the weights file as package data.
        """
        import json

        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        keys = ("file", "sha256", "metrics", "meta", "licence", "model_kwargs", "recipe")
        return cls(**{k: data[k] for k in keys if k in data})


@attrs.frozen
class Entry:
    """A zoo entry: model + dataset + task + recipe + (optionally) trained weights and a card."""

    name: str
    model: str
    dataset: str
    task: str
    recipe: Recipe = attrs.field(factory=Recipe)
    model_kwargs: dict[str, Any] = attrs.field(factory=dict)
    weights: Weights | None = None
    summary: str = ""
    study: dict[str, Any] = attrs.field(factory=dict)  # the study's published numbers
    intended_use: str = ""
    distribution: str = ""

    def with_preset(self) -> Entry:
        """This entry with its weights' preset applied: their ``model_kwargs`` and ``recipe`` replace the
        plugin's (what the registry stores)."""
        w = self.weights
        if w is None or (w.recipe is None and w.model_kwargs is None):
            return self
        changes: dict[str, Any] = {}
        if w.model_kwargs is not None:
            changes["model_kwargs"] = dict(w.model_kwargs)
        if w.recipe is not None:
            known = {f.name for f in attrs.fields(Recipe)}
            bad = sorted(set(w.recipe) - known)
            if bad:
                raise ValueError(f"the weights card of {self.name!r} has unknown recipe field(s) {bad}")
            changes["recipe"] = Recipe(**w.recipe)
        return attrs.evolve(self, **changes)

    @property
    def trained(self) -> bool:
        """Whether trained weights ship with this entry."""
        return self.weights is not None
