"""Bounded loopback ACME load: N full http-01 order flows with C in flight, against acmeca and Pebble.

    python -m bench.acme_load                       # 200 orders, 16 in flight, acmeca then Pebble
    python -m bench.acme_load -n 500 -c 32 --target acmeca
    python -m bench.acme_load --postgres postgresql://postgres@127.0.0.1:5432/acmeca_bench

Prints orders/s and p50/p99 latency per step (newAccount, newOrder, authz, challenge, validation, finalize,
issuance, certificate, order total) for each server, then the acmeca/Pebble ratio. Everything runs on
loopback (names resolve to 127.0.0.1/::1 through the project's test DNS server); the order count, the
concurrency and the wall time are all capped, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from acmeca.cli.devdns.server import DNSServer
from bench.acme_flow import Client, FlowError, Timings
from bench.servers import Target, free_port, start_acmeca, start_pebble, start_responder

MAX_ORDERS = 10_000
MAX_CONCURRENCY = 256
STEPS = ["newAccount", "newOrder", "authz", "challenge", "validation", "finalize", "issuance", "certificate",
         "order (total)"]  # fmt: skip


@dataclass
class RunResult:
    target: str
    orders: int
    failures: int
    seconds: float
    timings: Timings
    first_error: str | None

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0


async def run_load(target: Target, orders: int, concurrency: int, max_seconds: float) -> RunResult:
    """Drive ``orders`` flows through ``concurrency`` workers (one account each); stop at ``max_seconds``."""
    timings = Timings()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(orders):
        queue.put_nowait(f"o{uuid.uuid4().hex[:16]}.bench.test")
    done, errors = 0, []
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        clients = [Client(session, target.directory, target.tls, timings) for _ in range(concurrency)]
        await asyncio.gather(*(client.start() for client in clients))

        async def worker(client: Client) -> None:
            nonlocal done
            while not queue.empty():
                name = queue.get_nowait()
                try:
                    await client.order_flow(name, TOKENS)
                    done += 1
                except (FlowError, aiohttp.ClientError, TimeoutError, KeyError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(worker(c) for c in clients)), timeout=max_seconds)
        except TimeoutError:
            errors.append(f"stopped at the {max_seconds:.0f}s time cap")
        elapsed = time.perf_counter() - started
    return RunResult(target.name, done, len(errors), elapsed, timings, errors[0] if errors else None)


TOKENS: dict[str, str] = {}  # token -> key authorization, served by the http-01 responder


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def report(result: RunResult) -> str:
    lines = [
        f"== {result.target}: {result.orders} orders in {result.seconds:.2f}s = {result.orders_per_second:.1f} "
        f"orders/s ({result.failures} failed{': ' + result.first_error if result.first_error else ''})",
        f"   {'step':<16}{'count':>7}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}",
    ]
    for step in STEPS:
        samples = result.timings.samples.get(step, [])
        if samples:
            lines.append(
                f"   {step:<16}{len(samples):>7}{percentile(samples, 0.5) * 1000:>10.1f}"
                f"{percentile(samples, 0.99) * 1000:>10.1f}{statistics.fmean(samples) * 1000:>10.1f}"
            )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="acmeca-bench-"))
    http_port = free_port()
    results: list[RunResult] = []
    with DNSServer(zones=["bench.test", "localhost"]) as dns:
        responder = await start_responder(TOKENS, http_port)
        try:
            for name in ["acmeca", "pebble"] if args.target == "both" else [args.target]:
                target = await asyncio.to_thread(_start, name, workdir, dns.address, http_port, args.postgres)
                try:
                    result = await run_load(target, args.orders, args.concurrency, args.max_seconds)
                finally:
                    await asyncio.to_thread(target.stop)
                print(report(result), flush=True)
                results.append(result)
        finally:
            await responder.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)
    by_name = {r.target: r for r in results}
    if "acmeca" in by_name and "pebble" in by_name and by_name["pebble"].orders_per_second:
        ratio = by_name["acmeca"].orders_per_second / by_name["pebble"].orders_per_second
        print(f"== acmeca/pebble orders/s ratio at C={args.concurrency}: {ratio:.2f}")
    return 1 if any(r.failures for r in results) else 0


def _start(name: str, workdir: Path, dns_address: str, http_port: int, postgres: str | None) -> Target:
    if name == "pebble":
        if not shutil.which("pebble"):
            raise SystemExit("pebble is not installed (apt-get install -y pebble)")
        return start_pebble(workdir, dns_address, http_port)
    return start_acmeca(workdir, dns_address, http_port, postgres)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.acme_load", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--orders", type=int, default=200, help=f"order flows per server (max {MAX_ORDERS})")
    parser.add_argument("-c", "--concurrency", type=int, default=16, help=f"flows in flight (max {MAX_CONCURRENCY})")
    parser.add_argument("--target", choices=["acmeca", "pebble", "both"], default="both")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="wall-time cap per server")
    parser.add_argument("--postgres", metavar="DSN", help="run acmeca on this (empty) PostgreSQL database")
    args = parser.parse_args(argv)
    if not 0 < args.orders <= MAX_ORDERS or not 0 < args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"orders must be 1..{MAX_ORDERS} and concurrency 1..{MAX_CONCURRENCY}")
    args.max_seconds = min(max(args.max_seconds, 1.0), 1800.0)
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
