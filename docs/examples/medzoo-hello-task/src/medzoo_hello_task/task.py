"""A regression task: the model outputs one number per image, scored by its mean absolute error (MAE)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medzoo.errors import MedzooError, RecipeError
from medzoo.evaluation import groups_of, predict_batches, write_metrics
from medzoo.evaluation import metrics as M
from medzoo.tasks import Task


class Regression(Task):
    """One number per image; a model of this task outputs it directly, shape ``(N, 1)``."""

    name = "regression"
    output = "the predicted number, shape (N, 1)"
    operating_point = "none: the output is the prediction"

    def loss(self, name: str, label_smoothing: float = 0.0) -> Any:
        """``mse`` or ``mae`` (a recipe's ``loss``); label smoothing means nothing here."""
        import keras

        losses = {"mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError}
        if name not in losses or label_smoothing:
            raise RecipeError(f"regression takes loss 'mse' or 'mae' without label_smoothing, got {name!r}")
        return losses[name]()

    def training_metrics(self) -> list[Any]:
        """The MAE, shown while training (and monitorable as ``val_mae``)."""
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def check_output(self, shape: Sequence[int | None]) -> None:
        """One number per image."""
        if len(shape) != 2 or shape[-1] != 1:
            raise MedzooError(f"a regression model outputs shape (N, 1), not {tuple(shape)}")

    def evaluate(self, model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
                 val_records: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 batch_size: int = 32, figures: bool = True) -> dict[str, Any]:
        """MAE and RMSE with 95% intervals over patients; ``val_records`` are not needed (nothing to choose)."""
        records = list(records)
        y, p = [], []
        for _, yb, pb in predict_batches(model, dataset, records, batch_size):
            y.append(np.reshape(yb, -1))
            p.append(np.reshape(pb, -1))
        error = np.concatenate(p).astype(np.float64) - np.concatenate(y)
        groups, resampled = groups_of(records)

        def stat(w: np.ndarray) -> dict[str, np.ndarray]:  # w: (B, N) how often each image is drawn
            n = w.sum(axis=1)
            return {"mae": w @ np.abs(error) / n, "rmse": np.sqrt(w @ error**2 / n)}

        point = {k: float(v[0]) for k, v in stat(np.ones((1, error.size))).items()}
        ci = M.bootstrap(stat, groups, error.size, n_boot, seed) if n_boot else {}
        result = {"task": self.name, "n": int(error.size),
                  **{k: {"value": v, "ci95": ci.get(k, [None, None])} for k, v in point.items()},
                  "bootstrap": {"n_boot": n_boot, "seed": seed, "resampled": resampled}}
        if out is not None:
            write_metrics(out, result)
        return result

    def format_table(self, metrics: dict[str, Any]) -> str:
        """Two lines: the MAE and the RMSE with their intervals."""
        lines = [f"regression: {metrics['n']} images (95% CI over {metrics['bootstrap']['resampled']})"]
        for k in ("mae", "rmse"):
            lo, hi = metrics[k]["ci95"]
            interval = f"  [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
            lines.append(f"{k.upper():<6}{metrics[k]['value']:.3f}{interval}")
        return "\n".join(lines)
