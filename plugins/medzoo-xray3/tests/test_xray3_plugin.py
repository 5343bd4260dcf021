"""medzoo-xray3 end to end on synthetic data: a task the core has never heard of is listed, checked, trained,
evaluated and tabled through the core's ordinary paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import numpy as np
import pytest

import medzoo
from medzoo.errors import MedzooError, RecipeError
from medzoo.tasks import Task, get_task

CORE = Path(medzoo.__file__).parent


def test_the_entry_is_listed_with_its_task_model_and_dataset() -> None:
    assert "cnn1-xray3" in medzoo.list_entries()
    entry = medzoo.get_entry("cnn1-xray3")
    assert (entry.task, entry.model, entry.dataset, entry.distribution) == (
        "multiclass", "cnn1-softmax", "chest-xray3", "medzoo-xray3")
    assert not entry.trained and "not trained in this session for lack of compute" in entry.summary
    task = get_task("multiclass")
    assert isinstance(task, Task) and task.name == "multiclass" and "argmax" in task.operating_point


def test_the_core_has_no_code_for_this_task() -> None:
    """The proof of the plugin interface: 'multiclass' appears nowhere in medzoo's own source."""
    hits = [f"{p.relative_to(CORE)}:{i}" for p in CORE.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"multiclass|xray3", line)]
    assert hits == []


def test_softmax_cnn1_outputs_class_probabilities() -> None:
    model = medzoo.create_model("cnn1-softmax", image_size=32)
    x = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 1)).astype("float32")
    p = np.asarray(model.predict(x, verbose=0))
    assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    get_task("multiclass").check_output(model.output_shape)
    assert medzoo.create_model("cnn1-softmax", classes=5, image_size=32).output_shape == (None, 5)
    with pytest.raises(MedzooError, match=r"expects models that output class probabilities"):
        get_task("multiclass").check_output((None, 1))
    with pytest.raises(MedzooError, match=r"multiclass task expects"):  # the core refuses the wrong head
        from medzoo.runner import compile_model

        compile_model(medzoo.create_model("cnn1", image_size=32), medzoo.get_entry("cnn1-xray3"),
                      medzoo.get_entry("cnn1-xray3").recipe)


def test_full_size_head_adds_99_parameters_to_cnn1() -> None:
    from medzoo.cards import count_params

    assert count_params(medzoo.create_model("cnn1-softmax"))["total"] == 8_673_793 - 33 + 99 == 8_673_859


def test_loss_is_categorical_cross_entropy_on_integer_labels_with_smoothing() -> None:
    import keras

    task = get_task("multiclass")
    y = np.array([0, 2, 1], "float32")
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], "float32")
    onehot = np.eye(3, dtype="float32")[y.astype(int)]
    want = float(keras.losses.CategoricalCrossentropy()(onehot, p))
    assert float(task.loss("categorical_crossentropy")(y, p)) == pytest.approx(want, rel=1e-5)
    assert float(task.loss("cce")(y.reshape(-1, 1), p)) == pytest.approx(want, rel=1e-5)
    smooth = float(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(onehot, p))
    assert float(task.loss("cce", label_smoothing=0.1)(y, p)) == pytest.approx(smooth, rel=1e-5)
    with pytest.raises(RecipeError, match="unknown multiclass loss 'focal'"):
        task.loss("focal")


def test_dataset_labels_come_from_the_file_names(synth_root: Path) -> None:
    ds = medzoo.get_dataset("chest-xray3", synth_root)
    recs = ds.records()
    for r in recs:
        name = Path(r.image).name
        want = 1 if "_bacteria_" in name else 2 if "_virus_" in name else 0
        assert r.target == want and r.meta["binary_target"] == int(want > 0), name
    assert {r.target for r in recs} == {0, 1, 2}
    summary = ds.summary()
    assert sum(summary["train"]["classes"].values()) == summary["train"]["images"]
    weights = ds.class_weights([r for r in recs if r.split == "train"])
    counts = np.bincount([r.target for r in recs if r.split == "train"], minlength=3)
    assert np.allclose([weights[c] * counts[c] for c in range(3)], counts.sum() / 3)


def test_splits_are_patient_disjoint_and_stratified_by_class(synth_root: Path) -> None:
    ds = medzoo.get_dataset("chest-xray3", synth_root)
    parts = ds.splits(val_fraction=0.34, seed=0)
    assert set(parts) == {"train", "val", "test"}
    patients = {k: {r.patient for r in v} for k, v in parts.items()}
    assert not patients["train"] & patients["val"] and not patients["val"] & patients["test"]
    for k in ("train", "val"):
        assert {r.target for r in parts[k]} == {0, 1, 2}, k
    assert ds.splits(val_fraction=0.34, seed=0) == parts  # deterministic
    assert sum(map(len, parts.values())) == len(ds.records())


def test_evaluate_through_the_core_writes_the_tasks_metrics_table_and_figure(synth_root: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture) -> None:
    model = medzoo.create_model("cnn1-softmax", image_size=32)
    res = medzoo.evaluate("cnn1-xray3", data=synth_root, split="test", weights=model, out=tmp_path / "ev",
                          n_boot=50)
    assert res["task"] == "multiclass" and set(res["per_class"]) == {"normal", "bacteria", "virus"}
    assert np.sum(res["confusion_matrix"]) == res["n"] == res["context"]["records"]
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["macro_auc"]["value"] == pytest.approx(res["macro_auc"]["value"])
    assert (tmp_path / "ev" / "figures" / "confusion_matrix.png").stat().st_size > 1000
    assert "macro ROC AUC" in capsys.readouterr().out  # the report printed the task's own table
    with pytest.raises(MedzooError, match="multiclass task's evaluation takes no option shift"):
        medzoo.evaluate("cnn1-xray3", data=synth_root, weights=model, shift=True)


@pytest.mark.slow
def test_train_two_steps_and_report(synth_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train

    entry = attrs.evolve(medzoo.get_entry("cnn1-xray3"), model_kwargs={"image_size": 32})
    run = train(entry, data=synth_root, out=tmp_path / "run", epochs=1, steps_per_epoch=2, batch_size=4,
                train_pipeline={"image_size": 32}, verbose=0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["task"] == "multiclass" and metrics["n"] == len(run.splits["val"])
    assert "accuracy" in run.history and np.isfinite(run.history["loss"]).all()
    assert {"learning_curves.png", "confusion_matrix.png"} <= set(metrics["figures"])
