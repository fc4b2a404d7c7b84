"""Client-like load on acmeca, Pebble and step-ca in one run, on loopback, printed as one table.

    python -m bench.acme_load                        # C=16 clients, W=100 warm-up + N=300 timed flows per server
    python -m bench.acme_load -n 40 -w 10 --servers acmeca-sqlite,pebble
    python -m bench.acme_load --lint-axis            # every acmeca row with lint off, plus SQLite with lint enforced

Per server: C simulated ACME clients (one account and one keep-alive connection each) run W warm-up order
flows, then N timed ones; then C token-API clients run W warm-up and N timed ``/1.0/sign`` calls (servers
with a step-style API only). Over each timed window the server's process tree CPU (and the PostgreSQL
cluster's, for acmeca on PostgreSQL) and this process's own CPU are measured. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from acmeca.cli.devdns.server import DNSServer
from bench.acme_flow import Client, Counters, FlowError
from bench.isolation import in_own_netns, reexec_in_netns, require_loopback
from bench.postgres import Cluster, free_port
from bench.procstat import tree_cpu_seconds
from bench.servers import Environment, Running, ServerSpec, Skipped, start, start_responder
from bench.sign_flow import SignClient
from bench.table import Phase, Row, format_table

MAX_FLOWS = 10_000
MAX_CLIENTS = 256
MAX_SECONDS = 1800.0
SERVERS = ("acmeca-sqlite", "acmeca-sqlite-wN", "acmeca-pg", "acmeca-pg-wN", "pebble", "step-ca")
FLOW_ERRORS = (FlowError, aiohttp.ClientError, TimeoutError, KeyError, StopIteration, TypeError, AttributeError)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Plan:
    clients: int
    warmup: int
    timed: int
    max_seconds: float  # per server, all phases together


def specs_for(names: Sequence[str], workers: int, lint_axis: bool) -> list[ServerSpec]:
    table = {
        "acmeca-sqlite": ServerSpec("acmeca", "sqlite", 1),
        "acmeca-sqlite-wN": ServerSpec("acmeca", "sqlite", workers),
        "acmeca-pg": ServerSpec("acmeca", "postgresql", 1),
        "acmeca-pg-wN": ServerSpec("acmeca", "postgresql", workers),
        "pebble": ServerSpec("pebble"),
        "step-ca": ServerSpec("step-ca"),
    }
    specs = [table[name] for name in names]
    if lint_axis:
        # The targets apply without pre-issuance lint: every acmeca row runs with lint off, and one more
        # row with lint enforced (the default) prints what lint costs per certificate.
        specs = [dataclasses.replace(s, lint="off") if s.kind == "acmeca" else s for s in specs]
        specs += [ServerSpec("acmeca", "sqlite", 1, lint="off"), ServerSpec("acmeca", "sqlite", 1, lint="enforce")]
    return list(dict.fromkeys(specs))  # workers=1 twice collapses to one row


async def run_flows(
    flows: Sequence[Callable[[str], Awaitable[None]]], count: int, prefix: str, counters: Counters, deadline: float
) -> float:
    """``count`` flows over the given clients (each runs one flow at a time); stops at ``deadline``. Wall seconds."""
    names = iter([f"{prefix}{uuid.uuid4().hex[:16]}.bench.test" for _ in range(count)])

    async def client_loop(flow: Callable[[str], Awaitable[None]]) -> None:
        for name in names:
            try:
                await flow(name)
            except FLOW_ERRORS as exc:
                counters.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(client_loop(f) for f in flows)), timeout=max(deadline - time.monotonic(), 0.1)
        )
    except TimeoutError:
        counters.errors.append("stopped at the per-server time cap")
    return time.perf_counter() - started


async def timed_phase(
    flows: Sequence[Callable[[str], Awaitable[None]]], counters: Counters, plan: Plan, prefix: str,
    server: Running, deadline: float,
) -> Phase:  # fmt: skip
    """Warm-up flows, then the timed ones with CPU read around them; ``counters`` is what the clients fill in."""
    await run_flows(flows, plan.warmup, prefix, counters, deadline)
    counters.requests, counters.flows, counters.errors = 0, [], []
    server0, client0 = tree_cpu_seconds(server.pid), own_cpu_seconds()
    db0 = tree_cpu_seconds(server.db_pid) if server.db_pid else None
    seconds = await run_flows(flows, plan.timed, prefix, counters, deadline)
    server_cpu, client_cpu = tree_cpu_seconds(server.pid) - server0, own_cpu_seconds() - client0
    db_cpu = tree_cpu_seconds(server.db_pid) - db0 if server.db_pid and db0 is not None else None
    return Phase(len(counters.flows), len(counters.errors), seconds, counters.requests, counters.flows, server_cpu,
                 client_cpu, db_cpu, counters.errors[0] if counters.errors else None)  # fmt: skip


async def measure(server: Running, plan: Plan, tokens: dict[str, str]) -> Row:
    require_loopback(server.directory)
    row = Row(server.label)
    deadline = time.monotonic() + plan.max_seconds
    counters = Counters()
    async with AsyncExitStack() as stack:
        clients = [Client(server.directory, server.tls, tokens) for _ in range(plan.clients)]
        for client in clients:
            stack.push_async_callback(client.close)
            client.counters = counters
        await asyncio.gather(*(client.start() for client in clients))
        row.acme = await timed_phase([c.order_flow for c in clients], counters, plan, "o", server, deadline)
    if server.minter is not None:
        require_loopback(server.minter.sign_url)
        counters = Counters()
        async with AsyncExitStack() as stack:
            signers = [SignClient(server.minter, server.tls) for _ in range(plan.clients)]
            for signer in signers:
                stack.push_async_callback(signer.close)
                signer.counters = counters
            row.sign = await timed_phase([s.sign_flow for s in signers], counters, plan, "s", server, deadline)
    for name, phase in (("orders", row.acme), ("signs", row.sign)):
        if phase and phase.failures:
            row.notes.append(f"{phase.failures} {name} failed, first: {phase.first_error}")
    return row


def http01_port() -> int:
    """Port 80 when it is free (always, in the bench's own namespace), else any free port (step-ca is then skipped)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 80))
        except OSError:
            return free_port()
    return 80


async def main_async(args: argparse.Namespace) -> int:
    plan = Plan(args.clients, args.warmup, args.orders, args.max_seconds)
    specs = specs_for(args.servers, args.workers, args.lint_axis)
    workdir = Path(tempfile.mkdtemp(prefix="acmeca-bench-"))
    tokens: dict[str, str] = {}
    rows: list[Row] = []
    notes: list[str] = []
    failed: list[str] = []
    cluster: Cluster | None = None

    async def postgres() -> Cluster:
        nonlocal cluster
        if cluster is None:
            cluster = Cluster("acmeca-bench-pg-")
            require_loopback(cluster.admin_dsn)
            await asyncio.to_thread(cluster.start)
        return cluster

    load = os.getloadavg()
    try:
        with DNSServer(zones=["bench.test", "localhost"]) as dns:
            env = Environment(workdir, require_loopback(dns.address), http01_port(), args.step_bin, postgres)
            responder = await start_responder(tokens, env.http_port)
            try:
                for index, spec in enumerate(specs):
                    try:
                        server = await start(spec, env, index)
                    except Skipped as exc:
                        notes.append(f"{spec.label}: skipped, {exc}")
                        continue
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        failed.append(f"{spec.label}: did not start: {str(exc)[-600:]}")
                        continue
                    try:
                        rows.append(await measure(server, plan, tokens))
                    finally:
                        await asyncio.to_thread(server.stop)
                    print(f"   done: {spec.label}", file=sys.stderr, flush=True)
            finally:
                await responder.cleanup()
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.remove)
        shutil.rmtree(workdir, ignore_errors=True)
    print(header(plan, load))
    print(format_table(rows))
    print(footer(rows, notes + failed))
    return 1 if failed or any(row.notes for row in rows) else 0


