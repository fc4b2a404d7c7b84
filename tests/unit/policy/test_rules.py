"""Config-time validation: a bad rule is refused when written, naming the rule."""

from __future__ import annotations

from typing import Any

import pytest

from acmeca.policy import InvalidPolicy, parse_policy_document, parse_x509_policy

BAD_RULES = [
    ("dns", "*.*.example.com", "wildcard"),
    ("dns", "a.*.example.com", "wildcard"),
    ("dns", "*example.com", "full label"),
    ("dns", ".example.com", "should start with *"),
    ("dns", "example..com", "empty labels"),
    ("dns", "", "empty"),
    ("dns", "10.0.0.1", "IP address"),
    ("ips", "10.0.0.0/33", "cannot parse ip"),
    ("ips", "300.1.1.1", "cannot parse ip"),
    ("ips", "10.0.0.0/8/8", "cannot parse ip"),
    ("ips", "example.com", "cannot parse ip"),
    ("emails", "a@b@example.com", "too many @"),
    ("emails", "@example.com", "cannot start with @"),
    ("emails", "*@example.com", "mailbox"),
    ("emails", "", "empty"),
    ("uris", "*.*.example.com", "wildcard"),
    ("uris", "10.0.0.1", "IP address"),
    ("uris", "a..b", "empty labels"),
    ("commonNames", "*.example.com", "wildcard"),
]


@pytest.mark.parametrize(("kind", "rule", "message"), BAD_RULES)
@pytest.mark.parametrize("side", ["allow", "deny"])
def test_bad_rules_are_refused(side: str, kind: str, rule: str, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message.replace("*", r"\*")):
        parse_policy_document({"x509": {side: {kind: [rule]}}})


GOOD_RULES = [
    ("dns", "*.example.com", ".example.com"),
    ("dns", "Example.COM", "example.com"),
    ("dns", "bücher.example", "xn--bcher-kva.example"),
    ("emails", "*.example.com", ".example.com"),
    ("emails", "alice@Example.com", "alice@example.com"),
    ("uris", "*.example.com", ".example.com"),
    ("commonNames", "My Service", "my service"),
]


@pytest.mark.parametrize(("kind", "rule", "normalised"), GOOD_RULES)
def test_good_rules_are_normalised(kind: str, rule: str, normalised: str) -> None:
    allow, _, _ = parse_x509_policy({"x509": {"allow": {kind: [rule]}}})
    field = {"commonNames": "common_names"}.get(kind, kind)
    assert getattr(allow, field) == (normalised,)


MALFORMED_DOCUMENTS: list[Any] = [
    [],
    "policy",
    {"x509": []},
    {"x509": {"allow": {"dns": "example.com"}}},
    {"x509": {"allow": {"dns": [1]}}},
    {"x509": {"allow": {"hosts": ["x"]}}},
    {"x509": {"allowWildcardNames": "yes"}},
    {"x509": {}, "extra": 1},
    {"ssh": {"user": {"allow": {"emails": ["@x"]}}}},
    {"ssh": {"host": []}},
]


@pytest.mark.parametrize("document", MALFORMED_DOCUMENTS)
def test_malformed_documents_are_refused(document: Any) -> None:
    with pytest.raises(InvalidPolicy):
        parse_policy_document(document)


def test_document_is_stored_in_linkedca_spelling() -> None:
    stored = parse_policy_document({"x509": {"allow": {"ip": ["10.0.0.0/8"], "cn": ["x"]}, "deny": {"dns": ["a.b"]}}})
    assert stored == {"x509": {"allow": {"ips": ["10.0.0.0/8"], "commonNames": ["x"]},
                               "deny": {"dns": ["a.b"]}, "allowWildcardNames": False}}
