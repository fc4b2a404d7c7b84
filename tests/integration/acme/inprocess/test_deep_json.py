"""JSON nested deeply but under the body caps is a client error on the step API, never a 500.

The in-process application serves the step API next to ACME, so these requests reach the real ``/1.0/sign``
handler and token parser. (The ACME doors are cases of the negative suite.)
"""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.integration.acme.inprocess.conftest import AcmeEnv
from tests.support.acme_client import b64, make_csr

DEEP = 20_000


def _csr_pem() -> str:
    der, _key = make_csr(["deep.test"], cn="deep.test")
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()


def _token(header: bytes, claims: bytes) -> str:
    return f"{b64(header)}.{b64(claims)}.{b64(b'x' * 64)}"


NESTED = b"[" * DEEP + b"]" * DEEP
BODIES = {
    "sign body": b"[" * 100_000 + b"]" * 100_000,
    "ott header": json.dumps({"csr": _csr_pem(), "ott": _token(b'{"alg":"ES256","x":' + NESTED + b"}", b"{}")}),
    "ott claims": json.dumps({"csr": _csr_pem(), "ott": _token(b'{"alg":"ES256"}', b'{"sub":' + NESTED + b"}")}),
}
STATUS = {"sign body": 400, "ott header": 401, "ott claims": 401}


@pytest.mark.parametrize("name", list(BODIES))
async def test_deep_json_on_sign_is_the_usual_step_error(acme_env: AcmeEnv, name: str) -> None:
    async with acme_env.session.post(f"{acme_env.base}/1.0/sign", data=BODIES[name], ssl=False) as response:
        text = await response.text()
        assert response.status == STATUS[name], text
    assert "Traceback" not in text
    assert "RecursionError" not in text
    assert json.loads(text)["status"] == STATUS[name]
