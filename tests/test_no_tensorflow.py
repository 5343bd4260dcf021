"""medzoo on a machine without TensorFlow: a GPU box with JAX, simulated here on the CPU.

Each test runs a fresh Python with ``KERAS_BACKEND=jax`` whose import system refuses ``tensorflow`` and
``keras_cv`` (so any import of them, however indirect, fails loudly), and which checks at the end that neither
was loaded. It trains unet-lgg and cnn1-chest-xray for an epoch on their synthetic data through
``medzoo.train``, evaluates, predicts through ``medzoo.load`` and the CLI, and augments under ``jax.jit``.
A second run trains over two devices with ``keras.distribution.DataParallel``
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")]

PRELUDE = r"""
import importlib.abc, sys
class RefuseTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras_cv", "tensorflow_datasets"):
            raise ImportError(f"{name} is not installed on this machine (refused by the test)")
        return None
sys.meta_path.insert(0, RefuseTensorFlow())
"""

EPILOGUE = r"""
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras_cv"))
assert not loaded, loaded
print("RESULT " + json.dumps(result))
"""

TRAIN = r"""
import json, os
from pathlib import Path
import numpy as np
import keras
import medzoo
from medzoo.cli import main
from medzoo.runner import read_history

assert keras.backend.backend() == "jax"
out = Path(os.environ["OUT"])
result = {}
# unet-lgg through the Python API, cnn1-chest-xray through the command line
medzoo.train("unet-lgg", out=out / "unet-lgg", epochs=1, batch_size=4, verbose=0)
medzoo.evaluate("unet-lgg", weights=out / "unet-lgg" / "best.weights.h5", out=out / "eval-unet-lgg", echo=False)
cnn = str(out / "cnn1-chest-xray")
result["cli"] = [main(["train", "cnn1-chest-xray", "--epochs", "1", "--batch-size", "8", "--out", cnn]),
                 main(["evaluate", "cnn1-chest-xray", "--weights", cnn + "/best.weights.h5", "--out",
                       str(out / "eval-cnn1-chest-xray")])]
for entry in ("unet-lgg", "cnn1-chest-xray"):
    config = json.loads((out / entry / "config.json").read_text())
    history = read_history(out / entry / "history.csv")
    metrics = json.loads((out / entry / "metrics.json").read_text())
    evaluated = json.loads((out / f"eval-{entry}" / "metrics.json").read_text())
    model = medzoo.load(entry, weights=out / entry / "best.weights.h5")
    dataset = medzoo.get_dataset(config["dataset"])
    x = dataset.decode(dataset.records()[0])[0][None]
    probs = np.asarray(model.predict(x, verbose=0))
    result[entry] = {"loss": history["loss"],
                     "backend": config["backend"], "loader": config["loader"],
                     "precision": config["precision"], "devices": config["devices"],
                     "metric_keys": sorted(metrics), "evaluated_keys": sorted(evaluated),
                     "prob_range": [float(probs.min()), float(probs.max())], "figures": sorted(
                         p.name for p in (out / entry / "figures").glob("*.png"))}
image = dataset.records()[0].image
result["cli"].append(main(["predict", "cnn1-chest-xray", image, "--weights", cnn + "/best.weights.h5"]))
"""

AUGMENT = r"""
import json
import jax
import numpy as np
from medzoo.augment import apply_affine, sample_affine

rng = np.random.default_rng(0)
x = rng.integers(0, 256, (4, 24, 20, 3)).astype("uint8")
m = (rng.uniform(size=(4, 24, 20, 1)) > 0.5).astype("uint8")
flip = sample_affine(np.random.default_rng(1), 4, 24, 20, {"hflip": 1.0})
fx, fm = jax.jit(lambda a, t, b: apply_affine(a, t, b))(x, flip, m)
rot = sample_affine(np.random.default_rng(2), 4, 24, 20, {"rotation": 0.1, "zoom": 0.1, "shift": 0.1})
_, rm = jax.jit(lambda a, t, b: apply_affine(a, t, b))(x, rot, m)
result = {"hflip_exact": bool(np.array_equal(np.asarray(fx), x[:, :, ::-1].astype("float32"))
                              and np.array_equal(np.asarray(fm), m[:, :, ::-1].astype("float32"))),
          "mask_values": sorted(np.unique(np.asarray(rm)).tolist())}
"""

PARALLEL = r"""
import json, os
from pathlib import Path
import jax
import medzoo

out = Path(os.environ["OUT"])
run = medzoo.train("unet-lgg", out=out / "dp", epochs=1, batch_size=2, verbose=0, evaluate=False,
                   augment={}, seed=1)
config = json.loads((out / "dp" / "config.json").read_text())
result = {"jax_devices": len(jax.devices()), "replicas": config["replicas"], "strategy": config["strategy"],
          "loss": run.history["loss"]}
"""


def _run(body: str, tmp_path: Path, **env: str) -> dict:
    script = PRELUDE + body + EPILOGUE
    full_env = {**os.environ, "KERAS_BACKEND": "jax", "MEDZOO_HOME": str(tmp_path / "home"),
                "OUT": str(tmp_path / "out"), "MPLBACKEND": "Agg", **env}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=full_env,
                          timeout=900, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (proc.stdout[-3000:], proc.stderr[-6000:])
    return json.loads(lines[-1][len("RESULT "):])


def test_train_evaluate_predict_without_tensorflow(tmp_path: Path) -> None:
    result = _run(TRAIN, tmp_path)
    for entry in ("unet-lgg", "cnn1-chest-xray"):
        r = result[entry]
        assert r["backend"] == "jax" and r["loader"] == "arrays" and r["precision"] == "float32"
        assert len(r["loss"]) == 1 and 0.0 <= r["loss"][0] < 100.0  # one epoch, finite
        assert "task" in r["metric_keys"] and "task" in r["evaluated_keys"]
        assert 0.0 <= r["prob_range"][0] <= r["prob_range"][1] <= 1.0
        assert "learning_curves.png" in r["figures"]
    assert result["cli"] == [0, 0, 0]  # train, evaluate, predict


def test_joint_augmentation_under_jax_jit(tmp_path: Path) -> None:
    result = _run(AUGMENT, tmp_path)
    assert result["hflip_exact"]
    assert set(result["mask_values"]) <= {0.0, 1.0}


def test_data_parallel_over_two_devices(tmp_path: Path) -> None:
    result = _run(PARALLEL, tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert result["jax_devices"] == 2
    assert result["replicas"] == 2 and result["strategy"] == "DataParallel"
    assert len(result["loss"]) == 1 and 0.0 <= result["loss"][0] < 10.0
