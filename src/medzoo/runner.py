"""The shared runner: one path from a zoo entry and a data root to a trained, evaluated model.

``train()`` resolves the entry's recipe (overridable), opens the dataset, splits it by patient, builds the
model under a ``tf.distribute`` strategy, compiles it from the recipe and fits it with checkpoints every
epoch, so that ``resume=True`` continues a killed run from its last completed epoch, optimizer state
included. Everything lands in a run directory::

    RUN/config.json  history.csv  train.log  best.weights.h5  last.weights.h5  backup/  metrics.json  figures/
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import attrs

from medzoo.registry import MedzooError, registry
from medzoo.specs import Entry, Recipe, resolve

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


def fingerprint(records: list[Any]) -> str:
    """A sha256 over the records' paths, sizes and targets: changes if the data on disk changes."""
    import hashlib

    h = hashlib.sha256()
    for r in records:
        for part in (r.image, str(r.target)):
            p = Path(part)
            size = p.stat().st_size if p.exists() else -1
            h.update(f"{p.name}:{size};".encode())
        h.update(f"{r.patient}|{r.split}\n".encode())
    return h.hexdigest()


def choose_strategy(strategy: Any = "auto") -> Any:
    """``"auto"``: MultiWorkerMirroredStrategy when ``TF_CONFIG`` is set, MirroredStrategy over several
    GPUs, else the default strategy. Pass ``"mirrored"``, ``"multiworker"``, ``"default"`` or an object."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not isinstance(strategy, str):
        return strategy
    if strategy == "auto":
        if os.environ.get("TF_CONFIG"):
            strategy = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            strategy = "mirrored"
        else:
            strategy = "default"
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "default":
        return tf.distribute.get_strategy()
    raise MedzooError(f"unknown strategy {strategy!r}; use auto, default, mirrored or multiworker")


def worker_dir(run_dir: Path, strat: Any) -> Path:
    """Where this process writes: ``run_dir`` itself, except on the non-chief workers of a
    ``MultiWorkerMirroredStrategy``, which keep their own log, history and checkpoints in
    ``run_dir/<task type>-<index>`` so that no two processes write the same file."""
    resolver = getattr(strat, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if not task_type:
        return run_dir
    jobs = resolver.cluster_spec().jobs
    chief = task_type == "chief" or (task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs)
    return run_dir if chief else run_dir / f"{task_type}-{resolver.task_id}"


def _patch_for_multiworker(model: Any, strat: Any, dataset: Any) -> None:
    """Work around two Keras 3 bugs with ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).

    1. ``fit`` starts by ``strategy.reduce``-ing a whole ``(x, y)`` batch to build the metric, loss and
       optimizer state, which that strategy cannot reduce ("Attempt to convert a value (PerReplica...)"):
       the state is built here from the dataset's element spec and that step, then only a shape probe, skipped.
    2. Each step's logs are averaged over the replicas with ``strategy.reduce("MEAN", v, axis=0)``, which fails
       on scalars: the steps return them as 1-vectors, whose mean along axis 0 is the mean over the replicas.
       (The epoch's logs are read from the metrics' variables, summed over all workers, as usual.)
    """
    import tensorflow as tf

    with strat.scope():
        model._symbolic_build(data_batch=dataset.element_spec)
    model._maybe_symbolic_build = lambda *args, **kwargs: None

    def as_vectors(step: Any) -> Any:
        def wrapped(data: Any) -> Any:
            return {k: tf.reshape(v, (1,)) for k, v in step(data).items()}

        return wrapped

    model.train_step = as_vectors(model.train_step)
    model.test_step = as_vectors(model.test_step)


def _gpu_present() -> bool:
    try:
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    except ImportError:
        return False


def _optimizer(recipe: Recipe) -> Any:
    import keras

    table = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
             "adamw": keras.optimizers.AdamW}
    if recipe.optimizer not in table:
        raise MedzooError(f"unknown optimizer {recipe.optimizer!r}; choose from {sorted(table)}")
    return table[recipe.optimizer](learning_rate=recipe.learning_rate)


def open_data(entry: Entry, data: str | Path | None, on_error: str = "raise") -> Any:
    """The entry's dataset at ``data`` (its synthetic default when ``None``)."""
    from medzoo import get_dataset

    return get_dataset(entry.dataset, data, on_error=on_error)


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
    return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else [])}


