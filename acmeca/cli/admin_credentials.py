"""Admin credentials for the CLI, as step does (stepca.md §2.9, §4).

Either ``--admin-cert/--admin-key`` name a certificate the CA issued with clientAuth, or the CLI obtains a
short one for ``--admin-subject`` through the ``--admin-provisioner`` JWK provisioner (password from
``--admin-password-file``). Every request gets a fresh x5c token whose audience is the request URL, since
the server spends each token once.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from jwcrypto import jwk

from acmeca.cli.client import CAClient, error_message
from acmeca.cli.commands.ca import add_ca_flags, ca_client
from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.tokens import _signing_alg
from acmeca.crypto import certs
from acmeca.crypto.keys import KeySpec, PrivateKey, generate_key, load_private_key

ADMIN_ISSUER = "step-admin-client/1.0"
TOKEN_LIFETIME = timedelta(minutes=5)
DEFAULT_SUBJECT = "step"


ADMIN_CREDENTIALS = """\
The admin API needs an admin's credentials: --admin-cert and --admin-key name a certificate the CA issued
to an admin; without them, the command gets a certificate for --admin-subject (default 'step') from the
JWK provisioner --admin-provisioner, decrypting its key with --admin-password-file, and uses that."""


def add_admin_flags(parser: argparse.ArgumentParser) -> None:
    add_ca_flags(parser)
    parser.add_argument("--admin-cert", metavar="file",
                        help="An admin's certificate (chain, PEM) issued by the CA, used with --admin-key to "
                             "authenticate to the admin API.")
    parser.add_argument("--admin-key", metavar="file", help="The private key of --admin-cert.")
    parser.add_argument("--admin-subject", "--admin-name", dest="admin_subject", metavar="subject",
                        help="Without --admin-cert: the admin subject to get a certificate for (default 'step').")
    parser.add_argument("--admin-provisioner", "--admin-issuer", dest="admin_provisioner", metavar="name",
                        help="Without --admin-cert: the JWK provisioner that issues that certificate; needed "
                             "when the CA has more than one.")
    parser.add_argument("--admin-password-file", metavar="file",
                        help="The file with the password that decrypts the --admin-provisioner key.")


def admin_token(chain: list[x509.Certificate], key: PrivateKey, *, subject: str, audience: str) -> str:
    from acmeca.step.jwt import sign_compact

    private = jwk.JWK.from_pyca(key)
    now = datetime.now(UTC)
    claims = {
        "iss": ADMIN_ISSUER, "sub": subject, "aud": audience, "jti": secrets.token_hex(32),
        "iat": int(now.timestamp()), "nbf": int(now.timestamp()), "exp": int((now + TOKEN_LIFETIME).timestamp()),
    }
    header = {
        "alg": _signing_alg(private), "typ": "JWT", "kid": private.thumbprint(),
        "x5c": [base64.b64encode(certs.to_der(c)).decode() for c in chain],
    }
    return sign_compact(claims, private, header)


@dataclass
class AdminSession:
    client: CAClient
    chain: list[x509.Certificate]
    key: PrivateKey
    subject: str

    async def raw(self, method: str, path: str, *, body: Any = None) -> tuple[int, bytes]:
        audience = self.client.ca_url + path.split("?", 1)[0]
        token = admin_token(self.chain, self.key, subject=self.subject, audience=audience)
        status, data, _ = await self.client.request(method, path, body=body, headers={"Authorization": token})
        return status, data

    async def call(
        self, method: str, path: str, *, body: Any = None, expect: tuple[int, ...] = (200, 201)
    ) -> Any:
        status, data = await self.raw(method, path, body=body)
        if status not in expect:
            raise CLIError(error_message(status, data))
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise CLIError(f"the CA answered {status} with a body that is not JSON") from None


async def admin_session(args: argparse.Namespace) -> AdminSession:
    client = ca_client(args)
    if args.admin_cert or args.admin_key:
        if not (args.admin_cert and args.admin_key):
            raise CLIError("--admin-cert and --admin-key must be used together")
        try:
            chain = certs.load_pem_bundle(Path(args.admin_cert).read_bytes(), source=args.admin_cert)
        except OSError as exc:
            raise CLIError(f"cannot read {args.admin_cert}: {exc.strerror}") from None
        key = load_private_key(Path(args.admin_key))
        return AdminSession(client, chain, key, certs.common_name(chain[0]) or "")
    return await _short_certificate(args, client)


async def _short_certificate(args: argparse.Namespace, client: CAClient) -> AdminSession:
    """Sign a JWK token for the admin subject and get a short clientAuth certificate from /1.0/sign."""
    from acmeca.cli.commands.lifecycle import chain_pem, post_sign
    from acmeca.cli.commands.minting import mint_token
    from acmeca.crypto.csr import build_csr_pem

    subject = args.admin_subject or DEFAULT_SUBJECT
    token_args = argparse.Namespace(**{
        **vars(args), "provisioner": args.admin_provisioner, "provisioner_password_file": args.admin_password_file,
        "password_flag": "--admin-password-file",
        "kid": None, "key": None, "offline": False, "not_before_token": None, "not_after_token": None,
        "not_before": "", "not_after": "",
    })
    if args.admin_password_file:
        read_password_file(args.admin_password_file)  # fail early with the file's own error
    key = generate_key(KeySpec())
    csr_pem = build_csr_pem(key, subject, [subject] if "@" not in subject else [], []).decode()
    sans = [subject]
    ott = await mint_token(token_args, subject, purpose="sign", sans=sans)
    response = await post_sign(client, csr_pem, ott, token_args)
    chain = certs.load_pem_bundle(chain_pem(response), source="the CA's sign response")
    return AdminSession(client, chain, key, subject)
