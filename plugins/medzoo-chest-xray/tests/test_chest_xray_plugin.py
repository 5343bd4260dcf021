"""The plugin as medzoo sees it: its DatasetSpec, the synthetic default, and a model that learns the synthetic set."""

from __future__ import annotations

from pathlib import Path

import pytest

import medzoo
from medzoo_chest_xray.reader import ChestXray
from medzoo_chest_xray.synthetic import write_synthetic


def test_spec_registered() -> None:
    assert "chest-xray" in medzoo.list_datasets()
    spec = medzoo.registry().get("datasets", "chest-xray")
    assert spec.task == "classification"
    assert "CC BY 4.0" in spec.licence and "10.17632/rscbjbr9sj.2" in spec.licence
    assert "Cell 172(5):1122-1131" in spec.citation
    assert spec.homepage.startswith("https://") and "NORMAL" in spec.layout and spec.description


def test_synthetic_default() -> None:
    ds = medzoo.get_dataset("chest-xray")
    assert isinstance(ds, ChestXray)
    s = ds.summary()
    assert set(s) >= {"train", "test", "patients", "skipped"}
    assert s["train"]["classes"]["NORMAL"] > 0 and s["train"]["classes"]["PNEUMONIA"] > 0
    assert set(s["train"]["subtypes"]) == {"normal", "bacteria", "virus"}
    recs = ds.records()
    assert all(r.patient.startswith(("person", "IM-", "NORMAL2-IM-")) for r in recs)
    parts = ds.splits(val_fraction=0.25, seed=0)
    assert set(parts) == {"train", "val", "test"}
    patients = [{r.patient for r in v} for v in parts.values()]
    assert not (patients[0] & patients[1]) and not (patients[0] & patients[2])
    assert all(r.split == "test" for r in parts["test"])
    assert len(parts["test"]) == s["test"]["images"]


def test_published_val(tmp_path: Path) -> None:
    root = write_synthetic(tmp_path, patients=12, size=32, seed=1)
    (root / "test").rename(root / "val")
    ds = ChestXray(root)
    folded = ds.splits(val_fraction=0.25, seed=0)
    assert set(folded) == {"train", "val"}
    published = {r.image for r in ds.records() if r.split == "val"}
    pooled = {r.image for v in folded.values() for r in v}
    assert published <= pooled and len(pooled) == len(ds.records())
    kept = ds.splits(use_published_val=True)
    assert {r.image for r in kept["val"]} == published
    with pytest.raises(medzoo.MedzooError, match="no published val"):
        ChestXray(write_synthetic(tmp_path / "b", patients=4, size=32)).splits(use_published_val=True)


@pytest.mark.slow
def test_cnn1_trains_through_medzoo_train(tmp_path: Path) -> None:
    """The zoo entry runs end to end on this dataset (a few steps of cnn1 at 32 px: a wiring check)."""
    import attrs

    root = write_synthetic(tmp_path / "data", patients=8, size=32, seed=2, test_patients=0)
    entry = attrs.evolve(medzoo.get_entry("cnn1-chest-xray"), model_kwargs={"image_size": 32}, weights=None)
    run = medzoo.train(entry, data=root, out=tmp_path / "run", epochs=1, steps_per_epoch=2, batch_size=4,
                       val_fraction=0.25, seed=0, evaluate=False, verbose=0, train_pipeline={"image_size": 32})
    assert len(run.history["val_accuracy"]) == 1
    assert (tmp_path / "run" / "best.weights.h5").exists()
    assert {r.patient for r in run.splits["train"]}.isdisjoint({r.patient for r in run.splits["val"]})


@pytest.mark.slow
def test_small_model_learns_synthetic(tmp_path: Path) -> None:
    """A small Keras model on the training pipeline (augmented) learns the synthetic set: val accuracy ≫ chance."""
    import keras

    keras.utils.set_random_seed(0)
    ds = ChestXray(write_synthetic(tmp_path, patients=48, size=64, seed=7, test_patients=0))
    parts = ds.splits(val_fraction=0.3, seed=0)
    train = ds.pipeline(parts["train"], training=True, batch_size=8, seed=0, image_size=32, deterministic=True)
    val = ds.pipeline(parts["val"], training=False, batch_size=32, image_size=32)
    layers = keras.layers
    model = keras.Sequential([keras.Input((32, 32, 1)), layers.Rescaling(1 / 255), layers.AveragePooling2D(4),
                              layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(3e-2), "binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(train, validation_data=val, epochs=8, verbose=0,
                     class_weight=ds.class_weights(parts["train"])).history["val_accuracy"]
    n_pos = sum(r.target for r in parts["val"])
    majority = max(n_pos, len(parts["val"]) - n_pos) / len(parts["val"])
    assert len(parts["val"]) >= 20
    assert sum(hist[-3:]) / 3 >= max(0.8, majority + 0.2)
