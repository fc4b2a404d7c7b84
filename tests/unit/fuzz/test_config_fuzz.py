"""Fuzzing ca.json loading: random edits of a working ca.json (every section, provisioners of every type) go
through the production loader; the only allowed refusal is ConfigError, located by its JSON path.

Also the file reader: mutated JSON text, deep nesting and non-UTF-8 bytes must be ConfigError, not a crash.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.config import ConfigError
from acmeca.config.loader import parse_config, read_document
from tests.unit.fuzz.strategies import json_values, mutated_bytes, mutated_json

PATH = Path("/srv/ca/config/ca.json")
CA_JSON: dict[str, Any] = {
    "root": "certs/root_ca.crt", "federatedRoots": ["certs/other.crt"], "crt": "certs/intermediate_ca.crt",
    "key": "secrets/intermediate_ca_key", "address": ":8443", "dnsNames": ["ca.test", "10.0.0.1"],
    "db": {"type": "sqlite", "dataSource": "db/acmeca.db"},
    "logger": {"format": "json"},
    "tls": {"minVersion": 1.2, "maxVersion": 1.3, "cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]},
    "crl": {"enabled": True, "cacheDuration": "24h"},
    "validation": {"timeout": "10s", "resolver": "127.0.0.1:53"},
    "authority": {
        "claims": {"minTLSCertDuration": "5m", "maxTLSCertDuration": "24h", "defaultTLSCertDuration": "1h"},
        "backdate": "1m", "enableAdmin": False,
        "policy": {"x509": {"allow": {"dns": ["*.test"]}}},
        "provisioners": [
            {"type": "ACME", "name": "acme", "challenges": ["http-01", "dns-01"], "forceCN": True,
             "claims": {"maxTLSCertDuration": "12h"}},
            {"type": "JWK", "name": "jwk", "key": {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}},
            {"type": "X5C", "name": "x5c", "roots": "cm9vdHM="},
            {"type": "OIDC", "name": "oidc", "clientID": "c", "clientSecret": "s",
             "configurationEndpoint": "https://idp.test/.well-known/openid-configuration"},
        ],
    },
    "alternateChains": [["certs/cross.crt"]],
}
_KEYS = ("type", "name", "claims", "provisioners", "authority", "db", "tls", "crl", "validation", "challenges",
         "minTLSCertDuration", "maxTLSCertDuration", "backdate", "address", "dnsNames", "root", "policy", "x509")


def _edited(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(CA_JSON)
    for _ in range(draw(st.integers(1, 3))):
        document = draw(mutated_json(document, _KEYS))
    return document


@given(st.composite(_edited)())
@example({**CA_JSON, "authority": {"backdate": "99999999999999999h"}})
@example({**CA_JSON, "authority": {"claims": {"maxTLSCertDuration": "9" * 30 + "h"}}})
def test_ca_json_loads_or_raises_config_error(document: Any) -> None:
    if not isinstance(document, dict):
        document = {"root": document}
    with contextlib.suppress(ConfigError):
        parse_config(document, path=PATH)


_TEXT = json.dumps(CA_JSON).encode()


@given(st.just(_TEXT) | mutated_bytes(_TEXT) | json_values.map(lambda v: json.dumps(v).encode()))
@example(b"[" * 100_000 + b"]" * 100_000)
@example(b'{"root": "\xff\xfe"}')
def test_ca_json_file_reads_or_raises_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ca.json"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            read_document(path)
