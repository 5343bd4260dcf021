"""Model cards: what a zoo entry is, what it was trained on, how well it does, and what it is not for.

:func:`card` gathers the facts as a plain dict (from the entry, its ``Weights.metrics`` / ``Weights.meta`` and,
with ``params=True``, the built model); :func:`card_text` (``medzoo info NAME``) and :func:`card_markdown` (the
docs) render the same sections, so the two never disagree. Without ``params`` nothing imports Keras: the
parameter counts come from the weights card (``meta["params"]``) when it has them. Metrics are rendered from
whatever keys are present: a ``{"value", "ci95": [lo, hi]}`` or ``{"value", "ci_low", "ci_high"}`` dict becomes
"value (95% CI lo–hi)"; a nested dict with a ``threshold`` (an operating point) becomes a column of its own.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
from pathlib import Path
from typing import Any

import attrs

from medzoo.errors import MedzooError
from medzoo.registry import registry
from medzoo.specs import Entry

CODE_LICENCE = "MIT"
WARNING = ("NOT FOR CLINICAL USE. Research and teaching only: not a medical device, not validated for diagnosis "
           "or treatment decisions, and not checked on data from other scanners, hospitals or populations.")
INPUT_CONTRACT = "raw pixels (uint8, or float in [0, 255]); no normalisation needed, the model holds its own"
META_NOT_TRAINING = {"command", "threshold", "threshold_rule", "classes", "recipe", "overrides", "params",
                     "postprocess", "postprocess_rule"}
METRICS_SKIPPED = {"per_patient", "roc", "figures", "context", "definitions", "task", "bootstrap", "notes", "rule",
                   "shift_check"}
MAX_LIST = 12
COUNTS = ("tn", "fp", "fn", "tp")  # an operating point's confusion counts, shown as one row
GROUP_SKIPPED = {"confusion_matrix", "threshold"}  # the counts row and the column title say these


class Bold(str):
    """A paragraph rendered in bold in Markdown (the clinical-use warning)."""


# ------------------------------------------------------------------------------------------ the facts


def count_params(model: Any) -> dict[str, int]:
    """Parameters of a built Keras model: ``total``, ``trainable`` and ``non_trainable`` (batch-norm statistics,
    frozen layers)."""
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


def _shape(shape: Any) -> str:
    return "(" + ", ".join("N" if i == 0 else ("any" if s is None else str(s)) for i, s in enumerate(shape)) + ")"


def _short_error(exc: BaseException) -> str:
    """``Type: first sentence`` of an error, with the home folder written ``~`` (cards are shared)."""
    text = " ".join(str(exc).split())
    first = text.split(". ")[0].rstrip(".")
    home = str(Path.home())
    if home not in ("", "/"):
        first = first.replace(home, "~")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _build(spec: Any, kwargs: dict[str, Any]) -> Any:
    """Build ``spec``; a builder with ``backbone_weights`` is retried without them (same parameter count) when
    the pretrained file is not on this machine."""
    try:
        return spec.create(**kwargs)
    except Exception:
        from medzoo.specs import resolve

        try:
            takes_backbone = "backbone_weights" in inspect.signature(resolve(spec.build)).parameters
        except (TypeError, ValueError, ImportError, AttributeError):
            takes_backbone = False
        if not takes_backbone or kwargs.get("backbone_weights", "x") is None:
            raise
        return spec.create(**{**kwargs, "backbone_weights": None})


def _card_params(meta: dict[str, Any]) -> dict[str, int] | None:
    """Parameter counts written on a weights card: ``meta["params"]`` as an int (total) or a dict."""
    params = meta.get("params")
    if isinstance(params, int) and not isinstance(params, bool):
        return {"total": params}
    if isinstance(params, dict) and isinstance(params.get("total"), int):
        return {k: int(v) for k, v in params.items() if isinstance(v, int)}
    return None


def _weights_file(file: str) -> Path | None:
    """The local path of a weights file named on a card (``"package:rel/path"`` or a path), found without
    importing the package; ``None`` for a URL or a file not on this machine."""
    if file.startswith(("http://", "https://")):
        return None
    if file.startswith("file://"):
        path = Path(file[len("file://"):])
    else:
        package, sep, rel = file.partition(":")
        if sep and package.isidentifier() and len(package) > 1:
            import importlib.util

            try:
                spec = importlib.util.find_spec(package)
            except (ImportError, ValueError):
                return None
            folders = list(spec.submodule_search_locations or []) if spec is not None else []
            return next((Path(f) / rel for f in folders if (Path(f) / rel).is_file()), None)
        path = Path(file)
    return path if path.is_file() else None


def weights_file_params(file: str) -> dict[str, int] | None:
    """``{"total": n}``: the numbers stored in a ``.weights.h5`` file on this machine, read with h5py (no Keras,
    no TensorFlow); ``None`` when the file is not local or cannot be read."""
    path = _weights_file(file)
    if path is None:
        return None
    try:
        import h5py
    except ImportError:
        return None
    sizes: list[int] = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda _, obj: sizes.append(int(obj.size)) if isinstance(obj, h5py.Dataset) else None)
    except (OSError, ValueError):
        return None
    return {"total": sum(sizes)} if sizes else None


def _architecture(model_name: str, kwargs: dict[str, Any], params: bool = True,
                  known: dict[str, int] | None = None, weights_file: str | None = None) -> tuple[dict[str, Any], Any]:
    """The architecture's facts, and the built model when ``params`` (else ``None``: nothing imports Keras).

    Without building, the parameter counts are ``known`` (from the weights card), else the numbers stored in
    the ``weights_file`` when it is on this machine.
    """
    try:
        spec = registry().get("models", model_name)
    except MedzooError as exc:  # an architecture whose plugin is missing or was skipped
        return {"name": model_name, "description": "", "reference": "", "kwargs": dict(kwargs), "plugin": "",
                "missing": str(exc)}, None
    arch: dict[str, Any] = {"name": spec.name, "description": spec.description, "reference": spec.reference,
                            "kwargs": {**spec.defaults, **kwargs}, "plugin": spec.distribution}
    if not params:
        if known:
            arch["params"] = dict(known)
            arch["params_from"] = "the weights card"
        elif weights_file is not None and (counted := weights_file_params(weights_file)) is not None:
            arch["params"] = counted
            arch["params_from"] = "the weights file"
        arch["input"] = {"contract": INPUT_CONTRACT}
        arch["output"] = {}
        return arch, None
    try:
        model = _build(spec, kwargs)
    except Exception as exc:  # noqa: BLE001 - a card still shows everything else
        arch["build_error"] = _short_error(exc)
        arch["input"] = {"contract": INPUT_CONTRACT}
        arch["output"] = {}
        return arch, None
    arch["params"] = count_params(model)
    arch["params_from"] = "the built model"
    arch["input"] = {"shape": _shape(model.input_shape), "dtype": str(model.inputs[0].dtype),
                     "contract": INPUT_CONTRACT}
    arch["output"] = {"shape": _shape(model.output_shape)}
    return arch, model


def _licence_of(dist: str) -> str:
    try:
        meta = md.metadata(dist)
    except md.PackageNotFoundError:
        return "licence not found"
    return meta.get("License-Expression") or meta.get("License") or "licence not stated"


def card(name: str, params: bool = False) -> dict[str, Any]:
    """The model card of zoo entry ``name`` as a JSON-able dict (see the module docstring).

    ``params=True`` builds the model (imports Keras) to count its parameters and read its input and output
    shapes; otherwise the counts come from the weights card when it has them.
    """
    reg = registry()
    entry: Entry = reg.get("entries", name)
    w = entry.weights
    meta = dict(w.meta) if w is not None else {}
    arch, _ = _architecture(entry.model, entry.model_kwargs, params=params, known=_card_params(meta),
                            weights_file=w.file if w is not None else None)
    task = reg.tasks.get(entry.task)
    if task is not None and "output" in arch:
        arch["output"]["meaning"] = task.description
    dataset = reg.datasets.get(entry.dataset)
    recipe = attrs.asdict(entry.recipe)
    overrides = {**meta.get("recipe", {}), **meta.get("overrides", {})}
    recipe.update(overrides)
    out: dict[str, Any] = {
        "name": entry.name, "summary": entry.summary, "trained": w is not None, "task": entry.task,
        "architecture": arch,
        "dataset": {"name": entry.dataset, "installed": dataset is not None,
                    **({"description": dataset.description, "homepage": dataset.homepage,
                        "citation": dataset.citation} if dataset is not None else {})},
        "training_data": {k: v for k, v in meta.items() if k not in META_NOT_TRAINING},
        "recipe": recipe, "recipe_overrides": sorted(overrides),
        "metrics": dict(w.metrics) if w is not None else {},
        "study": dict(entry.study),
        "threshold": meta.get("threshold"),
        "threshold_rule": meta.get("threshold_rule"),
        "postprocess": meta.get("postprocess"),
        "postprocess_rule": meta.get("postprocess_rule"),
        "classes": meta.get("classes"),
        "intended_use": entry.intended_use,
        "warning": WARNING,
        "licences": {"code": f"{CODE_LICENCE} (medzoo); {_licence_of(entry.distribution)} ({entry.distribution})"
                     if entry.distribution and entry.distribution != "medzoo" else CODE_LICENCE,
                     "weights": (w.licence or "not stated") if w is not None else "no weights ship",
                     "dataset": (dataset.licence or "not stated") if dataset is not None
                     else f"dataset plugin for {entry.dataset!r} not installed"},
        "weights": {"file": w.file, "sha256": w.sha256} if w is not None else None,
        "command": meta.get("command") or f"medzoo train {entry.name} --data ROOT",
        "plugin": entry.distribution,
    }
    if w is None:
        out["no_weights"] = (
            f"No trained weights ship with this entry: it has not been trained and validated here, so there "
            f"are no measured numbers, and medzoo.load({entry.name!r}) refuses rather than return an untrained "
            f"network. Train it with `medzoo train {entry.name} --data ROOT`, or build the untrained "
            f"architecture with medzoo.load({entry.name!r}, weights=None).")
    return out


# ----------------------------------------------------------------------------------------- formatting


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}"


def _value(v: Any) -> str:
    """One value as text: numbers trimmed, value/CI dicts as 'v (95% CI lo–hi)', long lists shortened."""
    if isinstance(v, dict) and "value" in v:
        lo, hi = v.get("ci_low"), v.get("ci_high")
        if lo is None and isinstance(v.get("ci95"), (list, tuple)) and len(v["ci95"]) == 2:
            lo, hi = v["ci95"]
        ci = f" (95% CI {_num(lo)}–{_num(hi)})" if lo is not None and hi is not None else ""
        of = f" ({_num(v['count'])} of {_num(v['of'])})" if "count" in v and "of" in v else ""
        return f"{_num(v['value'])}{ci}{of}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, tuple) and len(v) <= MAX_LIST:
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, (list, tuple)):
        items = [f"[{_value(x)}]" if isinstance(x, (list, tuple)) else _value(x) for x in v[:MAX_LIST]]
        more = f", … ({len(v)} in all)" if len(v) > MAX_LIST else ""
        return ", ".join(items) + more
    return _num(v)


def _is_leaf(v: Any) -> bool:
    return not isinstance(v, dict) or "value" in v


def _is_metric(v: Any) -> bool:
    """A number or a ``{"value", ...}`` dict (not a flag, a string or a list)."""
    if isinstance(v, dict):
        return "value" in v
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _groups(metrics: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Split ``metrics`` into top-level metrics ``[(key, value)]`` and groups ``[(name, dict)]``: a nested dict
    holding metrics (an operating point); a dict of such dicts is looked into (``operating_points``)."""
    top: list[tuple[str, Any]] = []
    groups: list[tuple[str, dict[str, Any]]] = []

    def visit(d: dict[str, Any], depth: int) -> None:
        for k, v in d.items():
            if depth == 0 and k in METRICS_SKIPPED:
                continue
            if _is_leaf(v):
                if depth == 0 and _is_metric(v):
                    top.append((k, v))
            elif any(_is_leaf(x) and _is_metric(x) for x in v.values()):
                groups.append((k, v))
            elif depth < 2:
                visit(v, depth + 1)

    visit(metrics, 0)
    return top, groups


