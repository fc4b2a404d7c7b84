"""The one error tree of acmeca.

Every failure a client can cause or observe is a subclass of :class:`CAError`, one class per problem kind.
No class here knows about HTTP: the three edges (ACME problem documents, step-style JSON, admin JSON) map
these classes to statuses in their own :class:`ErrorTable`, and every table is read by the same rule (the
nearest class in the MRO that has a row; CAError's row is the last resort), so a new subclass renders the
same way through every door.

Errors outlive the process that raised them: orders and challenges keep theirs as JSON and render them
later. They are stored under a **kind**, a stable string each class declares with
``class X(CAError, kind="...")``, never under the class name, so classes can be renamed without turning stored
errors into 500s. Kinds are short camelCase names, not URNs: where a class *is* an RFC 8555 problem type
(§6.7, plus ``alreadyReplaced`` from RFC 9773 and ``invalidProfile`` from the profiles draft) its kind is that
type's name without the ``urn:ietf:params:acme:error:`` prefix (``malformed``, ``badNonce``); otherwise it is a
fixed name in the same style (``notFound``, ``serviceUnavailable``; the base class is ``unclassified``). A kind
names the class, not its rendering: NotFound is stored as ``notFound`` and still rendered as ``malformed``/404.
A stored kind must never change meaning: renaming one needs a migration that rewrites the rows (as 0002 did
for the class names stored before). Registration refuses a kind that is already taken, and a stored kind that
no class claims reads back as a plain CAError (rendered as serverInternal), never as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from acmeca.domain.identifier_types import Identifier

T = TypeVar("T")
_KINDS: dict[str, type[CAError]] = {}
ERROR_KINDS: Mapping[str, type[CAError]] = MappingProxyType(_KINDS)
"""Every registered class by its stored kind (read-only; classes register themselves when defined)."""


@dataclass(frozen=True)
class Subproblem:
    """A per-identifier failure inside a compound error (RFC 8555 §6.7.1)."""

    error: CAError
    identifier: Identifier | None = None


class CAError(Exception):
    """Base of every expected failure.

    ``detail`` is safe to show to the client; ``subproblems`` carries per-identifier failures; ``kind`` is the
    stable name the error is stored under (see the module docstring).
    """

    kind: ClassVar[str] = "unclassified"

    def __init__(self, detail: str, *, subproblems: Sequence[Subproblem] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.subproblems: tuple[Subproblem, ...] = tuple(subproblems)

    def __init_subclass__(cls, *, kind: str | None = None, **kwargs: Any) -> None:
        """Register the subclass under its declared kind; an undeclared or taken kind is a bug, refused now."""
        super().__init_subclass__(**kwargs)
        if kind is None:
            raise TypeError(f"{cls.__qualname__} must declare its stored kind: class {cls.__name__}(..., kind=...)")
        _register(kind, cls)


def _register(kind: str, cls: type[CAError]) -> None:
    taken = _KINDS.get(kind)
    if taken is not None:
        raise TypeError(f"error kind {kind!r} of {cls.__qualname__} is already taken by {taken.__qualname__}")
    _KINDS[kind] = cls
    cls.kind = kind


_register(CAError.kind, CAError)


class Malformed(CAError, kind="malformed"):
    """The request is syntactically wrong or semantically meaningless."""


class MethodNotAllowed(Malformed, kind="methodNotAllowed"):
    """The resource exists but not for this HTTP method."""

    allowed: tuple[str, ...] = ()  # class defaults here and below are what an error rebuilt from storage carries

    def __init__(self, detail: str, *, allowed: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.allowed = tuple(allowed)


class UnsupportedMediaType(Malformed, kind="unsupportedMediaType"):
    """The request body has the wrong content type."""


class PayloadTooLarge(Malformed, kind="payloadTooLarge"):
    """The request body exceeds the configured cap."""


class RequestTimeout(Malformed, kind="requestTimeout"):
    """The request body did not arrive within the server's deadline (a slow or stalled sender)."""


class NotFound(CAError, kind="notFound"):
    """The named resource does not exist (or is not visible to the caller)."""


class Unauthorized(CAError, kind="unauthorized"):
    """The caller is known but may not do this."""


class Unauthenticated(Unauthorized, kind="unauthenticated"):
    """The caller could not be identified: missing, invalid or replayed credentials."""


class AccountDeactivated(Unauthorized, kind="accountDeactivated"):
    """The ACME account was deactivated or revoked; RFC 8555 §7.3.6 wants 401 for it."""


class Forbidden(CAError, kind="forbidden"):
    """Policy forbids what was asked (name policy, claims, durations)."""


class BadNonce(CAError, kind="badNonce"):
    """The anti-replay nonce is missing, malformed, unknown or already used."""


class BadSignatureAlgorithm(CAError, kind="badSignatureAlgorithm"):
    """The JWS algorithm is not one we accept."""

    algorithms: tuple[str, ...] = ()

    def __init__(self, detail: str, *, algorithms: Sequence[str]) -> None:
        super().__init__(detail)
        self.algorithms = tuple(algorithms)


class BadPublicKey(CAError, kind="badPublicKey"):
    """A key offered for signing requests is not acceptable (size, curve, blocked)."""


class BadCSR(CAError, kind="badCSR"):
    """The CSR cannot be honoured."""


class LintRefused(BadCSR, kind="lintRefused"):
    """The certificate the request asks for fails pre-issuance lint (pkilint) at error level.

    A BadCSR (ACME ``badCSR``, step and admin 400), not a server error: every template the CA has is linted
    clean by its tests, so what makes a certificate fail is what the request put in it; the detail names the
    finding so the requester can change it. Boulder answers serverInternal here; we keep 5xx for failures
    nobody can act on.
    """


