"""Fuzzing loads_limited, the one parser of outside JSON: whatever it returns must be Unicode text all the way
down (encodable as UTF-8, as every later consumer needs), and everything else a ValueError.

Documents are random JSON trees serialised with and without ASCII escaping, then bent: a ``\\uXXXX`` escape
spliced in (often a lone surrogate), raw ED bytes, brackets, cuts; in UTF-8, UTF-16 and as str.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.domain.json_limits import loads_limited
from tests.unit.fuzz.strategies import json_values, mutated_bytes

_ESCAPES = st.sampled_from(("\\ud800", "\\udcff", "\\ud83d\\ude00", "\\ud83d", "\\u0000", "\\u00e9", "\\uDFFF"))


@st.composite
def documents(draw: st.DrawFn) -> bytes | str:
    text = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    quote = text.find('"')
    if quote >= 0 and draw(st.booleans()):
        text = text[: quote + 1] + draw(_ESCAPES) + text[quote + 1:]
    encoding = draw(st.sampled_from(("utf-8", "utf-16", "str")))
    if encoding == "str":
        return text
    data = text.encode(encoding, "surrogatepass")
    return draw(st.just(data) | mutated_bytes(data)) if encoding == "utf-8" else data


@given(documents())
@example('"\\udcff"')
@example(b'"\xed\xb3\xbf"')  # found: the raw UTF-8 bytes of a surrogate pass json.loads too
@example('{"\\ud800": 1}')
@example('["\\ud83d\\ude00"]')  # a proper pair is fine
@example(json.dumps("\udcff", ensure_ascii=False).encode("utf-16", "surrogatepass"))
def test_outside_json_is_unicode_text_or_a_value_error(data: bytes | str) -> None:
    try:
        value: Any = loads_limited(data)
    except ValueError:  # JSONDecodeError, JSONTooDeep, JSONNotUnicode, UnicodeDecodeError
        return
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
