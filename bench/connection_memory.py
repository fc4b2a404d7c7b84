"""RSS of ``acmeca serve`` per open TLS connection, and after bursts of connections have closed.

    .venv/bin/python -m bench.connection_memory               # 1,000 connections, 3 cycles
    .venv/bin/python -m bench.connection_memory -n 500 --cycles 5

A fresh CA (``acmeca init``, SQLite) runs with ``server.maxConnections`` above ``-n`` and long timeouts, so
nothing closes on its own. Each cycle opens ``-n`` TLS connections that stay idle, reads the server's VmRSS
from /proc/<pid>/status, closes them, waits for the server to trim its heap, and reads VmRSS again.
Output: quiet RSS, per cycle the RSS with the connections open and after they closed, MB per connection,
and whether RSS after the last cycle is within 1.1x of RSS after the first. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import init_acmeca

SETTLE_SECONDS = 3.0  # the server trims its heap 1 s after a burst of closes


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start(home: Path, connections: int) -> tuple[subprocess.Popen[bytes], int]:
    ca = init_acmeca(home)
    password, port, env, acmeca, config_path = ca.password, ca.port, ca.env, ca.command, ca.config_path
    config = json.loads(config_path.read_text())
    config["server"] = {"idleTimeout": "10m", "requestTimeout": "10m", "maxConnections": connections + 100}
    config_path.write_text(json.dumps(config, indent=2))
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen([*acmeca, "serve", "--password-file", str(password)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return process, port


async def wait_ready(port: int, tls: ssl.SSLContext, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname="localhost")
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("acmeca serve did not start")


async def open_idle(port: int, tls: ssl.SSLContext, count: int) -> list[asyncio.StreamWriter]:
    gate = asyncio.Semaphore(100)

    async def one() -> asyncio.StreamWriter:
        async with gate:
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname="localhost")
            return writer

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def measure(port: int, pid: int, tls: ssl.SSLContext, count: int, cycles: int) -> list[tuple[float, float]]:
    rows = []
    for _ in range(cycles):
        writers = await open_idle(port, tls, count)
        await asyncio.sleep(0.5)
        peak = vm_rss_mb(pid)
        for writer in writers:
            writer.close()
        await asyncio.sleep(SETTLE_SECONDS)
        rows.append((peak, vm_rss_mb(pid)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="connections per cycle (at most 10000)")
    parser.add_argument("--cycles", type=int, default=3, help="open/close cycles (at most 10)")
    args = parser.parse_args()
    count, cycles = min(args.n, 10_000), min(args.cycles, 10)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    with tempfile.TemporaryDirectory() as directory:
        process, port = start(Path(directory) / "acmeca", count)
        try:
            asyncio.run(wait_ready(port, tls, process))
            time.sleep(1)
            quiet = vm_rss_mb(process.pid)
            rows = asyncio.run(measure(port, process.pid, tls, count, cycles))
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"quiet RSS {quiet:.1f} MB")
    for number, (peak, after) in enumerate(rows, 1):
        print(f"cycle {number}: {count} open {peak:.1f} MB ({(peak - quiet) / count * 1024:.0f} KB per connection),"
              f" after close {after:.1f} MB")
    ratio = rows[-1][1] / rows[0][1]
    print(f"after cycle {cycles} / after cycle 1 = {ratio:.2f} ({'within' if ratio <= 1.1 else 'ABOVE'} 1.1)")
    return 0 if ratio <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
