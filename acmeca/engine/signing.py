"""Lint, then sign: the CPU-bound end of the issuance cycle, run on the executor as one call.

As Boulder does it: the template is first signed with a throw-away key of the issuer's algorithm and that
copy is linted; only a clean (or, in ``warn`` mode, a logged) result is signed with the real key, and the real
TBS must equal the linted one byte for byte, so the CA key never signs anything the linter did not see.
"""

from __future__ import annotations

import logging

from cryptography import x509

from acmeca.config.issuance import LintMode
from acmeca.crypto.certbuild import CertificateTemplate, build_certificate, certificate_der
from acmeca.crypto.keys import SigningKey
from acmeca.crypto.lint import Finding, ThrowawayKeys, lint_certificate, same_tbs
from acmeca.domain.errors import LintRefused

log = logging.getLogger(__name__)


class LintingSigner:
    def __init__(self) -> None:
        self._throwaway = ThrowawayKeys()

    def sign(
        self, template: CertificateTemplate, issuer: x509.Certificate, issuer_key: SigningKey, *,
        mode: LintMode, cabf: bool,
    ) -> x509.Certificate:
        """The signed certificate; LintRefused (enforce mode) when the linted copy has error-level findings."""
        if mode is LintMode.OFF:
            return build_certificate(template, issuer, issuer_key)
        linted = build_certificate(template, issuer, self._throwaway.for_issuer(issuer_key))
        findings = lint_certificate(certificate_der(linted), cabf=cabf)
        if findings:
            _report(findings, template, mode)
        certificate = build_certificate(template, issuer, issuer_key)
        if not same_tbs(linted, certificate):
            raise RuntimeError("the certificate to sign differs from the one linted; nothing was issued")
        return certificate


def _report(findings: list[Finding], template: CertificateTemplate, mode: LintMode) -> None:
    codes = [str(f) for f in findings]
    if mode is LintMode.ENFORCE:
        log.warning(
            "certificate refused by pre-issuance lint", extra={"serial": str(template.serial), "findings": codes}
        )
        raise LintRefused("the certificate would not conform to RFC 5280 or its profile: " + "; ".join(codes))
    log.warning(
        "certificate issued despite pre-issuance lint findings (lint.mode warn)",
        extra={"serial": str(template.serial), "findings": codes},
    )
