"""GPU throughput: each model's own step rate, and the rate of the whole training loop on real data.

Runs on a GPU machine with JAX and no TensorFlow (``KERAS_BACKEND=jax``; TensorFlow is never imported). For
each model (``cnn1``: cnn1-chest-xray, 256×256×1; ``unet``: unet-lgg, whole 256×256×3 slices):

* **step**: the entry's model compiled exactly as the runner compiles it (the recipe's optimizer, the task's
  loss and metrics, jit, and the precision that :func:`medzoo.distribution.place` picks for this machine,
  set with :func:`~medzoo.distribution.activate`), then ``model.fit`` on preloaded random uint8 arrays of the
  real shape: a warm-up epoch (compilation), then a timed epoch. No input pipeline, no augmentation, no
  callbacks of the runner: the model's own images/s, the ceiling of the loop;
* **loop**: ``medzoo.train(entry, data, ...)`` on the real data staged next to it (the X-ray train set; the
  LGG patients that were staged), so decoding once into arrays, ``ArrayBatches`` (thread workers), the
  augmentation jitted on the device, class weights and the runner's callbacks are all in it. A Keras
  callback passed in ``callbacks=`` times the training part of every epoch after the first (from the epoch's
  start to the end of its last step, the device drained by reading that step's loss back; validation and
  the epoch-end checkpoints are left out);
* **ratio**: loop / step images/s.

Targets (one H100, ``mixed_bfloat16``, 256² inputs): cnn1 >= 7,000 img/s, unet >= 850 img/s, loop/step >= 0.8.

Run on the GPU machine (see ``docs/how-to/gpu.md``; ``bench/stage_gpu.py`` prepares what to carry)::

    KERAS_BACKEND=jax python bench/gpu.py --xray .gpu/chest_xray --lgg .gpu/kaggle_3m --out $OUT

and, as a CPU rehearsal of the same code on a few hundred images (writes under the temporary folder unless
``--out`` is given)::

    KERAS_BACKEND=jax python bench/gpu.py --quick --xray ../shared/data/chest_xray --lgg ../shared/data/kaggle_3m

Writes ``bench/results/gpu.json`` (``--out DIR``: ``DIR/gpu.json``). A run on a machine without an
accelerator, or with ``--quick``, never writes into ``bench/results`` unless ``--out`` names it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, load_now, machine, ratio, write_result

#: What a bare JAX machine must also have for this script (import name: distribution to stage as a wheel).
NEEDED = {"keras": "keras", "namex": "namex", "optree": "optree", "medzoo": "medzoo (pip install -e .)",
          "pluggy": "pluggy", "attrs": "attrs", "platformdirs": "platformdirs", "numpy": "numpy",
          "matplotlib": "matplotlib", "h5py": "h5py", "PIL": "pillow", "tifffile": "tifffile",
          "skimage": "scikit-image", "rich": "rich", "absl": "absl-py", "ml_dtypes": "ml-dtypes"}

# ``recipe``: what the loop trains with beyond the entry's preset: one pass over the data per epoch, and for the
# U-Net whole 256² slices (its preset trains on lesion-centred 128² patches), as the step rate measures
MODELS: dict[str, dict[str, Any]] = {
    "cnn1": {"entry": "cnn1-chest-xray", "shape": (256, 256, 1), "data": "xray", "target": 7000.0,
             "recipe": {"steps_per_epoch": None}},
    "unet": {"entry": "unet-lgg", "shape": (256, 256, 3), "data": "lgg", "target": 850.0,
             "recipe": {"steps_per_epoch": None, "patch_size": None, "train_pipeline": {}}},
}
RATIO_TARGET = 0.8
TARGET_NOTE = "one H100, mixed_bfloat16, 256x256 inputs"

FULL = {"epochs": 5, "batch_cnn": 128, "batch_unet": 32, "step_steps": 30, "min_steps": 20}
QUICK = {"epochs": 2, "batch_cnn": 8, "batch_unet": 4, "step_steps": 3, "min_steps": 0, "train_steps": 4,
         "xray_images": 240, "lgg_patients": 4}
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def preflight() -> list[str]:
    """The modules this script needs that are not importable here, as the distributions to install."""
    return [dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None]


def epoch_timer() -> Any:
    """A Keras callback that times the training part of each epoch.

    From ``on_epoch_begin`` to the end of the epoch's last training step; at that step it reads the step's
    outputs back to the host, which waits for the device to finish (JAX dispatches asynchronously), so
    validation and the epoch-end callbacks (checkpoints, backups) are not counted. When the number of steps
    is unknown it reads back every step (correct, a little slower).
    """
    import keras
    import numpy as np

    def drain(logs: Any) -> None:
        for value in (logs or {}).values():
            np.asarray(keras.ops.convert_to_numpy(value))
            return

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[dict[str, float]] = []
            self._begin = 0.0
            self._end: float | None = None
            self._steps = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._begin, self._end, self._steps = time.perf_counter(), None, 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self._steps += 1
            total = (self.params or {}).get("steps")
            if total is None or self._steps >= total:
                drain(logs)
                self._end = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            end = self._end if self._end is not None else time.perf_counter()
            self.epochs.append({"steps": self._steps, "seconds": end - self._begin})

    return EpochTimer()


def rate(epochs: list[dict[str, float]], batch: int) -> dict[str, Any]:
    """Images/s over ``epochs`` (``{"steps", "seconds"}`` each) of ``batch`` images a step."""
    images = sum(e["steps"] for e in epochs) * batch
    seconds = sum(e["seconds"] for e in epochs)
    return {"images": images, "seconds": round(seconds, 3),
            "images_per_s": round(images / seconds, 1) if seconds > 0 and images else None}


DROP = frozenset({"figures", "context", "roc", "per_patient", "per_image", "descriptions", "class_names"})


def _small(value: Any, depth: int = 0) -> Any:
    """``value`` with floats rounded, or ``None`` when it is long (a list of more than 4 items), a string or
    nested deeper than 4 levels."""
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list) and len(value) <= 4 and depth < 4:
        items = [_small(v, depth + 1) for v in value]
        return items if all(i is not None for i in items) else None
    if isinstance(value, dict) and depth < 4:
        items = {k: _small(v, depth + 1) for k, v in value.items() if k not in DROP}
        return {k: v for k, v in items.items() if v is not None} or None
    return None


def summarize_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The validation metrics of a run's ``metrics.json``, small: every ``{"value", "ci95"}`` and count, the
    classification operating points (``default`` at threshold 0.5, ``target_recall``) lifted to the top;
    curves, per-patient and per-image lists, figure names and descriptions dropped."""
    flat = {k: v for k, v in metrics.items() if k != "operating_points"}
    flat.update(metrics.get("operating_points") or {})
    out = _small(flat) or {}
    context = metrics.get("context") or {}
    out.update({"records": context.get("records"), "patients": context.get("patients"),
                "epochs_run": context.get("epochs_run")})
    return out


