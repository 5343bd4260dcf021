"""Evaluation of trained models: metrics with bootstrap intervals, ``metrics.json`` and figures.

* :mod:`medzoo.evaluation.metrics`: the metric functions, pure numpy;
* the helpers every task's evaluation shares: :func:`predict_batches`, :func:`groups_of` (the bootstrap's
  patients), :func:`write_metrics`. Each task's own evaluation lives in its folder
  (:mod:`medzoo.tasks.classification.evaluation`, :mod:`medzoo.tasks.segmentation.evaluation`) and is reached
  through :meth:`medzoo.tasks.Task.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.evaluation.metrics import jsonable


def write_metrics(out: str | Path, metrics: dict[str, Any]) -> Path:
    """Write ``metrics`` as ``out/metrics.json`` (JSON-safe: ``nan`` becomes ``null``); returns the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    path.write_text(json.dumps(jsonable(metrics), indent=2, allow_nan=False) + "\n")
    return path


def predict_batches(model: Any, dataset: Any, records: Sequence[Any],
                    batch_size: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(x, y, probabilities)`` numpy batches of ``records``, in record order, batch by batch.

    Streaming keeps memory flat on large evaluation sets (a segmentation volume is never held whole).
    """
    if not records:
        raise ValueError("no records to evaluate")
    ds = dataset.batches(list(records), training=False, batch_size=batch_size)
    for x, y in ds:
        x = np.asarray(x)
        yield x, np.asarray(y), np.asarray(model.predict_on_batch(x), dtype=np.float32)


def predict_array(model: Any, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """``model``'s float32 outputs for an in-memory array ``x``, ``batch_size`` rows at a time."""
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]), np.float32)
                           for i in range(0, len(x), batch_size)])


def groups_of(records: Sequence[Any]) -> tuple[list[str] | None, str]:
    """Bootstrap groups of ``records``: their patients when every record names one, else ``None`` (images)."""
    patients = [getattr(r, "patient", "") or "" for r in records]
    if all(patients) and len(set(patients)) < len(patients):
        return patients, "patients"
    return (patients if all(patients) else None), "images"
