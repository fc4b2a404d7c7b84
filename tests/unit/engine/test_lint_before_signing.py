"""Pre-issuance lint: what our templates make today passes pkilint's RFC 5280 set (CA certificates, the CRL and
every leaf shape), a certificate that would not pass is refused (enforce), logged (warn) or not looked at (off),
and the CA/B Forum set is applied only when a profile asks for it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.config.issuance import LintMode
from acmeca.crypto import certs
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.crypto.lint import lint_certificate, lint_crl
from acmeca.domain.errors import LintRefused
from acmeca.domain.identifiers import dns, ip
from acmeca.domain.key_usage import ExtendedKeyUsage
from acmeca.domain.records import ProvisionerRef, Requester, RevokedEntry
from acmeca.domain.status import ProvisionerType, RequesterKind, RevocationReason
from acmeca.engine import signing
from acmeca.engine.crl import build_crl
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.requests import CertificateProfile, IssuanceRequest
from acmeca.engine.signing import LintingSigner
from acmeca.engine.templates import leaf_template
from acmeca.engine.trust import SigningAuthority
from acmeca.engine.validity import ResolvedValidity

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VALIDITY = ResolvedValidity(NOW - timedelta(minutes=1), NOW + timedelta(hours=24))
PROVISIONER = ProvisionerRef(id="p-1", name="admin", type=ProvisionerType.JWK, credential_id="kid-1")
CRL_URL = ("https://localhost:8443/1.0/crl",)  # what crl_urls() makes from the default dnsNames


def _authority(kty: str = "EC", size: int = 2048) -> SigningAuthority:
    root_key, key = generate_key(KeySpec(kty=kty, size=size)), generate_key(KeySpec(kty=kty, size=size))
    pki = create_ca_certificates("Test", root_key, key, now=NOW - timedelta(days=1))
    return SigningAuthority(certificate=pki.intermediate, key=key, chain=(pki.intermediate,))


EC_AUTHORITY = _authority()


def _request(**changes: object) -> IssuanceRequest:
    fields: dict[str, object] = {
        "public_key": ec.generate_private_key(ec.SECP256R1()).public_key(), "common_name": "svc.example",
        "identifiers": (dns("svc.example"),), "requester": Requester(RequesterKind.PROVISIONER, "admin"),
        "provisioner": PROVISIONER,
    }
    fields.update(changes)
    return IssuanceRequest(**fields)  # type: ignore[arg-type]


def _sign(request: IssuanceRequest, *, mode: LintMode = LintMode.ENFORCE, authority: SigningAuthority = EC_AUTHORITY,
          crl_urls: tuple[str, ...] = CRL_URL) -> bytes:
    template = leaf_template(request, serial=0x1234567890ABCDEF, validity=VALIDITY, crl_urls=crl_urls)
    signed = LintingSigner().sign(template, authority.certificate, authority.key, mode=mode,
                                  cabf=request.profile.lint_cabf)
    return certs.to_der(signed)


@pytest.mark.parametrize(("kty", "size"), [("EC", 0), ("RSA", 2048), ("OKP", 0)], ids=["p256", "rsa", "ed25519"])
def test_the_ca_certificates_as_init_makes_them_and_the_crl_pass_rfc5280_lint(kty: str, size: int) -> None:
    root_key, key = generate_key(KeySpec(kty=kty, size=size or 2048)), generate_key(KeySpec(kty=kty, size=size or 2048))
    pki = create_ca_certificates("Test", root_key, key, now=NOW)
    assert lint_certificate(certs.to_der(pki.root)) == []
    assert lint_certificate(certs.to_der(pki.intermediate)) == []
    authority = SigningAuthority(certificate=pki.intermediate, key=key, chain=(pki.intermediate,))
    entries = [RevokedEntry("4660", NOW, RevocationReason.KEY_COMPROMISE), RevokedEntry("4661", NOW,
                                                                                         RevocationReason.UNSPECIFIED)]
    for listed in ([], entries):
        crl = build_crl(authority, listed, number=3, now=NOW, next_update=NOW + timedelta(hours=24),
                        idp_url=CRL_URL[0])
        assert lint_crl(crl) == []


LEAVES = {
    "default profile, P-256": _request(),
    "P-384": _request(public_key=ec.generate_private_key(ec.SECP384R1()).public_key()),
    "RSA (keyEncipherment)": _request(public_key=rsa.generate_private_key(65537, 2048).public_key()),
    "Ed25519": _request(public_key=ed25519.Ed25519PrivateKey.generate().public_key()),
    "IP SANs, no CN": _request(common_name=None, identifiers=(ip("192.0.2.7"), ip("2001:db8::1"))),
    "wildcard": _request(common_name="*.example.com", identifiers=(dns("*.example.com"), dns("example.com"))),
    "single-label names (the CA's TLS certificate)": _request(common_name="acmeca Online CA",
                                                               identifiers=(dns("localhost"), ip("127.0.0.1"),
                                                                            ip("::1"))),
    "step template: emails and URIs": _request(emails=("ops@svc.example",),
                                               uris=("spiffe://svc.example/ns/a", "https://svc.example/id")),
    "ACME profile: serverAuth only, CN omitted": _request(profile=CertificateProfile(
        name="tls", ext_key_usage=(ExtendedKeyUsage.SERVER_AUTH,), omit_common_name=True)),
    "no provisioner extension, no CRL URL": _request(provisioner=None),
}


@pytest.mark.parametrize("name", LEAVES)
def test_every_leaf_shape_the_templates_make_passes_in_enforce_mode(name: str) -> None:
    request = LEAVES[name]
    der = _sign(request, crl_urls=() if request.provisioner is None else CRL_URL)
    assert lint_certificate(der) == []


def test_an_rsa_issuer_gets_an_rsa_throwaway_and_signs_the_linted_tbs() -> None:
    assert lint_certificate(_sign(_request(), authority=_authority("RSA"))) == []


def test_a_certificate_with_an_error_finding_is_refused_in_enforce_mode() -> None:
    bad = _request(uris=("not a uri",))
    with pytest.raises(LintRefused, match=r"pkix\.invalid_uri_syntax"):
        _sign(bad)


def test_warn_mode_signs_it_and_logs_the_findings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=signing.__name__)
    der = _sign(_request(uris=("not a uri",)), mode=LintMode.WARN)
    assert [f.code for f in lint_certificate(der)] == ["pkix.invalid_uri_syntax"]
    assert any("lint.mode warn" in r.getMessage() for r in caplog.records)


def test_off_mode_does_not_lint(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=signing.__name__)
    _sign(_request(uris=("not a uri",)), mode=LintMode.OFF)
    assert caplog.records == []


def test_the_cabf_set_applies_only_to_a_profile_that_asks_for_it() -> None:
    """Our leaves are not web-PKI leaves (no certificatePolicies, no AIA): the CA/B set refuses them."""
    plain = _request()
    _sign(plain)
    with pytest.raises(LintRefused, match="certificate_policies_extension_absent"):
        _sign(replace(plain, profile=CertificateProfile(lint_cabf=True)))
