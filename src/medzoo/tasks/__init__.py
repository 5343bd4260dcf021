"""Tasks: the :class:`Task` interface, and the two built-in tasks in a folder each.

A task owns everything that makes a kind of problem one, so the core never special-cases it: the losses and
training metrics a recipe names, the model output contract, the evaluation (metrics with patient-bootstrap
intervals, ``metrics.json``, figures), the table the CLI and the reports print, and the operating-point rule (how
outputs become decisions). The core only calls these methods, on the task an entry names, so a plugin can ship
a task the core has never heard of.

* :mod:`medzoo.tasks.classification`: binary classification;
* :mod:`medzoo.tasks.segmentation`: binary segmentation.

A plugin registers a task with the ``medzoo_tasks`` hook, as a :class:`~medzoo.specs.TaskSpec` whose ``factory``
names a :class:`Task` subclass (``"my_plugin.task:MyTask"``), imported on first use so that listing the zoo
imports no Keras; :func:`get_task` is how the core reaches the task an entry names.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from medzoo.errors import MedzooError

__all__ = ["Task", "get_task", "output_rank_error"]


class Task(abc.ABC):
    """What a kind of problem owns. Subclass it, set the three class attributes, implement the five methods."""

    #: the task's registered name (what ``ModelSpec.task``, ``DatasetSpec.task`` and ``Entry.task`` say)
    name: ClassVar[str] = ""
    #: the model output contract, in words: what a model of this task returns, with its shape
    output: ClassVar[str] = ""
    #: the operating-point rule, in words: how outputs become decisions (and where a threshold is chosen)
    operating_point: ClassVar[str] = ""

    @abc.abstractmethod
    def loss(self, name: str, label_smoothing: float = 0.0) -> Any:
        """The Keras loss a recipe calls ``name``; a :class:`~medzoo.errors.RecipeError` for an unknown name, or
        for ``label_smoothing`` > 0 where the loss cannot take it."""

    @abc.abstractmethod
    def training_metrics(self) -> list[Any]:
        """Fresh Keras metrics shown (and monitorable as ``val_<name>``) while training."""

    @abc.abstractmethod
    def check_output(self, shape: Sequence[int | None]) -> None:
        """Raise a :class:`~medzoo.errors.MedzooError` if a model output of ``shape`` (batch axis included)
        breaks this task's output contract."""

    @abc.abstractmethod
    def evaluate(self, model: Any, dataset: Any, records: Sequence[Any], out: str | Path | None = None, *,
                 val_records: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 batch_size: int = 32, figures: bool = True) -> dict[str, Any]:
        """Evaluate ``model`` on ``records`` of ``dataset``.

        Returns JSON-able metrics with ``"task": self.name``, 95% intervals from ``n_boot`` bootstrap resamples
        of patients (:func:`medzoo.evaluation.groups_of`), and, when ``out`` is given, writes
        ``out/metrics.json`` and the task's figures under ``out/figures/`` (listed under ``"figures"``).
        ``val_records`` are the validation patients, given when ``records`` are another split: a task whose
        operating point is chosen on data chooses it there. Tasks may take further keyword options.
        """

    @abc.abstractmethod
    def format_table(self, metrics: dict[str, Any]) -> str:
        """A plain-text table of what :meth:`evaluate` returned (printed by the CLI and after training)."""

    def evaluate_options(self) -> set[str]:
        """The keyword options :meth:`evaluate` takes besides ``model, dataset, records, out``."""
        params = inspect.signature(self.evaluate).parameters
        return {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise a :class:`~medzoo.errors.MedzooError` naming any of ``options`` that :meth:`evaluate` does not
        take (``shift`` for a segmentation task, say) instead of failing inside it."""
        params = inspect.signature(self.evaluate).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return
        bad = sorted(set(options) - self.evaluate_options())
        if bad:
            raise MedzooError(f"the {self.name} task's evaluation takes no option {', '.join(bad)} "
                              f"(it takes {', '.join(sorted(self.evaluate_options()))})")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} task {self.name!r}>"


def output_rank_error(task: str, shape: Sequence[int | None], want: str) -> MedzooError:
    """The error :meth:`Task.check_output` raises: names the task, the shape and the contract."""
    return MedzooError(f"the {task} task expects models that output {want}; this model outputs shape "
                       f"{tuple(shape)}")


def get_task(name: str) -> Task:
    """The registered task ``name``, loaded (an :class:`~medzoo.errors.UnknownNameError` if none is)."""
    from medzoo.registry import registry

    return registry().get("tasks", name).load()
