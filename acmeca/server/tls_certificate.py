"""The CA's own TLS certificate: issued through the engine for ``dnsNames`` and renewed while serving.

Going through the engine means this certificate is stored, audited and subject to the same name policy as
every other; it is renewed at two thirds of its lifetime and swapped into the live SSL context. With
``serve --workers`` the supervisor alone issues and renews it and hands each new pair to the workers
(:class:`TLSMaterial`), so every process presents the same certificate.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from acmeca.config import LiveConfig
from acmeca.crypto.keys import KeySpec, PrivateKey, generate_key, private_key_pem
from acmeca.domain.claims import Claims
from acmeca.domain.clock import Clock
from acmeca.domain.errors import CAError
from acmeca.domain.identifiers import Identifier, dns, ip
from acmeca.domain.key_usage import ExtendedKeyUsage
from acmeca.domain.records import Requester
from acmeca.domain.status import RequesterKind
from acmeca.edge.tls import load_server_certificate_pem, server_context
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.requests import CertificateProfile, IssuanceRequest, IssuedCertificate
from acmeca.engine.trust import TrustBundle

log = logging.getLogger(__name__)

TLS_LIFETIME = timedelta(hours=24)
TLS_PROFILE = CertificateProfile(name="ca-tls", validity=TLS_LIFETIME, ext_key_usage=(ExtendedKeyUsage.SERVER_AUTH,))
RETRY_AFTER_FAILURE = timedelta(minutes=1)


def _identifier(name: str) -> Identifier:
    try:
        return ip(name)
    except CAError:
        return dns(name)


@dataclass(frozen=True)
class TLSMaterial:
    """A certificate chain and its unencrypted key, as handed from the supervisor to its workers."""

    chain_pem: str
    key_pem: bytes


class ServerTLS:
    """The SSL context of one process and the certificate in it, replaced in place for new handshakes."""

    def __init__(self, trust: TrustBundle) -> None:
        self.context: ssl.SSLContext = server_context(trust.federation)

    def install(self, material: TLSMaterial) -> None:
        load_server_certificate_pem(self.context, material.chain_pem, material.key_pem)


class ServerCertificate(ServerTLS):
    def __init__(self, live: LiveConfig, engine: IssuingEngine, trust: TrustBundle, clock: Clock) -> None:
        super().__init__(trust)
        self._live = live
        self._engine = engine
        self._clock = clock
        self.current: IssuedCertificate | None = None
        self._listeners: list[Callable[[TLSMaterial], None]] = []
        self._material: TLSMaterial | None = None

    def on_issued(self, listener: Callable[[TLSMaterial], None]) -> None:
        """Called with every certificate issued from now on (the supervisor forwards them to its workers)."""
        self._listeners.append(listener)

    def material(self) -> TLSMaterial:
        assert self._material is not None, "issue() first"
        return self._material

    async def issue(self) -> IssuedCertificate:
        key: PrivateKey = generate_key(KeySpec("EC", "P-256"))
        config = self._live.current
        identifiers = tuple(_identifier(n) for n in config.dns_names)
        common_name = config.common_name
        issued = await self._engine.issue(
            IssuanceRequest(
                public_key=key.public_key(),
                common_name=common_name,
                identifiers=identifiers,
                requester=Requester(RequesterKind.CA, "tls"),
                provisioner=None,
                claims=Claims(max_duration=TLS_LIFETIME, default_duration=TLS_LIFETIME),
                profile=TLS_PROFILE,
            )
        )
        self._material = TLSMaterial(issued.full_chain_pem, private_key_pem(key))
        self.install(self._material)
        self.current = issued
        for listener in self._listeners:
            listener(self._material)
        log.info("server TLS certificate issued", extra={"serial": issued.serial, "not_after": str(issued.not_after)})
        return issued

    def next_renewal_delay(self) -> timedelta:
        if self.current is None:
            return timedelta(0)
        lifetime = self.current.not_after - self.current.not_before
        renew_at = self.current.not_before + lifetime * 2 / 3
        return max(timedelta(0), renew_at - self._clock.now())

    async def renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.next_renewal_delay().total_seconds())
            try:
                await self.issue()
            except Exception:
                log.exception("server TLS certificate renewal failed; retrying")
                await asyncio.sleep(RETRY_AFTER_FAILURE.total_seconds())
