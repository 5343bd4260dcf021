"""Training throughput: medzoo's runner versus a plain ``model.fit`` on preloaded arrays (the ceiling), on
whole epochs, for each Keras backend.

For each case and backend, two fresh subprocesses (``KERAS_BACKEND`` set) train the same model with the same
compile (optimizer, loss and metrics of the entry's recipe) for 2 whole epochs over the same real training
images:

* runner: ``medzoo.train(entry, root, epochs=2, evaluate=False)``, so the real data path (tf.data on
  TensorFlow, decoded arrays elsewhere), the augmentation and the runner's callbacks (checkpoints, backup,
  CSV log) are in the loop;
* ceiling: the same images decoded beforehand into numpy arrays, fed by a bare generator that applies the same
  augmentation (:mod:`medzoo.augment`, jit-compiled) to shuffled batches: ``model.fit(generator)`` with no
  callback but the timer: the speed of the model plus the augmentation it needs.

The 2nd epoch is timed by a Keras callback: ``train`` = epoch start to the end of its last training step
(the images/s and the ratio), ``epoch`` = the whole epoch with the epoch-end callbacks, without validation
(validation is shrunk with ``val_fraction``; it is not what is measured). Peak RSS per subprocess from
``os.wait4``. ``--records N`` trains on N real training images (a patient-complete subset, linked into the
published layout in a temporary folder) instead of all of them, to fit a time budget: each epoch is still a
whole pass.

Cases: ``cnn1`` (cnn1-chest-xray, 256×256×1) and ``unet`` (unet-lgg, whole 256×256×3 slices), at the
recipe's batch size.

Run::

    python bench/training.py --data ../shared/data --backends tensorflow,jax [--records 640]

Prints images/s, runner/ceiling ratios (target >= 0.9) and peak RSS; writes ``bench/results/training.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, load_now, machine, ratio, write_result

CASES: dict[str, dict[str, Any]] = {
    "cnn1": {"entry": "cnn1-chest-xray", "data": "chest_xray", "overrides": {}},
    # whole slices, every slice once an epoch: not the preset's lesion-centred 128² patches
    "unet": {"entry": "unet-lgg", "data": "kaggle_3m", "overrides": {"patch_size": None, "train_pipeline": {}}},
}
BACKENDS = ("tensorflow", "jax")
VAL_FRACTION = 0.03


def _timer() -> Any:
    """A Keras callback that timestamps epochs, training steps and validation."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[dict[str, Any]] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epochs.append({"begin": time.perf_counter(), "steps": [], "val": 0.0})

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if self.epochs:
                self.epochs[-1]["steps"].append(time.perf_counter())

        def on_test_begin(self, logs: Any = None) -> None:
            if self.epochs:
                self.epochs[-1]["_vt"] = time.perf_counter()

        def on_test_end(self, logs: Any = None) -> None:
            if self.epochs and "_vt" in self.epochs[-1]:
                self.epochs[-1]["val"] += time.perf_counter() - self.epochs[-1].pop("_vt")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs[-1]["end"] = time.perf_counter()

        def summary(self, batch: int) -> dict[str, Any]:
            e = self.epochs[-1]
            steps = len(e["steps"])
            train_s = e["steps"][-1] - e["begin"]
            epoch_s = e["end"] - e["begin"] - e["val"]
            return {"epochs_timed": len(self.epochs), "steps": steps, "images": steps * batch,
                    "train_seconds": round(train_s, 3), "epoch_seconds_no_val": round(epoch_s, 3),
                    "val_seconds": round(e["val"], 3), "images_per_s": round(steps * batch / train_s, 2),
                    "images_per_s_epoch": round(steps * batch / epoch_s, 2)}

    return Timer()


def subset_root(entry: Any, data: Path, records: int | None, dest: Path) -> Path:
    """``data`` itself, or a folder of links to whole patients of ``entry``'s training split that hold about
    ``records`` images, in the published layout (a patient of each label in turn, in the split's order)."""
    import medzoo

    if not records:
        return data
    ds = medzoo.get_dataset(entry.dataset, data)
    train = ds.splits(val_fraction=entry.recipe.val_fraction, seed=entry.recipe.seed)["train"]
    from medzoo.data import patient_label

    by_patient: dict[str, list[Any]] = {}
    for r in train:
        by_patient.setdefault(r.patient, []).append(r)
    labels = patient_label(train)
    queues = [[p for p in by_patient if labels[p] == k] for k in sorted(set(labels.values()))]
    chosen: list[Any] = []
    while len(chosen) < records and any(queues):  # patients of each label in turn: both classes present
        for q in queues:
            if q and len(chosen) < records:
                chosen += by_patient[q.pop(0)]
    for r in chosen:
        for f in (Path(r.image), Path(r.target) if isinstance(r.target, str) else None):
            if f is None:
                continue
            link = dest / f.relative_to(ds.root)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f.resolve())
    return dest