def count_images(kind: str, root: Path) -> int:
    """How many training examples ``root`` holds, from file names alone (no decoding)."""
    if kind == "xray":
        base = root / "train" if (root / "train").is_dir() else root
        return sum(1 for p in base.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    base = root / "kaggle_3m" if (root / "kaggle_3m").is_dir() else root
    return sum(1 for _ in base.glob("*/*_mask.tif"))


def quick_subset(kind: str, src: Path, dst: Path, size: int) -> Path:
    """A small copy of ``src`` in the same layout: every k-th image of each X-ray class folder (``size``
    images in all), or the first ``size`` LGG patient folders in sorted order."""
    if kind == "xray":
        base = src / "train" if (src / "train").is_dir() else src
        classes = sorted(d for d in base.iterdir() if d.is_dir())
        for folder in classes:
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            step = max(1, len(files) // max(1, size // len(classes)))
            (dst / "train" / folder.name).mkdir(parents=True, exist_ok=True)
            for f in files[::step][: size // len(classes)]:
                shutil.copy2(f, dst / "train" / folder.name / f.name)
        return dst
    base = src / "kaggle_3m" if (src / "kaggle_3m").is_dir() else src
    for folder in sorted(d for d in base.iterdir() if d.is_dir() and d.name.startswith("TCGA"))[:size]:
        shutil.copytree(folder, dst / folder.name)
    return dst


def compile_like_runner(entry_name: str, placement: Any) -> tuple[Any, Any]:
    """The entry's model built and compiled as :func:`medzoo.runner.train` does; returns (model, entry)."""
    import medzoo
    from medzoo.runner import compile_model

    entry = medzoo.get_entry(entry_name)
    with placement.scope():
        model = medzoo.create_model(entry.model, **entry.model_kwargs)
        compile_model(model, entry, entry.recipe, jit_compile=placement.jit)
    return model, entry


def step_rate(name: str, batch: int, steps: int, precision: str | None, seed: int = 0) -> dict[str, Any]:
    """The model's own images/s: ``fit`` on random uint8 arrays, a warm-up epoch then a timed epoch."""
    import keras
    import numpy as np

    from medzoo.distribution import activate, place

    spec = MODELS[name]
    placement = place("auto", _precision_arg(precision), None)
    keras.utils.set_random_seed(seed)
    activate(placement)
    model, entry = compile_like_runner(spec["entry"], placement)
    global_batch = batch * placement.replicas
    n = global_batch * steps
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, *spec["shape"]), dtype=np.uint8)
    class_weight = None
    if entry.task == "segmentation":  # masks as float32 in {0, 1}, as the array loader gives them
        y = (rng.random((n, *spec["shape"][:2], 1)) < 0.1).astype(np.float32)
    else:
        y = rng.integers(0, 2, n).astype(np.float32)
        if entry.recipe.class_weights:  # the runner's balanced weights: n / (2 * count of the class)
            counts = np.bincount(y.astype(int), minlength=2)
            class_weight = {k: float(n / (2 * max(1, c))) for k, c in enumerate(counts)}
    timer = epoch_timer()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=global_batch, epochs=2, shuffle=False, class_weight=class_weight,
              callbacks=[timer], verbose=0)
    out = {**rate(timer.epochs[1:], global_batch), "steps": steps,
           "warmup_seconds": round(timer.epochs[0]["seconds"], 3),
           "total_seconds": round(time.perf_counter() - t0, 1), "precision": placement.precision,
           "jit_compile": placement.jit, "devices": placement.devices, "replicas": placement.replicas,
           "batch": global_batch}
    del model
    keras.backend.clear_session()
    return out


