import pytest

from acmeca.domain.errors import CAError, Malformed, RejectedIdentifier, UnsupportedIdentifier
from acmeca.domain.identifiers import (
    Identifier,
    IdentifierType,
    canonical_ip,
    ip,
    parse_identifier,
    reverse_dns_name,
)


@pytest.mark.parametrize(
    ("type_", "value", "canonical"),
    [
        ("dns", "Example.COM", "example.com"),
        ("dns", "*.example.com", "*.example.com"),
        ("dns", "host", "host"),  # single label: fine for an internal CA
        ("dns", "svc.internal", "svc.internal"),
        ("dns", "bücher.example", "xn--bcher-kva.example"),
        ("dns", "xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("ip", "192.0.2.1", "192.0.2.1"),
        ("ip", "2001:db8::1", "2001:db8::1"),
        ("ip", "::1", "::1"),
        ("ip", "fe80::1", "fe80::1"),
    ],
)
def test_canonical_forms(type_: str, value: str, canonical: str) -> None:
    assert parse_identifier(type_, value).value == canonical


@pytest.mark.parametrize(
    ("type_", "value", "error"),
    [
        ("dns", "example.com.", RejectedIdentifier),
        ("dns", "a.*.example.com", RejectedIdentifier),
        ("dns", "*example.com", RejectedIdentifier),
        ("dns", "**.example.com", RejectedIdentifier),
        ("dns", "-bad.example", RejectedIdentifier),
        ("dns", "under_score.example", RejectedIdentifier),
        ("dns", "a" * 64 + ".example", RejectedIdentifier),
        ("dns", ".".join(["a" * 60] * 5), RejectedIdentifier),
        ("dns", "192.0.2.1", RejectedIdentifier),  # an IP sent as a dns identifier (old lego does this)
        ("dns", "xn--zz.example", RejectedIdentifier),
        ("dns", "", Malformed),
        ("dns", " example.com", Malformed),
        ("ip", "192.0.2.1/24", Malformed),
        ("ip", "example.com", Malformed),
        # RFC 8738 §3: the value must already be the canonical text; nothing is silently rewritten.
        ("ip", "fe80::1%eth0", Malformed),  # IPv6 zone id
        ("ip", "fe80::1%25eth0", Malformed),  # zone id as a URI would escape it
        ("ip", "1.2.3.4%eth0", Malformed),
        ("ip", "010.1.1.1", Malformed),  # leading zeros (octal in some parsers)
        ("ip", "2001:DB8::1", Malformed),  # upper-case hex
        ("ip", "2001:db8:0:0:0:0:0:1", Malformed),  # uncompressed
        ("ip", "2001:db8::0:1", Malformed),  # compressed in the wrong place
        ("ip", " 192.0.2.1", Malformed),
        ("ip", "::ffff:1.2.3.4", RejectedIdentifier),  # IPv4-mapped
        ("ip", "::ffff:102:304", RejectedIdentifier),  # the same, in canonical text
        ("dns", "fe80::1%eth0", RejectedIdentifier),  # an IP with a zone sent as dns
        ("email", "a@example.com", UnsupportedIdentifier),
    ],
)
def test_rejections(type_: str, value: str, error: type[CAError]) -> None:
    with pytest.raises(error):
        parse_identifier(type_, value)


def test_wildcard_base_and_reverse_names() -> None:
    wildcard = parse_identifier("dns", "*.Example.com")
    assert wildcard.is_wildcard
    assert wildcard.base == Identifier(IdentifierType.DNS, "example.com")
    assert reverse_dns_name(parse_identifier("ip", "192.0.2.5")) == "5.2.0.192.in-addr.arpa"
    assert reverse_dns_name(parse_identifier("ip", "::1")).endswith(".ip6.arpa")


@pytest.mark.parametrize(
    ("value", "canonical"),
    [("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("192.0.2.1", "192.0.2.1")],
)
def test_canonical_ip_normalises_addresses_from_csrs_and_tokens(value: str, canonical: str) -> None:
    assert canonical_ip(value) == canonical
    assert ip(value).value == canonical


@pytest.mark.parametrize(
    ("value", "error"),
    [("fe80::1%eth0", Malformed), ("::ffff:1.2.3.4", RejectedIdentifier), ("010.1.1.1", Malformed)],
)
def test_canonical_ip_still_refuses_zones_mapped_and_leading_zeros(value: str, error: type[CAError]) -> None:
    with pytest.raises(error):
        canonical_ip(value)
