"""CAA (RFC 8659 + RFC 8657) through the real test DNS server: tree climbing, issue/issuewild, parameters."""

from __future__ import annotations

import dataclasses

import pytest

from acmeca.cli.devdns.server import DNSServer
from acmeca.domain.errors import CAAProblem, DNSProblem
from acmeca.domain.identifiers import Identifier, dns, ip
from acmeca.domain.status import ChallengeType
from acmeca.validation.caa import check_caa, parse_issue_value
from acmeca.validation.dispatch import ValidationResult, ValidationSettings

US = "acmeca.test"
ACCOUNT = "https://ca.test/acme/acme/account/abc"


async def caa(
    settings: ValidationSettings,
    identifier: Identifier | None = None,
    *,
    method: ChallengeType | None = ChallengeType.HTTP_01,
    account: str | None = ACCOUNT,
    identities: tuple[str, ...] = (US,),
) -> ValidationResult:
    return await check_caa(
        identifier or dns("www.example.test"),
        caa_identities=identities,
        account_uri=account,
        method=method,
        settings=settings,
    )


async def test_no_records_anywhere_allows(settings: ValidationSettings, dns_server: DNSServer) -> None:
    result = await caa(settings)
    assert result.ok, result.error
    assert result.record["relevantName"] is None
    assert ("example.test.", "CAA") in dns_server.queries
    assert ("test.", "CAA") in dns_server.queries