def _ceiling(entry: Any, recipe: Any, root: Path, timer: Any) -> None:
    """``model.fit`` over a bare generator of augmented batches of preloaded arrays (see the module doc)."""
    import keras
    import numpy as np

    import medzoo
    from medzoo.arrays import decoded
    from medzoo.augment import apply_affine, check_augment, compile_fn, sample_affine
    from medzoo.distribution import activate, place
    from medzoo.runner import compile_model

    ds = medzoo.get_dataset(entry.dataset, root)
    train = ds.splits(val_fraction=VAL_FRACTION, seed=recipe.seed)["train"]
    arrays = decoded(ds, train, cache=None)
    x, y = arrays.images, arrays.targets.astype(np.float32)
    seg = arrays.segmentation
    aug = check_augment(recipe.augment, ds.default_augment)
    fill = ds.fill_mode
    fn = compile_fn((lambda a, t, m: apply_affine(a, t, m, fill_mode=fill)) if seg else
                    (lambda a, t: apply_affine(a, t, fill_mode=fill)))
    batch, n = recipe.batch_size, len(x)
    steps = n // batch

    cw = ds.class_weights(train) if recipe.class_weights else None
    weights = np.array([cw[int(v)] for v in y], np.float32) if cw and not seg else None

    def batches() -> Any:
        rng = np.random.default_rng(recipe.seed)
        while True:
            order = rng.permutation(n)
            for i in range(steps):
                idx = np.sort(order[i * batch:(i + 1) * batch])
                t = sample_affine(rng, batch, x.shape[1], x.shape[2], aug)
                if seg:
                    yield fn(x[idx], t, y[idx])
                elif weights is not None:  # class weights as sample weights: generators take no class_weight
                    yield fn(x[idx], t), y[idx], weights[idx]
                else:
                    yield fn(x[idx], t), y[idx]

    placement = place()
    activate(placement)
    keras.utils.set_random_seed(recipe.seed)
    model = compile_model(medzoo.create_model(entry.model, **entry.model_kwargs), entry, recipe,
                          jit_compile=placement.jit)
    model.fit(batches(), steps_per_epoch=steps, epochs=2, callbacks=[timer], verbose=0)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side of one case in this process; returns the timing of its 2nd epoch."""
    import keras

    import medzoo

    entry = medzoo.get_entry(spec["entry"])
    recipe = entry.recipe.evolve(**spec["overrides"])
    batch, root = recipe.batch_size, Path(spec["root"])
    timer = _timer()
    t0 = time.perf_counter()
    if spec["side"] == "runner":
        # one pass over the training split per epoch, as the ceiling does (a preset's steps_per_epoch replaced)
        ds = medzoo.get_dataset(entry.dataset, root)
        steps = len(ds.splits(val_fraction=VAL_FRACTION, seed=recipe.seed)["train"]) // batch
        with tempfile.TemporaryDirectory() as tmp:
            run = medzoo.train(spec["entry"], root, out=Path(tmp) / "run", epochs=2, evaluate=False, verbose=0,
                               val_fraction=VAL_FRACTION, callbacks=[timer], steps_per_epoch=steps,
                               loader=spec.get("loader", "auto"), **spec["overrides"])
            loader = json.loads((run.dir / "config.json").read_text())["loader"]
    else:
        _ceiling(entry, recipe, root, timer)
        loader = "generator"
    out = timer.summary(batch)
    out.update({"batch_size": batch, "backend": keras.backend.backend(), "loader": loader,
                "total_seconds": round(time.perf_counter() - t0, 1), "loadavg": load_now()})
    return out


def run_child(spec: dict[str, Any], backend: str) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter on ``backend``; adds its peak RSS (``os.wait4``) to the result."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec), "--child-out", f.name],
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = Path(f.name).read_text()
    rss = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    if proc.returncode != 0 or not text:
        return {"error": f"exit code {proc.returncode}", "peak_rss_mib": round(rss, 1)}
    return {**json.loads(text), "peak_rss_mib": round(rss, 1)}


def _side(name: str, backend: str, what: str, spec: dict[str, Any]) -> dict[str, Any]:
    print(f"{name} {backend} {what} (2 whole epochs) ...", flush=True)
    r = run_child(spec, backend)
    print(f"  {r.get('images_per_s')} images/s over {r.get('images')} images (epoch without validation: "
          f"{r.get('images_per_s_epoch')}), peak RSS {r['peak_rss_mib']:.0f} MiB, load {r.get('loadavg')} "
          f"{r.get('error', '')}", flush=True)
    return r


def main(argv: list[str] | None = None) -> int:
    """Run the training benchmark; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding chest_xray/ and kaggle_3m/")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated Keras backends")
    p.add_argument("--tf-loaders", default="tfdata,arrays",
                   help="the runner's loaders measured on TensorFlow (tf.data and the decoded-array path)")
    p.add_argument("--records", type=int, default=None,
                   help="train on about this many real images (whole patients) instead of the whole split")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        result = child(json.loads(args.child))
        Path(args.child_out).write_text(json.dumps(result))
        return 0
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load {load_now()}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
            case = CASES[name]
            data = args.data / case["data"]
            if not data.is_dir():
                print(f"{name}: {data} not found, skipped")
                continue
            import medzoo

            root = subset_root(medzoo.get_entry(case["entry"]), data, args.records, Path(tmp) / name)
            for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
                loaders = [x.strip() for x in args.tf_loaders.split(",")] if backend == "tensorflow" else ["arrays"]
                spec = {"entry": case["entry"], "root": str(root), "overrides": case["overrides"]}
                ceiling = _side(name, backend, "ceiling", {**spec, "side": "ceiling"})
                for loader in loaders:
                    runner = _side(name, backend, f"runner ({loader})", {**spec, "side": "runner", "loader": loader})
                    results[f"{name}-{backend}-{loader}"] = {
                        "entry": case["entry"], "overrides": case["overrides"], "backend": backend, "loader": loader,
                        "records": args.records or "all", "runner": runner, "ceiling": ceiling,
                        "ratio": ratio(runner.get("images_per_s"), ceiling.get("images_per_s")),
                        "ratio_epoch": ratio(runner.get("images_per_s_epoch"), ceiling.get("images_per_s_epoch"))}
    print("\nrunner / ceiling (training steps of epoch 2; target >= 0.9):")
    for name, res in results.items():
        print(f"  {name:18s} {res['ratio']}  (whole epoch without validation: {res['ratio_epoch']})")
    write_result("training", {"machine": info, "val_fraction": VAL_FRACTION, "records": args.records or "all",
                              "cases": results}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
