"""Tests of medzoo-hello-task: the task is discovered, and evaluates a model whose errors are known."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from medzoo.data import Record
from medzoo.errors import MedzooError
from medzoo.tasks import get_task


class Images:
    """A stand-in dataset: ``batches`` is all an evaluation asks of it. Image ``i`` is all ``i``; its target 2i."""

    def batches(self, records, training=False, batch_size=32):  # noqa: ANN001, ANN201
        for start in range(0, len(records), batch_size):
            part = records[start:start + batch_size]
            x = np.stack([np.full((4, 4, 1), float(r.image)) for r in part])
            yield x, np.array([float(r.target) for r in part])


def test_task_is_discovered() -> None:
    task = get_task("regression")
    assert task.name == "regression"
    task.check_output((None, 1))
    with pytest.raises(MedzooError):
        task.check_output((None, 3))


def test_evaluation_with_patient_intervals(tmp_path) -> None:  # noqa: ANN001
    mean_pixel = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D()])
    records = [Record(image=str(i), target=2 * i, patient=f"p{i // 2}") for i in range(6)]
    metrics = get_task("regression").evaluate(mean_pixel, Images(), records, tmp_path, n_boot=200)
    assert metrics["mae"]["value"] == pytest.approx(np.mean(range(6)))  # |i - 2i| = i
    lo, hi = metrics["mae"]["ci95"]
    assert lo <= metrics["mae"]["value"] <= hi
    assert metrics["bootstrap"]["resampled"] == "patients"
    assert (tmp_path / "metrics.json").is_file()
    assert "MAE" in get_task("regression").format_table(metrics)
