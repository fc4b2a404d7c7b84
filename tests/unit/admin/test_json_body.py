"""The admin API's body parser: deeply nested JSON is a Malformed (400), like any body that is not JSON."""

from __future__ import annotations

from typing import cast

import pytest
from aiohttp import web

from acmeca.admin.web.requests import json_body
from acmeca.domain.errors import Malformed


class _Request:
    def __init__(self, text: str) -> None:
        self._text = text

    async def text(self) -> str:
        return self._text


DEEP = ["[" * 100_000 + "]" * 100_000, '{"name":' + "[" * 50_000, '{"a":' * 40 + "1" + "}" * 40]


@pytest.mark.parametrize("body", DEEP)
async def test_deep_bodies_are_malformed(body: str) -> None:
    with pytest.raises(Malformed):
        await json_body(cast(web.Request, _Request(body)))


async def test_an_ordinary_body_still_parses() -> None:
    assert await json_body(cast(web.Request, _Request('{"name": "x", "claims": {"a": [1, {"b": 2}]}}'))) == {
        "name": "x", "claims": {"a": [1, {"b": 2}]},
    }
