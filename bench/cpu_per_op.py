"""Server CPU per ``/1.0/sign`` (acmeca vs step-ca), and of acmeca's cheapest request against bare aiohttp.

CPU per ACME order is ``make bench``'s "CPU ms/order" column (bench.acme_load), for acmeca, Pebble and step-ca.

    python -m bench.cpu_per_op sign --postgres postgresql://postgres@127.0.0.1:5432/acmeca_cpu
    python -m bench.cpu_per_op sign -n 1000 -c 8 --target both
    python -m bench.cpu_per_op floor -n 3000 -c 8    # GET /health on acmeca, and on a bare aiohttp TLS server

CPU is utime+stime from /proc of every process this bench started (the server and, with ``--workers``,
its worker processes) plus, with ``--postgres``, every PostgreSQL backend connected to that database, read
before and after the timed window. Client CPU (this process) is not counted. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp

from bench.servers import (
    PASSWORD,
    _localhost_certificate,
    free_port,
    init_acmeca,
)

TICKS = os.sysconf("SC_CLK_TCK")
STEP_BIN = Path(os.environ.get("ACMECA_STEP_BIN", Path(__file__).resolve().parents[1] / ".tools" / "bin" / "step"))


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime+stime ticks) of one process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def server_ticks(postgres_db: str | None) -> tuple[int, int]:
    """CPU ticks of every descendant of this process, and of the PostgreSQL backends of ``postgres_db``."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
    me, server, backends = os.getpid(), 0, 0
    for pid, (_, ticks) in stats.items():
        parent, seen = pid, 0
        while parent in stats and parent != me and seen < 64:
            parent, seen = stats[parent][0], seen + 1
        if parent == me and pid != me:
            server += ticks
        elif postgres_db and f" postgres {postgres_db} " in _cmdline(pid) and _cmdline(pid).startswith("postgres:"):
            backends += ticks
    return server, backends


PROFILE = os.environ.get("BENCH_PY_SPY")  # a path prefix: record the acmeca server with py-spy (raw format)


def _serve_pid() -> int | None:
    """The ``acmeca serve`` process this bench started (the supervisor when there are workers)."""
    me = os.getpid()
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        stat = _stat(pid)
        if stat is not None and stat[0] == me and " -m acmeca serve " in _cmdline(pid):
            return pid
    return None


