"""X5C: tokens signed by a certificate's key, the certificate chaining to configured roots (step-ca §2.5, §2.8).

The chain and token checks are public functions because three callers need them with different roots and
times: the X5C provisioner (its own ``roots``, now), renew bearer tokens (the CA's roots, at the leaf's
``notAfter`` minus a minute so an expired certificate can still prove possession) and admin tokens.

Reusable API::

    chain = decode_x5c(token.header, "x5c")             # leaf first, DER from base64 (not base64url)
    leaf = verify_chain(chain, roots, at=now)             # signatures, CA flags, validity at ``at``
    check_client_leaf(leaf)                               # clientAuth EKU + digitalSignature KU
    evidence = verify_x5c_token(token, roots, at=now)     # all of the above + the JWS signature by the leaf
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID
from jwcrypto import jwk

from acmeca.config import X5CProvisionerConfig
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.records import ProvisionerRef
from acmeca.step.jwt import CompactJWS, verify_signature
from acmeca.step.provisioners.base import ProvisionerIdentity, TokenEvidence

MAX_CHAIN = 8


def decode_x5c(header: dict[str, Any], name: str = "x5c") -> tuple[x509.Certificate, ...]:
    """The certificates of an ``x5c`` (or ``x5cInsecure``) header: standard base64 DER, leaf first."""
    value = header.get(name)
    if not isinstance(value, list) or not value or len(value) > MAX_CHAIN:
        raise Unauthenticated(f"invalid token: the {name} header must hold 1 to {MAX_CHAIN} certificates")
    try:
        return tuple(x509.load_der_x509_certificate(base64.b64decode(v, validate=True)) for v in value)
    except (TypeError, ValueError, binascii.Error):
        raise Unauthenticated(f"invalid token: the {name} header holds an invalid certificate") from None


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """cryptography reads names lazily, so an x5c certificate with an unreadable issuer or subject raises
    ValueError here, before any signature is checked: such a certificate was issued by nobody."""
    try:
        if child.issuer != parent.subject:
            return False
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _shown_name(certificate: x509.Certificate) -> str:
    try:
        return certificate.subject.rfc4514_string()
    except ValueError:
        return "(unreadable subject)"


def _is_ca(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` says it is a CA; extensions cryptography cannot read (x5c is the caller's
    input, read before anything is verified) make it no CA rather than an error."""
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _valid_at(certificate: x509.Certificate, at: datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def verify_chain(
    chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], *, at: datetime
) -> x509.Certificate:
    """Walk from the leaf (``chain[0]``) to one of ``roots``; every certificate must be valid at ``at``.

    Returns the leaf. Raises Unauthenticated naming the first broken link.
    """
    if not chain:
        raise Unauthenticated("certificate chain is empty")
    current = chain[0]
    pool = list(chain[1:])
    for _ in range(MAX_CHAIN + 1):
        if not _valid_at(current, at):
            name = _shown_name(current)
            raise Unauthenticated(f"certificate '{name}' is not valid at {at:%Y-%m-%dT%H:%M:%SZ}")
        for root in roots:
            if _is_ca(root) and _issued_by(current, root):
                if not _valid_at(root, at):
                    raise Unauthenticated("the root certificate is not valid at the verification time")
                return chain[0]
        parent = next((c for c in pool if _is_ca(c) and _issued_by(current, c)), None)
        if parent is None:
            raise Unauthenticated("certificate does not chain to a trusted root")
        pool.remove(parent)
        current = parent
    raise Unauthenticated("certificate chain is too long")


def check_client_leaf(leaf: x509.Certificate) -> None:
    """The leaf may authenticate a client: clientAuth EKU and digitalSignature key usage (step-ca's rule)."""
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise Unauthenticated("certificate has no clientAuth extended key usage") from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise Unauthenticated("certificate has no clientAuth extended key usage")
    try:
        key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise Unauthenticated("certificate has no digitalSignature key usage") from None
    if not key_usage.digital_signature:
        raise Unauthenticated("certificate has no digitalSignature key usage")


def leaf_jwk(leaf: x509.Certificate) -> jwk.JWK:
    try:
        return jwk.JWK.from_pyca(leaf.public_key())
    except (TypeError, ValueError):
        raise Unauthenticated("certificate key type is not supported for tokens") from None


def verify_x5c_token(
    token: CompactJWS, roots: Sequence[x509.Certificate], *, at: datetime, header: str = "x5c"
) -> TokenEvidence:
    """Chain to ``roots`` at ``at``, client leaf, and a JWS signature by the leaf's key."""
    chain = decode_x5c(token.header, header)
    leaf = verify_chain(chain, roots, at=at)
    check_client_leaf(leaf)
    verify_signature(token, leaf_jwk(leaf))
    return TokenEvidence(leaf=leaf, chain=chain)


def parse_roots(value: Any) -> tuple[x509.Certificate, ...]:
    """ca.json ``roots``: base64 of a PEM bundle (what step writes), or the PEM itself."""
    if not isinstance(value, str) or not value:
        raise ValueError("X5C provisioner needs roots")
    data = value.encode()
    if b"-----BEGIN" not in data:
        try:
            data = base64.b64decode(value, validate=False)
        except (ValueError, binascii.Error):
            raise ValueError("X5C roots are neither PEM nor base64 PEM") from None
    roots = tuple(x509.load_pem_x509_certificates(data))
    if not roots:
        raise ValueError("X5C roots hold no certificate")
    return roots


class X5CProvisioner(ProvisionerIdentity):
    def __init__(self, ref: ProvisionerRef, config: X5CProvisionerConfig) -> None:
        super().__init__(ref, config.claims)
        self._roots = parse_roots(config.roots)

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    @property
    def token_id(self) -> str:
        return f"x5c/{self._ref.name}"

    def verify(self, token: CompactJWS, *, now: datetime) -> TokenEvidence:
        return verify_x5c_token(token, self._roots, at=now)
