"""Extended key usages by the names step-ca templates and acmeca profiles use."""

from __future__ import annotations

from enum import StrEnum


class ExtendedKeyUsage(StrEnum):
    SERVER_AUTH = "serverAuth"
    CLIENT_AUTH = "clientAuth"
    CODE_SIGNING = "codeSigning"
    EMAIL_PROTECTION = "emailProtection"
    TIME_STAMPING = "timeStamping"
    OCSP_SIGNING = "OCSPSigning"
