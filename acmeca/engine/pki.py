"""Creating the CA itself: a self-signed root and an intermediate under it (``acmeca init``), and later
intermediates from the same root (``acmeca intermediate rotate``).

Profiles follow step-ca (§3.5): root CN "<name> Root CA", path length 1; intermediate CN
"<name> Intermediate CA", path length 0; both certSign + crlSign, ten years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from acmeca.crypto.certbuild import CertificateTemplate, build_certificate
from acmeca.crypto.keys import PrivateKey, PublicKey
from acmeca.engine.serials import new_serial

CA_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class CACertificates:
    root: x509.Certificate
    intermediate: x509.Certificate


def create_ca_certificates(
    name: str, root_key: PrivateKey, intermediate_key: PrivateKey, *, now: datetime
) -> CACertificates:
    organization = x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)
    root_subject = x509.Name([organization, x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA")])
    root = build_certificate(
        CertificateTemplate(
            serial=new_serial(), subject=root_subject, public_key=root_key.public_key(),
            not_before=now, not_after=now + CA_VALIDITY, key_usage=frozenset({"certSign", "crlSign"}),
            is_ca=True, path_length=1,
        ),
        None,
        root_key,
    )
    intermediate_subject = x509.Name(
        [organization, x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Intermediate CA")]
    )
    intermediate = build_certificate(
        CertificateTemplate(
            serial=new_serial(), subject=intermediate_subject, public_key=intermediate_key.public_key(),
            not_before=now, not_after=now + CA_VALIDITY, key_usage=frozenset({"certSign", "crlSign"}),
            is_ca=True, path_length=0,
        ),
        root,
        root_key,
    )
    return CACertificates(root=root, intermediate=intermediate)


def next_intermediate(
    root: x509.Certificate, root_key: PrivateKey, previous: x509.Certificate, public_key: PublicKey, *,
    now: datetime, lifetime: timedelta,
) -> x509.Certificate:
    """A new intermediate for ``public_key`` with the previous one's name, so the CA stays one CA to clients.

    It never outlives the root: a chain is only good until its first certificate expires.
    """
    return build_certificate(
        CertificateTemplate(
            serial=new_serial(), subject=previous.subject, public_key=public_key, not_before=now,
            not_after=min(now + lifetime, root.not_valid_after_utc), key_usage=frozenset({"certSign", "crlSign"}),
            is_ca=True, path_length=0,
        ),
        root,
        root_key,
    )
