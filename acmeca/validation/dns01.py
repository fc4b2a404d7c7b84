"""dns-01 (RFC 8555 §8.4): the TXT record at ``_acme-challenge.<name>`` carries the key-authorization digest.

The lookup goes through the configured resolver, which follows CNAMEs: delegating ``_acme-challenge`` to a
zone the ACME client may write is the common way to automate dns-01 (step-ca's plain TXT lookup did not
help those users, smallstep/certificates#2311). Multi-string TXT records are joined before comparing.
"""

from __future__ import annotations

import hashlib
import hmac

from acmeca.domain.encoding import b64url_encode
from acmeca.domain.errors import IncorrectResponse, Malformed, Unauthorized
from acmeca.domain.identifiers import IdentifierType
from acmeca.validation.attempt import Attempt

CHALLENGE_LABEL = "_acme-challenge"


def expected_txt(key_authorization: str) -> str:
    """base64url(SHA-256(keyAuthorization)) without padding: 43 characters."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return b64url_encode(digest)


def record_name(attempt: Attempt) -> str:
    """The challenge name; a wildcard identifier is validated at its base name."""
    return f"{CHALLENGE_LABEL}.{attempt.identifier.base.value}"


async def validate_dns01(attempt: Attempt) -> None:
    """Return normally when some TXT value matches; raise a CAError verdict otherwise."""
    if attempt.identifier.type is not IdentifierType.DNS:
        raise Malformed("dns-01 cannot validate an IP address identifier (RFC 8738 §7)")
    name = record_name(attempt)
    attempt.records.append({"hostname": name, "resolver": attempt.resolver.description})
    values = await attempt.resolver.txt(name, budget=attempt.deadline.remaining())
    attempt.records[-1]["txtRecords"] = len(values)
    if not values:
        raise Unauthorized(f"No TXT record found at {name}")
    expected = expected_txt(attempt.key_authorization)
    if any(hmac.compare_digest(value.encode(), expected.encode()) for value in values):
        return
    shown = ", ".join(repr(v[:64]) for v in values[:3])
    more = f" and {len(values) - 3} more" if len(values) > 3 else ""
    raise IncorrectResponse(f"Incorrect TXT record found at {name}: {shown}{more} (expected {expected!r})")
