"""The ``medzoo`` command: list, inspect, train, evaluate and run the zoo's models.

Subcommands::

    medzoo plugins                      installed plugins and what each provides (or why it failed)
    medzoo list [PATTERN] [--json]      entries, architectures and datasets
    medzoo info NAME [--data ROOT]      the model card of an entry or architecture, or a dataset's description
                [--params] [--json]     (--params builds the model to count its parameters)
    medzoo train NAME [--data ROOT]     train an entry with its recipe (every field overridable with --set)
    medzoo evaluate NAME [--data ROOT]  evaluate an entry's weights on a split
    medzoo predict NAME FILES...        run an entry on image files

User errors (an unknown name, a bad data root, ...) print ``medzoo: error: <message>`` and exit with
status 2. Nothing heavy is imported until a subcommand needs it: ``list``, ``info`` and ``plugins`` never
import TensorFlow. TensorFlow's own C++ log lines are hidden unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

import medzoo
from medzoo.errors import MedzooError, PluginLoadWarning, UnknownNameError
from medzoo.registry import Registry, registry

PROG = "medzoo"


# ----------------------------------------------------------------------------------------------------------- output
def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], max_width: int = 60) -> str:
    """Left-aligned columns; cells longer than ``max_width`` are shortened with an ellipsis."""

    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        s = " ".join(s.split())
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    body = [[cell(v) for v in r] for r in rows]
    head = [str(h) for h in header]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip() for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _print(text: str = "") -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------------------------------------- quiet
TF_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"
NEEDS_KERAS = ("train", "evaluate", "predict")


def quiet_tensorflow(verbose: bool) -> None:
    """Before TensorFlow loads: its C++ logging off (``TF_CPP_MIN_LOG_LEVEL=3``, which also silences the
    ``cuInit`` error of a machine without a GPU) unless ``verbose``. A value the user set is kept."""
    if not verbose:
        os.environ.setdefault(TF_LOG_ENV, "3")


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to a temporary file for the duration; replay it if
    the body raises. TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, ``absl::InitializeLog``) are
    written before ``TF_CPP_MIN_LOG_LEVEL`` applies, so only this keeps them off the terminal."""
    fd = 2  # native code writes to the descriptor, whatever sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:  # no descriptor 2 at all: nothing to hide
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, fd)
            tmp.seek(0)
            os.write(fd, tmp.read())
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def load_backend_quietly() -> None:
    """Import Keras (and with it the TensorFlow backend) with its native start-up noise hidden, and the Python
    loggers of TensorFlow and absl at ``ERROR``. A failed import shows everything it wrote."""
    if "keras" in sys.modules:
        return
    with native_stderr_captured():
        import keras  # noqa: F401 - loads the backend now, while fd 2 is captured
    import logging

    for name in ("tensorflow", "absl", "jax._src.xla_bridge"):
        logging.getLogger(name).setLevel(logging.ERROR)


class FileCounter:
    """``predicting: 12/40 files`` on a terminal's stderr, rewritten in place; silent elsewhere."""

    def __init__(self, label: str, total: int, stream: Any = None) -> None:
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.active = bool(getattr(self.stream, "isatty", lambda: False)()) and total > 1
        self.shown = False

    def show(self, done: int) -> None:
        """``done`` of the files are finished."""
        if self.active:
            self.stream.write(f"\r{self.label}: {done}/{self.total} files")
            self.stream.flush()
            self.shown = True

    def close(self) -> None:
        """End the counter's line."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class BatchCounter:
    """A per-batch counter on a terminal's stderr (``evaluating: 12 batches, 384 images``); silent elsewhere."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.batches = 0
        self.items = 0
        self.active = bool(getattr(self.stream, "isatty", lambda: False)())

    def wrap(self, predict_on_batch: Callable[..., Any]) -> Callable[..., Any]:
        """``predict_on_batch`` that counts each call on the terminal."""

        def counted(x: Any, *args: Any, **kwargs: Any) -> Any:
            out = predict_on_batch(x, *args, **kwargs)
            self.tick(len(x) if hasattr(x, "__len__") else 0)
            return out

        return counted

    def tick(self, items: int) -> None:
        """One more batch of ``items``."""
        self.batches += 1
        self.items += items
        if self.active:
            self.stream.write(f"\r{self.label}: {self.batches} batches, {self.items} images")
            self.stream.flush()

    def close(self) -> None:
        """End the counter's line."""
        if self.active and self.batches:
            self.stream.write("\n")
            self.stream.flush()


