"""Training throughput: medzoo's runner versus a plain ``model.fit`` on in-memory numpy arrays (the ceiling).

For each case, two fresh subprocesses train the same model with the same compile (optimizer, loss and
metrics of the entry's recipe) for 2 epochs of ``K`` steps:

* runner: ``medzoo.train(entry, data, out=tmp, epochs=2, steps_per_epoch=K, evaluate=False)``, so the real
  pipeline (decode, cache, shuffle, augmentation) and the runner's callbacks (checkpoints, backup, CSV log)
  are in the loop;
* ceiling: ``model.fit(x, y)`` on numpy arrays of decoded real images, no augmentation, no callbacks:
  the speed of the model itself, free of any input-pipeline cost.

The 2nd epoch is timed by a Keras callback: ``train`` = epoch start to the end of its last training step
(the images/s and the ratio), ``epoch`` = the whole epoch including the runner's epoch-end callbacks but
excluding validation (validation is shrunk with ``val_fraction`` anyway, since it is not what is measured).
Each subprocess's peak RSS comes from ``os.wait4``.

Cases: ``cnn1`` (cnn1-chest-xray, 256×256×1, batch 32), ``unet`` (unet-lgg, 256×256×3, batch 16) and
``unet-patch`` (unet-lgg with ``patch_size=128``, batch 16).

Run::

    python bench/training.py --data ../shared/data

Prints images/s, runner/ceiling ratios (target >= 0.95) and peak RSS; writes ``bench/results/training.json``.
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
    "cnn1": {"entry": "cnn1-chest-xray", "data": "chest_xray", "steps": 4, "overrides": {}},
    "unet": {"entry": "unet-lgg", "data": "kaggle_3m", "steps": 3, "overrides": {}},
    "unet-patch": {"entry": "unet-lgg", "data": "kaggle_3m", "steps": 4, "overrides": {"patch_size": 128}},
}
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


def _arrays(entry: Any, data: Path, n: int, patch: int | None, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """``n`` decoded real training examples as numpy (random ``patch``² crops if set); the dataset; train records."""
    import numpy as np

    import medzoo

    ds = medzoo.get_dataset(entry.dataset, data)
    train = ds.splits(val_fraction=VAL_FRACTION, seed=entry.recipe.seed)["train"]
    rng = np.random.default_rng(seed)
    pick = [train[i] for i in rng.choice(len(train), size=min(n, len(train)), replace=False)]
    xs, ys = [], []
    for x, y in ds.pipeline(pick, training=False, batch_size=32, cache=None):
        xs.append(x.numpy())
        ys.append(y.numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    if patch:
        h, w = x.shape[1:3]
        cy, cx = rng.integers(0, h - patch + 1, len(x)), rng.integers(0, w - patch + 1, len(x))
        x = np.stack([a[i:i + patch, j:j + patch] for a, i, j in zip(x, cy, cx, strict=True)])
        y = np.stack([a[i:i + patch, j:j + patch] for a, i, j in zip(y, cy, cx, strict=True)])
    reps = -(-n // len(x))
    return np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n], ds, train


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side of one case in this process; returns the timing of its 2nd epoch."""
    import keras

    import medzoo
    import medzoo.runner as runner
    from medzoo.registry import registry
    from medzoo.specs import resolve

    entry = medzoo.get_entry(spec["entry"])
    recipe = entry.recipe.evolve(**spec["overrides"])
    batch, steps, data = recipe.batch_size, spec["steps"], Path(spec["data"])
    timer = _timer()
    t0 = time.perf_counter()
    if spec["side"] == "runner":
        source = "callback"
        if hasattr(runner, "_EpochLog"):  # put the timer where the runner adds its own epoch logger
            original = runner._EpochLog

            def epoch_log(logger: Any) -> Any:
                inner = original(logger)

                class Both(type(timer)):
                    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                        super().on_epoch_begin(epoch, logs)
                        inner.on_epoch_begin(epoch, logs)

                    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                        inner.on_epoch_end(epoch, logs)
                        super().on_epoch_end(epoch, logs)

                both = Both()
                both.epochs = timer.epochs
                return both

            runner._EpochLog = epoch_log
        else:
            source = "train.log"
        with tempfile.TemporaryDirectory() as tmp:
            medzoo.train(spec["entry"], data, out=Path(tmp) / "run", epochs=2, steps_per_epoch=steps,
                         evaluate=False, verbose=0, val_fraction=VAL_FRACTION, **spec["overrides"])
            log = (Path(tmp) / "run" / "train.log").read_text()
        if source == "callback" and len(timer.epochs) == 2:
            out = timer.summary(batch)
        else:  # the runner changed: fall back to its log ("epoch 2 done in Ns", validation included)
            import re

            secs = [float(s) for s in re.findall(r"epoch \d+ done in ([\d.]+)s", log)]
            out = {"source": "train.log", "steps": steps, "images": steps * batch,
                   "epoch_seconds_with_val": secs[-1] if secs else None,
                   "images_per_s": round(steps * batch / secs[-1], 2) if secs else None}
        out["source"] = source
    else:
        task = registry().get("tasks", entry.task)
        x, y, ds, train = _arrays(entry, data, steps * batch, recipe.patch_size)
        model = medzoo.create_model(entry.model, **entry.model_kwargs)
        keras.utils.set_random_seed(recipe.seed)
        model.compile(optimizer=runner._optimizer(recipe), loss=resolve(task.losses)(recipe.loss),
                      metrics=resolve(task.metrics)(), jit_compile=False)
        cw = ds.class_weights(train) if recipe.class_weights else None
        model.fit(x, y, batch_size=batch, epochs=2, shuffle=True, class_weight=cw, callbacks=[timer], verbose=0)
        out = timer.summary(batch)
        out["source"] = "callback"
    out.update({"batch_size": batch, "input": list(recipe.patch_size and (recipe.patch_size, recipe.patch_size)
                                                   or ()), "total_seconds": round(time.perf_counter() - t0, 1),
                "loadavg": load_now()})
    return out


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter; adds its peak RSS (``os.wait4``) to the result."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec), "--child-out", f.name])
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = Path(f.name).read_text()
    rss = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    if proc.returncode != 0 or not text:
        return {"error": f"exit code {proc.returncode}", "peak_rss_mib": round(rss, 1)}
    return {**json.loads(text), "peak_rss_mib": round(rss, 1)}


