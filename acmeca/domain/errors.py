"""The one error tree of acmeca.

Every failure a client can cause or observe is a subclass of :class:`CAError`, one class per problem kind.
No class here knows about HTTP: the three edges (ACME problem documents, step-style JSON, admin JSON) map
these classes to statuses in their own tables, so the same error reads correctly through every door.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acmeca.domain.identifier_types import Identifier


@dataclass(frozen=True)
class Subproblem:
    """A per-identifier failure inside a compound error (RFC 8555 §6.7.1)."""

    error: CAError
    identifier: Identifier | None = None


class CAError(Exception):
    """Base of every expected failure.

    ``detail`` is safe to show to the client; ``subproblems`` carries per-identifier failures.
    """

    def __init__(self, detail: str, *, subproblems: Sequence[Subproblem] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.subproblems: tuple[Subproblem, ...] = tuple(subproblems)


class Malformed(CAError):
    """The request is syntactically wrong or semantically meaningless."""


class MethodNotAllowed(Malformed):
    """The resource exists but not for this HTTP method."""

    def __init__(self, detail: str, *, allowed: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.allowed = tuple(allowed)


class UnsupportedMediaType(Malformed):
    """The request body has the wrong content type."""


class PayloadTooLarge(Malformed):
    """The request body exceeds the configured cap."""


class NotFound(CAError):
    """The named resource does not exist (or is not visible to the caller)."""


class Unauthorized(CAError):
    """The caller is known but may not do this."""


class Unauthenticated(Unauthorized):
    """The caller could not be identified: missing, invalid or replayed credentials."""


class AccountDeactivated(Unauthorized):
    """The ACME account was deactivated or revoked; RFC 8555 §7.3.6 wants 401 for it."""


class Forbidden(CAError):
    """Policy forbids what was asked (name policy, claims, durations)."""


class BadNonce(CAError):
    """The anti-replay nonce is missing, malformed, unknown or already used."""


class BadSignatureAlgorithm(CAError):
    """The JWS algorithm is not one we accept."""

    def __init__(self, detail: str, *, algorithms: Sequence[str]) -> None:
        super().__init__(detail)
        self.algorithms = tuple(algorithms)


class BadPublicKey(CAError):
    """A key offered for signing requests is not acceptable (size, curve, blocked)."""


class BadCSR(CAError):
    """The CSR cannot be honoured."""


class BadRevocationReason(CAError):
    """The revocation reason code is not one we accept."""


class AlreadyRevoked(CAError):
    """The certificate is already revoked."""


class AlreadyReplaced(CAError):
    """The certificate named in ``replaces`` was already replaced (RFC 9773)."""


class AccountDoesNotExist(CAError):
    """No account matches the key or key id."""


class ExternalAccountRequired(CAError):
    """The ACME provisioner requires External Account Binding."""


class OrderNotReady(CAError):
    """Finalize was attempted on an order that is not ``ready``."""


class RejectedIdentifier(CAError):
    """The CA will not issue for this identifier."""


class UnsupportedIdentifier(CAError):
    """The identifier type is not one we issue for."""


class InvalidContact(CAError):
    """A contact URL is not acceptable."""


class UnsupportedContact(CAError):
    """A contact URL uses a scheme we do not support."""


class InvalidProfile(CAError):
    """The requested certificate profile does not exist or does not fit the order."""


class UserActionRequired(CAError):
    """The client must do something out of band (e.g. accept new terms)."""


class Conflict(CAError):
    """The request conflicts with the current state (duplicate name, key already in use)."""

    def __init__(self, detail: str, *, location: str | None = None) -> None:
        super().__init__(detail)
        self.location = location


class RateLimited(CAError):
    """A rate limit was hit; ``retry_after`` says when the request would be allowed."""

    def __init__(self, detail: str, *, retry_after: timedelta) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotImplementedYet(CAError):
    """A documented feature that this build does not offer."""


class ServerInternal(CAError):
    """An unexpected failure; the detail names a request id, never internals."""


class ServiceUnavailable(CAError):
    """A dependency (database, signer) is temporarily unavailable; the client may retry."""


# Validation outcomes: recorded on challenges, never raised through the web edge directly.
class ValidationError(CAError):
    """Base for challenge validation failures."""


class ConnectionProblem(ValidationError):
    """The validator could not connect to the target."""


class DNSProblem(ValidationError):
    """A DNS lookup failed (SERVFAIL, NXDOMAIN, timeout)."""


class TLSProblem(ValidationError):
    """The TLS handshake or certificate did not satisfy the challenge."""


class IncorrectResponse(ValidationError):
    """The target answered, but not with the expected key authorization."""


class CAAProblem(ValidationError):
    """CAA records forbid issuance."""


@dataclass(frozen=True)
class ErrorSummary:
    """A serialisable form of a CAError, for storing on challenges and orders."""

    kind: str
    detail: str
    subproblems: tuple[tuple[str, str, str | None, str | None], ...] = field(default=())

    @classmethod
    def of(cls, error: CAError) -> ErrorSummary:
        subs = tuple(
            (
                type(s.error).__name__,
                s.error.detail,
                s.identifier.type.value if s.identifier else None,
                s.identifier.value if s.identifier else None,
            )
            for s in error.subproblems
        )
        return cls(kind=type(error).__name__, detail=error.detail, subproblems=subs)


ERROR_KINDS: dict[str, type[CAError]] = {}


def _register_kinds() -> None:
    pending: list[type[CAError]] = [CAError]
    while pending:
        cls = pending.pop()
        ERROR_KINDS[cls.__name__] = cls
        pending.extend(cls.__subclasses__())


_register_kinds()


def error_from_summary(summary: ErrorSummary) -> CAError:
    """Rebuild a stored error so an edge can render it exactly as when it happened."""
    from acmeca.domain.identifier_types import Identifier, IdentifierType

    cls = ERROR_KINDS.get(summary.kind, CAError)
    subs = [
        Subproblem(
            error=ERROR_KINDS.get(kind, CAError)(detail),
            identifier=Identifier(IdentifierType(id_type), id_value) if id_type and id_value else None,
        )
        for kind, detail, id_type, id_value in summary.subproblems
    ]
    error = CAError.__new__(cls)
    CAError.__init__(error, summary.detail, subproblems=subs)
    return error
