"""http-01 (RFC 8555 §8.3): fetch the key authorization from the applicant's web server.

The rules follow Boulder's VA and the Baseline Requirements (3.2.2.4.19), because each one closes a hole:
- We resolve and connect ourselves (IPv6 first, then IPv4) and send ``Host: <identifier>``, so a redirect
  can never make us connect somewhere the address filter did not see; every hop is re-resolved.
- Redirects: only 301/302/307/308, only http/https, only ports 80/443 or the configured challenge ports,
  at most 10 hops, no loops, paths under 2000 bytes.
- The body read is capped (the key authorization plus 128 bytes of slack) so a hostile server cannot stream
  gigabytes at us; trailing whitespace is trimmed because many tools append a newline.
"""

from __future__ import annotations

import ssl
from functools import partial
from typing import Any

import aiohttp
from yarl import URL

from acmeca.domain.errors import ConnectionProblem, IncorrectResponse, TLSProblem, Unauthorized
from acmeca.domain.identifiers import IdentifierType
from acmeca.validation.attempt import Attempt
from acmeca.validation.outcome import Transient
from acmeca.validation.resolver import IPAddress
from acmeca.validation.targets import (
    ConnectFailed,
    Target,
    connect_in_order,
    host_for_url,
    literal_address,
    resolve_target,
)

MAX_REDIRECTS = 10
MAX_PATH_OCTETS = 2000
BODY_SLACK_OCTETS = 128
REDIRECT_STATUSES = frozenset({301, 302, 307, 308})
TRAILING_WHITESPACE = " \t\r\n"
USER_AGENT = "acmeca-validation (+http-01)"


def challenge_url(attempt: Attempt) -> URL:
    """``http://<identifier>[:port]/.well-known/acme-challenge/<token>``; IPv6 literals in brackets."""
    host = attempt.identifier.value
    if attempt.identifier.type is IdentifierType.IP and ":" in host:
        host = f"[{host}]"
    port = attempt.settings.http01_port
    authority = host if port == 80 else f"{host}:{port}"
    return URL(f"http://{authority}/.well-known/acme-challenge/{attempt.token}", encoded=True)


async def validate_http01(attempt: Attempt) -> None:
    """Return normally when the server serves the key authorization; raise a CAError verdict otherwise."""
    url = challenge_url(attempt)
    seen: set[str] = set()
    async with _session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            seen.add(str(url))
            target = await _target_for(attempt, url)
            try:
                status, location, body = await connect_in_order(target, partial(_fetch, session, attempt, url))
            finally:
                attempt.records[-1] = target.record()
            if status in REDIRECT_STATUSES:
                url = _next_hop(attempt, url, location, seen)
                continue
            _check_response(attempt, url, status, body)
            return
    raise ConnectionProblem(f"Too many redirects (more than {MAX_REDIRECTS}) fetching {challenge_url(attempt)}")


async def _target_for(attempt: Attempt, url: URL) -> Target:
    host = url.raw_host or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    target = await resolve_target(
        attempt.resolver,
        host,
        port,
        deny_private=attempt.settings.deny_private_addresses,
        budget=attempt.deadline.remaining(),
    )
    target.extra["url"] = str(url)
    attempt.records.append(target.record())
    return target


def _session() -> aiohttp.ClientSession:
    """A fresh session per validation: no cookies, no connection reuse, no proxies from the environment."""
    connector = aiohttp.TCPConnector(force_close=True, use_dns_cache=False, limit=4)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
        headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"},
    )