def main(argv: list[str] | None = None) -> int:
    """Run the training benchmark; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding chest_xray/ and kaggle_3m/")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default per case)")
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
    for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
        case = CASES[name]
        data = args.data / case["data"]
        if not data.is_dir():
            print(f"{name}: {data} not found, skipped")
            continue
        steps = args.steps or case["steps"]
        res: dict[str, Any] = {"entry": case["entry"], "overrides": case["overrides"], "steps_per_epoch": steps}
        for side in ("runner", "ceiling"):
            print(f"{name} {side} ({steps} steps x 2 epochs) ...", flush=True)
            spec = {"entry": case["entry"], "data": str(data), "steps": steps, "overrides": case["overrides"],
                    "side": side}
            res[side] = r = run_child(spec)
            print(f"  {r.get('images_per_s')} images/s (epoch without validation: {r.get('images_per_s_epoch')}), "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB, load {r.get('loadavg')} {r.get('error', '')}", flush=True)
        res["ratio"] = ratio(res["runner"].get("images_per_s"), res["ceiling"].get("images_per_s"))
        res["ratio_epoch"] = ratio(res["runner"].get("images_per_s_epoch"), res["ceiling"].get("images_per_s_epoch"))
        results[name] = res
    print("\nrunner / ceiling (training steps of epoch 2; target >= 0.95):")
    for name, res in results.items():
        print(f"  {name:10s} {res['ratio']}  (whole epoch without validation: {res['ratio_epoch']})")
    write_result("training", {"machine": info, "val_fraction": VAL_FRACTION, "cases": results}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
