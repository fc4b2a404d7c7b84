"""Latency of ``acmeca serve`` while idle and slow connections pile up, against the same server when quiet.

    .venv/bin/python -m bench.connection_pressure              # 1,000 idle + 200 slow connections
    .venv/bin/python -m bench.connection_pressure --idle 500 --slow 100 -n 200

A fresh CA (``acmeca init``, SQLite) whose ``server`` limits hold every connection (a cap above them, long
deadlines), so the pressure stays on for the whole measurement. One keep-alive client measures
``GET /health`` and a full issuance (``POST /1.0/sign`` with a fresh one-time token and CSR), ``-n`` times
each, first on a quiet server, then while ``--idle`` TLS connections sit open sending nothing and ``--slow``
connections send a request one byte per second. It prints one row per condition: p50 and p99 of each, in ms.
No assertion: it is a measurement (issue 10's connection limits are tested in tests/integration/core).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import ssl
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization

from bench.acme_flow import make_csr
from bench.connection_memory import open_idle, start, wait_ready
from bench.servers import PASSWORD
from bench.sign_flow import Minter

SLOW_REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"x" * 4096


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def slow_sender(port: int, tls: ssl.SSLContext, stop: asyncio.Event) -> None:
    """One byte per second until stopped or cut off by the server (its request deadline)."""
    with contextlib.suppress(OSError, ConnectionError, asyncio.IncompleteReadError):
        while not stop.is_set():
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname="localhost")
            for byte in SLOW_REQUEST:
                if stop.is_set() or writer.is_closing():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
            writer.close()


async def sample(session: aiohttp.ClientSession, base: str, minter: Minter, count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"health": [], "issue": []}
    for index in range(count):
        started = time.perf_counter()
        async with session.get(f"{base}/health") as response:
            await response.read()
        times["health"].append(time.perf_counter() - started)
        name = f"p{index}.bench.test"
        body = {"csr": make_csr(name, serialization.Encoding.PEM).decode(), "ott": minter.mint(name)}
        started = time.perf_counter()
        async with session.post(f"{base}/1.0/sign", json=body) as response:
            await response.read()
            if response.status != 201:
                raise RuntimeError(f"/1.0/sign answered {response.status}")
        times["issue"].append(time.perf_counter() - started)
    return times


async def run(home: Path, args: argparse.Namespace) -> list[tuple[str, dict[str, list[float]]]]:
    process, port = start(home, args.idle + args.slow)
    config = json.loads((home / "config" / "ca.json").read_text())
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    try:
        await wait_ready(port, tls, process)
        base = f"https://localhost:{port}"
        fingerprint = json.loads((home / "config" / "defaults.json").read_text())["fingerprint"]
        jwk_provisioner = next(p for p in config["authority"]["provisioners"] if p["type"] == "JWK")
        minter = Minter(jwk_provisioner, PASSWORD, f"{base}/1.0/sign", fingerprint)
        connector = aiohttp.TCPConnector(ssl=tls, limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            await sample(session, base, minter, 20)  # warm-up
            quiet = await sample(session, base, minter, args.n)
            idle = await open_idle(port, tls, args.idle)
            stop = asyncio.Event()
            slow = [asyncio.create_task(slow_sender(port, tls, stop)) for _ in range(args.slow)]
            await asyncio.sleep(2)
            pressed = await sample(session, base, minter, args.n)
            stop.set()
            for writer in idle:
                writer.close()
            await asyncio.gather(*slow)
        return [("quiet", quiet), (f"{args.idle} idle + {args.slow} slow", pressed)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000, help="idle TLS connections (at most 5000)")
    parser.add_argument("--slow", type=int, default=200, help="slow senders (at most 1000)")
    parser.add_argument("-n", type=int, default=300, help="samples of each request per condition (at most 5000)")
    args = parser.parse_args()
    args.idle, args.slow, args.n = min(args.idle, 5000), min(args.slow, 1000), min(args.n, 5000)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as directory:
        rows = asyncio.run(run(Path(directory) / "acmeca", args))
    print(f"{'acmeca sqlite':40} {'/health p50':>12} {'p99':>8} {'issue p50':>10} {'p99':>8}")
    for label, times in rows:
        print(f"{label:40} {percentile(times['health'], 0.5):12.1f} {percentile(times['health'], 0.99):8.1f}"
              f" {percentile(times['issue'], 0.5):10.1f} {percentile(times['issue'], 0.99):8.1f}")
    print(f"ms; one keep-alive client, {args.n} samples each; the slow senders send one byte per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
