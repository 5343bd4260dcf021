"""A tiny zoo for the weights and card tests: one small Keras architecture, a trained and an untrained entry.

Tests run with ``--import-mode=importlib``, so load this module with :func:`load_tinyzoo` from a test file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from medzoo.registry import Registry, build_registry
from medzoo.specs import DatasetSpec, Entry, ModelSpec, Recipe, Weights

SHAPE = (8, 8, 3)


def build_tiny(input_shape: tuple[int, int, int] = SHAPE, filters: int = 2, name: str = "tiny") -> Any:
    """Raw pixels (8×8×3) → rescale → 3×3 conv → batch norm → 1×1 sigmoid conv: a per-pixel probability."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


def make_registry() -> Registry:
    """A registry with only the core tasks, plus ``tiny`` / ``wide`` and the entries ``tiny-untrained``."""
    reg = build_registry(entry_points=[])
    reg.models["tiny"] = ModelSpec(name="tiny", task="segmentation", build=build_tiny, defaults={"filters": 2},
                                   description="A tiny test network.", distribution="tests")
    reg.models["wide"] = ModelSpec(name="wide", task="segmentation", build=build_tiny, defaults={"filters": 5},
                                   distribution="tests")
    reg.datasets["tiny-data"] = DatasetSpec(name="tiny-data", task="segmentation", factory=lambda root: None,
                                            licence="CC BY 4.0", distribution="tests")
    reg.entries["tiny-untrained"] = Entry(name="tiny-untrained", model="tiny", dataset="tiny-data",
                                          task="segmentation", summary="Never trained.", distribution="tests",
                                          intended_use="Testing only.")
    return reg


def add_trained(reg: Registry, file: str, sha256: str, name: str = "tiny-trained", **weights_kw: Any) -> Entry:
    """Register entry ``name`` whose default weights are ``file`` with ``sha256``."""
    entry = Entry(name=name, model="tiny", dataset="tiny-data", task="segmentation",
                  recipe=Recipe(optimizer="adam", epochs=3, batch_size=4), weights=Weights(file, sha256, **weights_kw),
                  summary="A tiny trained test entry.", study={"dice": 0.83, "split": "slice-level"},
                  intended_use="Testing only.", distribution="tests")
    reg.entries[name] = entry
    return entry


def install(monkeypatch: Any, home: Path) -> Registry:
    """Make a fresh tiny registry the process-wide one and point ``MEDZOO_HOME`` at ``home``."""
    reg = make_registry()
    monkeypatch.setattr(importlib.import_module("medzoo.registry"), "_REGISTRY", reg)
    monkeypatch.setenv("MEDZOO_HOME", str(home))
    return reg


def random_pixels(n: int = 2, seed: int = 0) -> Any:
    """``n`` raw-pixel images of the tiny input shape."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE)).astype("float32")


def trained_model(seed: int = 1) -> Any:
    """A tiny model whose weights differ from a fresh build (random kernels, non-trivial batch-norm stats)."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    model = build_tiny()
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.5, 0.3, w.shape).astype("float32") if "variance" not in w.path
                       else rng.uniform(0.5, 2.0, w.shape).astype("float32") for w in model.weights])
    return model
