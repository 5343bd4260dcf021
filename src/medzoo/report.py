"""Reports: evaluate a trained run or a zoo entry, write ``metrics.json`` and figures, print a table.

* :func:`report_run` is what :func:`medzoo.runner.train` calls when training ends;
* :func:`evaluate_entry` is behind :func:`medzoo.evaluate` (and ``medzoo evaluate``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medzoo.data import open_dataset, recipe_splits
from medzoo.errors import MedzooError
from medzoo.registry import registry
from medzoo.specs import Entry
from medzoo.tasks import get_task


def _evaluate(task_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run the evaluation of registered task ``task_name``, its options checked first."""
    task = get_task(task_name)
    task.check_options(kwargs)
    return task.evaluate(*args, **kwargs)


def format_table(metrics: dict[str, Any]) -> str:
    """A plain-text table of an evaluation's metrics: its task's own table, or the scalars where the task that
    wrote them is not installed."""
    spec = registry().tasks.get(str(metrics.get("task")))
    if spec is not None:
        return spec.load().format_table(metrics)
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    return "\n".join(f"{k:<28}{v}" for k, v in scalars.items())


def _finish(metrics: dict[str, Any], out: Path, context: dict[str, Any], echo: bool) -> dict[str, Any]:
    from medzoo.evaluation import write_metrics

    metrics = {"context": context, **metrics}
    write_metrics(out, metrics)
    if echo:
        head = f"{context.get('entry', '')} on {context.get('split', '')} ({out / 'metrics.json'})"
        print(f"\n== {head}\n{format_table(metrics)}\nfigures: {out / 'figures'}\n")
    return metrics


def report_run(run: Any, echo: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Evaluate a finished run's model on its validation records and draw its figures.

    Writes ``run.dir/metrics.json`` and ``run.dir/figures/*.png`` (training curves from ``run.history``
    plus the task's figures), prints a table and returns the metrics. ``kwargs`` go to the task's
    ``evaluate`` (``n_boot``, ``seed``, ...).
    """
    from medzoo import figures

    out = Path(run.dir)
    records = run.splits["val"]
    kwargs.setdefault("batch_size", run.recipe.batch_size)
    metrics = _evaluate(run.entry.task, run.model, run.dataset, records, out, **kwargs)
    fig = figures.learning_curves(run.history, out / "figures" / "learning_curves.png", monitor=run.recipe.monitor,
                                  mode=run.recipe.monitor_mode, title=f"{run.entry.name}: training curves")
    if fig is not None:
        metrics["figures"] = [fig.name, *metrics.get("figures", [])]
    context = {"entry": run.entry.name, "split": "val", "data_root": str(run.dataset.root),
               "records": len(records), "patients": len({r.patient for r in records}),
               "weights": str(out / "best.weights.h5"), "epochs_run": len(run.history.get("loss", []))}
    return _finish(metrics, out, context, echo)


def _is_model(obj: Any) -> bool:
    return hasattr(obj, "predict_on_batch") and not isinstance(obj, (str, Path))


def evaluate_entry(entry: str | Entry, data: str | Path | None = None, split: str = "val",
                   weights: Any = "default", out: str | Path | None = None, *, echo: bool = True,
                   on_error: str = "raise", **kwargs: Any) -> dict[str, Any]:
    """Evaluate zoo entry ``entry`` on ``split`` of its dataset at ``data``.

    The split is the one training used (the recipe's ``val_fraction`` and ``seed``), so ``"val"`` holds the
    patients the weights were selected on; ``"test"`` exists only where the data has a published test split.
    On another split than ``"val"``, the task gets the validation records too, to choose its operating point
    there (classification's target-recall threshold).

    Args:
        entry: an entry name or :class:`~medzoo.specs.Entry`.
        data: dataset root; ``None`` evaluates on the dataset's synthetic default.
        split: ``"val"``, ``"train"`` or ``"test"``.
        weights: ``"default"``, a path/URL (see :func:`medzoo.load`), or an already-built ``keras.Model``.
        out: output folder (default ``runs/eval-<entry>-<split>``).
        echo: print the table.
        on_error: ``"raise"`` or ``"skip"`` bad files.
        **kwargs: passed to the task's ``evaluate`` (``n_boot``, ``seed``, ``batch_size``, ``target_recall``...);
            an option the task does not take is a :class:`~medzoo.errors.MedzooError`.

    Returns:
        The metrics dict, also written to ``out/metrics.json``.
    """
    entry = registry().get("entries", entry) if isinstance(entry, str) else entry
    task = get_task(entry.task)
    task.check_options(kwargs)  # before any data is read
    recipe = entry.recipe
    dataset = open_dataset(entry.dataset, data, on_error=on_error)
    splits = recipe_splits(dataset, recipe)
    available = sorted(k for k, v in splits.items() if v)
    if not splits.get(split):
        hint = " (this dataset has no published test split)" if split == "test" else ""
        raise MedzooError(f"split {split!r} is not available for {entry.name} at {dataset.root}{hint}; "
                          f"choose from {available}")
    if _is_model(weights):
        model, weights_desc = weights, f"in-memory model {getattr(weights, 'name', '')}".strip()
    else:
        from medzoo.weights import load_entry

        model, weights_desc = load_entry(entry.name, weights=weights), str(weights)
    records = splits[split]
    if split != "val" and splits.get("val") and "val_records" in task.evaluate_options() - set(kwargs):
        kwargs["val_records"] = splits["val"]  # where a task chooses its operating point
    kwargs.setdefault("batch_size", recipe.batch_size)
    out = Path(out) if out is not None else Path("runs") / f"eval-{entry.name}-{split}"
    metrics = task.evaluate(model, dataset, records, out, **kwargs)
    context = {"entry": entry.name, "split": split, "data_root": str(dataset.root), "records": len(records),
               "patients": len({r.patient for r in records}), "weights": weights_desc,
               "split_rule": f"val_fraction={recipe.val_fraction}, seed={recipe.seed}", "synthetic": data is None}
    return _finish(metrics, out, context, echo)


def load_metrics(path: str | Path) -> dict[str, Any]:
    """Read a ``metrics.json`` (a file or the folder holding it)."""
    path = Path(path)
    return json.loads((path / "metrics.json" if path.is_dir() else path).read_text())
