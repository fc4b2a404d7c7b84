"""Request ids: 16 hex characters, unique within a process and (by their random prefix) across processes."""

from __future__ import annotations

import re

from aiohttp.test_utils import make_mocked_request

from acmeca.edge.middleware import _RequestIds, request_id


def test_request_ids_are_unique_hex_and_stable_per_request() -> None:
    requests = [make_mocked_request("GET", "/") for _ in range(200)]
    ids = [request_id(r) for r in requests]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert request_id(requests[0]) == ids[0]  # asked again, the same request keeps its id


def test_two_processes_draw_different_prefixes() -> None:
    first, second = _RequestIds(), _RequestIds()
    assert first.next()[:8] != second.next()[:8]
    reseeded = _RequestIds()
    before = reseeded.next()
    reseeded.reseed()  # what a forked child does
    assert reseeded.next()[:8] != before[:8]

