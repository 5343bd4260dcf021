"""Tests of the GPU benchmark's staging and helpers: byte budgets, whole patients, run.sh (no training, no network)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "tracked.txt").write_text("x" * 5000)
    return repo


def _data(tmp_path: Path) -> tuple[Path, Path]:
    from medzoo_chest_xray.synthetic import write_synthetic as write_xray
    from medzoo_lgg_mri.synthetic import write_synthetic as write_lgg

    xray = write_xray(tmp_path / "chest_xray", patients=6, size=32, test_patients=0)
    lgg = write_lgg(tmp_path / "kaggle_3m", patients=6, slices=4, size=32)
    return xray, lgg


def test_first_fit_takes_whole_items_in_order_and_never_exceeds_the_budget() -> None:
    from stage_gpu import first_fit, plan_parts

    sizes = [("a", 3), ("b", 4), ("c", 2), ("d", 9), ("e", 1)]
    taken, left = first_fit(sizes, 6)
    assert taken == ["a", "c", "e"] and [n for n, _ in left] == ["b", "d"]  # b no longer fits, e still does
    for budget in range(0, 20):
        taken, _ = first_fit(sizes, budget)
        assert sum(dict(sizes)[n] for n in taken) <= budget
    parts, left_out = plan_parts(sizes, 6, 8, all_parts=True)
    assert parts == [["a", "c", "e"], ["b"]] and left_out == ["d"]  # d is bigger than any call
    assert plan_parts(sizes, 6, 8, all_parts=False) == ([["a", "c", "e"]], ["b", "d"])


def test_stage_fits_whole_patients_in_the_budget(tmp_path: Path) -> None:
    from stage_gpu import MIB, RESERVE, file_bytes, patient_sizes, stage, tree_bytes

    repo = _repo(tmp_path)
    xray, lgg = _data(tmp_path)
    sizes = patient_sizes(lgg)
    assert [s for _, s in sizes] == sorted(s for _, s in sizes)  # smallest first
    xray_bytes = file_bytes(xray / "train")
    budget = RESERVE + xray_bytes + sizes[0][1] + sizes[1][1] + sizes[2][1] // 2  # room for 2.5 patients
    limit_mib = (tree_bytes(repo) + budget) / MIB + 1.0  # extra calls carry a bit more than the first
    manifest = stage(xray, lgg, repo, ".gpu", budget=budget, limit_mib=limit_mib, margin_mib=0.0, wheels=False,
                     lgg_parts=True)
    root = repo / ".gpu"
    first = manifest["calls"][-1]
    assert first["command"] == "bash .gpu/run.sh" and ".gpu/lgg-0" in first["carry"]
    assert first["bytes"] == sum(file_bytes(repo / p) for p in first["carry"]) <= budget
    part0 = sorted(p.name for p in (root / "lgg-0").iterdir())
    assert part0 == sorted(n for n, _ in sizes[:2])  # the two smallest patients, whole
    for patient in part0:
        assert sorted(f.name for f in (root / "lgg-0" / patient).iterdir()) == \
            sorted(f.name for f in (lgg / patient).iterdir())
    staged = sorted(p.name for part in root.glob("lgg-*") for p in part.iterdir())
    assert staged == sorted(n for n, _ in sizes) and not manifest["lgg_left_out"]  # every patient, once
    per_call = int(limit_mib * MIB) - tree_bytes(repo)
    for call in manifest["calls"][:-1]:
        assert call["bytes"] <= per_call and call["command"].startswith("du ")
    assert sorted(p.name for p in (root / "chest_xray" / "train").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (xray / "train").rglob("*") if p.is_file())
    assert not any(p.is_symlink() for p in root.rglob("*"))  # hard copies
    exclude = (repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count("/.gpu/") == 1
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert ".gpu" not in status


def test_stage_without_lgg_parts_stops_at_the_budget_and_writes_run_sh(tmp_path: Path) -> None:
    from stage_gpu import MIB, RESERVE, patient_sizes, stage, tree_bytes

    repo = _repo(tmp_path)
    xray, lgg = _data(tmp_path)
    (repo / ".git" / "info" / "exclude").unlink(missing_ok=True)  # created when missing
    sizes = patient_sizes(lgg)
    budget = RESERVE + sizes[0][1] + sizes[1][1] + sizes[2][1] - 1  # the default: the limit less the tree
    limit_mib = (tree_bytes(repo) + budget) / MIB
    manifest = stage(None, lgg, repo, ".gpu", limit_mib=limit_mib, margin_mib=0.0, wheels=False)
    assert manifest["budget_bytes"] == int(limit_mib * MIB) - tree_bytes(repo)
    assert manifest["calls"][-1]["bytes"] <= manifest["budget_bytes"]
    assert len(manifest["lgg_parts"]) == 1 and manifest["lgg_parts"][0]["patients"] == [n for n, _ in sizes[:2]]
    assert manifest["lgg_left_out"] == [n for n, _ in sizes[2:]]
    assert "/.gpu/" in (repo / ".git" / "info" / "exclude").read_text()
    run_sh = (repo / ".gpu" / "run.sh").read_text()
    assert "pip install -q --no-index --no-deps" in run_sh and "-e plugins/medzoo-lgg-mri" in run_sh
    assert "KERAS_BACKEND=jax" in run_sh and "bench/gpu.py --xray .gpu/chest_xray --lgg .gpu/kaggle_3m" in run_sh
    assert "tensorflow" not in run_sh.replace("TensorFlow is never pulled in", "")
    with pytest.raises(SystemExit, match="over the budget"):  # the X-ray set alone is over a tiny budget
        stage(xray, None, repo, ".gpu", budget=20_000, limit_mib=limit_mib, margin_mib=0.0, wheels=False)


def test_gpu_helpers(tmp_path: Path) -> None:
    import gpu

    xray, lgg = _data(tmp_path)
    assert gpu.count_images("lgg", lgg) == 24
    assert gpu.count_images("xray", xray) == sum(1 for p in (xray / "train").rglob("*.jpeg"))
    small = gpu.quick_subset("lgg", lgg, tmp_path / "lgg-small", 2)
    assert len([d for d in small.iterdir() if d.is_dir()]) == 2
    sub = gpu.quick_subset("xray", xray, tmp_path / "xray-small", 4)
    assert {p.parent.name for p in sub.rglob("*.jpeg")} == {"NORMAL", "PNEUMONIA"}
    assert gpu.rate([{"steps": 4, "seconds": 2.0}, {"steps": 6, "seconds": 3.0}], 8) == \
        {"images": 80, "seconds": 5.0, "images_per_s": 16.0}
    assert gpu.rate([], 8)["images_per_s"] is None
    metrics = {"task": "classification", "n": 36, "auc": {"value": 0.912345, "ci95": [0.8, 0.95]},
               "roc": {"fpr": list(range(50)), "tpr": list(range(50))}, "figures": ["roc.png"],
               "operating_points": {"default": {"threshold": 0.5, "recall": {"value": 0.9, "ci95": [0.8, 1.0]},
                                                "confusion_matrix": [[1, 2], [3, 4]]}},
               "per_image": [0.1] * 40, "context": {"records": 36, "patients": 30, "epochs_run": 3}}
    summary = gpu.summarize_metrics(metrics)
    assert summary["auc"] == {"value": 0.9123, "ci95": [0.8, 0.95]}
    assert summary["default"]["recall"]["value"] == 0.9 and summary["default"]["confusion_matrix"] == [[1, 2], [3, 4]]
    assert "roc" not in summary and "per_image" not in summary and "figures" not in summary
    assert (summary["records"], summary["patients"], summary["epochs_run"]) == (36, 30, 3)
    assert "met" in gpu.verdict(900.0, 850.0) and "NOT met" in gpu.verdict(10.0, 850.0)
