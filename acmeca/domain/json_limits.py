"""JSON from outside, parsed with a nesting limit.

``json.loads`` recurses once per ``[`` or ``{``: a body far under any size cap (``'[' * 100000``) raises
RecursionError, which no edge maps to a client error, so it became a 500 with a traceback. Every parse of
untrusted JSON goes through :func:`loads_limited`, which refuses deep documents with :class:`JSONTooDeep`, a
ValueError, so each caller's existing "not JSON" branch answers its own 4xx (ACME ``malformed``, step and admin
400, tokens Unauthenticated) without knowing about depth.

The hot path stays at C speed: a document with no more brackets than the limit cannot nest deeper than it, so
two ``count`` calls decide most requests and the plain parser runs. Only documents with more brackets are
scanned, iteratively and string-aware, before parsing; RecursionError is mapped too, as a backstop.

JSON can also spell text that is not Unicode: a lone UTF-16 surrogate (``"\\udcff"``, or its bytes ED B3 BF,
which ``json.loads`` passes through). Such a string parses, then fails with UnicodeEncodeError wherever it is
encoded later (a UUID of a provisioner name, a token hash, a database row): a 500 far from the input. Those
documents are refused here with :class:`JSONNotUnicode`, also a ValueError. Only bodies holding a ``\\u``
escape or an ED byte (or not in UTF-8 at all) pay for the check.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
"""Deepest nesting accepted: far beyond any ACME, step or admin document, far below the recursion limit."""

# A string (escapes included; an unterminated one runs to the end) or one bracket. The string body is the
# unrolled-loop form, so the pattern never backtracks.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class JSONTooDeep(ValueError):
    """A JSON document nested deeper than the limit; a ValueError, so "not JSON" handlers catch it."""


class JSONNotUnicode(ValueError):
    """A JSON string holds a lone surrogate, which is no Unicode text; a ValueError like JSONTooDeep."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _may_hold_surrogates(data: bytes | bytearray | str) -> bool:
    """Whether ``data`` can decode to a lone surrogate: only through a ``\\u`` escape or, in UTF-8, an ED byte."""
    if isinstance(data, str):
        return "\\u" in data or _SURROGATE.search(data) is not None
    return b"\\u" in data or b"\xed" in data or json.detect_encoding(data) != "utf-8"


def _refuse_surrogates(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise JSONNotUnicode("JSON text holds a lone UTF-16 surrogate, which is not Unicode") from None


def depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` opens more than ``max_depth`` arrays or objects at once; brackets in strings don't count."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _opening_brackets(data: bytes | bytearray | str) -> int:
    """An upper bound on the containers in ``data``, at C speed."""
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    # Never an undercount: every '[' or '{' in any of JSON's encodings holds a 0x5B or 0x7B byte.
    return data.count(b"[") + data.count(b"{")


def loads_limited(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises :class:`JSONTooDeep` instead of recursing past ``max_depth`` levels, and
    :class:`JSONNotUnicode` for strings that are not Unicode text."""
    check_text = _may_hold_surrogates(data)
    if _opening_brackets(data) > max_depth:
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
        if depth_exceeds(text, max_depth):
            raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
        data = text
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels") from None
    if check_text:
        _refuse_surrogates(value)
    return value