def header(plan: Plan, load: tuple[float, float, float]) -> str:
    return (
        f"C={plan.clients} clients, W={plan.warmup} warm-up + N={plan.timed} timed flows per phase; "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} at start (other work on the machine skews every figure)"
    )


def footer(rows: list[Row], notes: list[str]) -> str:
    lines = [
        "CPU ms = server process tree (utime+stime, children included) over the timed window / flows done; "
        "pg = the PostgreSQL cluster's tree.",
        "client cores = this process's CPU (clients, http-01 responder, test DNS) / window; above 0.8 the phase is "
        "client-bound: its throughput has a *, and ratios using it are in (parentheses) and do not count.",
    ]
    by_label = {row.label: row for row in rows}
    off, on = by_label.get("acmeca sqlite w1 lint=off"), by_label.get("acmeca sqlite w1 lint=enforce")
    if off and on:
        for name, a, b in (("order", off.acme, on.acme), ("sign", off.sign, on.sign)):
            if a and b and a.per_flow_ms(a.server_cpu) and b.per_flow_ms(b.server_cpu):
                x, y = a.per_flow_ms(a.server_cpu) or 0.0, b.per_flow_ms(b.server_cpu) or 0.0
                lines.append(
                    f"lint: CPU ms per certificate ({name} path) off {x:.2f} -> enforce {y:.2f} ({y - x:+.2f}); "
                    "the weak-key checks are not switched by this axis (bench.issuance_checks prints their cost)"
                )
    lines += [f"{row.label}: {note}" for row in rows for note in row.notes]
    return "\n".join(lines + notes)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.acme_load", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--orders", type=int, default=300, help=f"timed flows per phase (max {MAX_FLOWS})")
    parser.add_argument("-w", "--warmup", type=int, default=100, help="warm-up flows per phase, not measured")
    parser.add_argument("-c", "--clients", type=int, default=16, help=f"simulated clients (max {MAX_CLIENTS})")
    parser.add_argument("--servers", type=lambda s: s.split(","), default=list(SERVERS),
                        help=f"comma-separated, from {','.join(SERVERS)} (default: all)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="N of the -wN rows (default: cores)")
    parser.add_argument("--lint-axis", action="store_true",
                        help="run every acmeca row with lint off, and add acmeca on SQLite with lint enforced")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="wall-time cap per server, all phases")
    parser.add_argument("--step-bin", type=Path, default=default_step_bin(), help="directory with step and step-ca")
    parser.add_argument("--no-netns", action="store_true", help="do not re-run inside a new network namespace")
    args = parser.parse_args(argv)
    unknown = [name for name in args.servers if name not in SERVERS]
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {','.join(SERVERS)}")
    if not (0 < args.orders <= MAX_FLOWS and 0 <= args.warmup <= MAX_FLOWS and 0 < args.clients <= MAX_CLIENTS):
        parser.error(f"orders must be 1..{MAX_FLOWS}, warm-up 0..{MAX_FLOWS} and clients 1..{MAX_CLIENTS}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    args.max_seconds = min(max(args.max_seconds, 1.0), MAX_SECONDS)
    return args


def default_step_bin() -> Path:
    configured = os.environ.get("ACMECA_STEP_BIN")
    return Path(configured).parent if configured else Path(__file__).resolve().parent.parent / ".tools" / "bin"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.no_netns and not in_own_netns():
        reexec_in_netns(["-m", "bench.acme_load", *(sys.argv[1:] if argv is None else argv)])
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
