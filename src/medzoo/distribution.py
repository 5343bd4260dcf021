"""Where a run computes: devices, replicas, numeric precision and XLA, for whichever Keras backend is active.

:func:`place` looks at the machine once and returns a :class:`Placement`:

* **TensorFlow**: a ``tf.distribute`` strategy, ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set,
  ``MirroredStrategy`` over several GPUs, else the default one;
* **JAX** (and other backends): ``keras.distribution.DataParallel`` over every local device when there are
  several (GPUs, TPU cores, or ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` CPU devices), else none;
* **precision**: ``mixed_bfloat16`` on accelerators that compute in bfloat16 (NVIDIA compute capability 8.0 and
  newer, TPUs), ``mixed_float16`` on older GPUs, ``float32`` on CPUs;
* **jit**: on for JAX (it is how JAX runs) and on GPUs; off for TensorFlow on the CPU, where it is slower.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from medzoo.errors import MedzooError

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "data_parallel", "none")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@attrs.frozen
class Placement:
    """The devices a run uses and how: what :func:`place` decided."""

    backend: str
    devices: list[str]
    accelerator: str | None  # "gpu", "tpu" or None (CPU only)
    replicas: int
    precision: str
    jit: bool
    strategy: Any = None  # a tf.distribute.Strategy on TensorFlow
    distribution: Any = None  # a keras.distribution.Distribution on other backends

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and compile models inside this (the strategy's scope on TensorFlow)."""
        if self.strategy is not None:
            with self.strategy.scope():
                yield
        else:
            yield

    def describe(self) -> dict[str, Any]:
        """The facts a run's ``config.json`` records."""
        return {"backend": self.backend, "devices": self.devices, "accelerator": self.accelerator,
                "replicas": self.replicas, "precision": self.precision, "jit_compile": self.jit,
                "strategy": type(self.strategy).__name__ if self.strategy is not None else
                type(self.distribution).__name__ if self.distribution is not None else None}


def _bf16_capable(kind: str, capability: Any) -> bool:
    if kind == "tpu":
        return True
    try:
        major = int(str(capability).split(".")[0])
    except ValueError:
        return False
    return major >= 8


def choose_precision(accelerator: str | None, capability: Any, mixed_precision: bool | str | None) -> str:
    """The dtype policy: a policy name as given; ``False`` float32; ``None`` (auto) float32 on CPUs and the
    accelerator's mixed policy elsewhere; ``True`` the accelerator's mixed policy (``mixed_bfloat16`` on CPUs)."""
    if isinstance(mixed_precision, str):
        if mixed_precision not in PRECISIONS:
            raise MedzooError(f"unknown precision {mixed_precision!r}; choose from {PRECISIONS}")
        return mixed_precision
    if mixed_precision is False or (mixed_precision is None and accelerator is None):
        return "float32"
    if accelerator is None or _bf16_capable(accelerator, capability):
        return "mixed_bfloat16"
    return "mixed_float16"


def _tf_devices() -> tuple[list[str], str | None, Any]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return [d.name for d in tf.config.list_logical_devices("CPU")], None, None
    details = tf.config.experimental.get_device_details(gpus[0])
    cap = details.get("compute_capability")
    cap = ".".join(map(str, cap)) if isinstance(cap, tuple) else cap
    return [d.name for d in tf.config.list_logical_devices("GPU")], "gpu", cap


def _jax_devices() -> tuple[list[str], str | None, Any]:
    import jax

    devices = jax.devices()
    platform = devices[0].platform
    accelerator = platform if platform in ("gpu", "tpu") else None
    if platform == "cuda":
        accelerator = "gpu"
    cap = getattr(devices[0], "compute_capability", None)
    return [f"{d.platform}:{d.id}" for d in devices], accelerator, cap


def _tf_strategy(strategy: Any, gpus: int) -> Any:
    import tensorflow as tf

    if not isinstance(strategy, str):
        return strategy
    if strategy == "auto":
        strategy = "multiworker" if os.environ.get("TF_CONFIG") else "mirrored" if gpus > 1 else "default"
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy in ("default", "none"):
        return tf.distribute.get_strategy()
    raise MedzooError(f"strategy {strategy!r} is not for TensorFlow; use auto, default, mirrored or multiworker")


