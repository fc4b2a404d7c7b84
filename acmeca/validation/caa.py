"""CAA (RFC 8659) with the ACME parameters of RFC 8657 (``accounturi``, ``validationmethods``).

A domain owner can say which CAs may issue for their names. We find the *relevant* record set by climbing
from the name towards the root and stopping at the first name that has CAA records (CNAMEs are followed by
ordinary resolution); an empty tree means anyone may issue. A wildcard is checked at its base name, and
``issuewild`` alone governs wildcards when present. An unknown tag marked critical forbids issuance, since
we cannot know what it would have required. Lookups that fail (SERVFAIL, timeouts after retries) refuse
issuance too: "could not check" must never read as "allowed".

Like every validator this returns a verdict and writes nothing. It is only consulted when the ACME
provisioner lists ``caaIdentities``; the caller rechecks at finalize when the check is older than
``caaRecheckAfter``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dns.rdtypes.ANY.CAA import CAA

from acmeca.config import ValidationSettings
from acmeca.domain.errors import CAAProblem, CAError, DNSProblem
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.status import ChallengeType
from acmeca.validation.dispatch import ValidationResult
from acmeca.validation.outcome import Deadline, Transient
from acmeca.validation.resolver import Resolver

KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef"})
CRITICAL_FLAGS = 0x80 | 0x01  # RFC 8659 uses bit 0 (128); Boulder also honours 1, written by buggy zone tools
RETRY_SECONDS = 0.2


@dataclass(frozen=True)
class CAAProperty:
    """One CAA record as text: flags, lower-cased tag, raw value."""

    flags: int
    tag: str
    value: str

    @classmethod
    def of(cls, record: CAA) -> CAAProperty:
        return cls(record.flags, record.tag.decode("ascii", "replace").lower(), record.value.decode("utf-8", "replace"))

    def to_json(self) -> dict[str, Any]:
        return {"flags": self.flags, "tag": self.tag, "value": self.value}


async def check_caa(
    identifier: Identifier,
    *,
    caa_identities: Sequence[str],
    account_uri: str | None,
    method: ChallengeType | None,
    settings: ValidationSettings,
) -> ValidationResult:
    """May a CA known by ``caa_identities`` issue for ``identifier`` to this account, validated by ``method``?"""
    record: dict[str, Any] = {"identifier": identifier.to_json(), "relevantName": None, "records": []}
    if not caa_identities or identifier.type is not IdentifierType.DNS:
        return ValidationResult(ok=True, error=None, record=record)
    name = identifier.base.value
    try:
        relevant_name, properties = await _relevant_set(Resolver(settings.resolver), name, settings)
    except CAError as error:
        return ValidationResult(ok=False, error=error, record=record)
    record.update(relevantName=relevant_name, records=[p.to_json() for p in properties])
    problem = evaluate(properties, identifier, caa_identities, account_uri, method)
    if problem is not None:
        where = f" at {relevant_name}" if relevant_name else ""
        return ValidationResult(ok=False, error=CAAProblem(f"CAA record{where} {problem}"), record=record)
    return ValidationResult(ok=True, error=None, record=record)


async def _relevant_set(
    resolver: Resolver, name: str, settings: ValidationSettings
) -> tuple[str | None, list[CAAProperty]]:
    """Query every ancestor in parallel (as Boulder does), retrying transient failures within the budget."""
    labels = name.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels))]
    deadline = Deadline(settings.timeout_seconds)
    delay = RETRY_SECONDS
    while True:
        try:
            async with asyncio.timeout(deadline.remaining()):
                found = await asyncio.gather(
                    *(_caa_at(resolver, c, deadline) for c in candidates), return_exceptions=True
                )
        except TimeoutError:
            raise DNSProblem(f"CAA lookup for {name} timed out") from None
        transient = next((r for r in found if isinstance(r, Transient)), None)
        if transient is None:
            return _first_non_empty(candidates, found)
        if deadline.remaining() <= delay:
            raise DNSProblem(f"CAA lookup for {name} failed: {transient.error.detail}")
        await asyncio.sleep(delay)
        delay *= 2


def _first_non_empty(
    candidates: Sequence[str], found: Sequence[list[CAAProperty] | BaseException]
) -> tuple[str | None, list[CAAProperty]]:
    """The closest name with CAA records; a final lookup error on the way refuses (never reads as "none")."""
    for candidate, properties in zip(candidates, found, strict=True):
        if isinstance(properties, BaseException):
            raise properties
        if properties:
            return candidate, properties
    return None, []


async def _caa_at(resolver: Resolver, name: str, deadline: Deadline) -> list[CAAProperty]:
    return [CAAProperty.of(r) for r in await resolver.caa(name, budget=deadline.remaining())]


def evaluate(
    properties: Sequence[CAAProperty],
    identifier: Identifier,
    caa_identities: Sequence[str],
    account_uri: str | None,
    method: ChallengeType | None,
) -> str | None:
    """None when issuance is allowed, else the reason (completing "CAA record at <name> ...")."""
    for prop in properties:
        if prop.tag not in KNOWN_TAGS and prop.flags & CRITICAL_FLAGS:
            return f"has an unknown critical tag {prop.tag!r}, which forbids issuance"
    wildcard_rules = [p for p in properties if p.tag == "issuewild"]
    if identifier.is_wildcard and wildcard_rules:
        rules, tag = wildcard_rules, "issuewild"
    else:
        rules, tag = [p for p in properties if p.tag == "issue"], "issue"
    if not rules:
        return None
    ours = {i.strip().rstrip(".").lower() for i in caa_identities}
    reasons = [_refusal(p.value, ours, account_uri, method) for p in rules]
    if any(reason is None for reason in reasons):
        return None
    return f"({tag}) prevents issuance: " + "; ".join(sorted({r for r in reasons if r}))


def _refusal(value: str, ours: set[str], account_uri: str | None, method: ChallengeType | None) -> str | None:
    """Why this issue/issuewild value does not authorise us (None: it does)."""
    issuer, parameters = parse_issue_value(value)
    if issuer is None:
        return f"malformed value {value!r}"
    if issuer == "":
        return "no CA may issue (empty issuer)"
    if issuer not in ours:
        return f"only {issuer!r} may issue"
    if parameters is None:
        return f"malformed parameters in {value!r}"
    uris = [v for k, v in parameters if k == "accounturi"]
    if len(uris) > 1:
        return "more than one accounturi parameter"
    if uris and uris[0] != account_uri:
        return f"accounturi {uris[0]!r} is not this account"
    methods = [v for k, v in parameters if k == "validationmethods"]
    if methods:
        allowed = {m.strip() for m in methods[0].split(",")}
        if method is None or str(method) not in allowed:
            return f"validationmethods {methods[0]!r} does not include {method}"
    return None


def parse_issue_value(value: str) -> tuple[str | None, list[tuple[str, str]] | None]:
    """Split ``issuer-domain-name; key=value; ...`` (RFC 8659 §4.2); None parts mark what is malformed."""
    issuer_part, _, rest = value.partition(";")
    issuer = issuer_part.strip().rstrip(".").lower()
    if issuer and not all(label and _ldh(label) for label in issuer.split(".")):
        return None, None
    parameters: list[tuple[str, str]] = []
    for item in rest.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key.isalnum() or not val or any(c.isspace() for c in val):
            return issuer, None
        parameters.append((key.lower(), val))
    return issuer, parameters


def _ldh(label: str) -> bool:
    return label.replace("-", "").isalnum() and label.isascii() and not label.startswith("-")
