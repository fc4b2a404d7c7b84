"""K8sSA: Kubernetes service-account tokens verified against configured public keys (stepca.md §2.5).

The token is the raw JWT a pod reads from ``/var/run/secrets/kubernetes.io/serviceaccount/token``. Its
``iss`` must be ``kubernetes/serviceaccount`` and ``sub`` non-empty; ``aud`` is not checked, and exp/nbf
only when present (legacy service-account tokens carry no expiry), as upstream does. Such tokens are not
single-use (upstream does not track them). The certificate uses the admin template: CN and SANs from the CSR.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography import x509
from jwcrypto import jwk

from acmeca.config import K8sSAProvisionerConfig
from acmeca.crypto.keys import load_public_key_pem
from acmeca.domain.errors import Unauthenticated
from acmeca.domain.records import ProvisionerRef
from acmeca.step.jwt import CompactJWS, verify_signature
from acmeca.step.provisioners.base import ProvisionerIdentity, TokenEvidence

K8SSA_ISSUER = "kubernetes/serviceaccount"
_BEGIN = b"-----BEGIN "


def parse_public_keys(value: Any) -> tuple[jwk.JWK, ...]:
    """``publicKeys``: base64 of PEM (what step writes) or PEM; PUBLIC KEY blocks or certificates."""
    if not isinstance(value, str) or not value:
        raise ValueError("K8sSA provisioner needs publicKeys")
    data = value.encode()
    if _BEGIN not in data:
        try:
            data = base64.b64decode(value)
        except (ValueError, binascii.Error):
            raise ValueError("K8sSA publicKeys are neither PEM nor base64 PEM") from None
    keys: list[jwk.JWK] = []
    for block in data.split(_BEGIN)[1:]:
        pem = _BEGIN + block
        if pem.startswith(b"-----BEGIN CERTIFICATE"):
            keys.append(jwk.JWK.from_pyca(x509.load_pem_x509_certificate(pem).public_key()))
        else:
            keys.append(jwk.JWK.from_pyca(load_public_key_pem(pem)))
    if not keys:
        raise ValueError("K8sSA publicKeys hold no key")
    return tuple(keys)


class K8sSAProvisioner(ProvisionerIdentity):
    def __init__(self, ref: ProvisionerRef, config: K8sSAProvisionerConfig) -> None:
        super().__init__(ref, config.claims)
        self._keys = parse_public_keys(config.public_keys)

    @property
    def token_id(self) -> str:
        return f"k8ssa/{self._ref.name}"

    def verify(self, token: CompactJWS, *, now: datetime) -> TokenEvidence:
        """Signature by one of the configured keys, then issuer and subject."""
        for key in self._keys:
            try:
                verify_signature(token, key)
                break
            except Unauthenticated:
                continue
        else:
            raise Unauthenticated("invalid token: the signature does not verify with any K8sSA public key")
        if token.claims.get("iss") != K8SSA_ISSUER:
            raise Unauthenticated("invalid token: invalid issuer claim (iss)")
        if not isinstance(token.claims.get("sub"), str) or not token.claims["sub"]:
            raise Unauthenticated("invalid token: subject cannot be empty")
        return TokenEvidence()
