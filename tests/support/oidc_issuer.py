"""A tiny OIDC identity provider for tests: discovery + JWKS over plain HTTP, and ID tokens on demand.

It runs in a thread (``ThreadingHTTPServer``) so a CA subprocess can fetch its keys while a synchronous test
is blocked running the CLI. ``rotate()`` swaps the signing key, to exercise key-rotation refreshes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jwcrypto import jwk, jws


class OIDCIssuer:
    def __init__(self) -> None:
        self.key = jwk.JWK.generate(kty="EC", crv="P-256", kid=secrets.token_hex(4))
        self.requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                documents = {
                    "/.well-known/openid-configuration": {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"},
                    "/jwks": {"keys": [json.loads(issuer.key.export_public())]},
                }
                body = json.dumps(documents.get(self.path)).encode()
                self.send_response(200 if self.path in documents else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def configuration_endpoint(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def __enter__(self) -> OIDCIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self) -> None:
        self.key = jwk.JWK.generate(kty="EC", crv="P-256", kid=secrets.token_hex(4))

    def id_token(self, email: str, *, audience: str, lifetime: int = 300, key: jwk.JWK | None = None,
                 **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "sub": secrets.token_hex(8), "aud": audience, "email": email,
                "email_verified": True, "iat": now, "nbf": now, "exp": now + lifetime,
                "nonce": secrets.token_hex(16), **claims}
        signer = key or self.key
        token = jws.JWS(json.dumps(body).encode())
        token.add_signature(signer, alg="ES256", protected=json.dumps({"alg": "ES256", "kid": signer.get("kid")}))
        return str(token.serialize(compact=True))
