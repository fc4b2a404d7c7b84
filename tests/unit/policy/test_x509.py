"""Table tests for every rule of stepca.md §5.2, one row per behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from acmeca.policy import CertificateNames, X509Policy


def policy(
    allow: dict[str, Any] | None = None, deny: dict[str, Any] | None = None, wildcards: bool = False
) -> X509Policy:
    return X509Policy.from_document(
        {"x509": {"allow": allow or {}, "deny": deny or {}, "allowWildcardNames": wildcards}}
    )


def allowed(p: X509Policy, **names: Any) -> bool:
    return p.violation(CertificateNames(**names)) is None


DNS_CASES = [
    # (allow, deny, wildcards, name, expected)
    ({}, {}, False, "anything.example.org", True),  # no constraints at all
    ({"dns": ["example.com"]}, {}, False, "example.com", True),
    ({"dns": ["example.com"]}, {}, False, "www.example.com", False),  # plain rule matches only itself
    ({"dns": ["*.example.com"]}, {}, False, "a.example.com", True),
    ({"dns": ["*.example.com"]}, {}, False, "example.com", False),
    ({"dns": ["*.example.com"]}, {}, False, "a.b.example.com", False),  # exactly one label
    ({"dns": ["*.example.com"]}, {}, False, "A.EXAMPLE.com", True),  # case-insensitive
    ({"dns": ["EXAMPLE.com"]}, {}, False, "example.com", True),  # constraints lowercased
    ({"dns": ["*.example.com"]}, {"dns": ["bad.example.com"]}, False, "bad.example.com", False),  # deny wins
    ({"dns": ["*.example.com"]}, {"dns": ["bad.example.com"]}, False, "good.example.com", True),
    ({}, {"dns": ["*.example.com"]}, False, "a.example.com", False),
    ({}, {"dns": ["*.example.com"]}, False, "other.org", True),  # deny only: others pass
    ({"dns": ["bücher.example"]}, {}, False, "xn--bcher-kva.example", True),  # IDNA constraint
    ({"dns": ["xn--bcher-kva.example"]}, {}, False, "bücher.example", True),  # IDNA name
    ({"dns": ["*.example.com"]}, {}, False, "*.example.com", False),  # literal wildcard needs the flag
    ({"dns": ["*.example.com"]}, {}, True, "*.example.com", True),
    ({"dns": ["*.example.com"]}, {}, True, "*.a.example.com", False),  # flagged wildcard matched like a name
    ({}, {"dns": ["x.org"]}, False, "*.example.com", False),  # dns rules exist: wildcard needs the flag
    ({"ips": ["10.0.0.0/8"]}, {"ips": ["10.1.0.0/16"]}, False, "*.example.com", False),  # no dns rule, allow exists
    ({}, {"ips": ["10.0.0.0/8"]}, False, "*.example.com", True),  # no dns rules, only deny: untouched
    ({"dns": ["*.example.com"]}, {}, True, "**.example.com", False),
    ({"dns": ["*.example.com"]}, {}, True, "a*.example.com", False),
    ({"ips": ["10.0.0.0/8"]}, {}, False, "a.example.com", False),  # other type allowed only: not permitted
    ({"emails": ["example.com"]}, {}, False, "example.com", False),
]


@pytest.mark.parametrize(("allow", "deny", "wildcards", "name", "expected"), DNS_CASES)
def test_dns(allow: dict[str, Any], deny: dict[str, Any], wildcards: bool, name: str, expected: bool) -> None:
    assert allowed(policy(allow, deny, wildcards), dns=[name]) is expected


IP_CASES = [
    ({"ips": ["10.0.0.0/8"]}, {}, "10.1.2.3", True),
    ({"ips": ["10.0.0.0/8"]}, {}, "11.0.0.1", False),
    ({"ips": ["192.168.1.10"]}, {}, "192.168.1.10", True),  # single IP means /32
    ({"ips": ["192.168.1.10"]}, {}, "192.168.1.11", False),
    ({"ips": ["2001:db8::/32"]}, {}, "2001:db8::1", True),
    ({"ips": ["2001:db8::1"]}, {}, "2001:db8::2", False),  # single IPv6 means /128
    ({"ips": ["10.0.0.0/8"]}, {}, "::ffff:10.0.0.1", False),  # families never mix
    ({"ips": ["10.0.0.0/8"]}, {"ips": ["10.0.0.5"]}, "10.0.0.5", False),  # deny wins
    ({}, {"ips": ["127.0.0.0/8"]}, "127.0.0.1", False),
    ({}, {"ips": ["127.0.0.0/8"]}, "10.0.0.1", True),
    ({"dns": ["example.com"]}, {}, "10.0.0.1", False),  # not explicitly permitted
    ({}, {"dns": ["example.com"]}, "10.0.0.1", True),  # only deny rules elsewhere
]


@pytest.mark.parametrize(("allow", "deny", "address", "expected"), IP_CASES)
def test_ip(allow: dict[str, Any], deny: dict[str, Any], address: str, expected: bool) -> None:
    assert allowed(policy(allow, deny), ips=[address]) is expected


EMAIL_CASES = [
    ({"emails": ["alice@example.com"]}, {}, "alice@example.com", True),
    ({"emails": ["alice@example.com"]}, {}, "alice@EXAMPLE.COM", True),  # domain case-insensitive
    ({"emails": ["alice@example.com"]}, {}, "Alice@example.com", False),  # local part case-sensitive
    ({"emails": ["example.com"]}, {}, "bob@example.com", True),  # domain rule
    ({"emails": ["example.com"]}, {}, "bob@sub.example.com", False),
    ({"emails": [".example.com"]}, {}, "bob@sub.example.com", True),  # subdomain rule
    ({"emails": ["*.example.com"]}, {}, "bob@sub.example.com", True),
    ({"emails": [".example.com"]}, {}, "bob@example.com", False),
    ({"emails": ["example.com"]}, {"emails": ["eve@example.com"]}, "eve@example.com", False),
    ({"emails": ["bücher.example"]}, {}, "x@xn--bcher-kva.example", True),
    ({"emails": ["example.com"]}, {}, "not-an-email", False),
    ({"dns": ["example.com"]}, {}, "bob@example.com", False),  # not explicitly permitted
]


@pytest.mark.parametrize(("allow", "deny", "email", "expected"), EMAIL_CASES)
def test_email(allow: dict[str, Any], deny: dict[str, Any], email: str, expected: bool) -> None:
    assert allowed(policy(allow, deny), emails=[email]) is expected


URI_CASES = [
    ({"uris": ["example.com"]}, {}, "https://example.com/path", True),
    ({"uris": ["example.com"]}, {}, "https://www.example.com/", False),
    ({"uris": ["*.example.com"]}, {}, "spiffe://svc.example.com/ns/a", True),
    ({"uris": [".example.com"]}, {}, "spiffe://svc.example.com/ns/a", True),
    ({"uris": ["*.example.com"]}, {}, "https://a.b.example.com/", False),
    ({"uris": ["example.com"]}, {}, "https://example.com:8443/x", True),  # port ignored
    ({"uris": ["example.com"]}, {}, "urn:uuid:1234", False),  # empty host
    ({"uris": ["example.com"]}, {}, "https://10.0.0.1/", False),  # IP host
    ({"uris": ["example.com"]}, {}, "https://[::1]/", False),
    ({}, {"uris": ["bad.example.com"]}, "https://bad.example.com/", False),
    ({}, {"uris": ["bad.example.com"]}, "https://*.example.com/", False),  # * host always refused
    ({"dns": ["example.com"]}, {}, "https://example.com/", False),  # not explicitly permitted
]


@pytest.mark.parametrize(("allow", "deny", "uri", "expected"), URI_CASES)
def test_uri(allow: dict[str, Any], deny: dict[str, Any], uri: str, expected: bool) -> None:
    assert allowed(policy(allow, deny), uris=[uri]) is expected


CN_CASES = [
    ({}, {}, "anything", True),
    ({"commonNames": ["My Service"]}, {}, "my service", True),  # literal, case-insensitive
    ({"commonNames": ["My Service"]}, {}, "Other", False),
    ({"commonNames": ["My Service"], "dns": ["*.example.com"]}, {}, "a.example.com", True),  # classified as dns
    ({"dns": ["*.example.com"]}, {}, "a.example.com", True),
    ({"dns": ["*.example.com"]}, {}, "a.other.com", False),
    ({"ips": ["10.0.0.0/8"]}, {}, "10.0.0.1", True),  # classified as ip
    ({"emails": ["example.com"]}, {}, "bob@example.com", True),  # classified as email
    ({"uris": ["example.com"]}, {}, "https://example.com/", True),  # classified as uri
    ({"dns": ["*.example.com"]}, {"commonNames": ["a.example.com"]}, "a.example.com", False),  # cn deny wins
    ({"commonNames": ["a"]}, {}, "", True),  # empty CN ignored
]


@pytest.mark.parametrize(("allow", "deny", "cn", "expected"), CN_CASES)
def test_common_name(allow: dict[str, Any], deny: dict[str, Any], cn: str, expected: bool) -> None:
    assert allowed(policy(allow, deny), common_name=cn) is expected


def test_violation_names_type_and_name_like_step() -> None:
    found = policy({"dns": ["*.example.com"]}).violation(CertificateNames(dns=["ok.example.com", "x.evil.com"]))
    assert found is not None
    assert str(found) == 'dns name "x.evil.com" not allowed'


def test_common_name_violation_is_reported_as_cn() -> None:
    found = policy({"dns": ["*.example.com"]}).violation(CertificateNames(common_name="evil.org"))
    assert found is not None
    assert (found.name_type, str(found)) == ("cn", 'cn name "evil.org" not allowed')


def test_every_name_must_pass() -> None:
    p = policy({"dns": ["*.example.com"], "ips": ["10.0.0.0/8"]})
    assert allowed(p, common_name="a.example.com", dns=["a.example.com"], ips=["10.0.0.1"])
    assert not allowed(p, common_name="a.example.com", dns=["a.example.com"], ips=["11.0.0.1"])


def test_ca_json_singular_keys_are_read() -> None:
    p = X509Policy.from_document({"x509": {"allow": {"dns": ["*.example.com"], "ip": ["10.0.0.0/8"],
                                                     "cn": ["svc"], "email": ["example.com"], "uri": ["example.com"]}}})
    assert p.allow.count == 5
    assert allowed(p, common_name="svc", ips=["10.0.0.1"])


def test_empty_document_allows_everything() -> None:
    assert X509Policy.from_document(None).is_empty
    assert allowed(X509Policy.from_document({}), dns=["*.anything"], ips=["1.2.3.4"])