async def measured(run: Awaitable[Any], postgres_db: str | None) -> tuple[Any, float, float]:
    """Await ``run``; return its result, server CPU seconds (PostgreSQL backends included) and wall seconds
    over it. The backends' share is printed on its own line."""
    spy, pid = None, _serve_pid() if PROFILE else None
    if pid is not None:
        out = f"{PROFILE}-{pid}.txt"
        spy = subprocess.Popen([  # noqa: ASYNC220 - starting it is all this does, it never waits
                                shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record",
                                "--pid", str(pid), "--subprocesses", "--format", "raw", "-r", "200", "-o", out],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        await asyncio.sleep(1.0)
    commits = _commits(postgres_db) if postgres_db else 0
    before, started = server_ticks(postgres_db), time.perf_counter()
    result = await run
    elapsed = time.perf_counter() - started
    after = server_ticks(postgres_db)
    cpu = (sum(after) - sum(before)) / TICKS
    if postgres_db:
        print(f"  (of which PostgreSQL backends: {(after[1] - before[1]) / TICKS:.2f}s of {cpu:.2f}s;"
              f" {_commits(postgres_db) - commits} transactions, autocommit statements included)", flush=True)
    if spy is not None:
        spy.send_signal(2)
        spy.wait(timeout=60)
    return result, cpu, elapsed


def _commits(database: str) -> int:
    """Transactions PostgreSQL counted for ``database`` (its statistics lag by up to half a second)."""
    time.sleep(0.7)
    sql = f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{database}'"
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", sql], check=True, capture_output=True)
    return int(out.stdout.strip() or 0)


def _recreate(database: str) -> None:
    for sql in (f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"'):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)


# --- /1.0/sign ---------------------------------------------------------------------------------------------


def start_step_ca(home: Path) -> tuple[str, Path, Path, subprocess.Popen[bytes]]:
    """``step ca init`` + ``step-ca``: (URL, root, ca.json, process)."""
    home.mkdir(parents=True)
    password = home / "password"
    password.write_text(PASSWORD)
    port = free_port()
    env = {**os.environ, "STEPPATH": str(home)}
    subprocess.run([str(STEP_BIN), "ca", "init", "--name", "bench", "--dns", "localhost", "--address",
                    f"127.0.0.1:{port}", "--provisioner", "admin", "--password-file", str(password)],
                   env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
    config = home / "config" / "ca.json"
    log = (home / "step-ca.log").open("wb")
    process = subprocess.Popen([str(STEP_BIN.parent / "step-ca"), str(config), "--password-file", str(password)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    return f"https://localhost:{port}", home / "certs" / "root_ca.crt", config, process


def start_acmeca_sign(
    home: Path, postgres: str | None, lint: str | None = None, workers: int = 1
) -> tuple[str, Path, Path, subprocess.Popen[bytes]]:
    ca = init_acmeca(home)
    password, port, env, acmeca, config = ca.password, ca.port, ca.env, ca.command, ca.config_path
    document = json.loads(config.read_text())
    if postgres:
        document["db"] = {"type": "postgresql", "dataSource": postgres}
    if lint:
        document["lint"] = {"mode": lint}
    config.write_text(json.dumps(document, indent=2))
    if postgres:
        subprocess.run([*acmeca, "db", "migrate", "--config", str(config)], env=env, check=True, capture_output=True)
    log = (home / "serve.log").open("wb")
    serve = [*acmeca, "serve", "--config", str(config), "--password-file", str(password), "--workers", str(workers)]
    process = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return f"https://localhost:{port}", home / "certs" / "root_ca.crt", config, process


class Minter:
    """Mints JWK-provisioner tokens for one CSR, with jwcrypto (independent of both CAs' code)."""

    def __init__(self, config: Path, root: Path, url: str) -> None:
        import hashlib

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from jwcrypto import jwa, jwe, jwk

        jwa.default_max_pbkdf2_iterations = 1_000_000
        document = json.loads(config.read_text())["authority"]["provisioners"][0]
        token = jwe.JWE()
        token.deserialize(document["encryptedKey"], key=jwk.JWK.from_password(PASSWORD))
        self.key, self.kid, self.name = jwk.JWK(**json.loads(token.payload)), document["key"]["kid"], document["name"]
        pem = root.read_bytes()
        root_der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        self.sha = hashlib.sha256(root_der).hexdigest()
        self.audience = f"{url}/1.0/sign"
        key = ec.generate_private_key(ec.SECP256R1())
        self.subject = "sign.bench.test"
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.subject)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(self.subject)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.csr = csr.public_bytes(serialization.Encoding.PEM).decode()

    def token(self) -> str:
        from jwcrypto import jws

        now = int(time.time())
        claims = {"iss": self.name, "sub": self.subject, "aud": self.audience, "nbf": now - 5, "iat": now,
                  "exp": now + 300, "jti": secrets.token_hex(32), "sha": self.sha, "sans": [self.subject]}  # fmt: skip
        signed = jws.JWS(json.dumps(claims).encode())
        header = {"alg": "ES256", "kid": self.kid, "typ": "JWT"}
        signed.add_signature(self.key, alg="ES256", protected=json.dumps(header))
        return str(signed.serialize(compact=True))


async def sign_load(url: str, root: Path, minter: Minter, count: int, concurrency: int) -> tuple[int, int]:
    """POST ``count`` signs (tokens minted up front), ``concurrency`` in flight; (ok, failed)."""

    context = ssl.create_default_context(cafile=str(root))
    bodies = [json.dumps({"csr": minter.csr, "ott": minter.token()}) for _ in range(count)]
    ok = failed = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal ok, failed
            while bodies:
                body = bodies.pop()
                async with session.post(f"{url}/1.0/sign", data=body,
                                        headers={"Content-Type": "application/json"}) as reply:  # fmt: skip
                    await reply.read()
                    ok, failed = (ok + 1, failed) if reply.status == 201 else (ok, failed + 1)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


async def _ready(url: str, root: Path) -> None:

    context = ssl.create_default_context(cafile=str(root))
    for _ in range(600):
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/health", ssl=context) as reply:
                if reply.status == 200:
                    return
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


async def sign(args: argparse.Namespace, workdir: Path) -> None:
    database = args.postgres.rsplit("/", 1)[1] if args.postgres else None
    for name in ["acmeca", "step-ca"] if args.target == "both" else [args.target]:
        for round_ in range(args.rounds):
            home = workdir / f"{name}-{round_}"
            if name == "step-ca":
                url, root, config, process = await asyncio.to_thread(start_step_ca, home)
            else:
                if args.postgres:
                    _recreate(database or "")
                url, root, config, process = await asyncio.to_thread(
                    start_acmeca_sign, home, args.postgres, args.lint, args.workers
                )
            try:
                await _ready(url, root)
                minter = Minter(config, root, url)
                await sign_load(url, root, minter, 50, args.concurrency)  # warm-up
                (ok, failed), cpu, wall = await measured(
                    sign_load(url, root, minter, args.orders, args.concurrency), database if name == "acmeca" else None
                )
            finally:
                process.terminate()
                process.wait(timeout=15)
            print(f"{name} round {round_}: {ok} signs ({failed} failed) in {wall:.1f}s = {ok / wall:.1f}/s;"
                  f" server CPU {cpu * 1000 / max(ok, 1):.2f} ms/sign ({cpu / wall * 100:.0f}% of a core)", flush=True)


BARE_SERVER = """
import ssl, sys
from aiohttp import web
async def health(request):
    return web.json_response({"status": "ok"})
app = web.Application()
app.router.add_get("/health", health)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context, access_log=None, print=None)
"""


async def get_load(url: str, context: ssl.SSLContext, count: int, concurrency: int) -> int:
    """``count`` keep-alive GETs of ``url``, ``concurrency`` in flight; how many answered 200."""
    left, ok = [count], 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal ok
            while left[0] > 0:
                left[0] -= 1
                async with session.get(url) as reply:
                    await reply.read()
                    ok += reply.status == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def floor(args: argparse.Namespace, workdir: Path) -> None:
    """The per-request floor: acmeca's cheapest route, and the same route on aiohttp alone (P-256 TLS both)."""
    url, root, _, process = await asyncio.to_thread(start_acmeca_sign, workdir / "acmeca", None, None, args.workers)
    cert, key = _localhost_certificate()
    (workdir / "bare.crt").write_bytes(cert)
    (workdir / "bare.key").write_bytes(key)
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port), str(workdir / "bare.crt"),  # noqa: ASYNC220
                             str(workdir / "bare.key")])  # fmt: skip
    bare_tls = ssl.create_default_context(cadata=cert.decode())
    targets = (
        ("acmeca GET /health", f"{url}/health", ssl.create_default_context(cafile=str(root))),
        ("bare aiohttp GET /health", f"https://localhost:{port}/health", bare_tls),
    )
    try:
        await _ready(url, root)
        for name, target, context in targets:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    if await get_load(target, context, 1, 1) == 1:
                        break
                await asyncio.sleep(0.1)
            for round_ in range(args.rounds):
                await get_load(target, context, 200, args.concurrency)
                ok, cpu, wall = await measured(get_load(target, context, args.orders, args.concurrency), None)
                print(f"{name} round {round_}: {ok} requests in {wall:.1f}s; server CPU"
                      f" {cpu * 1000 / max(ok, 1):.3f} ms/request (both servers counted)", flush=True)
    finally:
        for proc in (process, bare):
            proc.terminate()
            proc.wait(timeout=15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_op", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["sign", "floor"])
    parser.add_argument("-n", "--orders", type=int, default=300, help="orders or signs per measured round")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--target", choices=["acmeca", "step-ca", "both"], default="acmeca")
    parser.add_argument("--rounds", type=int, default=1, help="fresh server per round; report each")
    parser.add_argument("--lint", choices=["off", "warn", "enforce"], help="acmeca's lint.mode (default: ca.json's)")
    parser.add_argument("--workers", type=int, default=1, help="acmeca serve --workers (default 1, not auto)")
    parser.add_argument("--postgres", metavar="DSN", help="acmeca on this PostgreSQL database (dropped and recreated)")
    args = parser.parse_args(argv)
    args.orders = min(max(args.orders, 1), 10_000)
    args.concurrency = min(max(args.concurrency, 1), 256)
    workdir = Path(tempfile.mkdtemp(prefix="acmeca-cpu-"))
    try:
        modes = {"sign": sign, "floor": floor}
        asyncio.run(modes[args.mode](args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