def _precision_arg(precision: str | None) -> bool | str | None:
    return None if precision in (None, "auto") else precision


def loop_rate(name: str, data: Path, batch: int, epochs: int, precision: str | None, runs: Path,
              min_steps: int, train_steps: int | None = None) -> dict[str, Any]:
    """Images/s of the training loop: ``medzoo.train`` on the real data, epochs 2.. timed by a callback."""
    import keras

    import medzoo

    spec = MODELS[name]
    entry = medzoo.get_entry(spec["entry"])
    overrides: dict[str, Any] = dict(spec.get("recipe", {}))
    steps = train_steps
    if steps is None and min_steps:
        natural = int(count_images(spec["data"], data) * (1 - entry.recipe.val_fraction)) // batch
        if natural < min_steps:  # a few staged patients: repeat them so that an epoch is long enough to time
            steps = min_steps
    if steps is not None:
        overrides["steps_per_epoch"] = steps
    timer = epoch_timer()
    out_dir = runs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    t0 = time.perf_counter()
    run = medzoo.train(spec["entry"], data=data, out=out_dir, epochs=epochs, batch_size=batch, verbose=0,
                       evaluate=True, mixed_precision=_precision_arg(precision), callbacks=[timer], **overrides)
    seconds = time.perf_counter() - t0
    config = json.loads((run.dir / "config.json").read_text())
    global_batch = batch * int(config.get("replicas") or 1)
    metrics_path = run.dir / "metrics.json"
    metrics = summarize_metrics(json.loads(metrics_path.read_text())) if metrics_path.exists() else None
    timed = timer.epochs[1:]
    out = {**rate(timed, global_batch), "epochs": len(timer.epochs), "epochs_timed": len(timed),
           "steps_per_epoch": timer.epochs[0]["steps"] if timer.epochs else None,
           "per_epoch_images_per_s": [round(e["steps"] * global_batch / e["seconds"], 1) for e in timed
                                      if e["seconds"] > 0],
           "first_epoch_seconds": round(timer.epochs[0]["seconds"], 2) if timer.epochs else None,
           "train_call_seconds": round(seconds, 1), "batch": global_batch, "precision": config.get("precision"),
           "devices": config.get("devices"), "replicas": config.get("replicas"),
           "jit_compile": config.get("jit_compile"), "loader": config.get("loader"),
           "split_sizes": config.get("split_sizes"), "steps_per_epoch_override": steps,
           "data": str(data), "metrics": metrics}
    del run
    keras.backend.clear_session()
    return out


