"""The runner under tf.distribute: MirroredStrategy over two logical CPUs, and MultiWorkerMirroredStrategy
with two worker processes on 127.0.0.1. Each runs in fresh processes (devices are fixed at TF start-up)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HELPER = Path(__file__).with_name("helpers") / "train_entry.py"
# the Dice loss (in [0, 1]), whatever the entry's preset trains with, so that a loss summed over replicas shows
ARGS = {"epochs": 2, "batch_size": 2, "augment": {}, "seed": 1, "loss": "dice",
        "model_kwargs": {"base_filters": 4, "depth": 1}}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lgg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medzoo_lgg_mri.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("lgg"), patients=4, slices=6, size=32)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MEDZOO_HOME": str(tmp_path / "home"), **extra}


def _result(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _check_history(history: dict[str, list[float]]) -> None:
    assert history["epoch"] == [0, 1]
    for k in ("loss", "val_loss", "dice", "val_dice"):
        assert np.all(np.isfinite(history[k])), k
    # the Dice loss lies in [0, 1]: a loss summed over the replicas instead of averaged would not
    assert max(history["loss"] + history["val_loss"]) <= 1.0
    assert 0.0 <= min(history["dice"]) and max(history["dice"]) <= 1.0


def test_mirrored_on_two_cpus(lgg_root: Path, tmp_path: Path) -> None:
    job = {"data": str(lgg_root), "out": str(tmp_path / "run"), "strategy": "mirrored-cpu2", **ARGS}
    proc = subprocess.run([sys.executable, str(HELPER), json.dumps(job)], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = _result(proc.stdout)
    assert result["replicas"] == 2
    _check_history(result["history"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["replicas"] == 2
    for name in ("best.weights.h5", "last.weights.h5", "backup/latest.weights.h5"):
        assert (tmp_path / "run" / name).is_file()


def test_multiworker_two_processes(lgg_root: Path, tmp_path: Path) -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    out = tmp_path / "run"
    job = {"data": str(lgg_root), "out": str(out), "strategy": "multiworker", **ARGS}
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen([sys.executable, str(HELPER), json.dumps(job)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=_env(tmp_path, TF_CONFIG=tf_config)))
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=500)
            outputs.append((p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rc, stdout, stderr in outputs:
        assert rc == 0, stdout[-2000:] + stderr[-4000:]
    chief, worker = (_result(stdout) for _, stdout, _ in outputs)
    # the chief writes the run directory; the other worker keeps its own files beside it
    assert chief["dir"] == str(out) and worker["dir"] == str(out / "worker-1")
    assert chief["replicas"] == worker["replicas"] == 2
    _check_history(chief["history"])
    assert chief["history"].keys() == worker["history"].keys()
    for k in chief["history"]:
        np.testing.assert_allclose(chief["history"][k], worker["history"][k], rtol=1e-5, err_msg=k)
    assert (out / "history.csv").read_text() == (out / "worker-1" / "history.csv").read_text()
    assert (out / "best.weights.h5").is_file() and (out / "config.json").is_file()
