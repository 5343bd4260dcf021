"""Resume after a real kill: ``kill -9`` a training mid-epoch, resume it, and check nothing is lost or repeated."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs
import pytest

import medzoo

HELPER = Path(__file__).with_name("helpers") / "train_entry.py"
SMALL = {"base_filters": 4, "depth": 1}
EPOCHS, STEPS = 4, 10
ARGS = {"epochs": EPOCHS, "steps_per_epoch": STEPS, "batch_size": 4, "augment": {}, "seed": 2}


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit()]


def _backup_iterations(path: Path) -> int:
    """The optimizer's iteration count stored in a Keras weights file."""
    import h5py

    with h5py.File(path, "r") as f:
        return int(f["optimizer/vars/0"][()])  # Keras optimizers store ``iterations`` first


@pytest.mark.slow
def test_resume_after_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from medzoo.runner import train
    from medzoo_lgg_mri.synthetic import write_synthetic

    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    root = write_synthetic(tmp_path / "lgg", patients=4, slices=6, size=32)
    run_dir = tmp_path / "run"
    # each batch sleeps 0.2 s, so an epoch lasts >= 2 s and the kill lands inside one
    job = {"data": str(root), "out": str(run_dir), "model_kwargs": SMALL, "sleep": 0.2, **ARGS}
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen([sys.executable, str(HELPER), json.dumps(job)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "MEDZOO_HOME": str(tmp_path / "home")})
    try:
        deadline = time.monotonic() + 1200  # a guard against a hang, not a timing
        meta_path = run_dir / "backup" / "training_metadata.json"
        while not (_rows(run_dir / "history.csv") and meta_path.exists()):  # >= 1 epoch completed and backed up
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.05)
        time.sleep(0.5)  # into the next epoch
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()

    meta = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    done = meta["epoch"]  # completed epochs
    assert 1 <= done < EPOCHS, "the kill should land mid-training"
    assert _backup_iterations(run_dir / "backup" / "latest.weights.h5") == done * STEPS
    finished = [r for r in _rows(run_dir / "history.csv") if int(r["epoch"]) < done]
    assert [int(r["epoch"]) for r in finished] == list(range(done))

    restored: dict[str, Any] = {}
    original = keras.callbacks.BackupAndRestore.on_train_begin

    def spy(self: Any, logs: Any = None) -> None:
        original(self, logs)
        restored["iterations"] = int(self.model.optimizer.iterations.numpy())
        restored["initial_epoch"] = self.model._initial_epoch

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_train_begin", spy)
    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)
    run = train(entry, data=root, out=run_dir, resume=True, strategy="default", evaluate=False, verbose=0, **ARGS)

    assert restored == {"iterations": done * STEPS, "initial_epoch": done}
    rows = _rows(run_dir / "history.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))  # no duplicate, no gap
    assert rows[:done] == finished  # the finished epochs are kept as they were
    assert run.history["epoch"] == list(range(EPOCHS))
    assert _backup_iterations(run_dir / "backup" / "latest.weights.h5") == EPOCHS * STEPS
    assert json.loads((run_dir / "backup" / "training_metadata.json").read_text())["epoch"] == EPOCHS
    assert f"after {done} completed epochs" in (run_dir / "train.log").read_text()
    for name in ("best.weights.h5", "last.weights.h5", "config.json"):
        assert (run_dir / name).is_file()