def _tls_context() -> ssl.SSLContext:
    """HTTPS redirect targets: TLS 1.2 or newer, no certificate checks (the key authorization proves it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _fetch(
    session: aiohttp.ClientSession, attempt: Attempt, url: URL, address: IPAddress
) -> tuple[int, str | None, bytes]:
    """One GET of ``url`` at ``address``; returns (status, Location, capped body)."""
    limit = len(attempt.key_authorization) + BODY_SLACK_OCTETS
    remaining = max(attempt.deadline.remaining(), 0.01)
    timeout = aiohttp.ClientTimeout(total=remaining, sock_connect=remaining / 2)
    request_url = url.with_host(host_for_url(address).strip("[]"))
    options: dict[str, Any] = {
        "allow_redirects": False,
        "timeout": timeout,
        "headers": {"Host": _host_header(url)},
    }
    if url.scheme == "https":
        options["ssl"] = _tls_context()
        if literal_address(url.raw_host or "") is None:
            options["server_hostname"] = url.raw_host
    where = f"{address}: {url}"
    try:
        async with session.get(request_url, **options) as response:
            body = await _read_capped(response, limit, url)
            return response.status, response.headers.get("Location"), body
    except (aiohttp.ClientConnectorSSLError, aiohttp.ClientConnectorCertificateError, ssl.SSLError) as exc:
        raise TLSProblem(f"TLS error talking to {where}: {exc}") from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or str(exc.os_error)
        raise ConnectFailed(ConnectionProblem(f"Connecting to {where} failed: {reason}")) from None
    except aiohttp.ConnectionTimeoutError:
        raise ConnectFailed(ConnectionProblem(f"Timeout connecting to {where}")) from None
    except TimeoutError:
        raise Transient(ConnectionProblem(f"Timeout after connecting to {where}")) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Transient(ConnectionProblem(f"Error fetching {where}: {exc or type(exc).__name__}")) from None


async def _read_capped(response: aiohttp.ClientResponse, limit: int, url: URL) -> bytes:
    """Read at most ``limit`` bytes; one byte more means the body is too large to be a key authorization."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise IncorrectResponse(f"Invalid response from {url}: the body is larger than {limit} bytes")
    return b"".join(chunks)


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if url.scheme == "https" else 80
    return host if url.port in (None, default) else f"{host}:{url.port}"


def _next_hop(attempt: Attempt, current: URL, location: str | None, seen: set[str]) -> URL:
    """Validate a redirect target against every rule before anything connects to it."""
    if not location:
        raise ConnectionProblem(f"Redirect from {current} has no Location header")
    try:
        target = current.join(URL(location))
    except ValueError:
        raise ConnectionProblem(f"Redirect from {current} to an invalid URL {location!r}") from None
    if target.scheme not in ("http", "https"):
        raise ConnectionProblem(f"Redirect from {current} to {location!r}: only http and https are followed")
    host = target.raw_host or ""
    if not host:
        raise ConnectionProblem(f"Redirect from {current} to {location!r} has no host")
    if host.endswith(".well-known"):
        raise ConnectionProblem(
            f"Invalid host in redirect target {host!r}: check the web server configuration for a missing '/'"
        )
    settings = attempt.settings
    allowed_ports = {80, 443, settings.http01_port, settings.tls_alpn01_port}
    explicit = target.explicit_port
    if explicit is not None and explicit not in allowed_ports:
        ports = ", ".join(str(p) for p in sorted(allowed_ports))
        raise ConnectionProblem(f"Redirect from {current} to {target}: only ports {ports} are allowed")
    if explicit is None:
        default = settings.http01_port if target.scheme == "http" else settings.tls_alpn01_port
        target = target.with_port(default)
    if len(target.raw_path) > MAX_PATH_OCTETS:
        raise ConnectionProblem(f"Redirect from {current}: the target path is longer than {MAX_PATH_OCTETS} bytes")
    if str(target) in seen:
        raise ConnectionProblem(f"Redirect loop detected at {target}")
    return target


def _check_response(attempt: Attempt, url: URL, status: int, body: bytes) -> None:
    if status != 200:
        raise Unauthorized(f"Invalid response from {url}: HTTP {status}")
    text = body.decode("utf-8", "replace").rstrip(TRAILING_WHITESPACE)
    if text != attempt.key_authorization:
        shown = text if len(text) <= 96 else text[:96] + "..."
        raise IncorrectResponse(
            f"The key authorization file from the server did not match this challenge: "
            f"expected {attempt.key_authorization!r}, got {shown!r}"
        )
