"""The CLI's ACME client without a CA: its JWS against the server's own verifier, Retry-After, polling bounds,
badNonce retries, problem details, and both http-01 responders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acmeca.acme.web.jws import check_alg_and_key, decode_payload, parse_flattened, parse_key, verify_signature
from acmeca.cli.acme_client import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    AccountKey,
    AcmeClient,
    order_time,
    problem_detail,
    retry_after,
)
from acmeca.cli.errors import CLIError
from acmeca.cli.http01_responder import StandaloneResponder, WebrootResponder, parse_listen, responder
from tests.support.ca_server import free_port

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


# -- JWS -------------------------------------------------------------------------------------------------
def test_new_account_jws_passes_the_servers_verifier() -> None:
    key = AccountKey()
    document = key.sign({"termsOfServiceAgreed": True}, url="https://ca.test/new-account", nonce="n1", kid=None)
    flattened = parse_flattened(document)
    assert flattened.protected == {"alg": "ES256", "nonce": "n1", "url": "https://ca.test/new-account",
                                   "jwk": key.public_jwk}
    public = parse_key(flattened.protected["jwk"])
    verify_signature(flattened, public, check_alg_and_key(flattened.protected, public))
    assert decode_payload(flattened) == {"termsOfServiceAgreed": True}
    assert public.thumbprint == key.thumbprint


def test_kid_requests_and_post_as_get() -> None:
    key = AccountKey()
    document = key.sign(None, url="https://ca.test/order/1", nonce="n2", kid="https://ca.test/account/7")
    flattened = parse_flattened(document)
    assert flattened.protected["kid"] == "https://ca.test/account/7"
    assert "jwk" not in flattened.protected
    assert document["payload"] == ""
    public = parse_key(key.public_jwk)
    verify_signature(flattened, public, check_alg_and_key(flattened.protected, public))


# -- small parsers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "seconds"), [
    (None, DEFAULT_RETRY_AFTER), ("", DEFAULT_RETRY_AFTER), ("0", 0.0), ("3", 3.0), ("3600", MAX_RETRY_AFTER),
    ("soon", DEFAULT_RETRY_AFTER), ("Mon, 01 Jun 2026 12:00:04 GMT", 4.0), ("Mon, 01 Jun 2026 11:00:00 GMT", 0.0),
])
def test_retry_after(header: str | None, seconds: float) -> None:
    assert retry_after(header, now=NOW) == seconds


def test_order_times_are_rfc3339_from_now() -> None:
    assert order_time(None, now=NOW) is None
    assert order_time("2h", now=NOW) == "2026-06-01T14:00:00Z"
    assert order_time("2026-07-01T00:00:00+02:00", now=NOW) == "2026-06-30T22:00:00Z"
    with pytest.raises(CLIError, match="invalid time or duration"):
        order_time("tomorrow", now=NOW)


def test_problem_detail_names_subproblems() -> None:
    assert problem_detail({"type": "urn:ietf:params:acme:error:malformed"}) == "urn:ietf:params:acme:error:malformed"
    document = {"detail": "two names refused", "subproblems": [{"detail": "a.test: no"}, {"detail": "b.test: no"}]}
    assert problem_detail(document) == "two names refused (a.test: no; b.test: no)"


@pytest.mark.parametrize(("address", "parsed"), [
    (":80", (None, 80)), ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:5002", ("::1", 5002)),
    ("localhost:81", ("localhost", 81)),
])
def test_parse_listen(address: str, parsed: tuple[str | None, int]) -> None:
    assert parse_listen(address) == parsed


@pytest.mark.parametrize("address", ["80", ":http", ":0", ":70000", "[zz]:80", ""])
def test_parse_listen_refuses(address: str) -> None:
    with pytest.raises(CLIError, match="--http-listen"):
        parse_listen(address)


# -- the client against a scripted server ----------------------------------------------------------------
Script = Callable[[int], web.Response]


@pytest.fixture
async def acme_server() -> AsyncIterator[tuple[dict[str, Script], TestServer]]:
    """A server that answers the directory, nonces and whatever ``scripts[path](call_number)`` says."""
    scripts: dict[str, Script] = {}
    calls: dict[str, int] = {}
    counter = iter(range(1_000_000))

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/directory":
            base = str(request.url.origin())
            return web.json_response({"newNonce": f"{base}/nonce", "newAccount": f"{base}/account"})
        if request.path == "/nonce":
            return web.Response(headers={"Replay-Nonce": f"nonce-{next(counter)}"})
        calls[request.path] = calls.get(request.path, 0) + 1
        response = scripts[request.path](calls[request.path])
        response.headers["Replay-Nonce"] = f"nonce-{next(counter)}"
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app) as server:
        yield scripts, server


def _problem(kind: str, detail: str) -> web.Response:
    body = {"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail}
    return web.json_response(body, status=400, content_type="application/problem+json")


def _status(status: str, retry: str | None = None) -> web.Response:
    return web.json_response({"status": status}, headers={"Retry-After": retry} if retry is not None else {})


async def _client(server: TestServer, session: aiohttp.ClientSession) -> AcmeClient:
    return AcmeClient(session, str(server.make_url("/directory")))


async def test_poll_honours_retry_after(acme_server: tuple[dict[str, Script], TestServer]) -> None:
    scripts, server = acme_server
    scripts["/authz"] = lambda n: _status("valid") if n == 3 else _status("pending", "0")
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        client = await _client(server, session)
        started = loop.time()
        found = await client.poll(str(server.make_url("/authz")), until=frozenset({"valid"}), what="authorization",
                                  deadline=loop.time() + 30)
    assert found == {"status": "valid"}
    assert loop.time() - started < DEFAULT_RETRY_AFTER  # "0" was honoured, not the 1 s default


async def test_poll_is_bounded(acme_server: tuple[dict[str, Script], TestServer]) -> None:
    scripts, server = acme_server
    scripts["/authz"] = lambda n: _status("pending", "5")
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        client = await _client(server, session)
        started = loop.time()
        with pytest.raises(CLIError, match=r"timed out waiting for the authorization \(still 'pending'\)"):
            await client.poll(str(server.make_url("/authz")), until=frozenset({"valid"}), what="authorization",
                              deadline=loop.time() + 0.3)
    assert loop.time() - started < 2


async def test_bad_nonce_is_retried_and_other_problems_are_one_line(
    acme_server: tuple[dict[str, Script], TestServer],
) -> None:
    scripts, server = acme_server
    scripts["/account"] = lambda n: (
        _problem("badNonce", "stale") if n == 1 else web.json_response({}, status=201, headers={"Location": "/acct/1"})
    )
    scripts["/order"] = lambda n: _problem("rejectedIdentifier", "name forbidden by policy")
    async with aiohttp.ClientSession() as session:
        client = await _client(server, session)
        await client.new_account(("mailto:ops@example.test",))
        assert client.kid == "/acct/1"
        with pytest.raises(CLIError) as refused:
            await client.post(str(server.make_url("/order")), {}, refused="the ACME server refused the new order")
    assert str(refused.value) == "the ACME server refused the new order: name forbidden by policy"


async def test_an_unreachable_server_is_one_line() -> None:
    async with aiohttp.ClientSession() as session:
        client = AcmeClient(session, f"http://127.0.0.1:{free_port()}/directory")
        with pytest.raises(CLIError, match=r"cannot connect to the ACME server at http://127\.0\.0\.1:"):
            await client.directory()


# -- responders ------------------------------------------------------------------------------------------
async def test_standalone_answers_only_while_open() -> None:
    port = free_port()
    async with StandaloneResponder(f"127.0.0.1:{port}") as solver, aiohttp.ClientSession() as session:
        await solver.present("tok", "tok.thumb")
        base = f"http://127.0.0.1:{port}/.well-known/acme-challenge"
        async with session.get(f"{base}/tok") as found:
            assert (found.status, await found.text()) == (200, "tok.thumb")
        async with session.get(f"{base}/other") as missing:
            assert missing.status == 404
        await solver.remove("tok")
        async with session.get(f"{base}/tok") as removed:
            assert removed.status == 404
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_webroot_writes_and_cleans_up(tmp_path: Path) -> None:
    solver = responder(str(tmp_path), None)
    assert isinstance(solver, WebrootResponder)
    async with solver:
        await solver.present("tok", "tok.thumb")
        path = tmp_path / ".well-known" / "acme-challenge" / "tok"
        assert path.read_text() == "tok.thumb"
        assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not path.exists()
    assert isinstance(responder(None, None), StandaloneResponder)

