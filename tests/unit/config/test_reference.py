"""docs/configuration.md is generated from the registry: the doc and the loader cannot disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from acmeca.config.reference import render
from acmeca.config.registry import SECTIONS, LoadNotes, Reader

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    assert DOC.read_text() == render(), "run: python -m acmeca.config.reference > docs/configuration.md"


def test_every_section_is_documented_once() -> None:
    paths = [s.path for s in SECTIONS]
    assert len(paths) == len(set(paths))
    text = DOC.read_text()
    for section in SECTIONS:
        for key in section.keys:
            assert f"| `{key.name}` |" in text


def test_a_parser_cannot_read_an_undeclared_key() -> None:
    reader = Reader({}, "validation", next(s for s in SECTIONS if s.path == "validation"), LoadNotes())
    with pytest.raises(KeyError, match="not a declared key"):
        reader.raw("http01port")
