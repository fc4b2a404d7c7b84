"""Name policy: allow/deny rules for the names a certificate may carry (stepca.md §5.2). Pure: imports only domain."""

from acmeca.policy.constraints import InvalidPolicy
from acmeca.policy.rules import NameRules, parse_policy_document, parse_x509_policy
from acmeca.policy.x509 import CertificateNames, Violation, X509Policy

__all__ = [
    "CertificateNames",
    "InvalidPolicy",
    "NameRules",
    "Violation",
    "X509Policy",
    "parse_policy_document",
    "parse_x509_policy",
]