async def test_no_identities_means_no_check(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("www.example.test", "issue", ";")
    assert (await caa(settings, identities=())).ok
    assert dns_server.queries == []


async def test_ip_identifiers_have_no_caa(settings: ValidationSettings, dns_server: DNSServer) -> None:
    assert (await caa(settings, ip("127.0.0.1"))).ok
    assert dns_server.queries == []


async def test_issue_for_us_allows(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("www.example.test", "issue", US)
    result = await caa(settings)
    assert result.ok
    assert result.record["relevantName"] == "www.example.test"


async def test_issuer_match_is_case_insensitive(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", "ACMECA.Test")
    assert (await caa(settings, identities=("acmeca.test.",))).ok


async def test_issue_for_someone_else_forbids(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("www.example.test", "issue", "other-ca.test")
    result = await caa(settings)
    assert isinstance(result.error, CAAProblem)
    assert "www.example.test" in result.error.detail
    assert "other-ca.test" in result.error.detail


async def test_one_matching_record_among_several_allows(
    settings: ValidationSettings, dns_server: DNSServer
) -> None:
    dns_server.add_caa("example.test", "issue", "other-ca.test")
    dns_server.add_caa("example.test", "issue", US)
    assert (await caa(settings)).ok


async def test_empty_issuer_forbids_everyone(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", ";")
    result = await caa(settings)
    assert isinstance(result.error, CAAProblem)
    assert "no CA may issue" in result.error.detail


async def test_tree_climbing_finds_the_parent(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("test", "issue", "other-ca.test")
    result = await caa(settings, dns("a.b.c.example.test"))
    assert isinstance(result.error, CAAProblem)
    assert result.record["relevantName"] == "test"


async def test_closest_record_set_wins(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", "other-ca.test")
    dns_server.add_caa("www.example.test", "issue", US)
    assert (await caa(settings)).ok


async def test_nxdomain_name_still_climbs(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.set_nxdomain("www.example.test")
    dns_server.add_caa("example.test", "issue", "other-ca.test")
    assert isinstance((await caa(settings)).error, CAAProblem)


async def test_cname_is_followed(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_cname("www.example.test", "cdn.elsewhere.test")
    dns_server.add_caa("cdn.elsewhere.test", "issue", "other-ca.test")
    assert isinstance((await caa(settings)).error, CAAProblem)


async def test_only_iodef_allows(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "iodef", "mailto:security@example.test")
    assert (await caa(settings)).ok


async def test_unknown_critical_tag_forbids(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", US)
    dns_server.add_caa("example.test", "futuretag", "x", flags=128)
    result = await caa(settings)
    assert isinstance(result.error, CAAProblem)
    assert "critical" in result.error.detail


async def test_unknown_tag_not_critical_is_ignored(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", US)
    dns_server.add_caa("example.test", "futuretag", "x")
    assert (await caa(settings)).ok


async def test_issuewild_governs_wildcards(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", US)
    dns_server.add_caa("example.test", "issuewild", ";")
    assert (await caa(settings, dns("example.test"))).ok
    result = await caa(settings, dns("*.example.test"), method=ChallengeType.DNS_01)
    assert isinstance(result.error, CAAProblem)
    assert "issuewild" in result.error.detail


async def test_wildcard_falls_back_to_issue(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", "other-ca.test")
    assert isinstance((await caa(settings, dns("*.example.test"))).error, CAAProblem)
    dns_server.reset()
    dns_server.add_caa("example.test", "issue", US)
    assert (await caa(settings, dns("*.example.test"))).ok


async def test_issuewild_does_not_apply_to_plain_names(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issuewild", US)
    dns_server.add_caa("example.test", "issue", "other-ca.test")
    assert isinstance((await caa(settings, dns("www.example.test"))).error, CAAProblem)


@pytest.mark.parametrize(
    ("value", "account", "allowed"),
    [
        (f"{US}; accounturi={ACCOUNT}", ACCOUNT, True),
        (f"{US}; accounturi={ACCOUNT}", ACCOUNT + "x", False),
        (f"{US}; accounturi={ACCOUNT}", None, False),
        (f"{US}; accounturi={ACCOUNT}; accounturi={ACCOUNT}", ACCOUNT, False),
        (f"{US}; unknownparam=1", ACCOUNT, True),
    ],
)
async def test_accounturi(
    settings: ValidationSettings, dns_server: DNSServer, value: str, account: str | None, allowed: bool
) -> None:
    dns_server.add_caa("example.test", "issue", value)
    assert (await caa(settings, account=account)).ok is allowed


@pytest.mark.parametrize(
    ("methods", "method", "allowed"),
    [
        ("dns-01", ChallengeType.DNS_01, True),
        ("http-01,tls-alpn-01", ChallengeType.TLS_ALPN_01, True),
        ("dns-01", ChallengeType.HTTP_01, False),
        ("dns-01", None, False),
    ],
)
async def test_validationmethods(
    settings: ValidationSettings, dns_server: DNSServer, methods: str, method: ChallengeType | None, allowed: bool
) -> None:
    dns_server.add_caa("example.test", "issue", f"{US}; validationmethods={methods}")
    result = await caa(settings, method=method)
    assert result.ok is allowed
    if not allowed:
        assert isinstance(result.error, CAAProblem)
        assert "validationmethods" in result.error.detail


async def test_servfail_refuses_after_retries(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.set_servfail("example.test")
    result = await caa(dataclasses.replace(settings, timeout=settings.timeout / 2))
    assert isinstance(result.error, DNSProblem)
    assert "SERVFAIL" in result.error.detail


async def test_transient_servfail_recovers(settings: ValidationSettings, dns_server: DNSServer) -> None:
    dns_server.add_caa("example.test", "issue", US)
    dns_server.set_servfail("example.test", times=1)
    assert (await caa(settings)).ok


@pytest.mark.parametrize(
    ("value", "issuer", "parameters"),
    [
        ("ca.test", "ca.test", []),
        ("  CA.test. ", "ca.test", []),
        (";", "", []),
        ("ca.test; a=b;c = d", "ca.test", [("a", "b"), ("c", "d")]),
        ("ca.test; broken", "ca.test", None),
        ("ca.test; a=", "ca.test", None),
        ("bad_name!", None, None),
    ],
)
def test_parse_issue_value(value: str, issuer: str | None, parameters: list[tuple[str, str]] | None) -> None:
    assert parse_issue_value(value) == (issuer, parameters)
