"""Minting step tokens from command-line flags: the provisioner flags, the CA URL and a JWK-signed token.

Shared by ``token``, ``certificate`` and ``sign`` (lifecycle.py), ``revoke`` (renewal.py) and the admin
credentials flow; kept apart so those modules import it rather than each other.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from acmeca.cli.commands.ca import ca_client
from acmeca.cli.errors import CLIError
from acmeca.cli.files import flag_or_default
from acmeca.cli.serials import parse_serial
from acmeca.cli.tokens import (
    ca_json_path,
    choose_jwk_provisioner,
    jwk_token,
    provisioner_documents,
    provisioner_private_key,
    root_fingerprint,
    token_window,
)
from acmeca.config import load_config


def add_provisioner_flags(
    parser: argparse.ArgumentParser, *, offline: str, key: str | None = None, provisioner: str | None = None
) -> None:
    """The flags that choose and unlock the JWK provisioner a token is minted with; ``offline``, ``key`` and
    ``provisioner`` say what ``--offline``, ``--key`` and ``--provisioner`` mean for this command."""
    parser.add_argument("--provisioner", "--issuer", dest="provisioner", metavar="name",
                        help=provisioner or "The name of the JWK provisioner to mint the token with. Needed only "
                                            "when the CA has more than one JWK provisioner.")
    parser.add_argument("--kid", help="The kid of the provisioner's key, to choose among JWK provisioners.")
    parser.add_argument("--key", metavar="file",
                        help=key or "A file with the provisioner's private JWK, to sign the token with instead of "
                                    "decrypting the provisioner's encryptedKey.")
    parser.add_argument("--provisioner-password-file", "--password-file", dest="provisioner_password_file",
                        metavar="file",
                        help="The file with the password that decrypts the provisioner's encryptedKey (trailing "
                             "whitespace is ignored). Without it, the password is prompted for.")
    parser.add_argument("--offline", action="store_true", help=offline)
    parser.add_argument("--ca-config", metavar="file",
                        help="The ca.json that --offline reads. Defaults to $ACMECA_CA_CONFIG, then to the "
                             "ca-config of defaults.json, then to $ACMECA_PATH/config/ca.json.")


def ca_url(args: argparse.Namespace) -> str:
    """The CA URL for audiences: the flag/default, or with ``--offline`` what ca.json says."""
    found = flag_or_default(getattr(args, "ca_url", None), "ca-url")
    if found:
        return found.rstrip("/")
    if getattr(args, "offline", False):
        config = load_config(ca_json_path(args))
        _, port = config.host_port
        host = config.dns_names[0]
        return f"https://{host}" + ("" if port == 443 else f":{port}")
    raise CLIError("missing --ca-url: pass it, set ACMECA_CA_URL, or run 'acmeca bootstrap'")


async def mint_token(
    args: argparse.Namespace, subject: str, *, purpose: str, sans: list[str] | None = None, cnf: str | None = None
) -> str:
    """A JWK token for ``purpose`` ("sign" or "revoke"), minted as ``step ca token`` does."""
    client = None if getattr(args, "offline", False) else ca_client(args)
    documents = await provisioner_documents(args, client)
    provisioner = choose_jwk_provisioner(documents, args.provisioner, getattr(args, "kid", None))
    key = await provisioner_private_key(args, client, provisioner)
    window = token_window(getattr(args, "not_before_token", None), getattr(args, "not_after_token", None),
                          now=datetime.now(UTC))
    return jwk_token(
        subject, issuer=str(provisioner["name"]), audience=f"{ca_url(args)}/1.0/{purpose}", key=key,
        window=window, sans=sans, root_fingerprint=root_fingerprint(args), cnf=cnf,
    )


def canonical_or_raw(serial: str) -> str:
    """The serial as the CA stores it (canonical decimal); a bad one is a usage error before any token exists."""
    return parse_serial(serial)
