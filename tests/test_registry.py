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
    DuplicateNameError,
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


def test_duplicate_name_names_both_distributions(fakes) -> None:
    with pytest.raises(DuplicateNameError) as info:
        build_registry(entry_points=_eps(fakes, "mzfake-alpha", "mzfake-dup"))
    message = str(info.value)
    assert "alpha-net" in message
    assert "mzfake-alpha" in message and "mzfake-dup" in message
    assert "MEDZOO_PLUGINS" in message


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
        with pytest.raises(DuplicateNameError):
            build_registry(entry_points=eps)


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