def study_label(study: dict[str, Any]) -> str:
    """The title of the study's column: its numbers were measured on other data than ours."""
    split = study.get("split")
    return f"the study: {split} (other data)" if isinstance(split, str) and split else "the study (other data)"


def _study_numbers(study: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in study.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _group_title(name: str, group: dict[str, Any]) -> str:
    t = group.get("threshold")
    return f"{name} (threshold {_num(t)})" if _is_metric(t) else name


def operating_point_table(metrics: dict[str, Any], study: dict[str, Any]
                          ) -> tuple[list[str], list[list[str]]] | None:
    """The operating points side by side: ``[metric, <one column per point>, the study]``; confusion counts in
    one ``counts`` row; ``None`` when the metrics have no nested groups."""
    _, groups = _groups(metrics)
    if not groups:
        return None
    theirs = _study_numbers(study)
    keys: list[str] = []
    for _, g in groups:
        keys += [k for k, v in g.items() if k not in keys and k not in GROUP_SKIPPED and k not in COUNTS
                 and isinstance(v, dict) and "value" in v]
    rows = [[k, *(_value(g[k]) if k in g else "" for _, g in groups), _num(theirs[k]) if k in theirs else ""]
            for k in keys]
    if any(all(c in g for c in COUNTS) for _, g in groups):
        rows.append(["counts", *(", ".join(f"{c.upper()} {_num(g[c])}" for c in COUNTS)
                                 if all(c in g for c in COUNTS) else "" for _, g in groups), ""])
    return ["metric", *(_group_title(n, g) for n, g in groups), study_label(study)], rows


def group_notes(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """What else each operating point says (how its threshold was chosen): ``[(group, "key: value, ...")]``."""
    out = []
    for name, g in _groups(metrics)[1]:
        rest = [(k, v) for k, v in g.items()
                if k not in GROUP_SKIPPED and k not in COUNTS and not (isinstance(v, dict) and "value" in v)]
        if rest:
            out.append((name, ", ".join(f"{k.replace('_', ' ')}: {_value(v)}" for k, v in rest)))
    return out


def metrics_table(metrics: dict[str, Any], study: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows ``[metric, measured here, the study]`` of the top-level metrics; a study number sits beside the
    metric of the same name. Study numbers that match neither a top-level metric nor an operating point's row
    (:func:`operating_point_table`) get rows of their own."""
    top, groups = _groups(metrics)
    theirs = _study_numbers(study)
    in_groups = {k for _, g in groups for k in g}
    rows, used = [], set()
    for key, v in top:
        match = key if key in theirs else None
        if match is not None:
            used.add(match)
        rows.append([key, _value(v), _num(theirs[match]) if match is not None else ""])
    rows += [[k, "", _num(v)] for k, v in theirs.items() if k not in used and k not in in_groups]
    return ["metric", "measured here (validation patients)", study_label(study)], rows


def shift_table(shift: dict[str, Any] | None) -> tuple[list[str], list[list[str]]] | None:
    """The card's shift check (:func:`medzoo.shift.shift_check`) as ``(header, rows)``; ``None`` without one."""
    if not shift or "perturbed" not in shift:
        return None
    t = _num(shift.get("threshold", 0.5))
    header = ["condition", "AUC", "AUC change", f"recall at {t}", f"specificity at {t}"]
    clean = shift["clean"]
    rows = [["clean", _num(clean["auc"]), "", _num(clean["recall"]), _num(clean["specificity"])]]
    for name, p in shift["perturbed"].items():
        rows.append([f"{name}: {p.get('what', '')}", _num(p["auc"]), f"{-p['auc_drop']:+.3f}", _num(p["recall"]),
                     _num(p["specificity"])])
    return header, rows


def size_text(arch: dict[str, Any], name: str) -> str:
    """The architecture's size for a card: its parameter counts, or why there are none (never a raw error)."""
    if "missing" in arch:
        return f"unknown: {arch['missing']}"
    params = arch.get("params")
    if params:
        trainable = f" ({params['trainable']:,} trainable)" if "trainable" in params else ""
        source = f", counted in {arch['params_from']}" if arch.get("params_from") == "the weights file" else ""
        return f"{params['total']:,} parameters{trainable}{source}"
    if "build_error" in arch:
        return f"not counted: the model could not be built here ({arch['build_error']})"
    return f"not counted here (`medzoo info {name} --params` builds the model to count them)"


def _sections(c: dict[str, Any]) -> list[tuple[str, Any]]:
    """The card as ``(title, body)``; a body is a paragraph, ``[(label, value)]`` or ``(header, rows)``."""
    arch = c["architecture"]
    io = arch.get("input", {})
    out_ = arch.get("output", {})
    shape = f"; shape {io['shape']}, dtype {io.get('dtype', '?')}" if "shape" in io else ""
    secs: list[tuple[str, Any]] = [
        ("", c["summary"]),
        ("", Bold(c["warning"])),
        ("Architecture", [("model", arch["name"]), ("size", size_text(arch, c["name"])),
                          ("description", arch["description"]), ("settings", arch["kwargs"]),
                          ("reference", arch["reference"]), ("plugin", arch["plugin"])]),
        ("Input and output", [("input", f"{io.get('contract', INPUT_CONTRACT)}{shape}"),
                              ("output", "probabilities" + (f", shape {out_['shape']}" if "shape" in out_ else "")),
                              ("meaning", out_.get("meaning", ""))]),
    ]
    if not c["trained"]:
        secs.append(("Weights", c["no_weights"]))
    else:
        secs.append(("Weights", [("file", c["weights"]["file"]), ("sha256", c["weights"]["sha256"]),
                                 ("recommended threshold", c["threshold"] if c["threshold"] is not None
                                  else "not stated"),
                                 ("how the threshold was chosen", c["threshold_rule"]),
                                 ("3-D postprocess for a patient's volume", c.get("postprocess")),
                                 ("how the postprocess was chosen", c.get("postprocess_rule")),
                                 ("classes", " / ".join(c["classes"]) if c["classes"] else None)]))
        secs.append(("Training data", [("dataset", c["dataset"]["name"]),
                                       *((k.replace("_", " "), v) for k, v in c["training_data"].items())]))
    header, rows = metrics_table(c["metrics"], c["study"])
    points = operating_point_table(c["metrics"], c["study"]) if c["trained"] else None
    if c["trained"]:
        if rows:
            secs.append(("Metrics on the validation patients", (header, rows)))
        if points is not None:
            secs.append(("At each operating point (validation patients)", points))
    elif rows:
        split = c["study"].get("split")
        where = f"{split}; " if isinstance(split, str) and split else ""
        secs.append((f"The study's numbers ({where}not reproduced here)", [(r[0], r[2]) for r in rows]))
    shift = shift_table(c["metrics"].get("shift_check"))
    if shift is not None:
        secs.append(("Shift check: the validation images under fixed acquisition changes", shift))
    notes = [(f"study {k}", v) for k, v in c["study"].items() if isinstance(v, str)]
    notes += [(f"{name} threshold", text) for name, text in group_notes(c["metrics"])]
    for key in ("rule", "bootstrap", "notes"):
        if c["metrics"].get(key):
            notes.append((key, c["metrics"][key]))
    if notes:
        secs.append(("How the numbers were measured", notes))
    recipe = [(k + (" (changed)" if k in c["recipe_overrides"] else ""), v) for k, v in c["recipe"].items()]
    secs += [
        ("Training recipe", recipe),
        ("Reproduce", f"`{c['command']}`"),
        ("Intended use", c["intended_use"] or "not stated"),
        ("Licences", [("code", c["licences"]["code"]), ("weights", c["licences"]["weights"]),
                      ("dataset", c["licences"]["dataset"])]),
    ]
    return secs


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|")


def _render(title: str, secs: list[tuple[str, Any]], md: bool) -> str:
    lines = [f"# {title}"] if md else [title, "=" * len(title)]
    for head, body in secs:
        lines.append("")
        if head:
            lines += [f"## {head}", ""] if md else [head, "-" * len(head)]
        if isinstance(body, str):
            lines.append(f"**{body}**" if md and isinstance(body, Bold) else body)
        elif isinstance(body, tuple):
            header, rows = body
            if md:
                lines += ["| " + " | ".join(_cell(x) for x in r) + " |" for r in [header, ["---"] * len(header), *rows]]
            else:
                widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
                for r in [header, *rows]:
                    lines.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
        else:
            pairs = [(k, v if isinstance(v, str) else _value(v)) for k, v in body if v not in ("", None, {})]
            if md:
                lines += [f"- **{k}**: {v}" for k, v in pairs]
            else:
                width = max((len(k) for k, _ in pairs), default=0) + 1
                lines += [f"{k + ':':<{width}} {v}" for k, v in pairs]
    return "\n".join(lines).strip() + "\n"


def card_text(name: str, params: bool = False) -> str:
    """The card as plain text (``medzoo info NAME``); an architecture name gives its own card.

    ``params=True`` builds the model to count its parameters (``medzoo info NAME --params``); otherwise nothing
    imports Keras.
    """
    if name not in registry().entries and name in registry().models:
        return model_card_for_architecture(name, params=params)
    return _render(name, _sections(card(name, params=params)), md=False)


def card_markdown(name: str, params: bool = True) -> str:
    """The card as Markdown (for the docs, which count the parameters by building the model unless
    ``params=False``)."""
    return _render(name, _sections(card(name, params=params)), md=True)


def architecture_facts(name: str, params: bool = False, **kwargs: Any) -> dict[str, Any]:
    """An architecture's facts as a JSON-able dict (``medzoo info NAME --json``): description, settings,
    plugin, zoo entries and, with ``params``, its parameter counts and input and output shapes."""
    arch, _ = _architecture(name, kwargs, params=params)
    arch["entries"] = sorted(n for n, e in registry().entries.items() if e.model == name)
    return arch


def model_card_for_architecture(name: str, params: bool = True, **kwargs: Any) -> str:
    """An architecture's description, settings and, with ``params`` (it builds the model), parameter counts and
    layer table (``model.summary``), as text."""
    arch, model = _architecture(name, kwargs, params=params)
    secs: list[tuple[str, Any]] = [("", arch["description"]), ("", Bold(WARNING))]
    if model is None:
        secs.append(("Size", size_text(arch, name)))
    else:
        lines: list[str] = []
        model.summary(line_length=110, print_fn=lambda s, *a, **k: lines.append(s))
        p = arch["params"]
        secs += [("Size", [("total parameters", p["total"]), ("trainable", p["trainable"]),
                           ("non-trainable", p["non_trainable"]), ("input", f"{INPUT_CONTRACT}; shape "
                                                                           f"{arch['input']['shape']}"),
                           ("output", f"probabilities, shape {arch['output']['shape']}")]),
                 ("Layers", "\n".join(lines).rstrip())]
    entries = sorted(n for n, e in registry().entries.items() if e.model == name)
    secs += [("Settings", [("defaults and overrides", arch["kwargs"]), ("reference", arch["reference"]),
                           ("plugin", arch["plugin"]), ("zoo entries", ", ".join(entries) or "none")])]
    return _render(name, secs, md=False)
