"""Certificates and CRLs checked with pkilint before anyone relies on them (Boulder's pre-issuance lint).

The engine builds each certificate twice from the same template: first signed by a throw-away key of the
issuer's algorithm (that copy is linted and thrown away), then by the real key, and the two TBS encodings must
be identical, so what was linted is exactly what is signed. RFC 5280 validators always run; a profile may add
the CA/B Forum server-auth set. pkilint costs ~0.4 s to import, so it is imported on first use and each
validator is built once.

Two pkilint findings are not enforced, because pkilint checks syntax with the ``validators`` package, which is
stricter than RFC 5280 (pkilint's own CA/B Forum filter drops the first for the same reason):
``pkix.invalid_domain_name_syntax`` refuses wildcards and single-label names such as ``localhost`` (every DNS
name reaching the engine already passed ``canonical_dns_name``'s LDH and length rules), and
``pkix.invalid_uri_syntax`` refuses every URI whose host has one label (``https://localhost:8443/1.0/crl``) or
whose scheme is not a web one (``spiffe://``); such a finding is kept when the value is not a URI at all.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto.keys import SigningKey

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+$")  # RFC 3986 scheme ":" and no blanks


@dataclass(frozen=True)
class Finding:
    """One pkilint finding at error level or worse: its code, message and where in the document it is."""

    code: str
    message: str
    path: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


_BUILD_LOCK = threading.Lock()


@functools.cache
def _validator(name: str) -> Any:
    """pkilint's validator tree ``name``, built once per process on first use (pkilint is slow to import)."""
    with _BUILD_LOCK:  # two executor threads must not import pkilint's modules concurrently
        tree = _BUILDERS[name]()
        prune_traversal(tree)
        return tree


_CANDIDATES_PER_CONTAINER = 4096  # (path, type) pairs remembered per container; the leaf shapes make < 300


def prune_traversal(tree: Any) -> None:
    """Make every ``ValidatorContainer`` in ``tree`` skip the validators that cannot match a node.

    pkilint walks the whole document once per container and asks every validator of the container whether it
    matches each node: about 3,900 ``match`` calls per leaf, a fifth of the lint's CPU. For a validator whose
    class keeps pkilint's own ``NodeVisitor.match``, a mismatch of its ``path``, ``path_re`` or ``pdu_class``
    makes ``match`` false whatever follows; those three depend only on the node's path and the type of its
    PDU, so the validators left after them are worked out once per (path, type) and kept. Every validator
    left is still asked ``match`` in the container's order, and anything that overrides ``match`` is always
    asked: the findings, and their order, are pkilint's own (tests/unit/crypto/test_lint_traversal.py
    compares them with an unpruned tree). A pkilint without these attributes is left as it is.
    """
    from pkilint.document import NodeVisitor
    from pkilint.validation import ValidatorContainer

    own_match = NodeVisitor.match
    if not all(hasattr(NodeVisitor(), a) for a in ("_path", "_path_re", "_pdu_class")):
        return
    if not hasattr(ValidatorContainer, "_validate_rec"):
        return
    seen: set[int] = set()

    def visit(validator: Any) -> None:
        if id(validator) in seen or not isinstance(validator, ValidatorContainer):
            return
        seen.add(id(validator))
        for child in validator.validators:
            visit(child)
        validator._validate_rec = _pruned_walk(tuple(validator.validators), own_match)

    visit(tree)


def _pruned_walk(validators: tuple[Any, ...], own_match: Any) -> Any:
    """ValidatorContainer._validate_rec over ``validators``, asking only those that can match a node."""
    candidates: dict[tuple[str, type], tuple[Any, ...]] = {}

    def could_match(validator: Any, path: str, pdu: Any) -> bool:
        if type(validator).match is not own_match:
            return True
        if validator._path is not None and validator._path != path:
            return False
        if validator._path_re is not None and validator._path_re.match(path) is None:
            return False
        return validator._pdu_class is None or isinstance(pdu, validator._pdu_class)

    def walk(node: Any, results: list[Any]) -> None:
        key = (node.path, type(node.pdu))
        found = candidates.get(key)
        if found is None:
            found = tuple(v for v in validators if could_match(v, node.path, node.pdu))
            if len(candidates) < _CANDIDATES_PER_CONTAINER:
                candidates[key] = found
        for validator in found:
            if validator.match(node):
                result = validator.validate_wrapper(node)
                if isinstance(result, list):
                    results += result
                else:
                    results.append(result)
        for child in node.children.values():
            walk(child, results)

    return walk