@contextlib.contextmanager
def evaluation_progress(label: str, stream: Any = None) -> Iterator[BatchCounter]:
    """While the body runs, every model that :func:`medzoo.weights.load_entry` returns counts its batches on
    a terminal (``stream``, default stderr). Off when the stream is not a terminal: nothing is wrapped."""
    counter = BatchCounter(label, stream)
    if not counter.active:
        yield counter
        return
    import medzoo.weights as weights_module

    original = weights_module.load_entry

    def load_counted(*args: Any, **kwargs: Any) -> Any:
        model = original(*args, **kwargs)
        model.predict_on_batch = counter.wrap(model.predict_on_batch)
        return model

    weights_module.load_entry = load_counted
    try:
        yield counter
    finally:
        weights_module.load_entry = original
        counter.close()


# ----------------------------------------------------------------------------------------------------------- lookups
_KINDS = ("entries", "models", "datasets", "tasks")


def _lookup_any(reg: Registry, name: str) -> tuple[str, Any]:
    """Find ``name`` among entries, architectures, datasets and tasks (in that order)."""
    for kind in _KINDS:
        table = getattr(reg, kind)
        if name in table:
            return kind, table[name]
    for kind in _KINDS:
        if getattr(reg, "skipped", None) is not None and reg.skipped(kind, name) is not None:
            return kind, reg.get(kind, name)  # raises, saying why the plugin's spec was skipped
    every = sorted({n for kind in _KINDS for n in getattr(reg, kind)})
    close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(f"unknown name {name!r}{hint} (try `medzoo list`)")


def _check_root(root: str | None, entry: str | None = None, what: str = "") -> None:
    """A data root that does not exist is a user error, whichever dataset reads it; no root at all means the
    entry's synthetic data, which is said (on stderr) so that nobody mistakes its scores for the model's."""
    if root is not None and not Path(root).exists():
        raise MedzooError(f"{root}: no such data folder")
    if root is None and entry is not None:
        dataset = medzoo.get_entry(entry).dataset
        print(f"{PROG}: no --data given: {what} the small SYNTHETIC copy of {dataset!r} (for trying the command; "
              f"its scores say nothing about real data). Pass --data ROOT for the real images.", file=sys.stderr)


