"""One worker of ``acmeca serve --workers N``, started by :mod:`acmeca.server.supervisor` (never by hand).

It serves on the socket it inherited, with the TLS certificate the supervisor sends down stdin, and builds
its own service graph (database pools, executor, job worker) after it starts, as a separate replica would.
It stops when the supervisor asks (SIGTERM), when stdin closes, or when the supervisor dies. With metrics on,
its environment names the supervisor's multiprocess directory, where it writes its metric values.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from acmeca import metrics
from acmeca.config import CAConfig, ConfigError, load_config
from acmeca.logs import setup_logging
from acmeca.server.database import StartupError, first_line
from acmeca.server.graph import GraphOptions, service_graph
from acmeca.server.run import freeze_startup_heap, serve_graph
from acmeca.server.tls_certificate import ServerTLS, TLSMaterial

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def tag_log_records(index: int) -> None:
    """Every log line of a worker says which one it is (a record factory outlives a logger reload)."""
    make_record = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.worker = index
        return record

    logging.setLogRecordFactory(factory)


def die_with_parent(parent: int) -> None:
    """SIGTERM when the supervisor dies, even by SIGKILL (Linux); the EOF on stdin covers the rest."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        raise SystemExit(1)


def material_of(message: dict[str, Any]) -> TLSMaterial:
    return TLSMaterial(chain_pem=str(message["chain"]), key_pem=str(message["key"]).encode("ascii"))


async def _control_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    line = await reader.readline()
    if not line:
        return None
    message = json.loads(line)
    return message if isinstance(message, dict) else None


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _follow_supervisor(reader: asyncio.StreamReader, tls: ServerTLS, stop: asyncio.Event) -> None:
    """Install each renewed certificate; stop when the supervisor closes the channel."""
    while (message := await _read(reader)) is not None:
        if message.get("kind") == "tls":
            tls.install(material_of(message))
            log.info("server TLS certificate replaced by the supervisor")
    stop.set()


async def run_worker(config: CAConfig, fd: int) -> None:
    reader = await _control_reader()
    start = await _read(reader)
    if start is None or start.get("kind") != "start":
        raise StartupError("the supervisor sent no start message")
    password = base64.b64decode(start["password"]) if start.get("password") is not None else None
    listener = socket.socket(fileno=fd)
    listener.setblocking(False)
    options = GraphOptions(server_tls=False)
    async with service_graph(config, password, options=options) as graph:
        tls = ServerTLS(graph.trust)
        tls.install(material_of(start))
        metrics.WORKERS.set(1)  # summed over the live workers by the supervisor's /metrics
        stop = asyncio.Event()
        follower = asyncio.create_task(_follow_supervisor(reader, tls, stop))
        try:
            await serve_graph(graph, listener, tls.context, ready=_serving, stop=stop)
        finally:
            follower.cancel()


def _serving(_address: str) -> None:
    freeze_startup_heap()
    _reply({"kind": "ready"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acmeca-worker", description="a worker of acmeca serve --workers")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--fd", required=True, type=int)
    parser.add_argument("--index", required=True, type=int)
    parser.add_argument("--parent", required=True, type=int)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until serving: the supervisor re-sends one that came early
    die_with_parent(args.parent)
    try:
        config = load_config(args.config)
        setup_logging(config.logger.format, config.logger.level_number)
    except ConfigError as exc:
        _reply({"kind": "error", "message": str(exc)})
        return 1
    tag_log_records(args.index)
    try:
        asyncio.run(run_worker(config, args.fd))
    except StartupError as exc:
        _reply({"kind": "error", "message": str(exc)})
        return 1
    except Exception as exc:  # the supervisor prints the one line; the traceback stays in this worker's log
        log.exception("worker failed")
        _reply({"kind": "error", "message": f"worker {args.index} failed: {first_line(exc)}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
