"""Griffe extension: make medzoo's reStructuredText-flavoured docstrings read cleanly in the API reference.

Registered in ``mkdocs.yml`` under the mkdocstrings Python handler's ``extensions:``. The docstrings are
Google style, written to read well in ``help()`` too, so they carry two things Markdown does not know:

* Sphinx roles, ``:class:`~medzoo.data.Dataset```, ``:func:`load```, ``:meth:`decode```, ``:mod:``,
  ``:attr:``, ``:data:``, ``:exc:``, ``:obj:``, ``:const:`` (also ``:py:class:``): each becomes inline code
  that links to the object when the API page documents it. The name is resolved like Python would from
  the docstring's owner (``decode`` in a method of ``Dataset`` is ``medzoo.data.Dataset.decode``); a
  leading ``~`` shows only the last component, ``title <target>`` shows the title, and functions and
  methods get ``()`` as Sphinx writes them. The link is an *optional* cross-reference: a target that the
  site does not document renders as plain code instead of failing the strict build.
* doctest lines (``>>> ...``, ``... ...`` and their output), which Markdown reads as nested block quotes:
  each run becomes a fenced ``pycon`` code block, without the ``# doctest: +SKIP`` directives;
* reST's ``text::`` before an indented literal block, shown as ``text:`` (the block is already code).

Code spans and fenced blocks already in a docstring are left alone. The text rewriting is plain functions
(:func:`rewrite`), tested in ``tests/test_docs.py`` without a build.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

try:  # the extension class needs griffe; the text functions below do not
    import griffe
except ImportError:  # pragma: no cover - griffe comes with mkdocstrings-python
    griffe = None  # type: ignore[assignment]

ROLES = ("class", "func", "meth", "mod", "attr", "data", "exc", "obj", "const", "type")
CALLABLE_ROLES = ("func", "meth")
ROLE_RE = re.compile(r":(?:py:)?(?P<role>" + "|".join(ROLES) + r"):`(?P<body>[^`]+)`")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
DOCTEST_RE = re.compile(r"^(?P<indent>\s*)>>>(?: |$)")
LITERAL_RE = re.compile(r"(?<=\S)::\s*$")
DIRECTIVE_RE = re.compile(r"\s*#\s*doctest:.*$")
# A role, or a code span (left as it is); scanning left to right, whichever starts first wins.
TOKEN_RE = re.compile(ROLE_RE.pattern + r"|(?P<ticks>`+).+?(?P=ticks)")

Resolver = Callable[[str], "str | None"]


def _role(match: re.Match[str], resolve: Resolver) -> str:
    role, body = match["role"], match["body"].strip()
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", body)
    if explicit:
        title, target = explicit["title"], explicit["target"].lstrip("~.")
    else:
        target = body.lstrip("~.")
        title = target.rsplit(".", 1)[-1] if body.startswith("~") else target
        if role in CALLABLE_ROLES and not title.endswith(")"):
            title += "()"
    code = f"<code>{html.escape(title)}</code>"
    identifier = resolve(target)
    if identifier is None:
        return code
    return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'


def rewrite_roles(line: str, resolve: Resolver = lambda name: None) -> str:
    """``line`` with its Sphinx roles as (optionally linked) inline code; existing code spans kept as they are."""
    return TOKEN_RE.sub(lambda m: _role(m, resolve) if m["role"] else m.group(0), line)


def rewrite_doctests(text: str) -> str:
    """``text`` with each run of doctest lines (prompt, continuation, output) as a fenced ``pycon`` block."""
    lines = text.splitlines()
    out: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE_RE.match(line):
            fenced = not fenced
        start = None if fenced else DOCTEST_RE.match(line)
        if start is None:
            out.append(line)
            i += 1
            continue
        indent = start["indent"]
        block: list[str] = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(DIRECTIVE_RE.sub("", lines[i][len(indent):]).rstrip())
            i += 1
        if out and out[-1].strip():
            out.append("")  # a fence must start its own paragraph
        out += [f"{indent}```pycon", *(f"{indent}{b}" for b in block), f"{indent}```"]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def rewrite(text: str, resolve: Resolver = lambda name: None) -> str:
    """A docstring made Markdown: doctests fenced, roles outside code turned into inline code/links."""
    text = rewrite_doctests(text)
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if FENCE_RE.match(line):
            fenced = not fenced
            out.append(line)
            continue
        if not fenced and LITERAL_RE.search(line):
            line = LITERAL_RE.sub(":", line)  # reST "text::" introduces a literal block: Markdown shows "text:"
        out.append(line if fenced else rewrite_roles(line, resolve))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def resolver(obj: Any) -> Resolver:
    """Resolve a name as written in ``obj``'s docstring to the full path of what it names (None: unknown)."""

    def resolve(name: str) -> str | None:
        if not name:
            return None
        head, _, rest = name.partition(".")
        root = obj.package.name if hasattr(obj, "package") else ""
        if head == root:
            return name
        scope = obj
        while scope is not None:
            try:
                found = scope.resolve(head)
            except Exception:  # griffe's NameResolutionError, or an alias it cannot follow
                scope = getattr(scope, "parent", None)
                continue
            return f"{found}.{rest}" if rest else found
        return None

    return resolve


if griffe is not None:

    class SphinxRolesToMarkdown(griffe.Extension):
        """Rewrite every docstring of the loaded package with :func:`rewrite` once the tree is complete."""

        def on_object(self, *, obj: Any, **kwargs: Any) -> None:
            if obj.docstring is not None and not obj.is_alias:
                obj.docstring.value = rewrite(obj.docstring.value, resolver(obj))

        def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
            self.on_object(obj=pkg)  # griffe calls on_object for every member, but not for the package itself
