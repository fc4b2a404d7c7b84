"""tls-alpn-01 against a real TLS server (ssl + ALPN on loopback) and the certificate rules one by one."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import ssl
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from acmeca.domain.errors import ConnectionProblem, IncorrectResponse, Malformed, TLSProblem
from acmeca.domain.identifiers import Identifier, dns, ip
from acmeca.domain.status import ChallengeType
from acmeca.validation.dispatch import ValidationResult, ValidationSettings, validate
from acmeca.validation.tlsalpn01 import check_certificate, server_name
from tests.unit.validation.conftest import KEY_AUTHORIZATION, TOKEN, free_port, needs_ipv6, with_ports
from tests.unit.validation.tls_material import OBSOLETE_OID, ChallengeCert


@dataclasses.dataclass
class TLSServer:
    port: int
    server_names: list[str | None]


@asynccontextmanager
async def tls_server(
    tmp_path: Path,
    recipe: ChallengeCert,
    *,
    host: str = "127.0.0.1",
    alpn: list[str] | None = None,
    tweak: Callable[[ssl.SSLContext], None] | None = None,
) -> AsyncIterator[TLSServer]:
    """Serve ``recipe``'s certificate with ALPN ``acme-tls/1`` (unless told otherwise); record the SNI seen."""
    cert_pem, key_pem = recipe.pem_pair()
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    context.set_alpn_protocols(["acme-tls/1"] if alpn is None else alpn)
    seen: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,func-returns-value]
    if tweak:
        tweak(context)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, ssl.SSLError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, host, 0, ssl=context)
    try:
        yield TLSServer(port=server.sockets[0].getsockname()[1], server_names=seen)
    finally:
        server.close()
        await server.wait_closed()


async def tlsalpn(settings: ValidationSettings, identifier: Identifier, port: int) -> ValidationResult:
    return await validate(
        ChallengeType.TLS_ALPN_01, identifier, TOKEN, KEY_AUTHORIZATION, with_ports(settings, tls=port)
    )


def recipe(name: str = "a.test", **changes: object) -> ChallengeCert:
    return dataclasses.replace(ChallengeCert(name, KEY_AUTHORIZATION), **changes)  # type: ignore[arg-type]


# -- over the network ------------------------------------------------------------------------------
async def test_valid_dns_identifier(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe()) as server:
        result = await tlsalpn(settings, dns("a.test"), server.port)
    assert result.ok, result.error
    assert server.server_names[-1] == "a.test"
    [entry] = result.record["validationRecord"]
    assert entry["serverName"] == "a.test"
    assert entry["addressUsed"] == "127.0.0.1"


async def test_valid_ipv4_identifier_uses_reverse_dns_sni(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe("127.0.0.1", ip_san=True)) as server:
        result = await tlsalpn(settings, ip("127.0.0.1"), server.port)
    assert result.ok, result.error
    assert server.server_names[-1] == "1.0.0.127.in-addr.arpa"


@needs_ipv6
async def test_valid_ipv6_identifier(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe("::1", ip_san=True), host="::1") as server:
        result = await tlsalpn(settings, ip("::1"), server.port)
    assert result.ok, result.error
    assert server.server_names[-1] == "1." + "0." * 31 + "ip6.arpa"


async def test_alpn_not_negotiated(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe(), alpn=["h2", "http/1.1"]) as server:
        result = await tlsalpn(settings, dns("a.test"), server.port)
    assert isinstance(result.error, TLSProblem), result.error
    assert "acme-tls/1" in result.error.detail


async def test_server_without_alpn(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe(), alpn=[]) as server:
        result = await tlsalpn(settings, dns("a.test"), server.port)
    assert isinstance(result.error, TLSProblem), result.error


async def test_tls_below_1_2_is_refused(tmp_path: Path, settings: ValidationSettings) -> None:
    def old(context: ssl.SSLContext) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.maximum_version = ssl.TLSVersion.TLSv1_1

    async with tls_server(tmp_path, recipe(), tweak=old) as server:
        result = await tlsalpn(settings, dns("a.test"), server.port)
    assert isinstance(result.error, TLSProblem), result.error


