"""The CA's own certificates and signing key, loaded at start and on SIGHUP.

``acmeca intermediate rotate`` keeps each replaced intermediate beside the current one as
``<name>.<serial in hex><suffix>`` (``certs/intermediate_ca.<serial>.crt``); those *retired* intermediates
sign nothing new but are still served, in ``/intermediates`` and as the chain of the certificates they
signed, until they expire.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime
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
    # Other chains above the same leaves (e.g. a cross-signed intermediate up to another root), offered to
    # ACME clients as Link rel="alternate"; each starts with a certificate for the issuing key.
    alternate_chains: tuple[tuple[x509.Certificate, ...], ...] = ()
    # Intermediates a rotation replaced (see the module docstring), newest first.
    retired: tuple[x509.Certificate, ...] = field(default=())

    @functools.cached_property
    def ski(self) -> str:
        """Read on every issuance; kept, since a rotation makes a new SigningAuthority."""
        return certs.subject_key_id(self.certificate)

    @functools.cached_property
    def chain_pem(self) -> tuple[str, ...]:
        """``chain`` as PEM, sent with every certificate issued; kept for the life of this authority."""
        return tuple(certs.to_pem(c) for c in self.chain)

    def served_intermediates(self, now: datetime) -> tuple[x509.Certificate, ...]:
        """``/intermediates``: the signing chain, then every retired intermediate that has not expired."""
        return (*self.chain, *(c for c in self.retired if c.not_valid_after_utc > now))

    def retired_chain(self, issuer_ski: str) -> tuple[x509.Certificate, ...] | None:
        """The chain above a certificate a retired intermediate signed; None for an unknown issuer."""
        for certificate in self.retired:
            if certs.subject_key_id(certificate) == issuer_ski:
                return (certificate,)
        return None


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
    return SigningAuthority(certificate=chain[0], key=signing_key, chain=chain, retired=retired_intermediates(crt))


def retired_path(crt: Path, certificate: x509.Certificate) -> Path:
    """Where a rotation keeps the intermediate it replaces: ``intermediate_ca.<serial hex>.crt``."""
    return crt.with_name(f"{crt.stem}.{certificate.serial_number:x}{crt.suffix}")


def retired_intermediates(crt: Path) -> tuple[x509.Certificate, ...]:
    """The retired intermediates beside ``crt``, newest first; expired ones too (callers filter by time)."""
    found = [
        certs.load_pem_bundle(path.read_bytes(), source=str(path))[0]
        for path in crt.parent.glob(f"{crt.stem}.*{crt.suffix}")
    ]
    return tuple(sorted(found, key=lambda c: c.not_valid_before_utc, reverse=True))


def load_alternate_chains(
    authority: SigningAuthority, chains: tuple[tuple[Path, ...], ...]
) -> SigningAuthority:
    """Attach ``alternateChains`` from ca.json; each must start with our issuing key under the same name."""
    loaded = []
    for paths in chains:
        chain = tuple(c for path in paths for c in certs.load_pem_bundle(path.read_bytes(), source=str(path)))
        if not chain:
            raise ValueError("alternateChains: an empty chain")
        first = chain[0]
        if certs.spki_sha256_of(first) != certs.spki_sha256_of(authority.certificate) or (
            first.subject != authority.certificate.subject
        ):
            raise ValueError(
                f"alternateChains: {paths[0]} does not certify the issuing key and name, so leaves would not chain"
            )
        loaded.append(chain)
    return replace(authority, alternate_chains=tuple(loaded))


def _spki(key: SigningKey) -> str:
    from acmeca.crypto.keys import spki_sha256

    return spki_sha256(key.public_key())
