"""Shared helpers of the medzoo-transfer tests: a tiny DenseNet backbone and weight snapshots."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from types import SimpleNamespace  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from medzoo.nets.densenet import build_densenet_backbone  # noqa: E402

TINY = {"blocks": (1, 1, 1, 1), "growth_rate": 8, "stem_filters": 16, "bn_size": 4, "compression": 0.5}


def tiny_backbone(input_shape: tuple[int | None, int | None, int] = (32, 32, 3)) -> keras.Model:
    """A DenseNet with one layer per block (named like DenseNet161's, 4 blocks)."""
    return build_densenet_backbone(input_shape, name="tiny_densenet", **TINY)


def randomize_bn(model: keras.Model, seed: int = 0) -> None:
    """Give every batch norm non-trivial gamma/beta/moving statistics, so outputs depend on all of them."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape),
                               rng.normal(0, 0.1, shape), rng.uniform(0.5, 2.0, shape)])


def snapshot(variables: list) -> dict[str, np.ndarray]:
    """Copies of the variables' values, keyed by path."""
    return {v.path: keras.ops.convert_to_numpy(v).copy() for v in variables}


def changed(before: dict[str, np.ndarray], variables: list) -> set[str]:
    """Paths of the variables whose value differs from ``before``."""
    return {v.path for v in variables if not np.array_equal(before[v.path], keras.ops.convert_to_numpy(v))}


def train_step(model: keras.Model, batch: int = 2, size: int = 32, seed: int = 0) -> None:
    """One eager training step on random raw grayscale pixels (eager: far faster than tracing on a CPU)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, size=(batch, size, size, 1)).astype("float32")
    y = np.array([[i % 2] for i in range(batch)], dtype="float32")
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", run_eagerly=True)
    model.train_on_batch(x, y)


@pytest.fixture
def raw() -> np.ndarray:
    """Two raw grayscale images of a size other than the model's."""
    return np.random.default_rng(7).uniform(0, 255, size=(2, 40, 36, 1)).astype("float32")


@pytest.fixture
def keras_home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """An empty Keras home: ``$KERAS_HOME/models`` holds no ImageNet file."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def h() -> SimpleNamespace:
    """The helpers above (tests run with --import-mode=importlib, so they cannot import this module)."""
    return SimpleNamespace(TINY=TINY, tiny_backbone=tiny_backbone, randomize_bn=randomize_bn, snapshot=snapshot,
                           changed=changed, train_step=train_step)
