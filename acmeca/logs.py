"""Structured logging. Every issuance, revocation and admin write goes to the ``acmeca.audit`` logger.

The JSON format is one object per line with ``time``, ``level``, ``logger``, ``message`` and ``request_id``
(null outside a request), then the line's own fields. ``request_id`` comes from a context variable the
access middleware sets for the life of each request (:func:`bind_request_id`), so every line logged while a
request is handled carries its id, whichever module logs it; a filter on the handler adds it, which leaves
record factories (``serve --workers`` installs one that adds ``worker``) and ``extra=`` untouched.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

AUDIT_LOGGER = "acmeca.audit"
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_REQUEST_ID: ContextVar[str | None] = ContextVar("acmeca_request_id", default=None)


@contextmanager
def bind_request_id(value: str) -> Iterator[None]:
    """Every line logged inside the block (and in tasks it starts) carries ``request_id=value``."""
    token = _REQUEST_ID.set(value)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Adds the request id bound by :func:`bind_request_id` to a record that does not name one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            value = _REQUEST_ID.get()
            if value is not None:
                record.request_id = value
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines that still carry the structured fields as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD_ATTRS)
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def audit(
    event: str,
    message: str,
    *,
    requester_kind: str | None,
    requester_id: str | None,
    provisioner: str | None,
    serial: str | None = None,
    identifiers: Sequence[str] = (),
    **details: Any,
) -> None:
    """One ``acmeca.audit`` line: ``event`` (``issue``, ``revoke``, ``admin.*``) for machines, ``message`` for
    people, and the same six fields on every line (null or empty where they do not apply), so an audit
    pipeline needs no per-event schema. ``serial`` is decimal; ``details`` adds what is particular to one event.
    """
    fields = {
        "event": event, "serial": serial, "identifiers": list(identifiers), "requester_kind": requester_kind,
        "requester_id": requester_id, "provisioner": provisioner,
    }
    logging.getLogger(AUDIT_LOGGER).info(message, extra={**fields, **details})


def audit_admin(action: str, message: str, *, admin: str, provisioner: str | None = None, **details: Any) -> None:
    """An admin write: event ``admin.<action>``, requested by the admin whose certificate subject is ``admin``."""
    audit(f"admin.{action}", message, requester_kind="admin", requester_id=admin, provisioner=provisioner,
          **details)
