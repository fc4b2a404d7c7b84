"""loads_limited: plain json.loads for shallow documents, JSONTooDeep (a ValueError) for deep ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acmeca.domain.json_limits import MAX_DEPTH, JSONTooDeep, depth_exceeds, loads_limited


def nested(depth: int, core: str = "1") -> str:
    return "[" * depth + core + "]" * depth


ACCEPTED: list[tuple[str, str | bytes]] = [
    ("depth 32", nested(32)),
    ("depth 32 as bytes", nested(32).encode()),
    ("depth 32 of objects", '{"a":' * 32 + "1" + "}" * 32),
    ("many shallow brackets", "[" + ",".join(["[1]"] * 500) + "]"),
    ("brackets inside a string", json.dumps({"s": "[" * 1000 + "{" * 1000})),
    ("escaped quote before brackets", json.dumps({"s": 'a\\"' + "[" * 100, "t": [1]})),
    ("escaped backslash ends the string", json.dumps(["\\", "[" * 100])),
    ("depth 32 after strings of brackets", json.dumps(["[[[", "{{{"]) [:-1] + "," + nested(31) + "]"),
    ("UTF-16 with many brackets", json.dumps(["[" * 50]).encode("utf-16")),
]
REFUSED: list[tuple[str, str | bytes]] = [
    ("depth 33", nested(33)),
    ("depth 33 as bytes", nested(33).encode()),
    ("depth 33 of objects", '{"a":' * 33 + "1" + "}" * 33),
    ("unterminated deep array", '{"alg":"ES256","x":' + "[" * 20_000),
    ("balanced deep array", nested(100_000)),
    ("deep after a string with an escaped quote", json.dumps('x\\"]]]') + "," + nested(40)),
]


@pytest.mark.parametrize(("name", "data"), ACCEPTED, ids=[n for n, _ in ACCEPTED])
def test_accepted_documents_parse_as_json_loads_does(name: str, data: str | bytes) -> None:
    assert loads_limited(data) == json.loads(data)


@pytest.mark.parametrize(("name", "data"), REFUSED, ids=[n for n, _ in REFUSED])
def test_deep_documents_are_refused_as_value_errors(name: str, data: str | bytes) -> None:
    with pytest.raises(JSONTooDeep):
        loads_limited(data)
    assert issubclass(JSONTooDeep, ValueError)


def test_the_default_limit_is_32() -> None:
    assert MAX_DEPTH == 32
    assert not depth_exceeds(nested(32), 32)
    assert depth_exceeds(nested(33), 32)


def test_a_lower_limit_is_honoured() -> None:
    assert loads_limited(nested(3), max_depth=3) == json.loads(nested(3))
    with pytest.raises(JSONTooDeep):
        loads_limited(nested(4), max_depth=4 - 1)


def test_recursion_error_is_mapped_as_a_backstop(monkeypatch: pytest.MonkeyPatch) -> None:
    def recurse(_data: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(json, "loads", recurse)
    with pytest.raises(JSONTooDeep):
        loads_limited("[1]")


def test_invalid_json_stays_an_ordinary_value_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_limited("{not json")
