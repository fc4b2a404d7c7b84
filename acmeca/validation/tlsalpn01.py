"""tls-alpn-01 (RFC 8737, RFC 8738 §6 for IP addresses): a TLS handshake that proves control of the port.

We offer only the ``acme-tls/1`` protocol, so an ordinary web server cannot answer by accident, send the
identifier as SNI (the reverse-DNS name for IP addresses, since SNI cannot carry an address), refuse TLS
below 1.2, and verify no chain: the proof is the self-signed certificate's content. That certificate must
carry exactly one SAN equal to the identifier (an iPAddress entry for IPs) and a *critical* acmeIdentifier
extension holding SHA-256 of the key authorization. The pre-RFC OID 1.3.6.1.5.5.7.1.30.1 is not accepted.
After the handshake no application data is sent; the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import ssl
from functools import partial

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from acmeca.crypto.certbuild_oids import ACME_IDENTIFIER_OID
from acmeca.crypto.der import read_octet_string
from acmeca.domain.errors import ConnectionProblem, IncorrectResponse, TLSProblem
from acmeca.domain.identifiers import Identifier, IdentifierType, reverse_dns_name
from acmeca.validation.attempt import Attempt
from acmeca.validation.outcome import Transient
from acmeca.validation.resolver import IPAddress
from acmeca.validation.targets import ConnectFailed, connect_in_order, resolve_target

ACME_TLS_ALPN = "acme-tls/1"
OBSOLETE_ACME_VALIDATION_V1_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.30.1")
CLOSE_GRACE_SECONDS = 0.5


def server_name(identifier: Identifier) -> str:
    """The SNI to send: the DNS name, or ``d.c.b.a.in-addr.arpa`` / nibble ``ip6.arpa`` for an address."""
    if identifier.type is IdentifierType.IP:
        return reverse_dns_name(identifier)
    return identifier.value


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([ACME_TLS_ALPN])
    return context


async def validate_tlsalpn01(attempt: Attempt) -> None:
    """Return normally when the challenge certificate proves the key authorization, else raise a verdict."""
    identifier = attempt.identifier
    port = attempt.settings.tls_alpn01_port
    target = await resolve_target(
        attempt.resolver,
        identifier.value,
        port,
        deny_private=attempt.settings.deny_private_addresses,
        budget=attempt.deadline.remaining(),
    )
    sni = server_name(identifier)
    target.extra["serverName"] = sni
    try:
        protocol, certificate = await connect_in_order(target, partial(_handshake, attempt, port, sni))
    finally:
        attempt.records.append(target.record())
    if protocol != ACME_TLS_ALPN:
        raise TLSProblem(f"Cannot negotiate ALPN protocol {ACME_TLS_ALPN!r} with {sni}:{port} (got {protocol!r})")
    check_certificate(certificate, identifier, attempt.key_authorization)


async def _handshake(attempt: Attempt, port: int, sni: str, address: IPAddress) -> tuple[str | None, bytes]:
    """TCP connect (a failure here lets the caller try the next address), then the TLS handshake."""
    where = f"{address} port {port}"
    try:
        async with asyncio.timeout(max(attempt.deadline.remaining() / 2, 0.01)):
            _reader, writer = await asyncio.open_connection(str(address), port)
    except TimeoutError:
        raise ConnectFailed(ConnectionProblem(f"Timeout connecting to {where}")) from None
    except OSError as exc:
        raise ConnectFailed(ConnectionProblem(f"Connecting to {where} failed: {exc.strerror or exc}")) from None
    try:
        async with asyncio.timeout(max(attempt.deadline.remaining(), 0.01)):
            await writer.start_tls(client_context(), server_hostname=sni)
        ssl_object = writer.get_extra_info("ssl_object")
        protocol = ssl_object.selected_alpn_protocol() if ssl_object else None
        certificate = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    except TimeoutError:
        raise Transient(ConnectionProblem(f"Timeout during the TLS handshake with {where}")) from None
    except ssl.SSLError as exc:
        raise TLSProblem(f"TLS error with {where} (SNI {sni}): {exc.reason or exc}") from None
    except OSError as exc:
        reason = str(exc) or type(exc).__name__
        raise Transient(TLSProblem(f"{where} closed the connection during the TLS handshake ({reason})")) from None
    finally:
        await _close(writer)
    if not certificate:
        raise TLSProblem(f"{where} presented no certificate")
    return protocol, certificate


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close without waiting long for the peer's close_notify: the verdict no longer depends on it."""
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_GRACE_SECONDS):
            await writer.wait_closed()


def check_certificate(der: bytes, identifier: Identifier, key_authorization: str) -> None:
    """Apply RFC 8737 §3 to the presented certificate; every failed rule says which one."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        extensions = certificate.extensions
    except x509.DuplicateExtension as exc:
        raise IncorrectResponse(f"The tls-alpn-01 certificate repeats extension {exc.oid.dotted_string}") from None
    except ValueError as exc:
        raise IncorrectResponse(f"The tls-alpn-01 certificate cannot be parsed: {exc}") from None
    _check_self_signed(certificate)
    _check_san(extensions, identifier)
    _check_acme_identifier(extensions, key_authorization)


def _check_self_signed(certificate: x509.Certificate) -> None:
    if certificate.issuer != certificate.subject:
        raise IncorrectResponse("The tls-alpn-01 certificate is not self-signed (issuer differs from subject)")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise IncorrectResponse("The tls-alpn-01 certificate's self-signature does not verify") from None


def _check_san(extensions: x509.Extensions, identifier: Identifier) -> None:
    try:
        names = list(extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        raise IncorrectResponse("The tls-alpn-01 certificate has no subjectAltName extension") from None
    if len(names) != 1:
        raise IncorrectResponse(
            f"The tls-alpn-01 certificate must have exactly one subjectAltName, it has {len(names)}"
        )
    expected: x509.GeneralName
    if identifier.type is IdentifierType.IP:
        expected = x509.IPAddress(ipaddress.ip_address(identifier.value))
        matches = names[0] == expected
    else:
        expected = x509.DNSName(identifier.value)
        matches = isinstance(names[0], x509.DNSName) and names[0].value.lower() == identifier.value
    if not matches:
        raise IncorrectResponse(
            f"The tls-alpn-01 certificate's subjectAltName is {_show(names[0])}, expected {_show(expected)}"
        )


def _check_acme_identifier(extensions: x509.Extensions, key_authorization: str) -> None:
    try:
        extension = extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    except x509.ExtensionNotFound:
        obsolete = any(e.oid == OBSOLETE_ACME_VALIDATION_V1_OID for e in extensions)
        hint = " (it carries the obsolete pre-RFC 1.3.6.1.5.5.7.1.30.1 instead)" if obsolete else ""
        raise IncorrectResponse(
            f"The tls-alpn-01 certificate lacks the acmeIdentifier extension 1.3.6.1.5.5.7.1.31{hint}"
        ) from None
    if not extension.critical:
        raise IncorrectResponse("The tls-alpn-01 certificate's acmeIdentifier extension is not critical")
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        digest = read_octet_string(raw)
    except ValueError as exc:
        raise IncorrectResponse(f"The acmeIdentifier extension is not a DER OCTET STRING: {exc}") from None
    expected = hashlib.sha256(key_authorization.encode()).digest()
    if len(digest) != len(expected) or not hmac.compare_digest(digest, expected):
        raise IncorrectResponse(
            f"The acmeIdentifier extension holds {digest.hex()}, expected SHA-256 of the key authorization "
            f"{expected.hex()}"
        )


def _show(name: x509.GeneralName) -> str:
    return f"{type(name).__name__}({name.value})"
