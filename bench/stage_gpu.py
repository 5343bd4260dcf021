"""Stage what ``bench/gpu.py`` needs on a GPU machine that has JAX and no TensorFlow, Keras or internet.

The device tool copies the repository's working tree (tracked and untracked-not-ignored files) plus the
ignored paths a call names in ``carry``, at most 64 MiB in all per call. This script fills an ignored folder
(default ``.gpu/``, added to ``.git/info/exclude``) with:

* ``wheels/``: the Keras wheel and the packages a bare JAX machine lacks (``namex`` and ``optree`` for Keras,
  ``platformdirs`` for medzoo), downloaded with ``pip download --no-deps --only-binary=:all:`` for CPython
  3.12 on manylinux x86-64 (``--no-wheels`` skips the download; ``--extra-wheel NAME==VERSION`` adds one);
* ``chest_xray/train/``: the X-ray training set, copied (real files, not links);
* ``lgg-0/``: as many whole LGG patient folders as still fit, smallest first (ties by name), so that the few
  megabytes left hold as many patients as possible (the patient split needs several: with two, both train and
  none validates) and the same data always gives the same choice; with ``--lgg-parts`` the other patients go,
  first fit in the same order, into ``lgg-1/``, ``lgg-2/``... each small enough for a call of its own, so
  that the whole set reaches a warm machine over several calls;
* ``run.sh``: the command to run there (install the wheels and medzoo without dependencies, join the LGG
  parts into ``.gpu/kaggle_3m``, run ``bench/gpu.py`` with ``KERAS_BACKEND=jax``);
* ``manifest.json``: sizes, the patients of each part and the ``carry`` list of each call.

The byte budget of the first call's staged files is, by default, the tool's 64 MiB less what the working
tree already makes (measured with ``git ls-files``) less a 1 MiB margin; ``--budget-mib`` sets it.

Run::

    python bench/stage_gpu.py --xray ../shared/data/chest_xray --lgg ../shared/data/kaggle_3m [--lgg-parts]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data"
MIB = 2**20
LIMIT_MIB = 64.0  # the device tool's limit on what one call carries, working tree included
MARGIN_MIB = 1.0
RESERVE = 16 * 1024  # bytes kept for run.sh and manifest.json, written last
PYTHON_VERSION = "3.12"  # the GPU machine's Python
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
#: Distributions the GPU machine lacks (it has JAX, numpy, h5py, rich, absl-py, ml-dtypes, packaging, pluggy,
#: attrs, matplotlib, pillow, tifffile and scikit-image): Keras and its namex and optree; platformdirs (medzoo).
WHEELS = ("keras", "namex", "optree", "platformdirs")
FALLBACK_VERSIONS = {"keras": "3.15.1"}
PLUGINS = ("medzoo-cnn", "medzoo-unet", "medzoo-chest-xray", "medzoo-lgg-mri")

RUN_SH = """#!/usr/bin/env bash
# Written by bench/stage_gpu.py on {date}. On the GPU machine, from the repository root: bash {dest}/run.sh
# Installs the staged wheels and medzoo with no dependencies (TensorFlow is never pulled in), joins the LGG
# parts that have arrived ({dest}/lgg-*) into {dest}/kaggle_3m, and runs the benchmark on JAX. Arguments are
# passed on to bench/gpu.py (e.g. --epochs 3); results go to $OUT when it is set, else bench/results.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${{PYTHON:-python3}}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
if compgen -G "{dest}/wheels/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile {dest}/wheels/*.whl
fi
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e . {plugins}
rm -rf {dest}/kaggle_3m && mkdir -p {dest}/kaggle_3m
for d in {dest}/lgg-*/TCGA_*; do
  if [ -d "$d" ]; then cp -al "$d" {dest}/kaggle_3m/; fi