def train(entry: str | Entry, data: str | Path | None = None, out: str | Path | None = None, *,
          resume: bool = False, strategy: Any = "auto", mixed_precision: bool | None = None,
          jit_compile: bool | None = None, seed: int | None = None, deterministic: bool = False,
          on_error: str = "raise", verbose: int | str = "auto", evaluate: bool = True,
          **overrides: Any) -> Run:
    """Train zoo entry ``entry`` on the data at ``data``.

    Args:
        entry: a zoo entry name (``"unet-lgg"``) or an :class:`~medzoo.specs.Entry`.
        data: dataset root in its published layout; ``None`` trains on the dataset's synthetic default.
        out: the run directory (default ``runs/<entry>-<time>``).
        resume: continue the run in ``out`` from its last completed epoch.
        strategy: ``"auto"`` (see :func:`choose_strategy`) or a ``tf.distribute.Strategy``.
        mixed_precision: ``mixed_float16``; default on when a GPU is present.
        jit_compile: XLA; default on when a GPU is present.
        seed: seed for splits, shuffling, augmentation and initialisation (default the recipe's).
        deterministic: also make TensorFlow's kernels deterministic (same history on the CPU).
        on_error: ``"raise"`` or ``"skip"`` bad files (skips are listed in the log).
        verbose: Keras progress (``"auto"``: a bar on a terminal, a line per epoch otherwise).
        evaluate: evaluate the best checkpoint on the validation split when training ends.
        **overrides: any :class:`~medzoo.specs.Recipe` field (``epochs``, ``batch_size``, ...).

    Returns:
        A :class:`Run` with the trained model (best weights) and its directory.
    """
    import keras

    reg = registry()
    entry = reg.get("entries", entry) if isinstance(entry, str) else entry
    recipe = entry.recipe.evolve(**overrides)
    if seed is not None:
        recipe = attrs.evolve(recipe, seed=seed)
    strat = choose_strategy(strategy)  # first: a multi-worker strategy must exist before other TF work
    run_dir = Path(out) if out is not None else Path("runs") / f"{entry.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = worker_dir(run_dir, strat)
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        if (run_dir / "config.json").exists():
            raise MedzooError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_log = logging.getLogger("medzoo")
    root_log.addHandler(handler)
    root_log.setLevel(logging.INFO)
    try:
        return _train(entry, recipe, data, run_dir, resume=resume, strat=strat,
                      mixed_precision=mixed_precision, jit_compile=jit_compile, deterministic=deterministic,
                      on_error=on_error, verbose=verbose, evaluate=evaluate, keras=keras)
    finally:
        root_log.removeHandler(handler)
        handler.close()


