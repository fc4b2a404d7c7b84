"""The log format: JSON lines with fixed leading fields, the request id on every line of a request, audit fields."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from acmeca.logs import (
    AUDIT_LOGGER,
    JSONFormatter,
    RequestIdFilter,
    TextFormatter,
    audit,
    audit_admin,
    bind_request_id,
    setup_logging,
)
from acmeca.server.worker_process import tag_log_records


@pytest.fixture
def root_logging() -> Iterator[io.StringIO]:
    """setup_logging's handler, writing to a buffer; the root logger and the record factory are restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogRecordFactory()
    setup_logging("json", logging.INFO)
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:], _, _ = saved
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_leads_with_the_fixed_fields(root_logging: io.StringIO) -> None:
    logging.getLogger("acmeca.test").warning("disk %s", "full", extra={"free": 0})
    [entry] = lines(root_logging)
    assert list(entry)[:5] == ["time", "level", "logger", "message", "request_id"]
    assert entry["level"] == "warning"
    assert entry["logger"] == "acmeca.test"
    assert entry["message"] == "disk full"
    assert "msg" not in entry
    assert entry["request_id"] is None
    assert entry["free"] == 0


async def test_every_line_inside_a_request_carries_its_id(root_logging: io.StringIO) -> None:
    async def background() -> None:
        logging.getLogger("acmeca.elsewhere").info("in a task the request started")

    with bind_request_id("abc123"):
        logging.getLogger("acmeca.test").info("inside")
        await asyncio.create_task(background())
        logging.getLogger("acmeca.test").info("named", extra={"request_id": "explicit"})
    logging.getLogger("acmeca.test").info("after")
    assert [(e["message"], e["request_id"]) for e in lines(root_logging)] == [
        ("inside", "abc123"), ("in a task the request started", "abc123"), ("named", "explicit"), ("after", None),
    ]


def test_the_worker_tag_and_the_request_id_both_arrive(root_logging: io.StringIO) -> None:
    tag_log_records(1)
    with bind_request_id("r1"):
        logging.getLogger("acmeca.test").info("tagged")
    [entry] = lines(root_logging)
    assert (entry["worker"], entry["request_id"]) == (1, "r1")


def test_text_lines_name_the_request_only_inside_one() -> None:
    record = logging.makeLogRecord({"name": "acmeca.test", "msg": "hello", "levelname": "INFO"})
    RequestIdFilter().filter(record)
    assert "request_id" not in TextFormatter().format(record)
    with bind_request_id("r2"):
        record = logging.makeLogRecord({"name": "acmeca.test", "msg": "hello", "levelname": "INFO"})
        RequestIdFilter().filter(record)
    assert TextFormatter().format(record).endswith("hello request_id=r2")


def test_audit_lines_carry_the_same_six_fields(root_logging: io.StringIO) -> None:
    audit("issue", "certificate issued", serial="123", identifiers=["a.test"], requester_kind="provisioner",
          requester_id="p1", provisioner="admin", profile="default")
    audit_admin("admin_deleted", "admin deleted", admin="alice", target="bob")
    issued, deleted = lines(root_logging)
    assert issued["logger"] == AUDIT_LOGGER
    assert issued["message"] == "certificate issued"
    assert {k: issued[k] for k in ("event", "serial", "identifiers", "requester_kind", "requester_id",
                                   "provisioner", "profile")} == {
        "event": "issue", "serial": "123", "identifiers": ["a.test"], "requester_kind": "provisioner",
        "requester_id": "p1", "provisioner": "admin", "profile": "default",
    }
    assert {k: deleted[k] for k in ("event", "serial", "identifiers", "requester_kind", "requester_id",
                                    "provisioner", "target")} == {
        "event": "admin.admin_deleted", "serial": None, "identifiers": [], "requester_kind": "admin",
        "requester_id": "alice", "provisioner": None, "target": "bob",
    }


def test_json_formatter_alone_names_no_request() -> None:
    record = logging.makeLogRecord({"name": "x", "msg": "m", "levelname": "INFO"})
    assert json.loads(JSONFormatter().format(record))["request_id"] is None
