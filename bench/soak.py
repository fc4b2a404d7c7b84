"""Memory over a long ACME run: RSS of every process of acmeca's tree after 1,000 and after 10,000 orders.

    python -m bench.soak                      # acmeca on SQLite, 16 clients, 10,000 orders, at most 20 minutes
    python -m bench.soak --postgres --workers 2

Not part of CI. The same client-like flows as bench.acme_load (Retry-After honoured, one keep-alive connection
per client), against one acmeca; VmRSS comes from /proc/<pid>/status of each process in the server's tree.
The target is that no process grows by more than a factor of TARGET between the two snapshots.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

from acmeca.cli.devdns.server import DNSServer
from bench.acme_flow import Client, Counters
from bench.acme_load import default_step_bin, run_flows
from bench.isolation import require_loopback
from bench.postgres import Cluster, free_port
from bench.procstat import tree_rss_kib
from bench.servers import Environment, ServerSpec, start, start_responder

MAX_ORDERS = 10_000
MAX_SECONDS = 1200.0
TARGET = 1.2


def rss_report(first: dict[int, int], last: dict[int, int], root: int, at: tuple[int, int]) -> tuple[str, float]:
    """One line per process (the supervisor first), and the largest growth ratio among processes seen twice."""
    lines = [f"{'process':<22}{f'RSS MiB @{at[0]}':>16}{f'RSS MiB @{at[1]}':>16}{'ratio':>8}"]
    worst = 0.0
    for pid in sorted(set(first) | set(last), key=lambda p: (p != root, p)):
        role = f"{'server' if pid == root else 'child'} {pid}"
        before, after = first.get(pid), last.get(pid)
        ratio = after / before if before and after else None
        worst = max(worst, ratio or 0.0)
        cells = [f"{v / 1024:.1f}" if v else "-" for v in (before, after)]
        lines.append(f"{role:<22}{cells[0]:>16}{cells[1]:>16}{f'{ratio:.2f}' if ratio else '-':>8}")
    return "\n".join(lines), worst


async def soak(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="acmeca-soak-"))
    cluster = Cluster("acmeca-bench-pg-") if args.postgres else None
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + args.max_seconds
    counters = Counters()

    async def postgres() -> Cluster:
        assert cluster is not None
        require_loopback(cluster.admin_dsn)
        await asyncio.to_thread(cluster.start)
        return cluster

    try:
        with DNSServer(zones=["bench.test", "localhost"]) as dns:
            env = Environment(workdir, require_loopback(dns.address), free_port(), default_step_bin(), postgres)
            responder = await start_responder(tokens, env.http_port)
            spec = ServerSpec("acmeca", "postgresql" if args.postgres else "sqlite", args.workers)
            server = await start(spec, env, 0)
            try:
                require_loopback(server.directory)
                async with AsyncExitStack() as stack:
                    clients = [Client(server.directory, server.tls, tokens) for _ in range(args.clients)]
                    for client in clients:
                        stack.push_async_callback(client.close)
                        client.counters = counters
                    await asyncio.gather(*(client.start() for client in clients))
                    flows = [c.order_flow for c in clients]
                    checkpoint = min(args.checkpoint, args.orders)
                    await run_flows(flows, checkpoint, "o", counters, deadline)
                    first, at_first = tree_rss_kib(server.pid), len(counters.flows)
                    await run_flows(flows, args.orders - checkpoint, "o", counters, deadline)
                    last, at_last = tree_rss_kib(server.pid), len(counters.flows)
            finally:
                await asyncio.to_thread(server.stop)
                await responder.cleanup()
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.remove)
        shutil.rmtree(workdir, ignore_errors=True)
    table, worst = rss_report(first, last, server.pid, (at_first, at_last))
    print(f"{spec.label}: {at_last} orders done, {len(counters.errors)} failed")
    print(table)
    verdict = "within" if worst <= TARGET else "ABOVE"
    print(f"largest RSS growth {worst:.2f} ({verdict} the {TARGET} target)")
    if counters.errors:
        print(f"first failure: {counters.errors[0]}")
    return 0 if worst <= TARGET and not counters.errors else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--orders", type=int, default=MAX_ORDERS, help=f"orders in all (max {MAX_ORDERS})")
    parser.add_argument("--checkpoint", type=int, default=1000, help="orders before the first RSS snapshot")
    parser.add_argument("-c", "--clients", type=int, default=16, help="simulated clients (max 256)")
    parser.add_argument("--postgres", action="store_true", help="acmeca on a throwaway PostgreSQL cluster")
    parser.add_argument("--workers", type=int, help="pass --workers N to acmeca serve")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="wall-time cap (max 1200)")
    args = parser.parse_args(argv)
    if not (0 < args.checkpoint <= args.orders <= MAX_ORDERS and 0 < args.clients <= 256):
        parser.error(f"need 0 < checkpoint <= orders <= {MAX_ORDERS} and 1..256 clients")
    args.max_seconds = min(max(args.max_seconds, 1.0), MAX_SECONDS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(soak(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