def device_info() -> dict[str, Any]:
    """Backend, library versions and the accelerator's kind (JAX's ``device_kind``)."""
    import importlib.metadata as md

    import keras

    info: dict[str, Any] = {"backend": keras.backend.backend(), "keras": keras.__version__}
    for name in ("jax", "jaxlib", "numpy"):
        try:
            info[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    if info["backend"] == "jax":
        import jax

        devices = jax.devices()
        info["device_kind"] = devices[0].device_kind
        info["device_platform"] = devices[0].platform
        info["device_count"] = len(devices)
        info["compute_capability"] = getattr(devices[0], "compute_capability", None)
    info["tensorflow_imported"] = "tensorflow" in sys.modules
    return info


def verdict(value: float | None, target: float) -> str:
    """``value`` next to its target: ``1234.5 (target >= 1000: met)``."""
    if value is None:
        return f"- (target >= {target:g})"
    return f"{value:g} (target >= {target:g}: {'met' if value >= target else 'NOT met'})"


def run_model(name: str, data: Path | None, args: argparse.Namespace, settings: dict[str, Any],
              runs: Path) -> dict[str, Any]:
    """Step rate and loop rate of one model; an error in either is recorded, not raised."""
    spec = MODELS[name]
    batch = args.batch_cnn if name == "cnn1" else args.batch_unet
    res: dict[str, Any] = {"entry": spec["entry"], "input": list(spec["shape"]), "batch": batch,
                           "target_images_per_s": spec["target"]}
    t0 = time.perf_counter()
    print(f"{name}: step rate ({settings['step_steps']} steps of {batch}, after a warm-up epoch) ...", flush=True)
    try:
        res["step"] = step_rate(name, batch, settings["step_steps"], args.precision)
        print(f"  step {verdict(res['step']['images_per_s'], spec['target'])} img/s "
              f"[{res['step']['precision']}, {', '.join(res['step']['devices'])}]", flush=True)
    except Exception as exc:  # keep the other numbers of a scarce GPU run
        res["step"] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        print(f"  step failed: {res['step']['error']}", flush=True)
    if data is None or not data.is_dir():
        res["loop"] = {"error": f"no data at {data}"}
        print(f"  loop skipped: no data at {data}", flush=True)
    else:
        print(f"  loop: medzoo.train on {data}, {args.epochs} epochs of batch {batch} ...", flush=True)
        try:
            res["loop"] = loop_rate(name, data, batch, args.epochs, args.precision, runs, settings["min_steps"],
                                    settings.get("train_steps"))
            print(f"  loop {verdict(res['loop']['images_per_s'], spec['target'])} img/s over "
                  f"{res['loop']['epochs_timed']} epochs of {res['loop']['steps_per_epoch']} steps "
                  f"({res['loop']['train_call_seconds']} s in all)", flush=True)
        except Exception as exc:
            res["loop"] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
            print(f"  loop failed: {res['loop']['error']}", flush=True)
    metrics = res["loop"].pop("metrics", None)
    step_ips, loop_ips = res["step"].get("images_per_s"), res["loop"].get("images_per_s")
    res.update({"precision": res["loop"].get("precision") or res["step"].get("precision"),
                "devices": res["loop"].get("devices") or res["step"].get("devices"),
                "step_images_per_s": step_ips, "loop_images_per_s": loop_ips, "ratio": ratio(loop_ips, step_ips),
                "epochs": res["loop"].get("epochs"), "seconds": round(time.perf_counter() - t0, 1),
                "metrics": metrics, "loadavg": load_now()})
    res["meets"] = {"step": step_ips is not None and step_ips >= spec["target"],
                    "loop": loop_ips is not None and loop_ips >= spec["target"],
                    "ratio": res["ratio"] is not None and res["ratio"] >= RATIO_TARGET}
    print(f"  loop/step {verdict(res['ratio'], RATIO_TARGET)}", flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    """Run the GPU benchmark; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xray", type=Path, default=DEFAULT_DATA / "chest_xray", help="chest X-ray root (train/...)")
    p.add_argument("--lgg", type=Path, default=DEFAULT_DATA / "kaggle_3m", help="LGG root (patient folders)")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs per model (default {FULL['epochs']}; "
                   f"the first is not timed)")
    p.add_argument("--batch-cnn", type=int, default=None, help=f"cnn1 batch per device (default {FULL['batch_cnn']})")
    p.add_argument("--batch-unet", type=int, default=None,
                   help=f"unet batch per device (default {FULL['batch_unet']})")
    p.add_argument("--step-steps", type=int, default=None,
                   help=f"steps of the step-rate epochs (default {FULL['step_steps']})")
    p.add_argument("--min-steps", type=int, default=None,
                   help=f"repeat small staged data to at least this many steps per epoch (default {FULL['min_steps']})")
    p.add_argument("--precision", default="auto",
                   choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"], help="dtype policy (auto: place())")
    p.add_argument("--quick", action="store_true",
                   help="CPU rehearsal: a few hundred images, 2 epochs of a few steps, small batches")
    p.add_argument("--runs", type=Path, default=None, help="keep the training runs here (default: a temporary "
                   "folder, removed)")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results on a GPU)")
    args = p.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")  # before anything imports Keras
    settings = {**FULL, **(QUICK if args.quick else {})}
    for key in ("epochs", "batch_cnn", "batch_unet", "step_steps", "min_steps"):
        if getattr(args, key) is None:
            setattr(args, key, settings[key])
        settings[key] = getattr(args, key)
    missing = preflight()
    if missing:
        print(f"missing here: {', '.join(missing)}; stage them as wheels (bench/stage_gpu.py --extra-wheel "
              f"NAME==VERSION) and install them first", file=sys.stderr)
        return 2
    info = {**machine(), **device_info()}
    print(f"machine: {info['backend']} on {info.get('device_kind')} x{info.get('device_count')}, keras "
          f"{info['keras']}, jax {info.get('jax')}, {info['nproc']} cores, load {load_now()}", flush=True)
    accelerator = info.get("device_platform") in ("gpu", "cuda", "rocm", "tpu")
    out_dir = args.out
    if out_dir is None and (args.quick or not accelerator):
        out_dir = Path(tempfile.gettempdir()) / "medzoo-gpu"
        print(f"no accelerator or --quick: results go to {out_dir}, not bench/results", flush=True)
    work = Path(tempfile.mkdtemp(prefix="medzoo-gpu-"))
    runs = args.runs or work / "runs"
    results: dict[str, Any] = {}
    try:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            if name not in MODELS:
                p.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
            data: Path | None = args.xray if MODELS[name]["data"] == "xray" else args.lgg
            if args.quick and data is not None and data.is_dir():
                size = QUICK["xray_images"] if MODELS[name]["data"] == "xray" else QUICK["lgg_patients"]
                data = quick_subset(MODELS[name]["data"], data, work / f"data-{name}", size)
            results[name] = run_model(name, data, args, settings, runs)
    finally:
        if args.runs is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'model':6s} {'batch':>5s} {'precision':>15s} {'step img/s':>11s} {'loop img/s':>11s} {'loop/step':>9s}"
          f"  targets ({TARGET_NOTE})")
    for name, res in results.items():
        print(f"{name:6s} {res['batch']:5d} {str(res['precision']):>15s} {str(res['step_images_per_s']):>11s} "
              f"{str(res['loop_images_per_s']):>11s} {str(res['ratio']):>9s}  >= {res['target_images_per_s']:g} "
              f"img/s, >= {RATIO_TARGET} ({', '.join(k for k, v in res['meets'].items() if v) or 'none'} met)")
    payload = {"machine": info, "quick": args.quick, "settings": settings,
               "targets": {"cnn1": MODELS["cnn1"]["target"], "unet": MODELS["unet"]["target"],
                           "ratio": RATIO_TARGET, "note": TARGET_NOTE},
               "models": results}
    write_result("gpu", payload, out_dir)
    failed = [n for n, r in results.items() if "error" in r["step"] or "error" in r["loop"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
