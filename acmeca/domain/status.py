"""Status and type vocabularies; values equal the wire strings."""

from enum import IntEnum, StrEnum


class AccountStatus(StrEnum):
    VALID = "valid"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"


class OrderStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


class AuthorizationStatus(StrEnum):
    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ChallengeStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


class ChallengeType(StrEnum):
    HTTP_01 = "http-01"
    DNS_01 = "dns-01"
    TLS_ALPN_01 = "tls-alpn-01"


class ProvisionerType(StrEnum):
    """Provisioner types with the numeric codes step-ca writes into its certificate extension."""

    JWK = "JWK"
    OIDC = "OIDC"
    GCP = "GCP"
    AWS = "AWS"
    AZURE = "Azure"
    ACME = "ACME"
    X5C = "X5C"
    K8SSA = "K8sSA"
    SSHPOP = "SSHPOP"
    SCEP = "SCEP"
    NEBULA = "Nebula"

    @property
    def extension_code(self) -> int:
        return _EXTENSION_CODES[self]


_EXTENSION_CODES = {
    ProvisionerType.JWK: 1,
    ProvisionerType.OIDC: 2,
    ProvisionerType.GCP: 3,
    ProvisionerType.AWS: 4,
    ProvisionerType.AZURE: 5,
    ProvisionerType.ACME: 6,
    ProvisionerType.X5C: 7,
    ProvisionerType.K8SSA: 8,
    ProvisionerType.SSHPOP: 9,
    ProvisionerType.SCEP: 10,
    ProvisionerType.NEBULA: 11,
}


class RevocationReason(IntEnum):
    """RFC 5280 §5.3.1 CRLReason; 7 is unassigned."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10


class RequesterKind(StrEnum):
    """Who asked the engine for a certificate; recorded on every certificate row and audit line."""

    ACME_ACCOUNT = "acme-account"
    PROVISIONER = "provisioner"
    RENEWAL = "renewal"
    CA = "ca"
