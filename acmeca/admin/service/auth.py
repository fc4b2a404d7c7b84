"""Admin tokens (stepca.md §2.9): an x5c JWT from a certificate chaining to our roots, used once.

The provisioner is read from the certificate's step extension and the admin is looked up by every name the
certificate carries (CN, DNS SANs, emails) on that provisioner. Replay protection is the shared
``used_tokens`` table, so a token is good exactly once across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509

from acmeca.crypto import certs
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Unauthenticated, Unauthorized
from acmeca.domain.management import AdminRecord, AdminType
from acmeca.engine.catalog import ProvisionerCatalog, ProvisionerEntry
from acmeca.step.jwt import parse_compact
from acmeca.step.ott import audience_matches, audiences_of, check_times, reuse_key
from acmeca.step.provisioners.x5c import verify_x5c_token
from acmeca.store import admins, used_tokens
from acmeca.store.database import Database

ADMIN_ISSUER = "step-admin-client/1.0"


@dataclass(frozen=True)
class AdminIdentity:
    """Who is calling: the admin row, the subject it matched and the provisioner the certificate names."""

    admin: AdminRecord
    subject: str
    provisioner: ProvisionerEntry

    @property
    def is_super(self) -> bool:
        return self.admin.type is AdminType.SUPER_ADMIN


def certificate_names(leaf: x509.Certificate) -> list[str]:
    names: list[str] = []
    if cn := certs.common_name(leaf):
        names.append(cn)
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    names.extend(str(v) for v in sans.get_values_for_type(x509.DNSName))
    names.extend(str(v) for v in sans.get_values_for_type(x509.RFC822Name))
    return names


def admin_audiences(dns_names: Iterable[str], path: str) -> frozenset[str]:
    hosts = (f"[{n}]" if ":" in n and not n.startswith("[") else n for n in dns_names)
    return frozenset({path, *(f"https://{host}{path}" for host in hosts)})


class AdminAuthenticator:
    def __init__(
        self,
        *,
        roots: Sequence[x509.Certificate],
        dns_names: Sequence[str],
        catalog: ProvisionerCatalog,
        db: Database,
        clock: Clock,
    ) -> None:
        self._roots = tuple(roots)
        self._dns_names = tuple(dns_names)
        self._catalog = catalog
        self._db = db
        self._clock = clock

    async def authenticate(self, raw: str | None, *, path: str, host: str | None = None) -> AdminIdentity:
        """Verify the token for a request to ``path``; raises Unauthenticated (401) naming the reason."""
        if not raw:
            raise Unauthenticated("missing authorization header token")
        token = parse_compact(raw)
        now = self._clock.now()
        leaf = verify_x5c_token(token, self._roots, at=now).leaf
        if leaf is None:
            raise Unauthenticated("invalid token: no certificate")
        expires = check_times(token.claims, now)
        names = [*self._dns_names, *([host.rsplit(":", 1)[0].strip("[]")] if host else [])]
        if not audience_matches(audiences_of(token.claims), admin_audiences(names, path)):
            raise Unauthenticated("invalid token: invalid audience claim (aud)")
        extension = certs.provisioner_of(leaf)
        if extension is None:
            raise Unauthenticated("admin certificate carries no provisioner extension")
        provisioner = await self._catalog.by_name(extension[1])
        issuer = token.claims.get("iss")
        if issuer not in (ADMIN_ISSUER, provisioner.name):
            raise Unauthenticated("invalid token: invalid issuer claim (iss)")
        subjects = certificate_names(leaf)
        async with self._db.read() as tx:
            admin = await admins.find(tx, subjects, provisioner.id)
        if admin is None:
            raise Unauthorized(f"unauthorized: {subjects[0] if subjects else 'certificate'} is not an admin")
        async with self._db.write() as tx:
            spent = await used_tokens.spend(tx, reuse_key(token), kind="admin", expires_at=expires)
        if not spent:
            raise Unauthenticated("token already used")
        return AdminIdentity(admin=admin, subject=admin.subject, provisioner=provisioner)


def require_super(identity: AdminIdentity) -> None:
    if not identity.is_super:
        raise Unauthorized("must have super admin access to make this request")
