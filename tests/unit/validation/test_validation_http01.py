"""http-01 against a real aiohttp server on loopback: responses, body rules, redirects, addresses, records."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from acmeca.cli.devdns.server import DNSServer
from acmeca.domain.errors import ConnectionProblem, DNSProblem, IncorrectResponse, TLSProblem, Unauthorized
from acmeca.domain.identifiers import Identifier, dns, ip
from acmeca.domain.status import ChallengeType
from acmeca.validation.dispatch import ValidationResult, ValidationSettings, validate
from acmeca.validation.resolver import Resolver
from acmeca.validation.targets import resolve_target
from tests.unit.validation.conftest import KEY_AUTHORIZATION, TOKEN, free_port, needs_ipv6, with_ports
from tests.unit.validation.tls_material import self_signed_pem

PATH = f"/.well-known/acme-challenge/{TOKEN}"
ServerFactory = Callable[..., Awaitable[TestServer]]
SEEN = web.AppKey("seen", list[dict[str, str | None]])
RELEASE = web.AppKey("release", asyncio.Event)
HEADERS = web.AppKey("headers", list[dict[str, str]])
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_with(routes: dict[str, Handler]) -> web.Application:
    app = web.Application()
    app[SEEN] = []
    app[HEADERS] = []
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    return app


def body(text: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        request.app[SEEN].append({"host": request.headers.get("Host"), "path": request.path})
        request.app[HEADERS].append(dict(request.headers))
        return web.Response(text=text)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


async def http01(
    settings: ValidationSettings, name: str = "a.test", *, ip_value: str | None = None
) -> ValidationResult:
    identifier = ip(ip_value) if ip_value else dns(name)
    return await validate(ChallengeType.HTTP_01, identifier, TOKEN, KEY_AUTHORIZATION, settings)


@pytest.fixture
async def good_server(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(app_with({PATH: body(KEY_AUTHORIZATION)}))


async def test_valid_response(good_server: TestServer, settings: ValidationSettings) -> None:
    result = await http01(with_ports(settings, http=good_server.port))
    assert result.ok, result.error
    assert result.error is None
    seen = good_server.app[SEEN]
    assert seen == [{"host": f"a.test:{good_server.port}", "path": PATH}]
    [headers] = good_server.app[HEADERS]
    assert headers["Accept-Encoding"] == "identity"  # the body is compared byte for byte: never compressed
    assert headers["Accept"] == "*/*"
    assert headers["User-Agent"].startswith("acmeca")


async def test_record_shows_hostname_addresses_and_fallback(
    good_server: TestServer, settings: ValidationSettings
) -> None:
    result = await http01(with_ports(settings, http=good_server.port))
    [hop] = result.record["validationRecord"]
    assert hop["hostname"] == "a.test"
    assert hop["port"] == str(good_server.port)
    assert hop["addressesResolved"] == ["::1", "127.0.0.1"]
    assert hop["addressUsed"] == "127.0.0.1"  # nothing on ::1: fell back to IPv4
    assert hop["url"] == f"http://a.test:{good_server.port}{PATH}"
    assert result.record["challengeType"] == "http-01"
    assert result.record["attempts"] == 1


@needs_ipv6
async def test_ipv6_is_tried_first(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({PATH: body(KEY_AUTHORIZATION)}), host="::1")
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert result.record["validationRecord"][0]["addressUsed"] == "::1"


@needs_ipv6
async def test_ipv6_identifier_brackets_host(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({PATH: body(KEY_AUTHORIZATION)}), host="::1")
    result = await http01(with_ports(settings, http=server.port), ip_value="::1")
    assert result.ok, result.error
    assert server.app[SEEN][0]["host"] == f"[::1]:{server.port}"


async def test_ipv4_identifier(good_server: TestServer, settings: ValidationSettings) -> None:
    result = await http01(with_ports(settings, http=good_server.port), ip_value="127.0.0.1")
    assert result.ok, result.error
    assert good_server.app[SEEN][0]["host"] == f"127.0.0.1:{good_server.port}"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "  \t\n", " " * 128])
async def test_trailing_whitespace_is_trimmed(
    aiohttp_server: ServerFactory, settings: ValidationSettings, suffix: str
) -> None:
    server = await aiohttp_server(app_with({PATH: body(KEY_AUTHORIZATION + suffix)}))
    assert (await http01(with_ports(settings, http=server.port))).ok


async def test_leading_whitespace_is_not_trimmed(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({PATH: body(" " + KEY_AUTHORIZATION)}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, IncorrectResponse)


async def test_body_over_the_cap_is_refused(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({PATH: body(KEY_AUTHORIZATION + " " * 129)}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, IncorrectResponse)
    assert "larger than" in result.error.detail


async def test_huge_streamed_body_is_not_read_whole(
    aiohttp_server: ServerFactory, settings: ValidationSettings
) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(10_000):
            await response.write(b"x" * 1024)
        return response

    server = await aiohttp_server(app_with({PATH: endless}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, IncorrectResponse)


async def test_wrong_body(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({PATH: body(TOKEN + ".wrong")}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, IncorrectResponse)
    assert KEY_AUTHORIZATION in result.error.detail


async def test_not_found_is_unauthorized(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with({}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, Unauthorized)
    assert "404" in result.error.detail


async def test_nxdomain_is_a_dns_problem(
    good_server: TestServer, settings: ValidationSettings, dns_server: DNSServer
) -> None:
    dns_server.set_nxdomain("gone.test")
    result = await http01(with_ports(settings, http=good_server.port), "gone.test")
    assert isinstance(result.error, DNSProblem)


async def test_refused_connection_is_retried_then_fails(settings: ValidationSettings) -> None:
    quick = dataclasses.replace(with_ports(settings, http=free_port()), timeout=settings.timeout / 2)
    started = time.monotonic()
    result = await http01(quick)
    elapsed = time.monotonic() - started
    assert isinstance(result.error, ConnectionProblem)
    assert result.record["attempts"] >= 2
    assert elapsed < quick.timeout_seconds + 0.5


async def test_hanging_server_times_out(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    async def hang(request: web.Request) -> web.Response:
        await request.app[RELEASE].wait()
        return web.Response(text=KEY_AUTHORIZATION)

    app = app_with({PATH: hang})
    app[RELEASE] = asyncio.Event()
    server = await aiohttp_server(app)
    quick = dataclasses.replace(with_ports(settings, http=server.port), timeout=settings.timeout / 2)
    started = time.monotonic()
    result = await http01(quick)
    app[RELEASE].set()
    assert isinstance(result.error, ConnectionProblem)
    assert "imeout" in result.error.detail or "timed out" in result.error.detail
    assert time.monotonic() - started < quick.timeout_seconds + 0.5


# -- redirects -------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_statuses_followed(
    aiohttp_server: ServerFactory, settings: ValidationSettings, status: int
) -> None:
    app = app_with({PATH: redirect("/final", status), "/final": body(KEY_AUTHORIZATION)})
    server = await aiohttp_server(app)
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert len(result.record["validationRecord"]) == 2


@pytest.mark.parametrize("status", [300, 303, 304, 305])
async def test_other_redirect_statuses_refused(
    aiohttp_server: ServerFactory, settings: ValidationSettings, status: int
) -> None:
    app = app_with({PATH: redirect("/final", status), "/final": body(KEY_AUTHORIZATION)})
    server = await aiohttp_server(app)
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, Unauthorized)


async def test_redirect_to_another_host_is_resolved_again(
    aiohttp_server: ServerFactory, settings: ValidationSettings, dns_server: DNSServer
) -> None:
    async def to_other(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://other.test:{request.url.port}/final"})

    server = await aiohttp_server(app_with({PATH: to_other, "/final": body(KEY_AUTHORIZATION)}))
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert [hop["hostname"] for hop in result.record["validationRecord"]] == ["a.test", "other.test"]
    assert ("other.test.", "A") in dns_server.queries


async def test_redirect_target_nxdomain(
    aiohttp_server: ServerFactory, settings: ValidationSettings, dns_server: DNSServer
) -> None:
    dns_server.set_nxdomain("gone.test")
    server = await aiohttp_server(app_with({PATH: redirect("http://gone.test/x")}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, DNSProblem)


async def test_redirect_without_port_uses_the_configured_http_port(
    aiohttp_server: ServerFactory, settings: ValidationSettings
) -> None:
    server = await aiohttp_server(app_with({PATH: redirect("http://b.test/final"), "/final": body(KEY_AUTHORIZATION)}))
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert result.record["validationRecord"][1]["port"] == str(server.port)


@pytest.mark.parametrize(
    ("location", "fragment"),
    [
        ("ftp://a.test/x", "only http and https"),
        ("http://a.test:8081/x", "only ports"),
        ("http://a.test.well-known/acme-challenge/x", "missing '/'"),
        ("/" + "p" * 2001, "longer than 2000"),
        (PATH, "loop"),
    ],
)
async def test_redirect_rules(
    aiohttp_server: ServerFactory, settings: ValidationSettings, location: str, fragment: str
) -> None:
    server = await aiohttp_server(app_with({PATH: redirect(location)}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, ConnectionProblem), result.error
    assert fragment in result.error.detail


async def test_redirect_without_location(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    async def bare(request: web.Request) -> web.Response:
        return web.Response(status=302)

    server = await aiohttp_server(app_with({PATH: bare}))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, ConnectionProblem)
    assert "Location" in result.error.detail


def chain(hops: int) -> dict[str, Handler]:
    routes: dict[str, Handler] = {PATH: redirect("/hop/1")}
    for i in range(1, hops):
        routes[f"/hop/{i}"] = redirect(f"/hop/{i + 1}")
    routes[f"/hop/{hops}"] = body(KEY_AUTHORIZATION)
    return routes


async def test_ten_redirects_are_followed(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with(chain(10)))
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert len(result.record["validationRecord"]) == 11


async def test_eleven_redirects_are_too_many(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    server = await aiohttp_server(app_with(chain(11)))
    result = await http01(with_ports(settings, http=server.port))
    assert isinstance(result.error, ConnectionProblem)
    assert "Too many redirects" in result.error.detail


async def test_redirect_to_https_on_the_tls_port(
    aiohttp_server: ServerFactory, settings: ValidationSettings, tmp_path: Path
) -> None:
    context = server_tls_context(tmp_path)
    https = await aiohttp_server(app_with({"/secure": body(KEY_AUTHORIZATION)}), ssl=context)
    http = await aiohttp_server(app_with({PATH: redirect(f"https://b.test:{https.port}/secure")}))
    result = await http01(with_ports(settings, http=http.port, tls=https.port))
    assert result.ok, result.error
    assert https.app[SEEN][0]["host"] == f"b.test:{https.port}"


async def test_https_redirect_with_old_tls_fails(
    aiohttp_server: ServerFactory, settings: ValidationSettings, tmp_path: Path
) -> None:
    context = server_tls_context(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    https = await aiohttp_server(app_with({"/secure": body(KEY_AUTHORIZATION)}), ssl=context)
    http = await aiohttp_server(app_with({PATH: redirect(f"https://b.test:{https.port}/secure")}))
    result = await http01(with_ports(settings, http=http.port, tls=https.port))
    assert isinstance(result.error, (TLSProblem, ConnectionProblem)), result.error
    assert not result.ok


def server_tls_context(tmp_path: Path) -> ssl.SSLContext:
    cert, key = self_signed_pem("b.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


# -- address policy --------------------------------------------------------------------------------
async def test_deny_private_addresses_refuses_loopback_names(
    good_server: TestServer, settings: ValidationSettings
) -> None:
    denied = dataclasses.replace(with_ports(settings, http=good_server.port), deny_private_addresses=True)
    result = await http01(denied)
    assert isinstance(result.error, DNSProblem)
    assert "No valid IP addresses" in result.error.detail
    assert good_server.app[SEEN] == []


async def test_deny_private_addresses_refuses_private_ip_identifiers(
    good_server: TestServer, settings: ValidationSettings
) -> None:
    denied = dataclasses.replace(with_ports(settings, http=good_server.port), deny_private_addresses=True)
    result = await http01(denied, ip_value="127.0.0.1")
    assert isinstance(result.error, ConnectionProblem)
    assert good_server.app[SEEN] == []


async def test_deny_private_addresses_filters_mixed_answers(dns_server: DNSServer) -> None:
    # Only resolution, never a connection: the filter runs before any address is dialled.
    dns_server.add_a("mixed.test", "192.0.2.10")
    dns_server.add_a("mixed.test", "10.0.0.1")
    dns_server.add_a("mixed.test", "203.0.113.5")
    resolver = Resolver(dns_server.address)
    allowed = await resolve_target(resolver, "mixed.test", 80, deny_private=False, budget=2)
    assert len(allowed.candidates) == 1
    dns_server.add_a("public.test", "9.9.9.9")
    dns_server.add_a("public.test", "10.0.0.1")
    dns_server.add_aaaa("public.test", "fd00::1")
    target = await resolve_target(resolver, "public.test", 80, deny_private=True, budget=2)
    assert [str(a) for a in target.candidates] == ["9.9.9.9"]
    assert {str(a) for a in target.resolved.all} == {"fd00::1", "9.9.9.9", "10.0.0.1"}


def test_challenge_url_and_host_header_forms() -> None:
    from acmeca.validation.attempt import Attempt
    from acmeca.validation.http01 import _host_header, challenge_url
    from acmeca.validation.outcome import Deadline

    def url_for(identifier: Identifier, port: int) -> str:
        settings = ValidationSettings(http01_port=port)
        attempt = Attempt(identifier, TOKEN, KEY_AUTHORIZATION, settings, Resolver("127.0.0.1"), Deadline(1))
        return str(challenge_url(attempt))

    assert url_for(dns("a.test"), 80) == f"http://a.test{PATH}"
    assert url_for(dns("a.test"), 5002) == f"http://a.test:5002{PATH}"
    assert url_for(ip("2001:db8::1"), 80) == f"http://[2001:db8::1]{PATH}"
    assert _host_header(URL(f"http://a.test{PATH}")) == "a.test"
    assert _host_header(URL(f"https://a.test:443{PATH}")) == "a.test"
    assert _host_header(URL(f"http://[2001:db8::1]:5002{PATH}")) == "[2001:db8::1]:5002"


@needs_ipv6
async def test_redirect_to_an_ipv6_literal(aiohttp_server: ServerFactory, settings: ValidationSettings) -> None:
    async def to_literal(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": f"http://[::1]:{request.url.port}/final"})

    server = await aiohttp_server(app_with({PATH: to_literal, "/final": body(KEY_AUTHORIZATION)}), host="::1")
    result = await http01(with_ports(settings, http=server.port))
    assert result.ok, result.error
    assert server.app[SEEN][0]["host"] == f"[::1]:{server.port}"
    assert result.record["validationRecord"][1]["addressesResolved"] == ["::1"]