def _rfc5280_certificate() -> Any:
    from pkilint.pkix import certificate, extension, name

    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def _rfc5280_crl() -> Any:
    from pkilint import pkix
    from pkilint.pkix import crl, extension, name

    return crl.create_pkix_crl_validator_container(
        [
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            crl.create_issuer_validator_container([]),
            crl.create_validity_validator_container([]),
            crl.create_extensions_validator_container([]),
        ],
    )


def _cabf_subscriber() -> Any:
    from pkilint.cabf import serverauth
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType
    from pkilint.pkix import certificate

    return certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(),
        serverauth.create_validators(CertificateType.DV_FINAL_CERTIFICATE),
    )


_BUILDERS = {"rfc5280": _rfc5280_certificate, "crl": _rfc5280_crl, "cabf": _cabf_subscriber}


def lint_certificate(der: bytes, *, cabf: bool = False) -> list[Finding]:
    """Error-level findings for a DER certificate (RFC 5280; plus CA/B Forum server-auth when ``cabf``)."""
    from pkilint import loader

    document = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    findings = _errors(_validator("rfc5280").validate(document.root))
    if cabf:
        from pkilint import finding_filter
        from pkilint.cabf import serverauth
        from pkilint.cabf.serverauth.serverauth_constants import CertificateType

        results, _ = finding_filter.filter_results(
            serverauth.create_serverauth_finding_filters(CertificateType.DV_FINAL_CERTIFICATE),
            _validator("cabf").validate(document.root),
        )
        findings += [f for f in _errors(results) if f not in findings]
    return findings


def lint_crl(der: bytes) -> list[Finding]:
    """Error-level RFC 5280 findings for a DER CRL."""
    from pkilint import loader

    document = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    return _errors(_validator("crl").validate(document.root))


def _errors(results: Any) -> list[Finding]:
    from pkilint.validation import ValidationFindingSeverity

    findings = []
    for result in results:
        for description in result.finding_descriptions:
            finding = description.finding
            if finding.severity > ValidationFindingSeverity.ERROR:
                continue
            if _is_stricter_than_rfc5280(finding.code, str(result.node.pdu)):
                continue
            findings.append(Finding(finding.code, description.message or "", result.node.path))
    return findings


def _is_stricter_than_rfc5280(code: str, value: str) -> bool:
    """The two syntax findings the module docstring explains; a URI finding stands for a value that is no URI."""
    if code == "pkix.invalid_domain_name_syntax":
        return True
    return code == "pkix.invalid_uri_syntax" and bool(_URI.match(value))


class ThrowawayKeys:
    """One throw-away signing key per issuer key algorithm, made on first use and kept for the process.

    The linted copy must carry the same signature algorithm as the real one, so the key matches the issuer's
    type and size (RSA) or curve (ECDSA); its signature value is never looked at.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int | str], SigningKey] = {}

    def for_issuer(self, issuer_key: SigningKey) -> SigningKey:
        shape = _shape(issuer_key)
        with self._lock:
            if shape not in self._keys:
                self._keys[shape] = _generate(issuer_key)
            return self._keys[shape]


def _shape(key: SigningKey) -> tuple[str, int | str]:
    if isinstance(key, rsa.RSAPrivateKey):
        return ("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ("EC", key.curve.name)
    return (type(key).__name__, 0)


def _generate(key: SigningKey) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(65537, key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no throw-away key for issuer key type {type(key).__name__}")


def same_tbs(linted: x509.Certificate, signed: x509.Certificate) -> bool:
    """Whether the certificate signed for real is the one that was linted (Boulder's tbsCertIsDeterministic)."""
    return linted.tbs_certificate_bytes == signed.tbs_certificate_bytes
