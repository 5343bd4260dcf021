"""Tests of the benchmark helpers and the renderer (no timing is asserted)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest


def test_render_uses_the_numbers_of_the_results_files(tmp_path: Path) -> None:
    import render

    results = tmp_path / "results"
    results.mkdir()
    machine = {"nproc": 2, "cpu": "Test CPU", "mem_gib": 8.0, "gpus": [], "versions": {"tensorflow": "9.9"},
               "loadavg_start": [1.5, 1.0, 1.0]}
    line = {"images": 64, "seconds": 2.0, "cpu_ms_per_image": 3.25, "loadavg": [1.0, 1.0, 1.0]}
    pipeline = {"command": "python bench/pipeline.py", "date": "today", "machine": machine, "loadavg_end": [2, 2, 2],
                "datasets": {"lgg-mri": {"records": 64, "split_records": 100, "batch_size": 32, "augment": {},
                                         "lines": [{"name": "medzoo cold", "images_per_s": 123.4, **line},
                                                   {"name": "baseline cold", "images_per_s": 41.1, **line}],
                                         "ratios": {"cold": 3.0, "cold_cpu": 1.0}}}}
    (results / "pipeline.json").write_text(json.dumps(pipeline))
    (results / "quality.json").write_text(json.dumps({"machine": machine, "split": "val", "rows": []}))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Bench\n\nintro\n\n{render.BEGIN}\nold numbers 999\n{render.END}\n\ntail\n")
    docs = tmp_path / "bench.md"
    assert render.main(["--results", str(results), "--docs", str(docs), "--readme", str(readme)]) == 0
    page = docs.read_text()
    assert "123.4" in page and "41.1" in page and "3.0×" in page and "Test CPU" in page
    assert "nothing to evaluate" in page
    text = readme.read_text()
    assert "old numbers 999" not in text and "123.4" in text and text.endswith("tail\n")
    assert "\n### Input pipeline" in text and "\n#### lgg-mri" in text  # one level down in the README


def test_render_profile_section_reads_the_profile_keys() -> None:
    import render

    line = {"images": 32, "cpu_ms_per_image": 5.5, "first_batch_seconds": 1.0}
    res = {"command": "python bench/profile_lgg_augment.py", "date": "today", "records": 32,
           "micro": {"chain_all": 11.25, "chain_hflip": 0.75, "shipped_all": 2.5, "chain_over_shipped": 4.5,
                     "mask_alignment_iou": 0.98, "mask_binary": True},
           "pipelines": [{"variant": "shipped", "name": "as shipped", "images_per_s": 77.7, **line},
                         {"variant": "chain", "name": "chain", "images_per_s": 33.3, **line}],
           "pipeline_gain_shipped_over_chain": 2.33}
    page = render.profile_section(res)
    assert "| keras-cv chain, all layers | 11.25 |" in page and "| keras-cv chain, hflip only | 0.75 |" in page
    assert "| shipped RandomAffine (one resampling) | 2.5 |" in page and "chain over shipped" not in page
    assert "4.5×" in page and "2.33×" in page and "77.7" in page and "IoU 0.98" in page


def test_render_with_no_results(tmp_path: Path) -> None:
    import render

    docs = tmp_path / "bench.md"
    render.main(["--results", str(tmp_path), "--docs", str(docs), "--readme", str(tmp_path / "absent.md")])
    assert "No benchmark has been run yet" in docs.read_text()


def test_random_affine_without_augmentation_is_the_identity() -> None:
    from pipeline import random_affine
    from skimage.transform import warp

    img = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    none = {"rotation": 0.0, "shear": 0.0, "zoom": 0.0, "shift": 0.0, "hflip": 0.0}
    out = warp(img, random_affine(random.Random(0), 32, none).inverse, order=1, preserve_range=True)
    np.testing.assert_allclose(out, img, atol=1e-4)
    flip = warp(img, random_affine(random.Random(1), 32, {**none, "hflip": 1.0}).inverse, order=0,
                preserve_range=True)
    assert np.allclose(flip, img) or np.allclose(flip, img[:, ::-1])


def test_throughput_counts_only_the_timed_batches() -> None:
    from _common import throughput

    res = throughput(iter([[0] * 3] * 10), warmup=4, measure=5, count=len)
    assert res["images"] == 15 and res["warmup_batches"] == 4 and res["images_per_s"] > 0


def test_quality_with_no_trained_entry_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import quality

    assert quality.main(["--entries", "no-such-entry-*", "--out", str(tmp_path)]) == 0
    assert "no trained entries" in capsys.readouterr().out
    assert json.loads((tmp_path / "quality.json").read_text())["rows"] == []


def test_quality_checks_a_card_against_the_measured_numbers() -> None:
    import quality

    card = {"auc": {"value": 0.99}, "default": {"accuracy": {"value": 0.95, "ci95": [0.9, 0.97]}, "recall": 0.97},
            "notes": "text"}
    values = quality.card_values("classification", card)
    assert values == {"auc": 0.99, "accuracy": 0.95, "recall": 0.97}
    same = {"auc": {"value": 0.9901}, "accuracy": {"value": 0.952}, "recall": 0.968, "precision": 0.5}
    assert quality.reproduced(values, same)["ok"]
    off = {**same, "auc": {"value": 0.98}}
    result = quality.reproduced(values, off)
    assert not result["ok"] and result["metrics"]["auc"] == {"card": 0.99, "measured": 0.98}
    assert not quality.reproduced(values, {"auc": 0.99})["ok"]  # a card number that was not measured
    seg = quality.card_values("segmentation", {"dice_per_volume": {"value": 0.45}, "per_patient_dice": {"a": 1}})
    assert seg == {"dice_per_volume": 0.45}


def test_quality_reads_a_segmentation_evaluated_both_ways() -> None:
    """Evaluated with a 3-D postprocess, the summary keeps the model's own numbers under the card's keys and the
    cleaned per-volume Dice under ``dice_per_volume_largest_component``, as the card states them."""
    import quality

    metrics = {"task": "segmentation", "n_slices": 9, "dice_per_volume": {"value": 0.8}, "dice_global": 0.7,
               "without_postprocess": {"dice_per_volume": {"value": 0.6}, "dice_global": 0.65}}
    measured = quality.summary(metrics)
    assert measured["dice_per_volume"] == {"value": 0.6} and measured["dice_global"] == 0.65
    assert measured["dice_per_volume_largest_component"] == {"value": 0.8}
    card = quality.card_values("segmentation", {"dice_per_volume": 0.6, "dice_per_volume_largest_component": 0.8})
    assert quality.reproduced(card, measured)["ok"]
    assert not quality.reproduced({**card, "dice_per_volume_largest_component": 0.6}, measured)["ok"]