def _keras_distribution(strategy: Any, n_devices: int) -> Any:
    import keras

    if not isinstance(strategy, str):
        return strategy
    if strategy in ("default", "none") or (strategy == "auto" and n_devices < 2):
        return None
    if strategy in ("auto", "data_parallel"):
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    raise MedzooError(f"strategy {strategy!r} is for TensorFlow; on {keras.backend.backend()} use auto, "
                      f"data_parallel or none")


def place(strategy: Any = "auto", mixed_precision: bool | str | None = None,
          jit_compile: bool | None = None) -> Placement:
    """Decide devices, replicas, precision and jit for a run on the current backend (see the module doc).

    Args:
        strategy: ``"auto"``; on TensorFlow ``"default"``, ``"mirrored"``, ``"multiworker"`` or a
            ``tf.distribute.Strategy``; elsewhere ``"data_parallel"``, ``"none"`` or a
            ``keras.distribution.Distribution``.
        mixed_precision: ``None`` (auto: bf16 where the accelerator supports it), ``False`` (float32), ``True``,
            or a policy name.
        jit_compile: ``None`` (auto), ``True`` or ``False``.
    """
    import keras

    backend = keras.backend.backend()
    if isinstance(strategy, str) and strategy not in STRATEGIES:
        raise MedzooError(f"unknown strategy {strategy!r}; choose from {STRATEGIES}")
    if backend == "tensorflow":
        import tensorflow as tf

        # the strategy first: a multi-worker one must configure the runtime before anything initialises it
        multiworker = strategy == "multiworker" or (strategy == "auto" and os.environ.get("TF_CONFIG"))
        strat = _tf_strategy(strategy, 0 if multiworker else len(tf.config.list_physical_devices("GPU")))
        devices, accelerator, cap = _tf_devices()
        replicas = strat.num_replicas_in_sync
        dist = None
    else:
        devices, accelerator, cap = _jax_devices() if backend == "jax" else (["cpu"], None, None)
        strat = None
        dist = _keras_distribution(strategy, len(devices))
        replicas = len(devices) if dist is not None else 1
    precision = choose_precision(accelerator, cap, mixed_precision)
    jit = jit_compile if jit_compile is not None else (backend == "jax" or accelerator is not None)
    return Placement(backend, devices, accelerator, replicas, precision, bool(jit), strat, dist)


def activate(placement: Placement) -> None:
    """Set the placement's precision policy and (non-TensorFlow backends) its distribution, process-wide."""
    import keras

    keras.mixed_precision.set_global_policy(placement.precision)
    if placement.strategy is None:
        keras.distribution.set_distribution(placement.distribution)


def worker_dir(run_dir: Path, strat: Any) -> Path:
    """Where this process writes: ``run_dir`` itself, except on the non-chief workers of a
    ``MultiWorkerMirroredStrategy``, which keep their own log, history and checkpoints in
    ``run_dir/<task type>-<index>`` so that no two processes write the same file."""
    resolver = getattr(strat, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if not task_type:
        return run_dir
    jobs = resolver.cluster_spec().jobs
    chief = task_type == "chief" or (task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs)
    return run_dir if chief else run_dir / f"{task_type}-{resolver.task_id}"


def patch_for_multiworker(model: Any, strat: Any, dataset: Any) -> None:
    """Work around two Keras 3 bugs with ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).

    1. ``fit`` starts by ``strategy.reduce``-ing a whole ``(x, y)`` batch to build the metric, loss and
       optimizer state, which that strategy cannot reduce ("Attempt to convert a value (PerReplica...)"):
       the state is built here from the dataset's element spec and that step, then only a shape probe, skipped.
    2. Each step's logs are averaged over the replicas with ``strategy.reduce("MEAN", v, axis=0)``, which fails
       on scalars: the steps return them as 1-vectors, whose mean along axis 0 is the mean over the replicas.
       (The epoch's logs are read from the metrics' variables, summed over all workers, as usual.)
    """
    import tensorflow as tf

    if not isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
        return
    with strat.scope():
        model._symbolic_build(data_batch=dataset.element_spec)
    model._maybe_symbolic_build = lambda *args, **kwargs: None

    def as_vectors(step: Any) -> Any:
        def wrapped(data: Any) -> Any:
            return {k: tf.reshape(v, (1,)) for k, v in step(data).items()}

        return wrapped

    model.train_step = as_vectors(model.train_step)
    model.test_step = as_vectors(model.test_step)
