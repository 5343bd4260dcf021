"""The plugin registry: one ``pluggy.PluginManager`` fed from the ``medzoo`` entry-point group.

Plugins are found through installed entry points only (the core never imports a plugin by name).
``MEDZOO_PLUGINS=name,name`` limits which entry points load (a name that matches none is reported).

One bad plugin never takes the zoo down. Each of these gives a one-line :class:`PluginLoadWarning` naming
the plugin and its distribution, the bad part is skipped, the rest keeps working, and ``medzoo plugins``
lists the problem:

* a plugin that raises (or calls ``sys.exit``) on import, or whose hooks pluggy rejects: the plugin is skipped;
* a hook that raises, or returns anything but a list (``42``, ``"x"``, a dict): that hook's result is skipped;
* an item of the wrong kind (``None``, a ``DatasetSpec`` from ``medzoo_models``): that item is skipped;
* a ``"module:attr"`` factory whose module is not installed (found with :mod:`importlib.util` machinery,
  nothing is imported): that spec is skipped, and looking its name up says why;
* a name that an earlier plugin already provides: the first is kept, the message names both distributions.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.metadata as md
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import pluggy

from medzoo import hookspecs
from medzoo.consistency import check_tasks
from medzoo.errors import DuplicateNameError, MedzooError, PluginLoadWarning, UnknownNameError
from medzoo.specs import DatasetSpec, Entry, ModelSpec, TaskSpec

__all__ = ["DuplicateNameError", "MedzooError", "PluginInfo", "PluginLoadWarning", "Problem", "Registry",
           "UnknownNameError", "build_registry", "registry", "reset"]

GROUP = "medzoo"
ENV_PLUGINS = "MEDZOO_PLUGINS"
CORE = "medzoo-core"
SPEC_TYPES: dict[str, type] = {"models": ModelSpec, "datasets": DatasetSpec, "tasks": TaskSpec, "entries": Entry}
MAX_MESSAGE = 300


@attrs.frozen
class PluginInfo:
    """One entry point of the ``medzoo`` group and what became of it (``error``: why it did not load)."""

    name: str
    value: str
    distribution: str
    version: str
    error: str | None = None


@attrs.frozen
class Problem:
    """Something a plugin provided that the registry skipped, and why (one line)."""

    plugin: str
    distribution: str
    message: str
    kind: str | None = None  # "models", "datasets", "tasks", "entries" when one spec was skipped
    name: str | None = None  # that spec's name

    def __str__(self) -> str:
        return f"medzoo plugin {self.plugin!r} ({self.distribution}): {self.message}"


@attrs.define
class Registry:
    """Everything the installed plugins provide, keyed by name, and what was skipped (``problems``)."""

    plugins: list[PluginInfo] = attrs.field(factory=list)
    models: dict[str, ModelSpec] = attrs.field(factory=dict)
    datasets: dict[str, DatasetSpec] = attrs.field(factory=dict)
    tasks: dict[str, TaskSpec] = attrs.field(factory=dict)
    entries: dict[str, Entry] = attrs.field(factory=dict)
    problems: list[Problem] = attrs.field(factory=list)

    def skipped(self, kind: str, name: str) -> Problem | None:
        """The problem that made the registry skip ``name`` of ``kind``, if it did."""
        return next((p for p in self.problems if p.kind == kind and p.name == name and name not in
                     getattr(self, kind)), None)

    def get(self, kind: str, name: str) -> Any:
        """Look ``name`` up in ``kind`` ("models", "datasets", "tasks", "entries")."""
        table: dict[str, Any] = getattr(self, kind)
        if name in table:
            return table[name]
        singular = kind[:-1] if kind != "entries" else "entry"
        problem = self.skipped(kind, name)
        if problem is not None:
            raise UnknownNameError(f"{singular} {name!r} is not available: {problem}")
        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(table)) or "none installed"
        raise UnknownNameError(f"unknown {singular} {name!r}{hint} (known: {known})")


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _error(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: called sys.exit({exc.code!r})"
    return _one_line(f"{type(exc).__name__}: {exc}")


def _warn(problem: Problem) -> None:
    warnings.warn(str(problem), PluginLoadWarning, stacklevel=3)


def _selected() -> set[str] | None:
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
    """Create the plugin manager, register the built-in plugin and every selected entry point.

    A plugin that fails to import (any exception, ``sys.exit`` included; not Ctrl-C) or that pluggy rejects is
    left out with a :class:`PluginLoadWarning` and its :attr:`PluginInfo.error`.
    """
    from medzoo import _builtin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(_builtin, name=CORE)
    infos: list[PluginInfo] = []
    eps = list(entry_points) if entry_points is not None else list(md.entry_points(group=GROUP))
    wanted = _selected()
    if wanted is not None:
        unknown = sorted(wanted - {ep.name for ep in eps})
        if unknown:
            known = ", ".join(sorted({ep.name for ep in eps})) or "none installed"
            warnings.warn(f"{ENV_PLUGINS} names unknown plugin(s) {', '.join(map(repr, unknown))}; "
                          f"known: {known}", PluginLoadWarning, stacklevel=2)
    for ep in sorted(eps, key=lambda e: e.name):
        if wanted is not None and ep.name not in wanted:
            continue
        dist, version = _dist_of(ep)
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            pm.check_pending()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a broken plugin (even one calling sys.exit) must not stop medzoo
            if pm.has_plugin(ep.name) and pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            error = _error(exc)
            warnings.warn(f"medzoo plugin {ep.name!r} ({dist}) failed to load: {error}", PluginLoadWarning,
                          stacklevel=2)
            infos.append(PluginInfo(ep.name, ep.value, dist, version, error))
            continue
        infos.append(PluginInfo(ep.name, ep.value, dist, version))
    return pm, infos


class _CannotTell(Exception):
    """A package whose files are not plain folders: whether a submodule exists is left to import time."""


def _submodule_locations(part: str, locations: list[str]) -> list[str] | None:
    """Where submodule ``part`` of a package searched in ``locations`` lives: ``[]`` for a plain module, the
    package's folders for a package, ``None`` when it is not there (folders only; nothing is imported)."""
    namespace: list[str] = []
    for loc in locations:
        folder = Path(loc)
        if not folder.is_dir():
            raise _CannotTell  # a zip or other importer: assume present rather than guess
        if (folder / part / "__init__.py").is_file():
            return [str(folder / part)]
        if any((folder / (part + suffix)).is_file() for suffix in importlib.machinery.all_suffixes()):
            return []
        if (folder / part).is_dir():
            namespace.append(str(folder / part))
    return namespace or None


