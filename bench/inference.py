"""Inference speed: ``medzoo.load`` time, one-image latency and batch-32 throughput, per model.

Two groups, never mixed:

* trained: every zoo entry that ships weights (``medzoo.list_entries(trained=True)``), loaded with
  ``medzoo.load(name)`` (sha256-verified weights);
* untrained architectures: every architecture built with ``medzoo.load(name, weights=None)`` (the transfer
  models, whose ImageNet backbone file is not shipped, with ``backbone_weights=None``). Same speed as a
  trained model of the same architecture; the numbers say nothing about quality.

Inputs are raw pixels (float32 in [0, 255]) of the model's input shape (256 for an open side). Latency is
the median of ``model.predict_on_batch`` on one image (and of ``model.predict``, which adds Keras' per-call
data-adapter overhead); throughput is 32 / median time of ``predict_on_batch`` on 32 images. Each model is
called once untimed first (tracing).

Run::

    python bench/inference.py

Writes ``bench/results/inference.json``.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import sys
import time
from pathlib import Path
from typing import Any

from _common import load_now, machine, median_time, peak_rss_mib, write_result


def input_batch(model: Any, n: int, open_side: int = 256, seed: int = 0) -> Any:
    """``n`` random raw-pixel images of ``model``'s input shape (``open_side`` for unknown height/width; RGB,
    as the published files are, where the model takes any channel count)."""
    import numpy as np

    shape = [(open_side if i < 2 else 3) if d is None else int(d) for i, d in enumerate(model.input_shape[1:])]
    return np.random.default_rng(seed).uniform(0, 255, size=(n, *shape)).astype("float32")


def build(name: str, trained: bool) -> tuple[Any, str]:
    """The model and how it was built (a label for the table)."""
    import medzoo
    from medzoo import MedzooError

    if trained:
        return medzoo.load(name), "medzoo.load(name)"
    try:
        return medzoo.load(name, weights=None), "medzoo.load(name, weights=None)"
    except MedzooError:  # a transfer model without its (unshipped) ImageNet backbone file
        return medzoo.create_model(name, backbone_weights=None), "medzoo.create_model(name, backbone_weights=None)"


def measure(name: str, trained: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Load ``name`` and time it; an error is recorded, not raised."""
    import keras

    t0 = time.perf_counter()
    try:
        model, how = build(name, trained)
    except Exception as exc:  # noqa: BLE001 - one broken model must not stop the table
        return {"name": name, "trained": trained, "error": f"{type(exc).__name__}: {exc}"}
    load_s = time.perf_counter() - t0
    x1, x32 = input_batch(model, 1), input_batch(model, 32)
    model.predict_on_batch(x1)
    model.predict_on_batch(x32)
    model.predict(x1, verbose=0)
    one = median_time(lambda: model.predict_on_batch(x1), args.reps, args.budget)
    one_predict = median_time(lambda: model.predict(x1, verbose=0), args.reps, args.budget)
    batch = median_time(lambda: model.predict_on_batch(x32), args.reps, args.budget, min_calls=2)
    out = {"name": name, "trained": trained, "built_with": how, "input_shape": list(x1.shape[1:]),
           "params": int(model.count_params()), "load_seconds": round(load_s, 2),
           "latency_ms": one["median_ms"], "latency_predict_ms": one_predict["median_ms"],
           "batch32_ms": batch["median_ms"], "batch32_images_per_s": round(32000 / batch["median_ms"], 1),
           "calls": {"one": one["calls"], "predict": one_predict["calls"], "batch32": batch["calls"]},
           "peak_rss_mib_so_far": peak_rss_mib(), "loadavg": load_now()}
    keras.backend.clear_session()
    gc.collect()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the inference benchmark; see the module docstring."""
    import medzoo

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="*", help="comma-separated wildcards on entry / architecture names")
    p.add_argument("--no-untrained", action="store_true", help="skip the untrained architectures")
    p.add_argument("--reps", type=int, default=20, help="most timed calls per measurement")
    p.add_argument("--budget", type=float, default=8.0, help="seconds per measurement before stopping early")
    p.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load {load_now()}", flush=True)
    patterns = [s.strip() for s in args.models.split(",") if s.strip()]
    wanted = lambda n: any(fnmatch.fnmatch(n, pat) for pat in patterns)  # noqa: E731
    trained = [n for n in medzoo.list_entries(trained=True) if wanted(n)]
    untrained = [] if args.no_untrained else [n for n in medzoo.list_models() if wanted(n)]
    if not trained:
        print("no zoo entry ships trained weights yet: only untrained architectures are timed")
    rows = []
    for group, names in (("trained", trained), ("untrained", untrained)):
        for name in names:
            print(f"{group:9s} {name:28s}", end=" ", flush=True)
            r = measure(name, group == "trained", args)
            rows.append(r)
            if "error" in r:
                print(f"error: {r['error']}")
            else:
                print(f"load {r['load_seconds']:6.2f}s  1 image {r['latency_ms']:8.1f} ms "
                      f"(predict {r['latency_predict_ms']:.1f} ms)  batch 32 {r['batch32_images_per_s']:7.1f} "
                      f"images/s  load avg {r['loadavg'][0]:.1f}", flush=True)
    write_result("inference", {"machine": info, "trained_entries": trained, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