def _parse_value(text: str) -> Any:
    """``--set`` values: JSON where it parses (``3``, ``1e-4``, ``true``, ``{"a": 1}``), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise MedzooError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = _parse_value(value)
    return out


# ----------------------------------------------------------------------------------------------------------- plugins
def cmd_plugins(args: argparse.Namespace) -> int:
    """Print every plugin entry point, its distribution and what it provides, or its error."""
    reg = registry()
    rows = []
    for info in reg.plugins:
        if info.error is not None:
            provides = f"FAILED: {info.error}"
        else:
            counts = [(kind, sum(1 for s in getattr(reg, kind).values() if s.distribution == info.distribution))
                      for kind in ("models", "datasets", "tasks", "entries")]
            provides = ", ".join(f"{n} {kind if n != 1 else _singular(kind)}" for kind, n in counts if n) or "nothing"
        rows.append((info.name, f"{info.distribution} {info.version}", info.value, provides))
    if not rows:
        _print("no medzoo plugins installed (entry-point group 'medzoo')")
    else:
        _print(_table(rows, ("plugin", "distribution", "module", "provides"), max_width=100))
    failed = sum(1 for i in reg.plugins if i.error is not None)
    if failed:
        _print(f"\n{failed} plugin(s) failed to load; the others work.")
    if reg.problems:
        _print(f"\n{len(reg.problems)} problem(s) in what plugins provide (skipped; the rest works):")
        for problem in reg.problems:
            _print(f"  {problem}")
    return 0


def _singular(kind: str) -> str:
    return "entry" if kind == "entries" else kind[:-1]


# ----------------------------------------------------------------------------------------------------------- list
def _list_json(reg: Registry, kinds: Sequence[str], pattern: str | None, trained: bool) -> dict[str, Any]:
    """``medzoo list --json``: one object per name, for each kind listed."""
    out: dict[str, Any] = {}
    if "entries" in kinds:
        names = medzoo.list_entries(pattern, trained=True if trained else None)
        out["entries"] = [{"name": n, "task": e.task, "model": e.model, "dataset": e.dataset, "trained": e.trained,
                           "distribution": e.distribution, "summary": e.summary}
                          for n in names for e in [reg.entries[n]]]
    if "models" in kinds:
        out["models"] = [{"name": n, "task": s.task, "distribution": s.distribution, "description": s.description}
                         for n in medzoo.list_models(pattern) for s in [reg.models[n]]]
    if "datasets" in kinds:
        out["datasets"] = [{"name": n, "task": s.task, "distribution": s.distribution, "description": s.description}
                           for n in medzoo.list_datasets(pattern) for s in [reg.datasets[n]]]
    return out


def cmd_list(args: argparse.Namespace) -> int:
    """Print tables of entries, architectures and datasets matching ``PATTERN``."""
    reg = registry()
    chosen = [k for k in ("entries", "models", "datasets") if getattr(args, k)]
    if args.trained and not chosen:
        chosen = ["entries"]
    kinds = chosen or ["entries", "models", "datasets"]
    if args.json:
        _print(json.dumps(_list_json(reg, kinds, args.pattern, args.trained), indent=2))
        return 0
    printed = False
    for kind in kinds:
        if kind == "entries":
            names = medzoo.list_entries(args.pattern, trained=True if args.trained else None)
            rows = [(n, e.task, e.model, e.dataset, "yes" if e.trained else "no", e.distribution)
                    for n in names for e in [reg.entries[n]]]
            header: tuple[str, ...] = ("entry", "task", "model", "dataset", "trained", "distribution")
        elif kind == "models":
            names = medzoo.list_models(args.pattern)
            rows = [(n, s.task, s.distribution, s.description) for n in names for s in [reg.models[n]]]
            header = ("model", "task", "distribution", "description")
        else:
            names = medzoo.list_datasets(args.pattern)
            rows = [(n, s.task, s.distribution, s.description) for n in names for s in [reg.datasets[n]]]
            header = ("dataset", "task", "distribution", "description")
        if printed:
            _print()
        title = {"entries": "Entries", "models": "Architectures", "datasets": "Datasets"}[kind]
        _print(f"{title} ({len(rows)})")
        _print(_table(rows, header) if rows else "  (none)")
        printed = True
    return 0


# ----------------------------------------------------------------------------------------------------------- info
def _fields_text(spec: Any, skip: Sequence[str] = ()) -> str:
    lines = []
    for f in attrs.fields(type(spec)):
        if f.name in skip:
            continue
        value = getattr(spec, f.name)
        if value in ("", None, {}, []):
            continue
        if callable(value):
            value = f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', value)}"
        elif attrs.has(type(value)):
            value = json.dumps(attrs.asdict(value), default=str)
        elif isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, default=str)
        lines.append(f"{f.name + ':':<14}{value}")
    return "\n".join(lines)


def _entry_text(name: str, params: bool = False) -> str:
    try:
        from medzoo.cards import card_text
    except ImportError:
        return _fields_text(medzoo.get_entry(name))
    return card_text(name, params=params)


def _model_text(name: str, params: bool = False) -> str:
    try:
        from medzoo.cards import model_card_for_architecture
    except ImportError:
        return _fields_text(registry().get("models", name))
    return model_card_for_architecture(name, params=params)


def _plain(spec: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    """A spec as JSON-able data: callables as ``module:name``."""
    out = {}
    for f in attrs.fields(type(spec)):
        if f.name in skip:
            continue
        value = getattr(spec, f.name)
        if callable(value):
            value = f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', value)}"
        elif attrs.has(type(value)):
            value = attrs.asdict(value)
        out[f.name] = value
    return out


def _info_json(reg: Registry, kind: str, spec: Any, params: bool) -> dict[str, Any]:
    """``medzoo info NAME --json``: an entry's card, an architecture's facts, a dataset's or task's fields."""
    try:
        from medzoo import cards
    except ImportError:
        cards = None  # type: ignore[assignment]
    if kind == "entries":
        data = cards.card(spec.name, params=params) if cards is not None else _plain(spec)
    elif kind == "models":
        data = cards.architecture_facts(spec.name, params=params) if cards is not None else _plain(spec)
    else:
        data = _plain(spec)
    return {"kind": _singular(kind), **data}


def _class_of(record: Any) -> str:
    if isinstance(record.target, int):
        return f"class {record.target}"
    return "lesion" if record.meta.get("positive") else "no lesion"


def _dataset_counts(spec: Any, root: str, on_error: str) -> str:
    """Counts per split and class of dataset ``spec`` read from ``root``."""
    _check_root(root)
    dataset = spec.open(root, on_error=on_error)
    lines = [f"Data at {root}"]
    for key, value in dataset.summary().items():
        lines.append(f"  {key + ':':<22}{value}")
    # the splits that training and `medzoo evaluate` use: one per distinct recipe rule among this dataset's entries
    rules: dict[tuple[float, int], list[str]] = {}
    for entry in registry().entries.values():
        if entry.dataset == spec.name:
            rules.setdefault((entry.recipe.val_fraction, entry.recipe.seed), []).append(entry.name)
    for (val_fraction, seed), names in sorted(rules.items()) or [((0.15, 0), [])]:
        splits = dataset.splits(val_fraction=val_fraction, seed=seed)
        classes = sorted({_class_of(r) for recs in splits.values() for r in recs})
        rows = []
        for split, recs in splits.items():
            counts = Counter(_class_of(r) for r in recs)
            rows.append((split, len({r.patient for r in recs}), len(recs), *(counts.get(c, 0) for c in classes)))
        used_by = f" used by {', '.join(sorted(names))}" if names else ""
        lines += ["", f"Split by patient (val_fraction={val_fraction}, seed={seed}){used_by}:",
                  _table(rows, ("split", "patients", "records", *classes))]
    if dataset.skipped:
        lines.append(f"\nskipped {len(dataset.skipped)} bad file(s):")
        lines += [f"  {path}: {why}" for path, why in dataset.skipped]
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    """Print the card of an entry or architecture, or the description of a dataset or task."""
    reg = registry()
    kind, spec = _lookup_any(reg, args.name)
    if args.json:
        if args.data is not None:
            raise MedzooError("--json does not count a dataset; run without --json for --data")
        data = _info_json(reg, kind, spec, args.params)
        _print(json.dumps(data, indent=2, default=str))
        return 0
    if kind == "entries":
        _print(_entry_text(args.name, args.params))
        if args.data is not None:
            _print()
            _print(_dataset_counts(reg.get("datasets", spec.dataset), args.data, args.on_error))
    elif kind == "models":
        _print(_model_text(args.name, args.params))
    elif kind == "datasets":
        _print(f"Dataset {spec.name} ({spec.task}, from {spec.distribution})")
        _print(_fields_text(spec, skip=("name", "task", "factory", "synthetic", "distribution")))
        if args.data is not None:
            _print()
            _print(_dataset_counts(spec, args.data, args.on_error))
    else:
        _print(f"Task {spec.name} (from {spec.distribution})")
        _print(_fields_text(spec, skip=("name", "distribution")))
    return 0


# ----------------------------------------------------------------------------------------------------------- train
def _train_keywords() -> set[str]:
    import inspect

    from medzoo.runner import train
    from medzoo.specs import Recipe

    params = inspect.signature(train).parameters
    named = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return (named - {"entry", "data", "out"}) | {f.name for f in attrs.fields(Recipe)}


def cmd_train(args: argparse.Namespace) -> int:
    """Train an entry; ``--set KEY=VALUE`` overrides any recipe field or keyword of :func:`medzoo.train`."""
    sets = _parse_sets(args.set)
    known = _train_keywords()
    bad = sorted(set(sets) - known)
    if bad:
        raise MedzooError(f"unknown --set key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    medzoo.get_entry(args.name)  # an unknown name fails here, before TensorFlow loads
    _check_root(args.data, args.name, "training on")
    kwargs: dict[str, Any] = {"resume": args.resume, "seed": args.seed, "on_error": args.on_error}
    kwargs.update({k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size)) if v is not None})
    kwargs.update(sets)
    run = medzoo.train(args.name, data=args.data, out=args.out, **kwargs)
    run_dir = getattr(run, "dir", None)
    if run_dir is not None:
        run_dir = Path(run_dir)
        saved = [name for name in ("best.weights.h5", "metrics.json", "history.csv", "figures")
                 if (run_dir / name).exists()]
        _print(f"run saved in {run_dir}" + (f" ({', '.join(saved)})" if saved else ""))
    return 0


# ----------------------------------------------------------------------------------------------------------- evaluate
def _weights_arg(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _weights_or_model(args: argparse.Namespace) -> Any:
    """``--weights`` as :func:`medzoo.load` takes it, or with ``--tta`` the loaded flip-averaging model."""
    weights = _weights_arg(args.weights)
    return medzoo.load(args.name, weights=weights, tta=True) if getattr(args, "tta", False) else weights


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate an entry's weights on a split and print the metrics."""
    medzoo.get_entry(args.name)
    _check_root(args.data, args.name, "evaluating on")
    extra: dict[str, Any] = {"postprocess": args.postprocess} if args.postprocess not in (None, "none") else {}
    if args.shift:
        extra["shift"] = True  # a task whose evaluation has no shift check refuses it by name
    with evaluation_progress(f"evaluating {args.name}"):
        metrics = medzoo.evaluate(args.name, data=args.data, split=args.split, weights=_weights_or_model(args),
                                  out=args.out, **extra)
    if not isinstance(metrics.get("context"), dict):  # not written by medzoo.report, which prints its own table
        rows = [(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in metrics.items()
                if not isinstance(v, (dict, list))]
        _print(_table(rows, ("metric", "value")))
    return 0


# ----------------------------------------------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    """Run an entry on image files and write its predictions."""
    from medzoo.predict import predict_files, predict_patient

    if args.patient is not None:
        if args.files:
            raise MedzooError("give either FILES or --patient DIR, not both")
        from medzoo.predict import postprocess_rule

        weights = _weights_or_model(args)
        post, why = postprocess_rule(args.name, args.postprocess, weights)
        _print(f"postprocess {post}: {why}")
        results = predict_patient(args.name, args.patient, weights=weights, out=args.out,
                                  threshold=args.threshold, postprocess=post)
        lesion = sum(r["lesion_pixels"] for r in results)
        _print(f"{args.patient}: {len(results)} slices, {lesion} lesion voxels after postprocess {post}")
    elif not args.files:
        raise MedzooError("no image files given (or --patient DIR for a patient's folder of slices)")
    else:
        weights = _weights_or_model(args)
        counter = FileCounter("predicting", len(args.files))
        results = predict_files(args.name, args.files, weights=weights, out=args.out,
                                threshold=args.threshold, progress=counter.show)
        counter.close()
    from medzoo.predict import threshold_rule

    t, rule = threshold_rule(args.name, args.threshold, weights)
    _print(f"threshold {t:.4g}: {rule}")
    quiet = ("mask", "overlay") + (("warning",) if not any(r.get("warning") for r in results) else ())
    columns = [c for c in results[0] if c not in quiet] if results else []
    rows = [[f"{r[c]:.4f}" if isinstance(r[c], float) else r[c] for c in columns] for r in results]
    _print(_table(rows, columns, max_width=80))
    if args.out is not None:
        _print(f"\npredictions written to {args.out}")
    return 0


# ----------------------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``medzoo`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="medzoo: a plugin-based model zoo for medical image analysis.",
        epilog="Run `medzoo COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {medzoo.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own start-up and C++ log lines (hidden by default)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's own start-up and C++ log lines (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("plugins", parents=[common], help="installed plugins and what they provide",
                       description="List the entry points of the 'medzoo' group: plugin, distribution and version, "
                                   "and what each provides (or why it failed to load).")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("list", parents=[common], help="list entries, architectures and datasets",
                       description="List zoo entries, architectures and datasets, optionally filtered.")
    p.add_argument("pattern", nargs="?", metavar="PATTERN", help="wildcard filter on names, e.g. 'unet*'")
    p.add_argument("--models", action="store_true", help="list architectures only")
    p.add_argument("--datasets", action="store_true", help="list datasets only")
    p.add_argument("--entries", action="store_true", help="list zoo entries only")
    p.add_argument("--trained", action="store_true", help="only entries that ship trained weights")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", parents=[common],
                       help="model card of an entry or architecture; description of a dataset",
                       description="Show the model card of an entry or architecture, or a dataset's description "
                                   "(with --data ROOT, its counts per split and class).")
    p.add_argument("name", metavar="NAME", help="an entry, architecture, dataset or task")
    p.add_argument("--data", metavar="ROOT", help="count the records of the dataset found at ROOT")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="stop at the first bad file (raise, default) or skip and list bad files")
    p.add_argument("--params", action="store_true",
                   help="build the model (imports Keras) to count its parameters and, for an architecture, list "
                        "its layers; without it the counts come from the weights card or file")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("train", parents=[common], help="train an entry with its recipe",
                       description="Train a zoo entry with its recipe; checkpoints every epoch into the run "
                                   "directory so --resume continues a killed run.")
    p.add_argument("name", metavar="NAME", help="zoo entry")
    p.add_argument("--data", metavar="ROOT", help="dataset root in its published layout (default: synthetic)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    p.add_argument("--out", metavar="RUNDIR", help="run directory (default runs/<entry>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--seed", type=int, help="seed for splits, shuffling, augmentation and initialisation")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe field or train option (value parsed as JSON, else a string); "
                        "repeatable, e.g. --set learning_rate=1e-4 --set optimizer=adam")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="stop at the first bad file (raise, default) or skip bad files and log them")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], help="evaluate an entry on a split",
                       description="Evaluate a zoo entry's weights on a split of its dataset.")
    p.add_argument("name", metavar="NAME", help="zoo entry")
    p.add_argument("--data", metavar="ROOT", help="dataset root (default: synthetic)")
    p.add_argument("--split", choices=("val", "test"), default="val", help="which split (default val)")
    p.add_argument("--weights", default="default", metavar="default|none|PATH|URL",
                   help="the entry's trained weights (default), none (untrained), or a .weights.h5 path or URL")
    p.add_argument("--out", metavar="DIR", help="write the report (metrics, figures) here")
    p.add_argument("--shift", action="store_true",
                   help="classification: also score the images under fixed acquisition perturbations (contrast, "
                        "gamma, blur, JPEG, resolution) at threshold 0.5")
    p.add_argument("--postprocess", default=None, metavar="largest|min:N|none",
                   help="segmentation: clean each patient's predicted volume in 3-D before scoring (the scores "
                        "without it are reported beside)")
    p.add_argument("--tta", action="store_true",
                   help="average each prediction with that of the left-right mirrored image (twice the cost)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="run an entry on image files",
                       description="Run a zoo entry on image files (JPEG, PNG, TIFF). Classification writes "
                                   "predictions.csv; segmentation writes <stem>_mask.png, <stem>_overlay.png "
                                   "and predictions.csv (lesion pixels).")
    p.add_argument("name", metavar="NAME", help="zoo entry")
    p.add_argument("files", nargs="*", metavar="FILES", help="image files")
    p.add_argument("--patient", metavar="DIR", help="a patient's folder of slices, predicted as one volume")
    p.add_argument("--postprocess", default=None, metavar="largest|min:N|none",
                   help="with --patient: keep the largest 3-D component, drop components under N voxels, or keep "
                        "everything (default: the weights card's choice, else largest)")
    p.add_argument("--weights", default="default", metavar="default|none|PATH|URL",
                   help="the entry's trained weights (default), none (untrained), or a .weights.h5 path or URL")
    p.add_argument("--out", metavar="DIR", default="predictions", help="output folder (default ./predictions)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="probability threshold (default: the entry's, else 0.5)")
    p.add_argument("--tta", action="store_true",
                   help="average each prediction with that of the left-right mirrored image (twice the cost)")
    p.set_defaults(func=cmd_predict)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None, *, _default: Any = warnings.showwarning) -> None:
    """Plugin-load warnings as one ``medzoo: warning:`` line; other warnings as usual."""
    if issubclass(category, PluginLoadWarning):
        print(f"{PROG}: warning: {_one_line(Exception(str(message)))}", file=file or sys.stderr, flush=True)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``medzoo`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    quiet_tensorflow(verbose)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            if not verbose and (args.command in NEEDS_KERAS or getattr(args, "params", False)):
                load_backend_quietly()
            return int(args.func(args) or 0)
        except MedzooError as exc:
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
            return 2
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
            return 130
        except BrokenPipeError:  # `medzoo list | head`: the reader left; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0


if __name__ == "__main__":
    sys.exit(main())