def _module_missing(target: str) -> str | None:
    """Why ``"package.module:attr"`` cannot resolve, judged without importing anything; ``None`` if it may.

    The top-level package is found with :func:`importlib.util.find_spec` (which imports nothing for a top-level
    name, and sees editable installs); submodules by looking in the package's folders.
    """
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        return f"{target!r} is not of the form 'module:attr'"
    parts = module.split(".")
    missing = f"{target!r} names module {module!r}, which is not installed"
    try:
        top = sys.modules.get(parts[0])
        if top is not None:
            locations: list[str] | None = list(getattr(top, "__path__", []))
        else:
            spec = importlib.util.find_spec(parts[0])
            if spec is None:
                return missing
            locations = list(spec.submodule_search_locations or [])
        for i in range(1, len(parts)):
            loaded = sys.modules.get(".".join(parts[: i + 1]))
            if loaded is not None:
                locations = list(getattr(loaded, "__path__", []))
                continue
            if not locations:  # a plain module has no submodules
                return missing
            locations = _submodule_locations(parts[i], locations)
            if locations is None:
                return missing
    except _CannotTell:
        return None
    except (ImportError, ValueError, OSError) as exc:
        return f"{target!r}: {_error(exc)}"
    return None


def _factory_fields(spec: Any) -> list[str]:
    """The fields of ``spec`` that hold a factory (a callable or a ``"module:attr"`` string)."""
    return [f.name for f in attrs.fields(type(spec)) if "Callable" in str(f.type)]


