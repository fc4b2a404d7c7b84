"""JSON from outside, parsed with a nesting limit.

``json.loads`` recurses once per ``[`` or ``{``: a body far under any size cap (``'[' * 100000``) raises
RecursionError, which no edge maps to a client error, so it became a 500 with a traceback. Every parse of
untrusted JSON goes through :func:`loads_limited`, which refuses deep documents with :class:`JSONTooDeep`, a
ValueError, so each caller's existing "not JSON" branch answers its own 4xx (ACME ``malformed``, step and admin
400, tokens Unauthenticated) without knowing about depth.

The hot path stays at C speed: a document with no more brackets than the limit cannot nest deeper than it, so
two ``count`` calls decide most requests and the plain parser runs. Only documents with more brackets are
scanned, iteratively and string-aware, before parsing; RecursionError is mapped too, as a backstop.
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
    """``json.loads`` that raises :class:`JSONTooDeep` instead of recursing past ``max_depth`` levels."""
    if _opening_brackets(data) > max_depth:
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
        if depth_exceeds(text, max_depth):
            raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
        data = text
    try:
        return json.loads(data)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels") from None
