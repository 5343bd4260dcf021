"""The shared runner: one path from a zoo entry and a data root to a trained, evaluated model.

``train()`` resolves the entry's recipe (its preset's, overridable), places the run on the machine
(:mod:`medzoo.distribution`: devices, ``tf.distribute`` or ``keras.distribution``, precision, jit), opens the
dataset, splits it by patient, feeds it (:meth:`medzoo.data.Dataset.batches`: decoded arrays on any backend,
or tf.data), builds and compiles the model from the recipe and fits it with checkpoints every epoch, so that
``resume=True`` continues a killed run from its last completed epoch, optimizer state included. One process
at a time writes a run directory (``RUN/.lock``). Everything lands there::

    RUN/config.json  history.csv  train.log  best.weights.h5  last.weights.h5  backup/  metrics.json  figures/
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from medzoo.augment import needs_arrays
from medzoo.data import PipelineOptions, fingerprint, open_dataset, recipe_splits
from medzoo.distribution import Placement, activate, patch_for_multiworker, place, worker_dir
from medzoo.errors import MedzooError, RecipeError
from medzoo.registry import registry
from medzoo.specs import Entry, Recipe
from medzoo.tasks import Task, get_task

log = logging.getLogger("medzoo.runner")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("medzoo", "keras", "tensorflow", "keras-cv", "numpy", "jax"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _optimizer(recipe: Recipe) -> Any:
    import keras

    table = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
             "adamw": keras.optimizers.AdamW}
    if recipe.optimizer not in table:
        raise RecipeError(f"unknown optimizer {recipe.optimizer!r}; choose from {sorted(table)}")
    kwargs: dict[str, Any] = {"learning_rate": recipe.learning_rate}
    if recipe.weight_decay is not None:
        kwargs["weight_decay"] = recipe.weight_decay
    if recipe.ema:
        kwargs |= {"use_ema": True, "ema_momentum": 0.99}
    return table[recipe.optimizer](**kwargs)


def _loss(task: Task, recipe: Recipe) -> Any:
    """The task's loss for the recipe (a task whose loss cannot smooth labels refuses ``label_smoothing``)."""
    return task.loss(recipe.loss, label_smoothing=recipe.label_smoothing)


@attrs.define
class Run:
    """What :func:`train` returns: where the run lives and what it produced."""

    dir: Path
    model: Any
    history: dict[str, list[float]]
    splits: dict[str, list[Any]]
    dataset: Any
    entry: Entry
    recipe: Recipe