done
echo "LGG patients here: $(ls {dest}/kaggle_3m | wc -l)"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
"$PY" bench/gpu.py --xray {dest}/chest_xray --lgg {dest}/kaggle_3m ${{OUT:+--out "$OUT"}} "$@"
"""


def file_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (links counted as what they point to)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tree_bytes(repo: Path) -> int:
    """Bytes of the working tree that the device tool sends: tracked and untracked-not-ignored files
    (``git ls-files``), plus ``shared/`` where the checkout has one."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout.decode()
    total = 0
    for name in filter(None, out.split("\0")):
        path = repo / name
        if path.is_file() and not name.startswith("shared/"):
            total += path.stat().st_size
    if (repo / "shared").is_dir():
        total += file_bytes(repo / "shared")
    return total


def ensure_excluded(repo: Path, rel: str) -> Path:
    """Add ``/rel/`` to the repository's ``info/exclude`` (created if missing); returns that file."""
    git_dir = subprocess.run(["git", "rev-parse", "--git-common-dir"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.strip()
    exclude = (repo / git_dir).resolve() / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    line = f"/{rel.strip('/')}/"
    lines = exclude.read_text().splitlines() if exclude.exists() else []
    if line not in lines:
        with exclude.open("a") as f:
            f.write(("\n" if lines and not exclude.read_text().endswith("\n") else "") + line + "\n")
    return exclude


def first_fit(sizes: Sequence[tuple[str, int]], budget: int) -> tuple[list[str], list[tuple[str, int]]]:
    """Take items in the given order while they fit in ``budget`` bytes, passing over any that no longer fit;
    returns (names taken, items left)."""
    taken, left, used = [], [], 0
    for name, size in sizes:
        if used + size <= budget:
            taken.append(name)
            used += size
        else:
            left.append((name, size))
    return taken, left


def plan_parts(sizes: Sequence[tuple[str, int]], first_budget: int, part_budget: int,
               all_parts: bool) -> tuple[list[list[str]], list[str]]:
    """Parts of whole patients: part 0 in ``first_budget``, then (``all_parts``) more in ``part_budget`` each.

    Returns (parts, patients left out: too big for any part, or every patient past part 0 without
    ``all_parts``)."""
    part, left = first_fit(sizes, first_budget)
    parts = [part]
    while all_parts and left:
        part, rest = first_fit(left, part_budget)
        if not part:
            break
        parts.append(part)
        left = rest
    return parts, [name for name, _ in left]


def patient_sizes(lgg: Path) -> list[tuple[str, int]]:
    """``(folder name, bytes)`` of each LGG patient folder (``TCGA_*``), smallest first, ties by name."""
    base = lgg / "kaggle_3m" if (lgg / "kaggle_3m").is_dir() else lgg
    found = [(d.name, file_bytes(d)) for d in base.iterdir() if d.is_dir() and d.name.startswith("TCGA")]
    return sorted(found, key=lambda item: (item[1], item[0]))


def wheel_specs(extra: Sequence[str] = ()) -> list[str]:
    """``NAME==VERSION`` of each wheel to stage: the versions installed here (known to work with this
    checkout), else Keras' pinned one or the newest."""
    specs = []
    for name in WHEELS:
        try:
            specs.append(f"{name}=={md.version(name)}")
        except md.PackageNotFoundError:
            specs.append(f"{name}=={FALLBACK_VERSIONS[name]}" if name in FALLBACK_VERSIONS else name)
    return specs + list(extra)


def download_wheels(folder: Path, specs: Sequence[str], python_version: str = PYTHON_VERSION) -> list[Path]:
    """``pip download`` the wheels for the GPU machine (CPython ``python_version``, manylinux x86-64)."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
           python_version, "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)],
           "-d", str(folder), *specs]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return sorted(folder.glob("*.whl"))


def copy_folder(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` as real files (links are followed, never copied as links)."""
    shutil.copytree(src, dst, symlinks=False, copy_function=shutil.copy2)


def stage(xray: Path | None, lgg: Path | None, repo: Path = REPO, dest: str = ".gpu", *,
          budget: int | None = None, limit_mib: float = LIMIT_MIB, margin_mib: float = MARGIN_MIB,
          wheels: bool = True, extra_wheels: Sequence[str] = (), lgg_parts: bool = False,
          python_version: str = PYTHON_VERSION) -> dict[str, Any]:
    """Fill ``repo/dest`` (emptied first) and return its manifest; see the module docstring.

    Args:
        xray: the chest X-ray root (holding ``train/``), or ``None`` to leave it out.
        lgg: the LGG root (patient folders), or ``None``.
        repo: the repository whose working tree travels.
        dest: the staged folder, relative to ``repo``.
        budget: bytes the first call may carry in ``dest`` (default: the limit less the tree and the margin).
        limit_mib: what one call may carry in all.
        margin_mib: kept free under the limit.
        wheels: download the wheels (off: no network needed).
        extra_wheels: more ``NAME==VERSION`` wheels to stage.
        lgg_parts: stage the LGG patients that do not fit beside the rest into extra parts, one call each.
        python_version: the GPU machine's Python, for the wheels.
    """
    repo = Path(repo).resolve()
    root = repo / dest
    exclude = ensure_excluded(repo, dest)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    tree = tree_bytes(repo)
    per_call = int((limit_mib - margin_mib) * MIB) - tree
    first = per_call if budget is None else int(budget)
    if first <= RESERVE:
        raise SystemExit(f"no room: the working tree is {tree / MIB:.1f} MiB of the {limit_mib:g} MiB a call carries")
    if tree + first > limit_mib * MIB:
        print(f"warning: {tree / MIB:.1f} MiB of working tree + a budget of {first / MIB:.1f} MiB is over the "
              f"{limit_mib:g} MiB one call carries", flush=True)
    room = first - RESERVE
    staged: dict[str, int] = {}
    if wheels:
        download_wheels(root / "wheels", wheel_specs(extra_wheels), python_version)
        staged["wheels"] = file_bytes(root / "wheels")
    if xray is not None:
        src = Path(xray) / "train" if (Path(xray) / "train").is_dir() else Path(xray)
        copy_folder(src, root / "chest_xray" / "train")
        staged["chest_xray"] = file_bytes(root / "chest_xray")
    used = sum(staged.values())
    if used > room:
        raise SystemExit(f"the wheels and the X-ray set ({used / MIB:.1f} MiB) are over the budget of "
                         f"{first / MIB:.1f} MiB (working tree {tree / MIB:.1f} MiB)")
    parts: list[list[str]] = [[]]
    left_out: list[str] = []
    sizes: dict[str, int] = {}
    if lgg is not None:
        found = patient_sizes(Path(lgg))
        sizes = dict(found)
        parts, left_out = plan_parts(found, room - used, per_call - RESERVE, lgg_parts)
        base = Path(lgg) / "kaggle_3m" if (Path(lgg) / "kaggle_3m").is_dir() else Path(lgg)
        for i, names in enumerate(parts):
            (root / f"lgg-{i}").mkdir()
            for name in names:
                copy_folder(base / name, root / f"lgg-{i}" / name)
        staged["lgg-0"] = file_bytes(root / "lgg-0")
    run_sh = root / "run.sh"
    plugins = " ".join(f"-e plugins/{p}" for p in PLUGINS)
    run_sh.write_text(RUN_SH.format(date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), dest=dest, plugins=plugins))
    run_sh.chmod(0o755)
    calls = [{"carry": [f"{dest}/lgg-{i}"], "command": f"du -sh {dest}/lgg-{i}",
              "bytes": file_bytes(root / f"lgg-{i}")} for i in range(1, len(parts))]
    final_paths = [f"{dest}/{name}" for name in ("wheels", "chest_xray", "lgg-0") if (root / name).exists()]
    final_paths += [f"{dest}/run.sh", f"{dest}/manifest.json"]
    manifest: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "dest": dest, "exclude": str(exclude),
        "limit_mib": limit_mib, "tree_bytes": tree, "budget_bytes": first, "staged_bytes": staged,
        "wheels": sorted(p.name for p in (root / "wheels").glob("*.whl")),
        "xray_images": sum(1 for p in (root / "chest_xray").rglob("*") if p.is_file()),
        "lgg_selection": "whole patient folders, smallest first (ties by name), first fit",
        "lgg_parts": [{"folder": f"{dest}/lgg-{i}", "patients": names,
                       "slices": sum(1 for n in names for _ in (root / f"lgg-{i}" / n).glob("*_mask.tif")),
                       "bytes": sum(sizes[n] for n in names)} for i, names in enumerate(parts)],
        "lgg_left_out": left_out,
        "calls": [*calls, {"carry": final_paths, "command": f"bash {dest}/run.sh"}],
    }
    first_bytes = 0
    for _ in range(3):  # the manifest holds its own call's size: write until the number stays the same
        (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        first_bytes = sum(file_bytes(repo / p) for p in final_paths)
        if manifest["calls"][-1].get("bytes") == first_bytes:
            break
        manifest["calls"][-1]["bytes"] = first_bytes
    if first_bytes > first:
        raise SystemExit(f"staged {first_bytes} bytes, over the budget of {first} bytes")
    return manifest


def report(manifest: dict[str, Any]) -> str:
    """A short account of what was staged and the calls that carry it."""
    tree, budget = manifest["tree_bytes"], manifest["budget_bytes"]
    final = manifest["calls"][-1]
    lines = [f"working tree {tree / MIB:.1f} MiB; budget for {manifest['dest']}/ in the run's call "
             f"{budget / MIB:.1f} MiB (limit {manifest['limit_mib']:g} MiB a call)"]
    for key, size in manifest["staged_bytes"].items():
        lines.append(f"  {key:12s} {size / MIB:7.2f} MiB")
    lines.append(f"  wheels: {', '.join(manifest['wheels']) or 'none'}; X-ray images: {manifest['xray_images']}")
    for part in manifest["lgg_parts"]:
        lines.append(f"  {part['folder']}: {len(part['patients'])} patients, {part['slices']} slices, "
                     f"{part['bytes'] / MIB:.2f} MiB")
    if manifest["lgg_left_out"]:
        lines.append(f"  LGG patients not staged: {len(manifest['lgg_left_out'])} (--lgg-parts stages them in "
                     f"extra calls)")
    lines.append(f"total carried by the run's call: {final['bytes'] / MIB:.2f} MiB staged + {tree / MIB:.1f} MiB "
                 f"tree = {(final['bytes'] + tree) / MIB:.2f} MiB")
    lines.append("calls, one after the other on the same warm machine (it is given back 30 s after a call):")
    for i, call in enumerate(manifest["calls"], 1):
        lines.append(f"  {i}. carry={json.dumps(call['carry'])} command={call['command']!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Stage the GPU benchmark's files; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--xray", type=Path, default=DEFAULT_DATA / "chest_xray", help="chest X-ray root (train/...)")
    p.add_argument("--lgg", type=Path, default=DEFAULT_DATA / "kaggle_3m", help="LGG root (patient folders)")
    p.add_argument("--no-xray", action="store_true", help="stage no X-ray images")
    p.add_argument("--no-lgg", action="store_true", help="stage no LGG patients")
    p.add_argument("--dest", default=".gpu", help="staged folder, relative to the repository (ignored by git)")
    p.add_argument("--budget-mib", type=float, default=None,
                   help="MiB the run's call may carry in the staged folder (default: the limit less the working "
                        "tree and a 1 MiB margin)")
    p.add_argument("--limit-mib", type=float, default=LIMIT_MIB, help="what one call carries in all")
    p.add_argument("--lgg-parts", action="store_true",
                   help="stage every LGG patient: those that do not fit go into extra parts, one call each")
    p.add_argument("--no-wheels", action="store_true", help="download no wheels (no network)")
    p.add_argument("--extra-wheel", action="append", default=[], help="another NAME==VERSION wheel to stage")
    p.add_argument("--python-version", default=PYTHON_VERSION, help="the GPU machine's Python, for the wheels")
    args = p.parse_args(argv)
    manifest = stage(None if args.no_xray else args.xray, None if args.no_lgg else args.lgg, REPO, args.dest,
                     budget=None if args.budget_mib is None else int(args.budget_mib * MIB),
                     limit_mib=args.limit_mib, wheels=not args.no_wheels, extra_wheels=args.extra_wheel,
                     lgg_parts=args.lgg_parts, python_version=args.python_version)
    print(report(manifest))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    sys.exit(main())