def _check_spec(kind: str, hook: str, spec: Any) -> str | None:
    """Why ``spec`` cannot go into table ``kind``; ``None`` when it can."""
    want = SPEC_TYPES[kind]
    if not isinstance(spec, want):
        what = "None" if spec is None else type(spec).__name__
        name = getattr(spec, "name", None)
        named = f" ({name!r})" if isinstance(name, str) else ""
        article = "an" if want.__name__[0] in "AEIOU" else "a"
        return f"{hook} returned {what}{named}, not {article} {want.__name__}; skipped"
    if not isinstance(spec.name, str) or not spec.name:
        return f"{hook} returned a {want.__name__} without a name; skipped"
    for field in _factory_fields(spec):
        value = getattr(spec, field)
        if isinstance(value, str):
            why = _module_missing(value)
            if why is not None:
                return f"{want.__name__} {spec.name!r}: {field} {why}; skipped"
        elif value is not None and not callable(value):
            return f"{want.__name__} {spec.name!r}: {field} is a {type(value).__name__}, not a callable or " \
                   f"'module:attr'; skipped"
    return None


def build_registry(entry_points: Iterable[md.EntryPoint] | None = None) -> Registry:
    """Call every hook and index the specs by name, stamping each with its distribution.

    Bad results are skipped with a :class:`PluginLoadWarning` and recorded in :attr:`Registry.problems`
    (see the module docstring); nothing a plugin returns makes this raise.
    """
    pm, infos = make_manager(entry_points)
    dist_of = {i.name: i.distribution for i in infos}
    dist_of[CORE] = "medzoo"
    reg = Registry(plugins=infos)

    def problem(plugin: str, dist: str, message: str, kind: str | None = None, name: str | None = None) -> None:
        p = Problem(plugin, dist, _one_line(message), kind, name)
        reg.problems.append(p)
        _warn(p)

    hooks = {"models": pm.hook.medzoo_models, "datasets": pm.hook.medzoo_datasets,
             "tasks": pm.hook.medzoo_tasks, "entries": pm.hook.medzoo_entries}
    for kind, hook in hooks.items():
        table: dict[str, Any] = getattr(reg, kind)
        for impl in hook.get_hookimpls():
            plugin_name = pm.get_name(impl.plugin) or "?"
            dist = dist_of.get(plugin_name, plugin_name)
            try:
                specs = impl.function()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - one bad hook must not stop the others
                problem(plugin_name, dist, f"{hook.name} failed: {_error(exc)}")
                continue
            if specs is None:
                continue
            if not isinstance(specs, (list, tuple)):
                shown = _one_line(repr(specs))[:60]
                problem(plugin_name, dist, f"{hook.name} returned {type(specs).__name__} {shown}, not a list of "
                                           f"{SPEC_TYPES[kind].__name__}; skipped")
                continue
            for spec in specs:
                why = _check_spec(kind, hook.name, spec)
                if why is not None:
                    name = spec.name if isinstance(spec, SPEC_TYPES[kind]) else None
                    problem(plugin_name, dist, why, kind, name)
                    continue
                if spec.name in table:
                    other = table[spec.name].distribution
                    singular = kind[:-1] if kind != "entries" else "entry"
                    problem(plugin_name, dist, f"{singular} {spec.name!r} is provided by both {other!r} and {dist!r}; "
                                               f"kept the one from {other!r} (uninstall one, or limit plugins with "
                                               f"{ENV_PLUGINS})")
                    continue
                if isinstance(spec, Entry):
                    try:
                        spec = spec.with_preset()
                    except Exception as exc:  # noqa: BLE001 - a bad weights card skips its entry only
                        problem(plugin_name, dist, f"entry {spec.name!r}: {_error(exc)}; skipped", kind, spec.name)
                        continue
                table[spec.name] = attrs.evolve(spec, distribution=dist)
    check_tasks(reg, problem)  # every model, dataset and entry names a registered task, and entries agree
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
