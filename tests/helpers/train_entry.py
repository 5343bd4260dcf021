"""Run ``medzoo.train`` on the ``unet-lgg`` entry in a fresh process, for the runner's subprocess tests.

Usage: ``python train_entry.py '<json>'`` where the JSON object holds ``data``, ``out`` and optionally
``strategy`` (``"default"``, ``"mirrored-cpu2"`` for a MirroredStrategy over two logical CPUs, ``"multiworker"``),
``sleep`` (seconds to sleep after every training batch, so that a test can kill the run mid-epoch),
``model_kwargs`` and any ``medzoo.train`` keyword (``epochs``, ``steps_per_epoch``, ``resume``, ...).
On success it prints one line ``RESULT <json>`` with the history, replicas and final optimizer iterations.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _slow_epoch_log(seconds: float) -> None:
    """Make every training batch take at least ``seconds`` (the runner's epoch logger sleeps)."""
    import keras

    from medzoo import runner

    original = runner._EpochLog

    class Slow(keras.callbacks.Callback):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def set_model(self, model: Any) -> None:
            super().set_model(model)
            self.inner.set_model(model)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.inner.on_epoch_begin(epoch, logs)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.inner.on_epoch_end(epoch, logs)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            time.sleep(seconds)

    runner._EpochLog = lambda logger: Slow(original(logger))  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    """Parse the JSON argument, train, print the result."""
    args = json.loads(argv[1])
    kind = args.pop("strategy", "default")
    sleep = args.pop("sleep", 0.0)
    model_kwargs = args.pop("model_kwargs", {"base_filters": 4, "depth": 1})
    import tensorflow as tf

    if kind == "mirrored-cpu2":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy: Any = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = kind
    import attrs

    import medzoo
    from medzoo.runner import train

    if sleep:
        _slow_epoch_log(float(sleep))
    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=model_kwargs)
    run = train(entry, strategy=strategy, verbose=0, evaluate=False, **args)
    result = {"history": run.history, "dir": str(run.dir),
              "replicas": json.loads((run.dir / "config.json").read_text())["replicas"]}
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