async def test_wrong_digest_over_the_network(tmp_path: Path, settings: ValidationSettings) -> None:
    async with tls_server(tmp_path, recipe(key_authorization=TOKEN + ".other")) as server:
        result = await tlsalpn(settings, dns("a.test"), server.port)
    assert isinstance(result.error, IncorrectResponse)


async def test_connection_refused_is_retried_then_fails(settings: ValidationSettings) -> None:
    quick = dataclasses.replace(settings, timeout=settings.timeout / 2)
    result = await tlsalpn(quick, dns("a.test"), free_port())
    assert isinstance(result.error, ConnectionProblem)
    assert result.record["attempts"] >= 2


async def test_plain_tcp_server_is_a_tls_problem(settings: ValidationSettings) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        result = await tlsalpn(settings, dns("a.test"), server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(result.error, (TLSProblem, ConnectionProblem)), result.error
    assert not result.ok


async def test_wildcard_is_refused_before_connecting(settings: ValidationSettings) -> None:
    result = await tlsalpn(settings, dns("*.a.test"), free_port())
    assert isinstance(result.error, Malformed)
    assert result.record["attempts"] == 0


# -- certificate rules (no network needed) -----------------------------------------------------------
def test_server_name_for_identifiers() -> None:
    assert server_name(dns("a.test")) == "a.test"
    assert server_name(ip("192.0.2.1")) == "1.2.0.192.in-addr.arpa"
    assert server_name(ip("2001:db8::1")).endswith(".8.b.d.0.1.0.0.2.ip6.arpa")


def test_good_certificate_passes() -> None:
    check_certificate(recipe().der(), dns("a.test"), KEY_AUTHORIZATION)


def test_san_is_compared_case_insensitively() -> None:
    check_certificate(recipe("A.Test").der(), dns("a.test"), KEY_AUTHORIZATION)


def test_ip_certificate_passes() -> None:
    check_certificate(recipe("192.0.2.1", ip_san=True).der(), ip("192.0.2.1"), KEY_AUTHORIZATION)


def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("changes", "identifier", "fragment"),
    [
        ({"critical": False}, "a.test", "not critical"),
        ({"key_authorization": TOKEN + ".x"}, "a.test", "expected SHA-256"),
        ({"oid": OBSOLETE_OID}, "a.test", "obsolete"),
        ({"raw_value": b"\x01" * 32}, "a.test", "OCTET STRING"),
        ({"raw_value": b"\x04\x10" + b"\x01" * 16}, "a.test", "expected SHA-256"),
        ({"extra_sans": [x509.DNSName("b.test")]}, "a.test", "exactly one"),
        ({"no_san": True}, "a.test", "no subjectAltName"),
        ({"name": "b.test"}, "a.test", r"expected DNSName\(a\.test\)"),
        ({"name": "192.0.2.1"}, "192.0.2.1", "expected IPAddress"),  # DNS-typed SAN for an IP
        ({"issuer_name": "Some CA"}, "a.test", "not self-signed"),
        ({"issuer_key": "other"}, "a.test", "self-signature"),
    ],
)
def test_certificate_rules(changes: dict[str, object], identifier: str, fragment: str) -> None:
    if changes.get("issuer_key") == "other":
        changes = {**changes, "issuer_key": other_key()}
    target = ip(identifier) if _is_ip(identifier) else dns(identifier)
    with pytest.raises(IncorrectResponse, match=fragment):
        check_certificate(recipe(**changes).der(), target, KEY_AUTHORIZATION)


def test_ip_san_for_a_dns_identifier_is_refused() -> None:
    with pytest.raises(IncorrectResponse, match="expected DNSName"):
        check_certificate(recipe("192.0.2.1", ip_san=True).der(), dns("ip.test"), KEY_AUTHORIZATION)


def test_obsolete_oid_next_to_nothing_else_names_it() -> None:
    with pytest.raises(IncorrectResponse, match=r"1\.3\.6\.1\.5\.5\.7\.1\.30\.1"):
        check_certificate(recipe(oid=OBSOLETE_OID).der(), dns("a.test"), KEY_AUTHORIZATION)


def test_garbage_is_refused() -> None:
    with pytest.raises(IncorrectResponse, match="cannot be parsed"):
        check_certificate(b"\x30\x03\x02\x01\x00", dns("a.test"), KEY_AUTHORIZATION)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
