"""dns-01 through the real test DNS server: matching, joining, CNAMEs, failures and their problem types."""

from __future__ import annotations

import dataclasses

from acmeca.cli.devdns.server import DNSServer
from acmeca.domain.errors import DNSProblem, IncorrectResponse, Malformed, Unauthorized
from acmeca.domain.identifiers import Identifier, dns, ip
from acmeca.domain.status import ChallengeType
from acmeca.validation.dispatch import ValidationResult, ValidationSettings, validate
from acmeca.validation.dns01 import expected_txt
from tests.unit.validation.conftest import KEY_AUTHORIZATION, TOKEN

EXPECTED = expected_txt(KEY_AUTHORIZATION)


async def dns01(settings: ValidationSettings, identifier: Identifier | None = None) -> ValidationResult:
    return await validate(ChallengeType.DNS_01, identifier or dns("a.test"), TOKEN, KEY_AUTHORIZATION, settings)


def test_expected_value_is_unpadded_base64url_sha256() -> None:
    # RFC 8555 §8.4 example shape: 43 characters, URL-safe alphabet, no padding.
    assert len(EXPECTED) == 43
    assert "=" not in EXPECTED
    assert expected_txt("token.thumbprint") == "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I"


async def test_matching_record(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED)
    result = await dns01(settings)
    assert result.ok, result.error
    assert result.record["validationRecord"][0]["hostname"] == "_acme-challenge.a.test"


async def test_one_of_several_records_matches(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", "stale-value-from-last-time")
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED)
    assert (await dns01(settings)).ok


async def test_multi_string_record_is_joined(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED[:20], EXPECTED[20:])
    assert (await dns01(settings)).ok


async def test_value_with_whitespace_does_not_match(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED + " ")
    assert isinstance((await dns01(settings)).error, IncorrectResponse)


async def test_wildcard_is_checked_at_the_base_name(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED)
    result = await dns01(settings, dns("*.a.test"))
    assert result.ok, result.error
    assert ("_acme-challenge.a.test.", "TXT") in dns_server.queries


async def test_cname_delegation_is_followed(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_cname("_acme-challenge.a.test", "a.acme-delegation.test")
    dns_server.add_txt("a.acme-delegation.test", EXPECTED)
    assert (await dns01(settings)).ok


async def test_cname_chain_on_an_authoritative_server(settings: ValidationSettings) -> None:
    with DNSServer(follow_cnames=False) as server:
        server.add_cname("_acme-challenge.a.test", "one.test")
        server.add_cname("one.test", "two.test")
        server.add_txt("two.test", EXPECTED)
        result = await dns01(dataclasses.replace(settings, resolver=server.address))
    assert result.ok, result.error


async def test_cname_to_nxdomain(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_cname("_acme-challenge.a.test", "missing.test")
    dns_server.set_nxdomain("missing.test")
    assert isinstance((await dns01(settings)).error, DNSProblem)


async def test_no_record_is_unauthorized(settings: ValidationSettings) -> None:
    result = await dns01(settings)
    assert isinstance(result.error, Unauthorized)
    assert "No TXT record found at _acme-challenge.a.test" in result.error.detail


async def test_wrong_record_is_an_incorrect_response(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_txt("_acme-challenge.a.test", "wrong")
    result = await dns01(settings)
    assert isinstance(result.error, IncorrectResponse)
    assert "'wrong'" in result.error.detail
    assert EXPECTED in result.error.detail


async def test_nxdomain_is_final(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.set_nxdomain("_acme-challenge.a.test")
    result = await dns01(settings)
    assert isinstance(result.error, DNSProblem)
    assert "NXDOMAIN" in result.error.detail
    assert result.record["attempts"] == 1


async def test_persistent_servfail_fails_after_retries(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.set_servfail("_acme-challenge.a.test")
    quick = dataclasses.replace(settings, timeout=settings.timeout / 2)
    result = await dns01(quick)
    assert isinstance(result.error, DNSProblem)
    assert "SERVFAIL" in result.error.detail
    assert result.record["attempts"] >= 2


async def test_servfail_that_clears_is_retried_to_success(
    settings: ValidationSettings, dns_server: DNSServer
) -> None:
    dns_server.add_txt("_acme-challenge.a.test", EXPECTED)
    dns_server.set_servfail("_acme-challenge.a.test", times=2)
    result = await dns01(settings)
    assert result.ok, result.error
    assert result.record["attempts"] == 3


async def test_ip_identifier_is_refused(settings: ValidationSettings, dns_server: DNSServer) -> None:
    result = await dns01(settings, ip("127.0.0.1"))
    assert isinstance(result.error, Malformed)
    assert dns_server.queries == []
