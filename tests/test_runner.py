"""The shared runner on tiny synthetic LGG data: run directory, recipe overrides, determinism."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs
import numpy as np
import pytest

import medzoo
from medzoo.registry import MedzooError

SMALL = {"base_filters": 4, "depth": 1}  # the unet-lgg U-Net, shrunk so that a test trains in seconds
OVERRIDES = {"epochs": 2, "batch_size": 4, "optimizer": "sgd", "learning_rate": 0.05, "loss": "bce_dice"}


def small_entry() -> Any:
    """The ``unet-lgg`` entry with a small U-Net."""
    return attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def two_runs(lgg_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Two identical deterministic runs (default augmentation, so keras-cv's seeds count too)."""
    from medzoo.runner import train

    out = tmp_path_factory.mktemp("runs")
    return [train(small_entry(), data=lgg_root, out=out / f"run{i}", strategy="default", seed=5,
                  deterministic=True, evaluate=False, verbose=0, **OVERRIDES) for i in range(2)]


def test_run_directory(two_runs: list[Any], lgg_root: Path) -> None:
    from medzoo.runner import fingerprint

    run = two_runs[0]
    d = run.dir
    for name in ("config.json", "history.csv", "train.log", "best.weights.h5", "last.weights.h5",
                 "backup/latest.weights.h5"):
        assert (d / name).is_file(), name
    config = json.loads((d / "config.json").read_text())
    assert config["entry"] == "unet-lgg" and config["model_kwargs"] == SMALL
    assert {"keras", "tensorflow", "numpy", "medzoo"} <= set(config["versions"])
    recs = run.splits["train"] + run.splits["val"]
    assert config["data_fingerprint"] == fingerprint(recs) and len(config["data_fingerprint"]) == 64
    train_p, val_p = set(config["splits"]["train"]), set(config["splits"]["val"])
    assert train_p and val_p and not train_p & val_p
    assert train_p | val_p == {r.patient for r in run.dataset.records()}
    assert config["split_sizes"] == {"train": len(run.splits["train"]), "val": len(run.splits["val"])}
    with (d / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert {"loss", "val_loss", "dice", "val_dice"} <= set(rows[0])
    log = (d / "train.log").read_text()
    assert "epoch 1 done" in log and "epoch 2 done" in log
    # the returned model holds the best weights, which load into a fresh model
    fresh = medzoo.create_model("unet", **SMALL)
    fresh.load_weights(d / "best.weights.h5")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), run.model.predict(x, verbose=0), atol=1e-6)


def test_recipe_overrides_reach_compile_and_fit(two_runs: list[Any]) -> None:
    import keras

    from medzoo.tasks.segmentation.losses import BCEDiceLoss

    run = two_runs[0]
    config = json.loads((run.dir / "config.json").read_text())
    for k, v in OVERRIDES.items():
        assert config["recipe"][k] == v
        assert getattr(run.recipe, k) == v
    assert config["recipe"]["seed"] == 5
    assert isinstance(run.model.optimizer, keras.optimizers.SGD)
    assert float(run.model.optimizer.learning_rate) == pytest.approx(0.05)
    assert isinstance(run.model.loss, BCEDiceLoss)
    assert len(run.history["loss"]) == OVERRIDES["epochs"]


def test_same_seed_same_history(two_runs: list[Any]) -> None:
    a, b = (r.history for r in two_runs)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_unknown_override_raises(lgg_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown recipe field.*epoch"):
        medzoo.train("unet-lgg", data=lgg_root, out=tmp_path / "run", epoch=2)
    assert not (tmp_path / "run").exists()


def test_existing_run_is_not_overwritten(two_runs: list[Any], lgg_root: Path) -> None:
    before = (two_runs[0].dir / "history.csv").read_text()
    with pytest.raises(MedzooError, match="already holds a run"):
        medzoo.train(small_entry(), data=lgg_root, out=two_runs[0].dir, strategy="default", **OVERRIDES)
    assert (two_runs[0].dir / "history.csv").read_text() == before


def test_fine_tuning_starts_from_initial_weights(two_runs: list[Any], lgg_root: Path, tmp_path: Path) -> None:
    """``initial_weights`` loads a run's checkpoint before training: with a learning rate of 0 the trainable
    weights stay those of the checkpoint (a fresh initialisation would not), and the config records it."""
    import keras

    from medzoo.runner import train

    source = two_runs[0].dir / "best.weights.h5"
    reference = medzoo.create_model("unet", **SMALL)
    reference.load_weights(source)
    run = train(small_entry(), data=lgg_root, out=tmp_path / "ft", seed=9, evaluate=False, verbose=0,
                initial_weights=source, **{**OVERRIDES, "epochs": 1, "learning_rate": 0.0})
    for got, want in zip(run.model.trainable_weights, reference.trainable_weights, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)
    assert json.loads((run.dir / "config.json").read_text())["initial_weights"] == str(source)
    other = tmp_path / "other.weights.h5"
    medzoo.create_model("unet", base_filters=8, depth=1).save_weights(other)  # another architecture's file
    with pytest.raises(MedzooError, match="cannot load weights .*other.weights.h5"):
        train(small_entry(), data=lgg_root, out=tmp_path / "bad", evaluate=False, verbose=0,
              initial_weights=other, **OVERRIDES)


def test_read_history_takes_the_csv_loggers_na(tmp_path: Path) -> None:
    from medzoo.runner import read_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,0.5,NA\n1,0.4,0.3\n")
    history = read_history(path)
    assert history["loss"] == [0.5, 0.4] and np.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.3
