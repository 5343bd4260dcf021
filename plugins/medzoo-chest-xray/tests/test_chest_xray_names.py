"""File-name parsing: patient, subtype, image number."""

from __future__ import annotations

import pytest

from medzoo_chest_xray.names import parse_name


@pytest.mark.parametrize(("stem", "patient", "subtype", "index"), [
    ("person1000_bacteria_2931", "person1000", "bacteria", 2931),
    ("person1000_virus_1681", "person1000", "virus", 1681),
    ("person1_virus_12_1", "person1", "virus", 12),
    ("IM-0115-0001", "IM-0115", "normal", 1),
    ("IM-0117-0001-0002", "IM-0117", "normal", 1),
    ("NORMAL2-IM-1427-0001", "NORMAL2-IM-1427", "normal", 1),
    ("NORMAL2-IM-0012-0001-0002", "NORMAL2-IM-0012", "normal", 1),
    ("scan_42", "scan_42", None, 0),
    ("personX_bacteria_1", "personX_bacteria_1", None, 0),
])
def test_parse_name(stem: str, patient: str, subtype: str | None, index: int) -> None:
    p = parse_name(stem)
    assert (p.patient, p.subtype, p.index) == (patient, subtype, index)