def _train(entry: Entry, recipe: Recipe, data: Any, run_dir: Path, *, resume: bool, strat: Any,
           mixed_precision: bool | None, jit_compile: bool | None, deterministic: bool, on_error: str,
           verbose: int | str, evaluate: bool, keras: Any) -> Run:
    reg = registry()
    task = reg.get("tasks", entry.task)
    model_spec = reg.get("models", entry.model)
    keras.utils.set_random_seed(recipe.seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    gpu = _gpu_present()
    if mixed_precision if mixed_precision is not None else gpu:
        keras.mixed_precision.set_global_policy("mixed_float16")
    jit = jit_compile if jit_compile is not None else gpu

    dataset = open_data(entry, data, on_error)
    splits = dataset.splits(val_fraction=recipe.val_fraction, seed=recipe.seed)
    if dataset.skipped:
        log.warning("skipped %d bad files: %s", len(dataset.skipped), dataset.skipped)
    train_recs, val_recs = splits["train"], splits.get("val", [])
    log.info("data %s: %d train / %d val records (%d / %d patients)", dataset.root, len(train_recs),
             len(val_recs), len({r.patient for r in train_recs}), len({r.patient for r in val_recs}))
    n_replicas = strat.num_replicas_in_sync if strat is not None else 1
    global_batch = recipe.batch_size * n_replicas

    pipe_kwargs = dict(recipe.train_pipeline)
    if recipe.patch_size:
        pipe_kwargs["patch_size"] = recipe.patch_size
    steps = recipe.steps_per_epoch
    repeat = steps is not None
    train_ds = dataset.pipeline(train_recs, training=True, batch_size=global_batch, augment=recipe.augment,
                                seed=recipe.seed, deterministic=deterministic, repeat=repeat, **pipe_kwargs)
    val_ds = dataset.pipeline(val_recs, training=False, batch_size=global_batch) if val_recs else None
    class_weight = dataset.class_weights(train_recs) if recipe.class_weights else None

    config = {
        "entry": entry.name, "model": entry.model, "dataset": entry.dataset, "task": entry.task,
        "data_root": str(dataset.root), "recipe": attrs.asdict(recipe), "model_kwargs": entry.model_kwargs,
        "class_weight": class_weight, "replicas": n_replicas,
        "mixed_precision": keras.mixed_precision.global_policy().name,
        "jit_compile": jit, "backend": keras.backend.backend(), "versions": _versions(),
        "data_fingerprint": fingerprint(train_recs + val_recs),
        "splits": {k: sorted({r.patient for r in v}) for k, v in splits.items()},
        "split_sizes": {k: len(v) for k, v in splits.items()},
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str))

    def build() -> Any:
        model = model_spec.create(**entry.model_kwargs)
        model.compile(optimizer=_optimizer(recipe), loss=resolve(task.losses)(recipe.loss),
                      metrics=resolve(task.metrics)(), jit_compile=jit)
        return model

    if strat is not None:
        with strat.scope():
            model = build()
        import tensorflow as tf

        if isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
            _patch_for_multiworker(model, strat, train_ds)
    else:
        model = build()

    history_csv = run_dir / "history.csv"
    backup = run_dir / "backup"
    monitor = recipe.monitor if val_ds is not None else recipe.monitor.removeprefix("val_")
    best_so_far = None
    if resume:
        # BackupAndRestore's metadata "epoch" counts the completed epochs (model and optimizer state are
        # in backup/latest.weights.h5); history rows past it belong to an epoch that will be run again.
        meta = backup / "training_metadata.json"
        done = int(json.loads(meta.read_text()).get("epoch", 0)) if meta.exists() else 0
        _trim_history(history_csv, done)
        past = read_history(history_csv).get(monitor, [])
        if past:
            best_so_far = max(past) if recipe.monitor_mode == "max" else min(past)
        log.info("resuming %s after %d completed epochs", run_dir, done)
    cb = keras.callbacks
    callbacks = [
        cb.ReduceLROnPlateau(monitor=monitor, mode=recipe.monitor_mode, patience=recipe.reduce_lr_patience,
                             factor=recipe.reduce_lr_factor, min_lr=1e-6),  # before CSVLogger: logs the lr
        cb.CSVLogger(str(history_csv), append=True),
        cb.ModelCheckpoint(str(run_dir / "best.weights.h5"), monitor=monitor, mode=recipe.monitor_mode,
                           save_best_only=True, save_weights_only=True, initial_value_threshold=best_so_far),
        cb.ModelCheckpoint(str(run_dir / "last.weights.h5"), save_weights_only=True),
        cb.EarlyStopping(monitor=monitor, mode=recipe.monitor_mode, patience=recipe.early_stopping_patience,
                         restore_best_weights=True),
        _EpochLog(log),
        # last, so that an epoch counts as done only once its history row, checkpoints and learning-rate
        # change are written: a kill in between repeats that epoch rather than losing its row
        cb.BackupAndRestore(str(backup), save_freq="epoch", delete_checkpoint=False),
    ]
    if verbose == "auto":
        import sys

        verbose = 1 if sys.stdout.isatty() else 2
    log.info("training %s for up to %d epochs (batch %d, %s)", entry.name, recipe.epochs, global_batch,
             config["mixed_precision"])
    model.fit(train_ds, validation_data=val_ds, epochs=recipe.epochs, steps_per_epoch=steps,
              class_weight=class_weight, callbacks=callbacks, verbose=verbose)
    if (run_dir / "best.weights.h5").exists():
        model.load_weights(run_dir / "best.weights.h5")
    history = read_history(history_csv)
    run = Run(run_dir, model, history, splits, dataset, entry, recipe)
    if evaluate and val_recs:
        from medzoo.report import report_run

        report_run(run)
    return run
