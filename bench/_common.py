"""What the benchmark scripts share: the machine description, load sampling, timing and the results files.

Every script prints its numbers and writes them to ``bench/results/<script>.json`` with :func:`write_result`;
``bench/render.py`` turns those files into ``docs/bench.md``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DEFAULT_DATA = REPO / ".." / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float | None:
    """Total memory in GiB from ``/proc/meminfo``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def versions() -> dict[str, str]:
    """Versions of the libraries whose speed is measured."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("medzoo", "keras", "tensorflow", "keras-cv", "numpy", "scikit-image", "tifffile"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def gpus() -> list[str]:
    """The visible GPUs: TensorFlow's list if it is already imported, else the NVIDIA device files."""
    if "tensorflow" in sys.modules:
        return [d.name for d in sys.modules["tensorflow"].config.list_physical_devices("GPU")]
    return sorted(p.name for p in Path("/dev").glob("nvidia[0-9]*"))


def machine() -> dict[str, Any]:
    """Where the numbers were measured: cores, CPU, memory, GPUs, versions and the load right now."""
    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "mem_gib": mem_total_gib(), "gpus": gpus(),
            "platform": platform.platform(), "versions": versions(), "loadavg_start": list(os.getloadavg())}


def load_now() -> list[float]:
    """The 1, 5 and 15 minute load averages (``os.getloadavg()``)."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far, all threads together."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)


def throughput(batches: Any, warmup: int, measure: int, count: Callable[[Any], int]) -> dict[str, float]:
    """Pull ``warmup`` batches untimed, then time ``measure`` more; images/s by wall clock and CPU ms per image.

    ``count(batch)`` says how many images a batch holds. The load average is sampled at the end of the timing,
    so each line says how busy the machine was while it was measured.
    """
    it = iter(batches)
    t0 = time.perf_counter()
    for _ in range(warmup):
        next(it)
    first = time.perf_counter() - t0
    n = 0
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(measure):
        n += count(next(it))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"images": n, "seconds": round(wall, 3), "images_per_s": round(n / wall, 1),
            "cpu_ms_per_image": round(1000 * cpu / n, 2), "warmup_seconds": round(first, 2),
            "warmup_batches": warmup, "loadavg": load_now()}


def median_time(fn: Callable[[], Any], reps: int, budget_s: float | None = None,
                min_calls: int = 3) -> dict[str, float]:
    """Call ``fn`` up to ``reps`` times (stopping after ``budget_s`` seconds, but at least ``min_calls`` times).

    Returns the median and minimum wall time in milliseconds and how many calls were timed.
    """
    times: list[float] = []
    start = time.perf_counter()
    for i in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if budget_s is not None and i + 1 >= min_calls and time.perf_counter() - start > budget_s:
            break
    return {"median_ms": round(1000 * statistics.median(times), 2), "min_ms": round(1000 * min(times), 2),
            "calls": len(times)}


def write_result(script: str, payload: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write ``payload`` (plus the machine and the end load) to ``<out_dir>/<script>.json``; returns the path."""
    out_dir = RESULTS if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"script": f"bench/{script}.py", "command": " ".join(["python", f"bench/{script}.py", *sys.argv[1:]]),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **payload, "loadavg_end": load_now()}
    path = out_dir / f"{script}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` rounded to 2 places, or ``None`` if either is missing or ``b`` is 0."""
    if a is None or b in (None, 0):
        return None
    return round(a / b, 2)
