"""The plugin registry: one ``pluggy.PluginManager`` fed from the ``medzoo`` entry-point group.

Plugins are found through installed entry points only (the core never imports a plugin by name).
``MEDZOO_PLUGINS=name,name`` limits which entry points load. A plugin that fails to import is
reported (a warning, and ``medzoo plugins`` lists it with its error) while the others keep working.
Two plugins that provide the same name are an error naming both distributions.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import warnings
from collections.abc import Iterable
from typing import Any

import attrs
import pluggy

from medzoo import hookspecs
from medzoo.errors import DuplicateNameError, MedzooError, PluginLoadWarning, UnknownNameError
from medzoo.specs import DatasetSpec, Entry, ModelSpec, TaskSpec

__all__ = ["DuplicateNameError", "MedzooError", "PluginInfo", "PluginLoadWarning", "Registry", "UnknownNameError",
           "build_registry", "registry", "reset"]

GROUP = "medzoo"
ENV_PLUGINS = "MEDZOO_PLUGINS"


@attrs.frozen
class PluginInfo:
    """One entry point of the ``medzoo`` group and what became of it."""

    name: str
    value: str
    distribution: str
    version: str
    error: str | None = None


@attrs.define
class Registry:
    """Everything the installed plugins provide, keyed by name."""

    plugins: list[PluginInfo] = attrs.field(factory=list)
    models: dict[str, ModelSpec] = attrs.field(factory=dict)
    datasets: dict[str, DatasetSpec] = attrs.field(factory=dict)
    tasks: dict[str, TaskSpec] = attrs.field(factory=dict)
    entries: dict[str, Entry] = attrs.field(factory=dict)

    def get(self, kind: str, name: str) -> Any:
        """Look ``name`` up in ``kind`` ("models", "datasets", "tasks", "entries")."""
        table: dict[str, Any] = getattr(self, kind)
        if name in table:
            return table[name]
        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        singular = kind[:-1] if kind != "entries" else "entry"
        known = ", ".join(sorted(table)) or "none installed"
        raise UnknownNameError(f"unknown {singular} {name!r}{hint} (known: {known})")


def _selected(names: Iterable[str]) -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None or raw.strip() == "":
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"], dist.version


def make_manager(entry_points: Iterable[md.EntryPoint] | None = None) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Create the plugin manager, register the built-in plugin and every selected entry point."""
    from medzoo import _builtin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(_builtin, name="medzoo-core")
    infos: list[PluginInfo] = []
    eps = list(entry_points) if entry_points is not None else list(md.entry_points(group=GROUP))
    wanted = _selected(ep.name for ep in eps)
    for ep in sorted(eps, key=lambda e: e.name):
        if wanted is not None and ep.name not in wanted:
            continue
        dist, version = _dist_of(ep)
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            error = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"medzoo plugin {ep.name!r} ({dist}) failed to load: {error}", PluginLoadWarning,
                          stacklevel=2)
            infos.append(PluginInfo(ep.name, ep.value, dist, version, error))
            continue
        infos.append(PluginInfo(ep.name, ep.value, dist, version))
    return pm, infos


def build_registry(entry_points: Iterable[md.EntryPoint] | None = None) -> Registry:
    """Call every hook and index the specs by name, stamping each with its distribution."""
    pm, infos = make_manager(entry_points)
    dist_of = {i.name: i.distribution for i in infos}
    dist_of["medzoo-core"] = "medzoo"
    reg = Registry(plugins=infos)
    hooks = {"models": pm.hook.medzoo_models, "datasets": pm.hook.medzoo_datasets,
             "tasks": pm.hook.medzoo_tasks, "entries": pm.hook.medzoo_entries}
    for kind, hook in hooks.items():
        table: dict[str, Any] = getattr(reg, kind)
        for impl in hook.get_hookimpls():
            plugin_name = pm.get_name(impl.plugin) or "?"
            dist = dist_of.get(plugin_name, plugin_name)
            try:
                specs = impl.function() or []
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"medzoo plugin {plugin_name!r} ({dist}) failed in {hook.name}: {exc}",
                              PluginLoadWarning, stacklevel=2)
                continue
            for spec in specs:
                if spec.name in table:
                    other = table[spec.name].distribution
                    raise DuplicateNameError(
                        f"{kind[:-1] if kind != 'entries' else 'entry'} {spec.name!r} is provided by both "
                        f"{other!r} and {dist!r}; uninstall one, or limit plugins with {ENV_PLUGINS}")
                if isinstance(spec, Entry):
                    spec = spec.with_preset()
                table[spec.name] = attrs.evolve(spec, distribution=dist)
    return reg


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def reset() -> None:
    """Forget the cached registry (after installing a plugin or changing ``MEDZOO_PLUGINS``)."""
    global _REGISTRY
    _REGISTRY = None
