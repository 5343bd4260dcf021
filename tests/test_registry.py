"""The plugin registry: entry-point discovery, duplicates, broken plugins, MEDZOO_PLUGINS, suggestions."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
import sys
import warnings
from pathlib import Path

import attrs
import pytest

import medzoo
from medzoo.registry import (
    PluginLoadWarning,
    UnknownNameError,
    build_registry,
)

FAKE_DIR = Path(__file__).resolve().parent / "fake_plugins"
SRC = Path(__file__).resolve().parents[1] / "src" / "medzoo"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The fake-plugin helper module, with ``tests/fake_plugins`` importable and ``MEDZOO_PLUGINS`` unset."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    monkeypatch.delenv("MEDZOO_PLUGINS", raising=False)
    for mod in [m for m in sys.modules if m.startswith("mzfake_")]:
        monkeypatch.delitem(sys.modules, mod)
    helper = importlib.import_module("mzfake_dists")
    helper.site = tmp_path / "site"
    return helper


def _eps(fakes, *dists: str) -> list[md.EntryPoint]:
    return fakes.entry_points(fakes.site, *dists)


def test_installed_plugins_are_the_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDZOO_PLUGINS", raising=False)
    eps = md.entry_points(group="medzoo")
    reg = build_registry()
    want = sorted((ep.name, ep.value, ep.dist.metadata["Name"], ep.dist.version) for ep in eps)
    got = sorted((p.name, p.value, p.distribution, p.version) for p in reg.plugins)
    print("entry points:", want)
    assert got == want
    assert [p for p in reg.plugins if p.error] == []
    dists = {p.distribution for p in reg.plugins} | {"medzoo"}
    for kind in ("models", "datasets", "tasks", "entries"):
        for name, spec in getattr(reg, kind).items():
            assert spec.distribution in dists, (kind, name, spec.distribution)
    assert {"classification", "segmentation"} <= set(reg.tasks)
    assert reg.tasks["segmentation"].distribution == "medzoo"


def test_core_never_imports_a_plugin_by_name() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+medzoo_\w+|import_module\(\s*['\"]medzoo_")
    sources = sorted(SRC.rglob("*.py"))
    assert sources
    offenders = [f"{path.relative_to(SRC)}:{i}: {line.strip()}"
                 for path in sources for i, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []


def test_fake_plugins_register_with_their_distribution(fakes) -> None:
    reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-beta"))
    assert [(p.name, p.distribution, p.version, p.error) for p in reg.plugins] == [
        ("alpha", "mzfake-alpha", "1.0", None), ("beta", "mzfake-beta", "1.0", None)]
    assert set(reg.models) == {"alpha-net", "beta-net"}
    assert reg.models["alpha-net"].distribution == "mzfake-alpha"
    assert reg.models["beta-net"].distribution == "mzfake-beta"
    assert reg.datasets["alpha-data"].distribution == "mzfake-alpha"
    assert reg.get("entries", "alpha-trained").trained
    assert not reg.get("entries", "alpha-entry").trained
    assert reg.tasks["classification"].distribution == "medzoo"  # the core's built-in plugin


def test_hand_made_entry_points_report_unknown_distribution(fakes) -> None:
    ep = md.EntryPoint(name="alpha", value="mzfake_alpha", group="medzoo")
    reg = build_registry(entry_points=[ep])
    assert [(p.name, p.distribution, p.version) for p in reg.plugins] == [("alpha", "?", "?")]
    assert reg.models["alpha-net"].distribution == "?"


def test_duplicate_name_keeps_the_first_and_names_both_distributions(fakes) -> None:
    with pytest.warns(PluginLoadWarning) as record:
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-dup"))
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert "'alpha-net'" in messages[0]
    assert "mzfake-alpha" in messages[0] and "mzfake-dup" in messages[0]
    assert "MEDZOO_PLUGINS" in messages[0]
    assert reg.models["alpha-net"].distribution == "mzfake-alpha"  # the first is kept
    assert reg.models["alpha-net"].task == "classification"
    assert [p.error for p in reg.plugins] == [None, None]
    assert [(p.plugin, p.distribution) for p in reg.problems] == [("dup", "mzfake-dup")]
    assert reg.get("entries", "alpha-trained").trained  # the rest of the zoo works


def test_broken_plugin_warns_and_the_others_work(fakes) -> None:
    eps = _eps(fakes, "mzfake-alpha", "mzfake-broken", "mzfake-beta")
    with pytest.warns(PluginLoadWarning, match=r"'broken'.*mzfake-broken.*broken on purpose"):
        reg = build_registry(entry_points=eps)
    by_name = {p.name: p for p in reg.plugins}
    assert set(by_name) == {"alpha", "beta", "broken"}
    broken = by_name["broken"]
    assert broken.distribution == "mzfake-broken" and broken.value == "mzfake_broken"
    assert broken.error is not None and broken.error.startswith("RuntimeError:")
    assert "broken on purpose" in broken.error
    assert by_name["alpha"].error is None and by_name["beta"].error is None
    assert set(reg.models) == {"alpha-net", "beta-net"}
    assert reg.get("entries", "alpha-entry").model == "alpha-net"


def test_medzoo_plugins_limits_loading(fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZOO_PLUGINS", " alpha , beta ")
    eps = _eps(fakes, "mzfake-alpha", "mzfake-broken", "mzfake-beta", "mzfake-dup")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)
        reg = build_registry(entry_points=eps)  # neither the broken nor the duplicate plugin is loaded
    assert [p.name for p in reg.plugins] == ["alpha", "beta"]
    assert set(reg.models) == {"alpha-net", "beta-net"}
    assert "mzfake_broken" not in sys.modules and "mzfake_dup" not in sys.modules

    monkeypatch.setenv("MEDZOO_PLUGINS", "beta")
    reg = build_registry(entry_points=eps)
    assert [p.name for p in reg.plugins] == ["beta"]
    assert set(reg.models) == {"beta-net"}

    monkeypatch.setenv("MEDZOO_PLUGINS", "")  # empty: everything
    with pytest.warns(PluginLoadWarning):
        reg = build_registry(entry_points=eps)
    assert [p.name for p in reg.plugins] == ["alpha", "beta", "broken", "dup"]


def test_unknown_names_suggest_close_names(fakes) -> None:
    reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-beta"))
    with pytest.raises(UnknownNameError, match=r"unknown model 'alpha-nett'; did you mean 'alpha-net'") as info:
        reg.get("models", "alpha-nett")
    assert isinstance(info.value, KeyError)
    assert "\n" not in str(info.value)
    with pytest.raises(UnknownNameError, match=r"unknown entry 'alpha-entri'; did you mean 'alpha-entry'"):
        reg.get("entries", "alpha-entri")
    with pytest.raises(UnknownNameError) as info:
        reg.get("datasets", "zzzzzz")
    assert "did you mean" not in str(info.value)
    assert "known: alpha-data" in str(info.value)


def test_a_weights_preset_decides_the_build_and_the_recipe() -> None:
    """keras-hub's preset idea: the card beside the weights carries the builder's arguments and the recipe they
    were trained with; the registry gives them to the entry, so load rebuilds and train reproduces that."""
    from medzoo.specs import Entry, Recipe, Weights

    base = Entry(name="e", model="m", dataset="d", task="segmentation", recipe=Recipe(epochs=100),
                 model_kwargs={"depth": 4})
    assert base.with_preset() is base
    preset = Weights(file="x.weights.h5", sha256="0" * 64, model_kwargs={"depth": 2},
                     recipe={"epochs": 7, "patch_size": 64, "train_pipeline": {"lesion_fraction": 0.5}})
    entry = attrs.evolve(base, weights=preset).with_preset()
    assert entry.model_kwargs == {"depth": 2}
    assert entry.recipe == Recipe(epochs=7, patch_size=64, train_pipeline={"lesion_fraction": 0.5})
    with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['epoch'\]"):
        attrs.evolve(base, weights=attrs.evolve(preset, recipe={"epoch": 3})).with_preset()


def test_shipped_cards_are_presets() -> None:
    import json

    for name in medzoo.list_entries(trained=True):
        entry = medzoo.get_entry(name)
        assert entry.weights is not None and entry.weights.recipe is not None, name
        assert attrs.asdict(entry.recipe) == {**attrs.asdict(medzoo.Recipe()), **entry.weights.recipe}
        assert entry.weights.meta["command"].startswith(f"medzoo train {name} ")
        json.dumps(entry.weights.recipe)  # a plain JSON card


# ------------------------------------------------------------------------------------- one bad plugin, zoo intact
def _messages(record: pytest.WarningsRecorder) -> list[str]:
    out = [str(w.message) for w in record if issubclass(w.category, PluginLoadWarning)]
    for message in out:
        assert "\n" not in message, message
    return out


def test_hooks_returning_anything_but_a_list_are_skipped(fakes) -> None:
    with pytest.warns(PluginLoadWarning) as record:
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-badhooks"))
    messages = _messages(record)
    for hook, what in (("medzoo_models", "int 42"), ("medzoo_datasets", "str 'x'"), ("medzoo_tasks", "dict"),
                       ("medzoo_entries", "None, not an Entry")):
        found = [m for m in messages if hook in m and what in m]
        assert len(found) == 1, (hook, messages)
        assert found[0].startswith("medzoo plugin 'badhooks' (mzfake-badhooks): ")
    assert len(messages) == 4
    assert len(reg.problems) == 4 and {p.plugin for p in reg.problems} == {"badhooks"}
    assert set(reg.models) == {"alpha-net"} and set(reg.datasets) == {"alpha-data"}
    assert set(reg.tasks) == {"classification", "segmentation"}
    assert reg.entries["badhooks-entry"].distribution == "mzfake-badhooks"  # the good item beside None is kept
    assert [p.error for p in reg.plugins] == [None, None]


def test_specs_of_the_wrong_kind_or_with_a_missing_module_are_skipped(fakes) -> None:
    with pytest.warns(PluginLoadWarning) as record:
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-wrongkind"))
    messages = _messages(record)
    assert len(messages) == 4, messages
    assert any("medzoo_models returned DatasetSpec ('wrong-data'), not a ModelSpec" in m for m in messages)
    assert any("'ghost-net'" in m and "'mzfake_no_such_module.nets'" in m and "not installed" in m
               for m in messages)
    assert any("'flat-net'" in m and "'mzfake_wrongkind.sub'" in m for m in messages)
    assert any("'ghost-data'" in m and "synthetic" in m and "'mzfake_no_such_module'" in m for m in messages)
    assert set(reg.models) == {"alpha-net", "good-net"}
    assert set(reg.datasets) == {"alpha-data"}
    assert "wrong-data" not in reg.datasets
    assert "mzfake_no_such_module" not in sys.modules
    # a lookup of a skipped name says why, on one line
    with pytest.raises(UnknownNameError, match=r"model 'ghost-net' is not available: medzoo plugin 'wrongkind' "
                                               r"\(mzfake-wrongkind\): .*not installed") as info:
        reg.get("models", "ghost-net")
    assert "\n" not in str(info.value)
    assert reg.skipped("models", "good-net") is None


def test_module_check_imports_nothing(fakes) -> None:
    from medzoo.registry import _module_missing

    assert _module_missing("mzfake_alpha:build") is None
    assert "mzfake_alpha" not in sys.modules  # found, not imported
    assert _module_missing("json.decoder:JSONDecoder") is None
    assert _module_missing("json.nope:x") is not None
    assert _module_missing("no_colon_here") is not None
    assert _module_missing("mzfake_nothing_here:build").endswith("not installed")


@pytest.mark.parametrize(("dist", "error"), [("mzfake-exit", r"SystemExit: called sys.exit\(3\)"),
                                             ("mzfake-broken", r"RuntimeError: mzfake_broken is broken on purpose")])
def test_plugin_failing_on_import_is_skipped(fakes, dist: str, error: str) -> None:
    with pytest.warns(PluginLoadWarning, match=rf"failed to load: {error}"):
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", dist))
    assert set(reg.models) == {"alpha-net"}
    failed = [p for p in reg.plugins if p.error]
    assert len(failed) == 1 and failed[0].distribution == dist and re.match(error, failed[0].error)


def test_hook_that_raises_is_skipped(fakes) -> None:
    with pytest.warns(PluginLoadWarning, match=r"'hookraises' \(mzfake-hookraises\): medzoo_models failed: "
                                               r"ValueError: models hook broken on purpose"):
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-hookraises"))
    assert set(reg.models) == {"alpha-net"}


def test_keyboard_interrupt_is_not_swallowed(fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    eps = _eps(fakes, "mzfake-alpha")
    monkeypatch.setattr(type(eps[0]), "load", lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        build_registry(entry_points=eps)


def test_medzoo_plugins_naming_an_unknown_plugin_says_so(fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZOO_PLUGINS", "alpha,gamma,delta")
    with pytest.warns(PluginLoadWarning) as record:
        reg = build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-beta"))
    messages = _messages(record)
    assert len(messages) == 1, messages
    assert messages[0] == "MEDZOO_PLUGINS names unknown plugin(s) 'delta', 'gamma'; known: alpha, beta"
    assert set(reg.models) == {"alpha-net"}
