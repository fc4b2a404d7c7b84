"""The server's TLS context: our own certificate, client certificates requested but optional.

Optional client authentication lets mTLS renew/rekey/revoke share the port with ACME and public endpoints.
The context is updated in place when the TLS certificate is renewed, so new handshakes pick it up.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterable

from cryptography import x509

from acmeca.crypto.certs import to_pem


def server_context(client_roots: Iterable[x509.Certificate]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_OPTIONAL
    bundle = "".join(to_pem(c) for c in client_roots)
    if bundle:
        context.load_verify_locations(cadata=bundle)
    context.set_alpn_protocols(["http/1.1"])
    return context


def load_server_certificate_pem(context: ssl.SSLContext, chain_pem: str, key_pem: bytes) -> None:
    """ssl only loads from files: write both to a private temporary directory and load them."""
    with tempfile.TemporaryDirectory(prefix="acmeca-tls-") as directory:
        os.chmod(directory, 0o700)
        cert_path = os.path.join(directory, "tls.crt")
        key_path = os.path.join(directory, "tls.key")
        with open(cert_path, "w", encoding="ascii") as handle:
            handle.write(chain_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(cert_path, key_path)
