"""Tasks are plugins: the Task interface, dispatch through the registered task, and the registry's task check.

The built-in tasks get no special treatment: the core calls the same :class:`medzoo.tasks.Task` methods for any
registered task, and no module outside ``medzoo/tasks/`` names one.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
import warnings
from pathlib import Path

import pytest

import medzoo
from medzoo.consistency import check_tasks
from medzoo.errors import MedzooError, PluginLoadWarning, UnknownNameError
from medzoo.registry import build_registry
from medzoo.specs import DatasetSpec, Entry, ModelSpec, TaskSpec
from medzoo.tasks import Task, get_task

SRC = Path(medzoo.__file__).parent


def test_no_module_outside_the_task_folders_special_cases_a_task() -> None:
    named = r"[\"'](classification|segmentation)[\"']"
    pattern = re.compile(rf"task\s*[!=]=\s*[\"']|[!=]=\s*{named}|{named}\s*[!=]=|\bin\s*[(\[{{]\s*{named}|\bTASKS\b")
    hits = [f"{p.relative_to(SRC)}:{i}: {line.strip()}" for p in sorted(SRC.rglob("*.py"))
            if "tasks" not in p.relative_to(SRC).parts
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


@pytest.mark.parametrize("name", ["classification", "segmentation"])
def test_builtin_tasks_implement_the_interface(name: str) -> None:
    task = get_task(name)
    assert isinstance(task, Task) and task.name == name
    assert task.output and task.operating_point
    assert {"val_records", "n_boot", "seed", "batch_size", "figures"} <= task.evaluate_options()
    assert task.training_metrics() and task.loss("bce") is not None


def test_output_contracts() -> None:
    get_task("classification").check_output((None, 1))
    get_task("segmentation").check_output((None, 64, 64, 1))
    with pytest.raises(MedzooError, match=r"classification task expects .* outputs shape \(None, 64, 64, 1\)"):
        get_task("classification").check_output((None, 64, 64, 1))
    with pytest.raises(MedzooError, match=r"segmentation task expects"):
        get_task("segmentation").check_output((None, 1))


def test_options_a_task_does_not_take_are_refused_by_name_before_any_data_is_read() -> None:
    get_task("classification").check_options({"shift": True, "target_recall": 0.9})
    with pytest.raises(MedzooError, match=r"the segmentation task's evaluation takes no option shift \(it takes "):
        get_task("segmentation").check_options({"shift": True})
    with pytest.raises(MedzooError, match="takes no option shift"):  # the data path does not exist: not reached
        medzoo.evaluate("unet-lgg", data="/nonexistent/lgg", weights=None, shift=True)


def test_format_table_is_the_tasks_own_or_the_scalars() -> None:
    from medzoo.report import format_table
    from medzoo.tasks.classification.evaluation import compute

    metrics = compute([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], n_boot=0)
    assert format_table(metrics) == get_task("classification").format_table(metrics)
    assert format_table({"task": "not-installed", "score": 0.5, "nested": {"x": 1}}) == \
        "task                        not-installed\nscore                       0.5"


class _Halves(Task):
    """A minimal task made here: proves a task needs nothing from the core but this interface."""

    name = "halves"
    output = "one number, shape (N, 1)"
    operating_point = "none"

    def loss(self, name: str, label_smoothing: float = 0.0) -> str:
        return f"loss:{name}"

    def training_metrics(self) -> list[str]:
        return ["m"]

    def check_output(self, shape) -> None:  # noqa: ANN001
        pass

    def evaluate(self, model, dataset, records, out=None, *, val_records=None, n_boot=1000,  # noqa: ANN001
                 seed=0, batch_size=32, figures=True) -> dict:
        return {"task": self.name, "n": len(records)}

    def format_table(self, metrics: dict) -> str:
        return f"halves of {metrics['n']}"


def test_task_spec_loads_its_task_and_refuses_anything_else() -> None:
    assert TaskSpec("halves", factory=_Halves).load().format_table({"n": 4}) == "halves of 4"
    with pytest.raises(MedzooError, match=r"not a medzoo.tasks.Task named 'halves'"):
        TaskSpec("halves", factory=dict).load()
    with pytest.raises(MedzooError, match=r"not a medzoo.tasks.Task named 'other'"):
        TaskSpec("other", factory=_Halves).load()
    with pytest.raises(TypeError, match="abstract"):
        type("Half", (Task,), {"name": "half"})()


def _registry_with_problems() -> object:
    reg = build_registry(entry_points=[])
    reg.models.update(good=ModelSpec("good", "classification", build=dict, distribution="dist-a"),
                      seg=ModelSpec("seg", "segmentation", build=dict, distribution="dist-a"),
                      odd=ModelSpec("odd", "regression", build=dict, distribution="dist-b"))
    reg.datasets.update(data=DatasetSpec("data", "classification", factory=dict, distribution="dist-c"),
                        weird=DatasetSpec("weird", "counting", factory=dict, distribution="dist-c"))
    reg.entries.update(
        ok=Entry("ok", "good", "data", "classification", distribution="dist-a"),
        absent=Entry("absent", "not-installed", "data", "classification", distribution="dist-a"),
        wrong_model=Entry("wrong_model", "seg", "data", "classification", distribution="dist-d"),
        wrong_data=Entry("wrong_data", "seg", "data", "segmentation", distribution="dist-d"),
        no_task=Entry("no_task", "good", "data", "regression", distribution="dist-d"))
    return reg


def test_check_drops_unknown_tasks_and_disagreeing_entries_with_named_warnings() -> None:
    reg = _registry_with_problems()
    with pytest.warns(PluginLoadWarning) as caught:
        messages = check_tasks(reg)
    assert sorted(reg.models) == ["good", "seg"] and sorted(reg.datasets) == ["data"]
    assert sorted(reg.entries) == ["absent", "ok"]  # a model that is not installed is not a disagreement
    assert len(caught) == len(messages) == 5
    text = "\n".join(str(w.message) for w in caught)
    assert "model 'odd': its task 'regression' is not registered (registered: classification, segmentation)" in text
    assert "dataset 'weird': its task 'counting' is not registered" in text
    assert "entry 'no_task': its task 'regression' is not registered" in text
    assert "entry 'wrong_model': it is a classification entry but its model 'seg' (dist-a) is for segmentation" \
        in text
    assert "entry 'wrong_data': it is a segmentation entry but its dataset 'data' (dist-c) is for classification" \
        in text
    assert "(dist-b)" in text and "(dist-d)" in text  # every warning names the distribution to blame


def test_build_registry_records_task_problems_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "mzfake_tasks.py").write_text(
        "from medzoo import Entry, ModelSpec, hookimpl\n"
        "@hookimpl\n"
        "def medzoo_models():\n"
        "    return [ModelSpec('reg-net', 'regression', build='json:dumps'),\n"
        "            ModelSpec('cls-net', 'classification', build='json:dumps')]\n"
        "@hookimpl\n"
        "def medzoo_entries():\n"
        "    return [Entry('mixed', 'cls-net', 'lgg-mri', 'segmentation'),\n"
        "            Entry('fine', 'cls-net', 'chest-xray', 'classification')]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mzfake_tasks", raising=False)
    monkeypatch.delenv("MEDZOO_PLUGINS", raising=False)
    eps = [ep for ep in md.entry_points(group="medzoo") if ep.name in ("chest-xray", "lgg-mri")]
    eps.append(md.EntryPoint("tasks", "mzfake_tasks", "medzoo"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = build_registry(entry_points=eps)
    assert "reg-net" not in reg.models and "cls-net" in reg.models
    assert "mixed" not in reg.entries and "fine" in reg.entries
    assert sum(issubclass(w.category, PluginLoadWarning) for w in caught) == 2
    problems = {(p.kind, p.name) for p in getattr(reg, "problems", [])}
    assert {("models", "reg-net"), ("entries", "mixed")} <= problems
    with pytest.raises(UnknownNameError):
        reg.get("entries", "mixed")
