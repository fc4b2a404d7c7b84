"""The CA's own certificates and signing key, loaded once at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from acmeca.crypto import certs
from acmeca.crypto.keys import SigningKey, load_private_key


@dataclass(frozen=True)
class TrustBundle:
    """What clients are told to trust and what the issuer presents."""

    roots: tuple[x509.Certificate, ...]
    federated_roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]

    @property
    def federation(self) -> tuple[x509.Certificate, ...]:
        seen: dict[bytes, x509.Certificate] = {}
        for certificate in (*self.roots, *self.federated_roots):
            seen.setdefault(certs.to_der(certificate), certificate)
        return tuple(seen.values())

    def root_by_fingerprint(self, sha256_hex: str) -> x509.Certificate | None:
        wanted = sha256_hex.replace("-", "").replace(":", "").lower()
        for certificate in self.federation:
            if certs.sha256_fingerprint(certificate) == wanted:
                return certificate
        return None


@dataclass(frozen=True)
class SigningAuthority:
    """The intermediate that signs leaves and CRLs, with its key."""

    certificate: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...]  # the intermediate and anything above it short of the root

    @property
    def ski(self) -> str:
        return certs.subject_key_id(self.certificate)


def load_trust(roots: tuple[Path, ...], federated: tuple[Path, ...], crt: Path) -> TrustBundle:
    root_certs = tuple(c for path in roots for c in certs.load_pem_bundle(path.read_bytes(), source=str(path)))
    federated_certs = tuple(
        c for path in federated for c in certs.load_pem_bundle(path.read_bytes(), source=str(path))
    )
    intermediates = tuple(certs.load_pem_bundle(crt.read_bytes(), source=str(crt)))
    return TrustBundle(roots=root_certs, federated_roots=federated_certs, intermediates=intermediates)


def load_signing_authority(crt: Path, key: Path, password: bytes | None) -> SigningAuthority:
    chain = tuple(certs.load_pem_bundle(crt.read_bytes(), source=str(crt)))
    signing_key = load_private_key(key, password)
    if certs.spki_sha256_of(chain[0]) != _spki(signing_key):
        raise ValueError(f"{key} does not match the certificate in {crt}")
    return SigningAuthority(certificate=chain[0], key=signing_key, chain=chain)


def _spki(key: SigningKey) -> str:
    from acmeca.crypto.keys import spki_sha256

    return spki_sha256(key.public_key())