class _EpochLog:
    """A Keras callback that logs each epoch's metrics to ``train.log`` (the console has the progress bar)."""

    def __new__(cls, logger: logging.Logger) -> Any:
        import keras

        class EpochLog(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._t = time.time()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                items = " ".join(f"{k}={v:.4f}" for k, v in (logs or {}).items() if isinstance(v, (int, float)))
                logger.info("epoch %d done in %.0fs: %s", epoch + 1, time.time() - self._t, items)

        return EpochLog()


def _SwapEMA(resumed: bool, calibration: Callable[[int], Iterable[Any]] | None = None) -> Any:  # noqa: N802
    """``keras.callbacks.SwapEMAWeights(swap_on_epoch=True)`` that knows a restored backup holds the swapped state
    and re-estimates batch-norm statistics for the averaged weights.

    At each epoch end the averaged weights are swapped into the model, so the checkpoints, early stopping and
    the epoch's backup all hold them; a run resumed from that backup must swap back before it trains on.

    Batch-norm moving statistics are not averaged: they belong to the raw weights, and in a deep network (121
    batch-norm layers in DenseNet121) averaged weights with the raw weights' statistics can give one constant
    output in inference. So before each validation, with the averaged weights in place,
    :func:`medzoo.layers.recalibrate_batch_norm` recomputes them from ``calibration(epoch)``'s training images
    (as ``torch.optim.swa_utils.update_bn`` does for weight averaging). (A class made on demand: Keras is
    imported lazily here.)
    """
    import keras

    from medzoo.layers import recalibrate_batch_norm

    class SwapEMA(keras.callbacks.SwapEMAWeights):
        def on_train_begin(self, logs: Any = None) -> None:
            self._ema_weights_in_model = resumed
            self._epoch = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            super().on_epoch_begin(epoch, logs)
            self._epoch = epoch

        def on_test_begin(self, logs: Any = None) -> None:
            super().on_test_begin(logs)
            if calibration is not None:
                recalibrate_batch_norm(self.model, calibration(self._epoch))

    return SwapEMA(swap_on_epoch=True)


def _calibration_images(feed: Any, batches: int = 10) -> Callable[[int], Iterable[Any]] | None:
    """Training images for :func:`medzoo.layers.recalibrate_batch_norm`: ``batches`` batches drawn at random
    (seeded by the epoch) from the decoded training arrays, unaugmented; ``None`` for a feed without them (the
    tf.data loader), which then keeps the raw weights' statistics."""
    images = getattr(feed, "images", None)
    if images is None:
        return None
    size = int(getattr(feed, "batch_size", 32))

    def draw(epoch: int) -> Iterable[Any]:
        rng = np.random.default_rng([int(getattr(feed, "seed", 0)), epoch, 7])
        idx = rng.choice(len(images), size=min(len(images), batches * size), replace=False)
        for start in range(0, len(idx), size):
            yield images[np.sort(idx[start:start + size])]

    return draw


def _trim_history(path: Path, epochs_done: int) -> None:
    """Keep the rows of epochs that the restored checkpoint has seen (a kill can leave one extra, or a
    partly written row)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return

    def complete(row: list[str]) -> bool:
        return len(row) == len(rows[0]) and row[0].isdigit() and int(row[0]) < epochs_done

    kept = [rows[0]] + [r for r in rows[1:] if complete(r)]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(kept)


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` as ``{column: values}``."""
    if not path.exists():
        return {}
    with path.open() as f:
        rows = list(csv.DictReader(f))

    def number(text: str | None) -> float:  # Keras' CSVLogger writes "NA" for a key an epoch did not log
        try:
            return float(text) if text not in (None, "", "NA") else float("nan")
        except ValueError:
            return float("nan")

    return {k: [number(r[k]) for r in rows] for k in (rows[0].keys() if rows else [])}


def train(entry: str | Entry, data: str | Path | None = None, out: str | Path | None = None, *,
          resume: bool = False, strategy: Any = "auto", mixed_precision: bool | str | None = None,
          jit_compile: bool | None = None, seed: int | None = None, deterministic: bool = False,
          on_error: str = "raise", verbose: int | str = "auto", evaluate: bool = True,
          initial_weights: str | Path | None = None, loader: str = "auto", callbacks: list[Any] | None = None,
          **overrides: Any) -> Run:
    """Train zoo entry ``entry`` on the data at ``data``.

    Args:
        entry: a zoo entry name (``"unet-lgg"``) or an :class:`~medzoo.specs.Entry`.
        data: dataset root in its published layout; ``None`` trains on the dataset's synthetic default.
        out: the run directory (default ``runs/<entry>-<time>``).
        resume: continue the run in ``out`` from its last completed epoch.
        strategy: ``"auto"`` or a choice of :func:`medzoo.distribution.place` (``tf.distribute`` on
            TensorFlow, ``keras.distribution.DataParallel`` on JAX).
        mixed_precision: ``None`` (auto: ``mixed_bfloat16`` on accelerators that support it,
            ``mixed_float16`` on older GPUs, float32 on CPUs), ``True``, ``False`` or a policy name.
        jit_compile: XLA; default on for JAX and on GPUs.
        seed: seed for splits, shuffling, augmentation and initialisation (default the recipe's).
        deterministic: also make TensorFlow's kernels deterministic (same history on the CPU).
        on_error: ``"raise"`` or ``"skip"`` bad files (skips are listed in the log).
        verbose: Keras progress (``"auto"``: a bar on a terminal, a line per epoch otherwise).
        evaluate: evaluate the best checkpoint on the validation split when training ends.
        initial_weights: start from these weights (``"default"``: the entry's shipped ones, or a path/URL as
            in :func:`medzoo.load`) instead of a fresh initialisation: fine-tuning. A resumed run continues
            from its own checkpoint instead.
        loader: ``"auto"`` (decoded arrays, any backend; tf.data under multi-replica ``tf.distribute``; see
            :func:`choose_loader`), ``"arrays"`` or ``"tfdata"`` (TensorFlow only).
        callbacks: extra ``keras.callbacks.Callback`` objects, run before the runner's own.
        **overrides: any :class:`~medzoo.specs.Recipe` field (``epochs``, ``batch_size``, ...).

    Returns:
        A :class:`Run` with the trained model (best weights) and its directory.
    """
    reg = registry()
    entry = reg.get("entries", entry) if isinstance(entry, str) else entry
    recipe = entry.recipe.evolve(**overrides)
    if seed is not None:
        recipe = attrs.evolve(recipe, seed=seed)
    if loader not in LOADERS:
        raise MedzooError(f"unknown loader {loader!r}; choose from {LOADERS}")
    placement = place(strategy, mixed_precision, jit_compile)  # first: a multi-worker strategy precedes other TF work
    run_dir = Path(out) if out is not None else Path("runs") / f"{entry.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = worker_dir(run_dir, placement.strategy)
    if run_dir.exists() and not run_dir.is_dir():
        raise MedzooError(f"--out {run_dir} is a file; a run needs a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not resume:
        if (run_dir / "config.json").exists():
            raise MedzooError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not (run_dir / "config.json").exists():
        raise MedzooError(f"--resume: {run_dir} holds no run to continue (no config.json)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock(run_dir)
    except OSError as exc:
        raise MedzooError(f"cannot write the run folder {run_dir}: {exc.strerror or exc}") from None
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_log = logging.getLogger("medzoo")
    root_log.addHandler(handler)
    root_log.setLevel(logging.INFO)
    try:
        return _train(entry, recipe, data, run_dir, placement, resume=resume, deterministic=deterministic,
                      on_error=on_error, verbose=verbose, evaluate=evaluate, initial_weights=initial_weights,
                      loader=loader, callbacks=list(callbacks or []))
    finally:
        root_log.removeHandler(handler)
        handler.close()
        lock.unlink(missing_ok=True)


def _lock(run_dir: Path) -> Path:
    """Claim ``run_dir`` for this process (``run_dir/.lock`` holds its pid): a second training on the same folder
    stops with a clear error instead of interleaving its history and checkpoints. A lock left by a process that
    no longer runs (a crash, ``kill -9``) is taken over."""
    import socket

    path = run_dir / ".lock"
    me = f"{os.getpid()}@{socket.gethostname()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = path.read_text().strip() if path.exists() else ""
            pid, _, host = owner.partition("@")
            if pid.isdigit() and host == socket.gethostname() and _alive(int(pid)):
                raise MedzooError(f"{run_dir} is in use by another training (process {pid}); wait for it to end "
                                  f"or choose another --out") from None
            path.unlink(missing_ok=True)  # stale
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return path
    raise MedzooError(f"cannot lock {run_dir} (another process keeps claiming it)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LOADERS = ("auto", "tfdata", "arrays")


@attrs.frozen
class _Data:
    """What the data phase hands to the others."""

    dataset: Any
    splits: dict[str, list[Any]]
    train: Any
    val: Any
    class_weight: dict[int, float] | None
    steps_per_epoch: int | None  # for fit: tf.data repeats forever; array batches know their length
    loader: str


def _prepare_data(entry: Entry, recipe: Recipe, data: Any, placement: Placement, *, on_error: str,
                  deterministic: bool, loader: str) -> _Data:
    """Open the dataset, split it by patient and make the training and validation feeds."""
    dataset = open_dataset(entry.dataset, data, on_error=on_error)
    splits = recipe_splits(dataset, recipe)
    if dataset.skipped:
        log.warning("skipped %d bad files: %s", len(dataset.skipped), dataset.skipped)
    train_recs, val_recs = splits["train"], splits.get("val", [])
    log.info("data %s: %d train / %d val records (%d / %d patients)", dataset.root, len(train_recs),
             len(val_recs), len({r.patient for r in train_recs}), len({r.patient for r in val_recs}))
    global_batch = recipe.batch_size * placement.replicas
    steps = recipe.steps_per_epoch
    if steps is None and len(train_recs) < global_batch:
        raise MedzooError(f"{len(train_recs)} training records cannot fill one batch of {global_batch}; lower "
                          f"batch_size or add data")
    options = PipelineOptions.make(**{**recipe.train_pipeline, "batch_size": global_batch,
                                      "augment": recipe.augment, "seed": recipe.seed,
                                      "deterministic": deterministic, "repeat": steps is not None,
                                      "patch_size": recipe.patch_size})
    used = choose_loader(loader, placement, dataset, recipe)
    train_feed = dataset.batches(train_recs, training=True, options=options, loader=used, steps=steps)
    val_options = PipelineOptions(batch_size=global_batch, cache=options.cache)
    val_feed = dataset.batches(val_recs, options=val_options, loader=used) if val_recs else None
    class_weight = dataset.class_weights(train_recs) if recipe.class_weights else None
    return _Data(dataset, splits, train_feed, val_feed, class_weight, steps if used == "tfdata" else None, used)


def choose_loader(loader: str, placement: Placement, dataset: Any, recipe: Recipe) -> str:
    """``"arrays"`` or ``"tfdata"``. ``"auto"`` is the decoded-array path wherever the dataset can decode, but
    tf.data under a multi-replica ``tf.distribute`` strategy (which shards tf.data over replicas and workers)."""
    if loader == "tfdata" and placement.backend != "tensorflow":
        raise MedzooError("loader='tfdata' needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    if loader != "auto":
        return loader
    if not dataset.can_decode:
        if placement.backend != "tensorflow":
            raise MedzooError(f"dataset {dataset.name!r} has no decode(): it can only train on TensorFlow")
        return "tfdata"
    if placement.backend == "tensorflow" and placement.replicas > 1 and not needs_arrays(recipe.augment):
        return "tfdata"
    return "arrays"


def _write_config(run_dir: Path, entry: Entry, recipe: Recipe, data: _Data, placement: Placement,
                  initial_weights: Any, resume: bool) -> dict[str, Any]:
    import keras

    train_recs, val_recs = data.splits["train"], data.splits.get("val", [])
    print_ = fingerprint(train_recs + val_recs)
    if resume:
        before = json.loads((run_dir / "config.json").read_text()).get("data_fingerprint")
        if before and before != print_:
            raise MedzooError(f"--resume: the data at {data.dataset.root} differ from those {run_dir} was trained on "
                              f"(another folder, or files added, removed or changed); resume with the run's own "
                              f"data or start a new run")
    config = {
        "entry": entry.name, "model": entry.model, "dataset": entry.dataset, "task": entry.task,
        "data_root": str(data.dataset.root), "recipe": attrs.asdict(recipe), "model_kwargs": entry.model_kwargs,
        "class_weight": data.class_weight, "replicas": placement.replicas,
        "initial_weights": None if initial_weights is None else str(initial_weights),
        "mixed_precision": keras.mixed_precision.global_policy().name, "loader": data.loader,
        **placement.describe(), "versions": _versions(),
        "data_fingerprint": print_,
        "splits": {k: sorted({r.patient for r in v}) for k, v in data.splits.items()},
        "split_sizes": {k: len(v) for k, v in data.splits.items()},
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str))
    return config


def compile_model(model: Any, entry: Entry, recipe: Recipe, jit_compile: bool | str = "auto") -> Any:
    """Compile ``model`` as the runner does for ``entry``: the recipe's optimizer and loss, the task's training
    metrics. (Benchmarks use it to time the same step outside the runner.)"""
    task = get_task(entry.task)
    task.check_output(model.output_shape)
    model.compile(optimizer=_optimizer(recipe), loss=_loss(task, recipe),
                  metrics=task.training_metrics(), jit_compile=jit_compile)
    return model


def _build_model(entry: Entry, recipe: Recipe, placement: Placement, data: _Data, initial_weights: Any) -> Any:
    """Build (and fine-tune from ``initial_weights``) and compile the entry's model under the placement."""
    model_spec = registry().get("models", entry.model)
    with placement.scope():
        model = model_spec.create(**entry.model_kwargs)
        if initial_weights is not None:
            from medzoo.weights import load_into, weights_path

            path = weights_path(entry, initial_weights)
            load_into(model, path, f"{entry.name!r} ({entry.model})")
            log.info("initial weights: %s", path)
        compile_model(model, entry, recipe, jit_compile=placement.jit)
    if placement.strategy is not None:
        patch_for_multiworker(model, placement.strategy, data.train)
    return model


def _resume_state(run_dir: Path, monitor: str, mode: str) -> tuple[float | None, int]:
    """Trim ``history.csv`` to the epochs the backup has seen; return the best monitored value so far and the
    number of completed epochs.

    BackupAndRestore's metadata "epoch" counts the completed epochs (model and optimizer state are in
    ``backup/latest.weights.h5``); history rows past it belong to an epoch that will be run again.
    """
    history_csv, meta = run_dir / "history.csv", run_dir / "backup" / "training_metadata.json"
    done = int(json.loads(meta.read_text()).get("epoch", 0)) if meta.exists() else 0
    _trim_history(history_csv, done)
    past = read_history(history_csv).get(monitor, [])
    log.info("resuming %s after %d completed epochs", run_dir, done)
    if not past:
        return None, done
    return (max(past) if mode == "max" else min(past)), done


def _callbacks(run_dir: Path, recipe: Recipe, monitor: str, best_so_far: float | None,
               calibration: Callable[[int], Iterable[Any]] | None = None) -> list[Any]:
    import keras

    cb = keras.callbacks
    restored = (run_dir / "backup" / "latest.weights.h5").exists()  # BackupAndRestore will load it
    ema = [_SwapEMA(resumed=restored, calibration=calibration)] if recipe.ema else []
    return ema + [  # EMA first: validation, checkpoints and early stopping see the averaged weights
        cb.ReduceLROnPlateau(monitor=monitor, mode=recipe.monitor_mode, patience=recipe.reduce_lr_patience,
                             factor=recipe.reduce_lr_factor, min_lr=1e-6),  # before CSVLogger: logs the lr
        cb.CSVLogger(str(run_dir / "history.csv"), append=True),
        cb.ModelCheckpoint(str(run_dir / "best.weights.h5"), monitor=monitor, mode=recipe.monitor_mode,
                           save_best_only=True, save_weights_only=True, initial_value_threshold=best_so_far),
        cb.ModelCheckpoint(str(run_dir / "last.weights.h5"), save_weights_only=True),
        cb.EarlyStopping(monitor=monitor, mode=recipe.monitor_mode, patience=recipe.early_stopping_patience,
                         restore_best_weights=True),
        _EpochLog(log),
        # last, so that an epoch counts as done only once its history row, checkpoints and learning-rate
        # change are written: a kill in between repeats that epoch rather than losing its row
        cb.BackupAndRestore(str(run_dir / "backup"), save_freq="epoch", delete_checkpoint=False),
    ]


def _train(entry: Entry, recipe: Recipe, data: Any, run_dir: Path, placement: Placement, *, resume: bool,
           deterministic: bool, on_error: str, verbose: int | str, evaluate: bool, initial_weights: Any,
           loader: str, callbacks: list[Any]) -> Run:
    """The phases of a run: set up, data, config, model, callbacks, fit, report."""
    import keras

    keras.utils.set_random_seed(recipe.seed)
    if deterministic and placement.backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    activate(placement)
    feeds = _prepare_data(entry, recipe, data, placement, on_error=on_error, deterministic=deterministic,
                          loader=loader)
    config = _write_config(run_dir, entry, recipe, feeds, placement, initial_weights, resume)
    model = _build_model(entry, recipe, placement, feeds, initial_weights)
    monitor = recipe.monitor if feeds.val is not None else recipe.monitor.removeprefix("val_")
    best_so_far, done = _resume_state(run_dir, monitor, recipe.monitor_mode) if resume else (None, 0)
    if done and hasattr(feeds.train, "epoch"):  # ArrayBatches: the resumed epochs get their own batches again
        feeds.train.epoch = done
    if verbose == "auto":
        import sys

        verbose = 1 if sys.stdout.isatty() else 2
    log.info("training %s for up to %d epochs (batch %d, %s, %s on %s, %s loader)", entry.name, recipe.epochs,
             recipe.batch_size * placement.replicas, config["precision"], placement.backend,
             ", ".join(placement.devices), feeds.loader)
    model.fit(feeds.train, validation_data=feeds.val, epochs=recipe.epochs, steps_per_epoch=feeds.steps_per_epoch,
              class_weight=feeds.class_weight,
              callbacks=callbacks + _callbacks(run_dir, recipe, monitor, best_so_far,
                                               _calibration_images(feeds.train) if placement.replicas == 1 else None),
              verbose=verbose)
    if (run_dir / "best.weights.h5").exists():
        model.load_weights(run_dir / "best.weights.h5")
    run = Run(run_dir, model, read_history(run_dir / "history.csv"), feeds.splits, feeds.dataset, entry, recipe)
    if evaluate and feeds.val is not None:
        from medzoo.report import report_run

        report_run(run)
    return run