class BadRevocationReason(CAError, kind="badRevocationReason"):
    """The revocation reason code is not one we accept."""


class AlreadyRevoked(CAError, kind="alreadyRevoked"):
    """The certificate is already revoked."""


class AlreadyReplaced(CAError, kind="alreadyReplaced"):
    """The certificate named in ``replaces`` was already replaced (RFC 9773)."""


class AccountDoesNotExist(CAError, kind="accountDoesNotExist"):
    """No account matches the key or key id."""


class ExternalAccountRequired(CAError, kind="externalAccountRequired"):
    """The ACME provisioner requires External Account Binding."""


class OrderNotReady(CAError, kind="orderNotReady"):
    """Finalize was attempted on an order that is not ``ready``."""


class RejectedIdentifier(CAError, kind="rejectedIdentifier"):
    """The CA will not issue for this identifier."""


class UnsupportedIdentifier(CAError, kind="unsupportedIdentifier"):
    """The identifier type is not one we issue for."""


class InvalidContact(CAError, kind="invalidContact"):
    """A contact URL is not acceptable."""


class UnsupportedContact(CAError, kind="unsupportedContact"):
    """A contact URL uses a scheme we do not support."""


class InvalidProfile(CAError, kind="invalidProfile"):
    """The requested certificate profile does not exist or does not fit the order."""


class UserActionRequired(CAError, kind="userActionRequired"):
    """The client must do something out of band (e.g. accept new terms)."""


class Conflict(CAError, kind="conflict"):
    """The request conflicts with the current state (duplicate name, key already in use)."""

    location: str | None = None

    def __init__(self, detail: str, *, location: str | None = None) -> None:
        super().__init__(detail)
        self.location = location


class RateLimited(CAError, kind="rateLimited"):
    """A rate limit was hit; ``retry_after`` says when the request would be allowed."""

    retry_after: timedelta = timedelta(0)

    def __init__(self, detail: str, *, retry_after: timedelta) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotImplementedYet(CAError, kind="notImplemented"):
    """A documented feature that this build does not offer."""


class ServerInternal(CAError, kind="serverInternal"):
    """An unexpected failure; the detail names a request id, never internals."""


class ServiceUnavailable(CAError, kind="serviceUnavailable"):
    """A dependency (database, signer) is temporarily unavailable; the client may retry after ``retry_after``."""

    retry_after: timedelta = timedelta(seconds=5)

    def __init__(self, detail: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(detail)
        if retry_after is not None:
            self.retry_after = retry_after


# Validation outcomes: recorded on challenges, never raised through the web edge directly.
class ValidationError(CAError, kind="validationFailed"):
    """Base for challenge validation failures."""


class ConnectionProblem(ValidationError, kind="connection"):
    """The validator could not connect to the target."""


class DNSProblem(ValidationError, kind="dns"):
    """A DNS lookup failed (SERVFAIL, NXDOMAIN, timeout)."""


class TLSProblem(ValidationError, kind="tls"):
    """The TLS handshake or certificate did not satisfy the challenge."""


class IncorrectResponse(ValidationError, kind="incorrectResponse"):
    """The target answered, but not with the expected key authorization."""


class CAAProblem(ValidationError, kind="caa"):
    """CAA records forbid issuance."""


@dataclass(frozen=True)
class ErrorSummary:
    """A serialisable form of a CAError, for storing on challenges and orders: kinds, never class names."""

    kind: str
    detail: str
    subproblems: tuple[tuple[str, str, str | None, str | None], ...] = field(default=())

    @classmethod
    def of(cls, error: CAError) -> ErrorSummary:
        subs = tuple(
            (
                s.error.kind,
                s.error.detail,
                s.identifier.type.value if s.identifier else None,
                s.identifier.value if s.identifier else None,
            )
            for s in error.subproblems
        )
        return cls(kind=error.kind, detail=error.detail, subproblems=subs)


def error_from_summary(summary: ErrorSummary) -> CAError:
    """Rebuild a stored error so an edge can render it exactly as when it happened."""
    from acmeca.domain.identifier_types import Identifier, IdentifierType

    subs = [
        Subproblem(
            error=_rebuild(kind, detail),
            identifier=Identifier(IdentifierType(id_type), id_value) if id_type and id_value else None,
        )
        for kind, detail, id_type, id_value in summary.subproblems
    ]
    return _rebuild(summary.kind, summary.detail, subs)


def _rebuild(kind: str, detail: str, subproblems: Sequence[Subproblem] = ()) -> CAError:
    """The class registered for ``kind`` (plain CAError when none is), built without its own ``__init__``.

    Only kind and detail are stored, so a class whose constructor wants more (``retry_after``, ``algorithms``)
    gets its class-level defaults instead of a TypeError on read.
    """
    error = CAError.__new__(_KINDS.get(kind, CAError))
    CAError.__init__(error, detail, subproblems=subproblems)
    return error


class ErrorTable(Generic[T]):
    """How one edge renders errors: a row per class, read by the one lookup rule every edge shares.

    The row of the nearest class in the error's MRO wins; CAError's row is required and is the last resort,
    so a subclass without a row of its own renders as its parent does, in every table alike.
    """

    def __init__(self, rows: Mapping[type[CAError], T]) -> None:
        if CAError not in rows:
            raise ValueError("an error table needs a CAError row: it is the fallback for every class")
        self._rows = dict(rows)

    def lookup(self, error: CAError) -> T:
        return next(self._rows[cls] for cls in type(error).__mro__ if cls in self._rows)

    def covers(self, cls: type[CAError]) -> bool:
        """Whether a row other than the CAError fallback applies to ``cls`` (tests keep the tables complete)."""
        return any(c in self._rows for c in cls.__mro__ if c is not CAError)
