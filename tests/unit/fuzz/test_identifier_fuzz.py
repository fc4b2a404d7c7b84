"""Fuzzing the identifier parsers: ACME identifiers (dns, ip), IP canonical forms, and step's token SANs.

Names mix ASCII, IDNA-relevant code points (ß, final sigma, combining marks, ZWJ, full-width letters),
wildcards, punycode prefixes and over-long labels; addresses come with zone ids, mapped forms, upper case,
exploded IPv6, leading zeros and prefixes. Allowed: an identifier or a CAError.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.crypto.csr import parse_csr_der
from acmeca.domain.errors import CAError
from acmeca.domain.identifiers import canonical_dns_name, canonical_ip, parse_identifier
from acmeca.step.sans import TokenSANs, check_csr_against_token
from tests.unit.fuzz.strategies import dns_names, ip_texts, json_values, valid_csrs

types = st.sampled_from(("dns", "ip", "DNS", "email", "", "permanent-identifier")) | json_values


@given(types, dns_names | ip_texts | json_values)
@example("dns", "xn--")
@example("dns", "*.xn--a.test")
@example("ip", "fe80::1%eth0")
@example("dns", "a\u200d.test")
def test_acme_identifier_parses_or_raises_a_typed_error(type_: Any, value: Any) -> None:
    try:
        identifier = parse_identifier(type_, value)
    except CAError:
        return
    assert identifier.value == identifier.value.strip()


@given(dns_names, st.booleans())
def test_dns_name_is_canonical_or_refused(name: str, allow_wildcard: bool) -> None:
    try:
        canonical = canonical_dns_name(name, allow_wildcard=allow_wildcard)
    except CAError:
        return
    assert canonical == canonical_dns_name(canonical), "canonical form must be a fixed point"


@given(ip_texts)
def test_ip_is_canonical_or_refused(text: str) -> None:
    try:
        canonical = canonical_ip(text)
    except CAError:
        return
    assert canonical_ip(canonical) == canonical


_SANS = st.lists(dns_names | ip_texts | st.sampled_from(("a@b.test", "spiffe://x/y", "mailto:x@y", "x@", "[::1]")),
                 max_size=4)


@given(_SANS | json_values, json_values, st.sampled_from(range(4)))
def test_token_sans_against_a_csr_parse_or_raise_a_typed_error(sans: Any, cnf: Any, which: int) -> None:
    """/1.0/sign: the token's ``sans`` (and ``cnf``) are split, turned into identifiers and matched to the CSR."""
    csr = parse_csr_der(valid_csrs()[which])
    try:
        split = TokenSANs.from_claims({"sans": sans, "sub": "a.test"})
        split.identifiers()
        check_csr_against_token(csr, "a.test", split, cnf)
    except CAError:
        pass
