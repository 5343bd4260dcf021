"""Kermany file names: patient id, subtype (bacteria / virus / normal) and image number."""

from __future__ import annotations

import re

import attrs

PNEUMONIA_NAME = re.compile(r"^(?P<patient>person\d+)_(?P<subtype>bacteria|virus)_(?P<n>\d+)", re.IGNORECASE)
NORMAL_NAME = re.compile(r"^(?P<patient>(?:NORMAL\d+-)?IM-\d+)-(?P<n>\d+)", re.IGNORECASE)


@attrs.frozen
class ParsedName:
    """What a file name says: ``subtype`` is ``bacteria``, ``virus``, ``normal`` or ``None`` (unparseable)."""

    patient: str
    subtype: str | None
    index: int


def parse_name(stem: str) -> ParsedName:
    """Parse a file stem (no extension).

    ``person12_bacteria_45`` → (``person12``, ``bacteria``, 45); ``IM-0115-0001`` → (``IM-0115``, ``normal``, 1);
    ``NORMAL2-IM-1427-0001`` → (``NORMAL2-IM-1427``, ``normal``, 1); anything else → (stem, ``None``, 0).
    """
    m = PNEUMONIA_NAME.match(stem)
    if m:
        return ParsedName(m["patient"].lower(), m["subtype"].lower(), int(m["n"]))
    m = NORMAL_NAME.match(stem)
    if m:
        return ParsedName(m["patient"].upper(), "normal", int(m["n"]))
    return ParsedName(stem, None, 0)
