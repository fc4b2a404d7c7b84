"""``acmeca intermediate rotate``: a new intermediate key and certificate from the root, the old one kept.

The old intermediate still anchors every certificate it signed, so it is kept beside the new one as
``<crt stem>.<serial hex><suffix>`` (acmeca.engine.trust), and served in ``/intermediates`` and as those
certificates' chain until it expires. Nothing here talks to a running CA: the files change, and SIGHUP makes
each server (every worker of ``serve --workers``) load them.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from acmeca.cli.commands.serve import config_path
from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.help import DURATION, Example, add_command, add_group
from acmeca.config import load_config
from acmeca.crypto import certs
from acmeca.crypto.keys import (
    KeySpec,
    PrivateKey,
    WrongPassword,
    generate_key,
    load_private_key,
    private_key_pem,
    write_private_file,
)
from acmeca.domain.durations import parse_duration
from acmeca.domain.errors import CAError
from acmeca.engine.pki import CA_VALIDITY, next_intermediate
from acmeca.engine.trust import retired_path

DEFAULT_LIFETIME = "87600h"  # ten years, as acmeca init


def rotate(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    if not config.roots:
        raise CLIError("ca.json names no root certificate")
    root = _certificate(config.roots[0])
    previous = _certificate(config.crt)
    root_key_path = Path(args.root_key) if args.root_key else config.key.with_name("root_ca_key")
    root_key = _key(root_key_path, read_password_file(args.root_password_file))
    password = read_password_file(args.password_file or args.root_password_file)
    try:
        lifetime = parse_duration(args.not_after)
        key = generate_key(KeySpec.of(previous.public_key()))
    except CAError as exc:
        raise CLIError(exc.detail) from None
    if lifetime.total_seconds() <= 0:
        raise CLIError("--not-after must be a positive duration")
    now = datetime.now(UTC).replace(microsecond=0)
    rotated = next_intermediate(root, root_key, previous, key.public_key(), now=now, lifetime=lifetime)
    kept_crt, kept_key = _replace_files(config.crt, config.key, previous, rotated, private_key_pem(key, password))
    _report(config.crt, config.key, previous, rotated, kept_crt, kept_key)
    return 0


def _certificate(path: Path) -> x509.Certificate:
    try:
        return certs.load_pem_bundle(path.read_bytes(), source=str(path))[0]
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None


def _key(path: Path, password: bytes) -> PrivateKey:
    try:
        return load_private_key(path, password)
    except WrongPassword:
        raise CLIError(f"the root password does not decrypt {path}") from None
    except OSError as exc:
        raise CLIError(f"cannot read the root key {path}: {exc.strerror}") from None
    except CAError as exc:
        raise CLIError(exc.detail) from None


def _replace_files(
    crt: Path, key: Path, previous: x509.Certificate, rotated: x509.Certificate, key_pem: bytes,
) -> tuple[Path, Path]:
    """Keep the old pair under serial-suffixed names, then swap in the new key and certificate.

    Each file is replaced by a rename; the key goes first, so a crash between the two leaves a pair that
    does not match, which serve refuses in one line rather than signing with the wrong key.
    """
    kept_crt = retired_path(crt, previous)
    kept_key = key.with_name(f"{key.name}.{previous.serial_number:x}")
    _write(kept_crt, certs.to_pem(previous).encode())
    write_private_file(kept_key, key.read_bytes())
    write_private_file(key, key_pem)
    _write(crt, certs.to_pem(rotated).encode())
    return kept_crt, kept_key


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _report(
    crt: Path, key: Path, previous: x509.Certificate, rotated: x509.Certificate, kept_crt: Path, kept_key: Path,
) -> None:
    until = rotated.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"Wrote a new intermediate to {crt} and its key to {key} (serial {rotated.serial_number:x}, valid "
          f"until {until}).")
    print(f"Kept the old intermediate as {kept_crt}: it is served until it expires, as the chain of the "
          f"certificates it signed. Kept its key as {kept_key}; nothing reads it, delete it when you no longer "
          "want to roll back.")
    print("Next: send SIGHUP to every acmeca serve of this CA (kill -HUP <pid>). On other hosts, copy the new "
          f"{crt.name}, {key.name} and {kept_crt.name} first (e.g. update the Kubernetes Secret), then reload.")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "intermediate", summary="the CA's intermediate certificate", dest="intermediate_command",
        description="""\
acmeca intermediate manages the intermediate certificate that signs the CA's certificates and CRLs. It
works on the files ca.json names (crt, key), not through a running CA.""",
        examples=[
            Example("Rotate the intermediate, then reload the CA:",
                    "acmeca intermediate rotate --root-password-file root-password.txt\nkill -HUP <pid>"),
            Example("Rotate the intermediate of another configuration:",
                    "acmeca intermediate rotate --config /etc/acmeca/ca.json --root-password-file root-password.txt"),
        ],
    )
    parser = add_command(
        sub, "rotate", summary="issue a new intermediate from the root and keep the old one",
        description=f"""\
acmeca intermediate rotate generates a new intermediate key of the same type as the current one, has the
root sign a certificate for it under the same name, and replaces ca.json's crt and key files. The root key
is decrypted with --root-password-file; the new intermediate key is encrypted with --password-file, which
defaults to the root's password file (acmeca init encrypts both keys with one password). Use the password
'acmeca serve' decrypts the intermediate with, or the reload fails and the running CA keeps the old one.

The old certificate is kept as <crt>.<serial in hex> beside it (certs/intermediate_ca.<serial>.crt): every
server lists it in /intermediates and serves it as the chain of the certificates it signed until it
expires. Servers load the new files on SIGHUP; on several hosts, each needs the new files first.

The new intermediate is valid for --not-after from now ({CA_VALIDITY.days} days by default), and never past
the root's own expiry.""",
        examples=[
            Example("Rotate with the root key in its default place, then reload the CA:",
                    "acmeca intermediate rotate --root-password-file root-password.txt\nkill -HUP <pid>"),
            Example("Rotate with an offline root key and a five-year intermediate:",
                    "acmeca intermediate rotate --root-key /mnt/offline/root_ca_key \\\n"
                    "    --root-password-file root-password.txt --password-file password.txt --not-after 43800h"),
        ],
    )
    parser.add_argument("--root-password-file", metavar="file", required=True,
                        help="The file with the password that decrypts the root key.")
    parser.add_argument("--password-file", metavar="file",
                        help="The file with the password to encrypt the new intermediate key with. Defaults to "
                             "--root-password-file.")
    parser.add_argument("--root-key", metavar="file",
                        help="The root's private key. Defaults to root_ca_key beside ca.json's intermediate key.")
    parser.add_argument("--not-after", metavar="duration", default=DEFAULT_LIFETIME,
                        help=f"How long the new intermediate is valid, from now. Defaults to {DEFAULT_LIFETIME}. "
                             f"{DURATION}")
    parser.add_argument("--config", metavar="file",
                        help="The ca.json whose intermediate to rotate. Defaults to $ACMECA_PATH/config/ca.json.")
    parser.set_defaults(handler=rotate)
