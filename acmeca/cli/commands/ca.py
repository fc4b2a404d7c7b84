"""health, bootstrap, root, roots, federation: the CLI as a client of the trust endpoints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cryptography import x509

from acmeca.cli.client import CAClient, pinned_context, unverified_context
from acmeca.cli.errors import CLIError
from acmeca.cli.files import defaults_path, flag_or_default, read_defaults, write_json
from acmeca.config import acmeca_path
from acmeca.crypto import certs
from acmeca.crypto.keys import write_private_file


def add_ca_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-url", help="URI of the CA (falls back to $ACMECA_CA_URL, then defaults.json)")
    parser.add_argument("--root", help="root certificate to trust (falls back to $ACMECA_ROOT, then defaults.json)")


def ca_client(args: argparse.Namespace) -> CAClient:
    ca_url = flag_or_default(getattr(args, "ca_url", None), "ca-url")
    if not ca_url:
        raise CLIError("missing --ca-url: pass it, set ACMECA_CA_URL, or run 'acmeca bootstrap'")
    root = flag_or_default(getattr(args, "root", None), "root")
    if not root:
        default_root = acmeca_path() / "certs" / "root_ca.crt"
        root = str(default_root) if default_root.exists() else None
    if not root:
        raise CLIError("missing --root: pass it, set ACMECA_ROOT, or run 'acmeca bootstrap'")
    return CAClient(ca_url, pinned_context(Path(root)))


async def health(args: argparse.Namespace) -> int:
    document = await ca_client(args).json("GET", "/health", expect=(200,))
    print(document.get("status", ""))
    return 0


def _normalise_fingerprint(value: str) -> str:
    cleaned = value.replace(":", "").replace("-", "").strip().lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise CLIError(f"fingerprint {value!r} is not a hex SHA-256 digest")
    return cleaned


async def fetch_root(ca_url: str, fingerprint: str) -> bytes:
    """GET /root/{fp} without TLS verification, then verify the digest ourselves (step's trust-on-first-use)."""
    client = CAClient(ca_url, unverified_context())
    document = await client.json("GET", f"/root/{fingerprint}", expect=(200,))
    pem = document.get("ca") if isinstance(document, dict) else None
    if not isinstance(pem, str):
        raise CLIError("the CA answered without a root certificate")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise CLIError("the CA answered with an invalid root certificate") from None
    digest = certs.sha256_fingerprint(certificate)
    if digest != fingerprint:
        raise CLIError("root certificate fingerprint does not match")
    return pem.encode()


async def bootstrap(args: argparse.Namespace) -> int:
    fingerprint = _normalise_fingerprint(args.fingerprint)
    ca_url = args.ca_url.rstrip("/")
    pem = await fetch_root(ca_url, fingerprint)
    root_path = acmeca_path() / "certs" / "root_ca.crt"
    config_path = defaults_path()
    existing_root = root_path.read_bytes() if root_path.exists() else None
    if existing_root not in (None, pem) and not args.force:
        raise CLIError(f"file {root_path} already exists; use --force to overwrite it")
    if read_defaults().get("fingerprint") not in (None, fingerprint) and not args.force:
        raise CLIError(f"file {config_path} already exists; use --force to overwrite it")
    root_path.parent.mkdir(parents=True, exist_ok=True)
    root_path.write_bytes(pem)
    print(f"The root certificate has been saved in {root_path}.")
    defaults: dict[str, Any] = {**read_defaults(), "ca-url": ca_url, "fingerprint": fingerprint, "root": str(root_path)}
    write_json(config_path, defaults)
    print(f"The authority configuration has been saved in {config_path}.")
    return 0


async def root(args: argparse.Namespace) -> int:
    ca_url = flag_or_default(args.ca_url, "ca-url")
    fingerprint = flag_or_default(args.fingerprint, "fingerprint")
    if not ca_url:
        raise CLIError("missing --ca-url")
    if not fingerprint:
        raise CLIError("missing --fingerprint")
    pem = await fetch_root(ca_url, _normalise_fingerprint(fingerprint))
    return _emit(pem, args.file, args.force, "The root certificate has been saved in {}.")


async def _bundle(args: argparse.Namespace, path: str, message: str) -> int:
    document = await ca_client(args).json("GET", path, expect=(200, 201))
    crts = document.get("crts") if isinstance(document, dict) else None
    if not isinstance(crts, list):
        raise CLIError(f"unexpected answer from {path}: {json.dumps(document)[:80]}")
    return _emit("".join(crts).encode(), args.file, args.force, message)


async def roots(args: argparse.Namespace) -> int:
    return await _bundle(args, "/roots", "The root certificate bundle has been saved in {}.")


async def federation(args: argparse.Namespace) -> int:
    return await _bundle(args, "/federation", "The federation certificate bundle has been saved in {}.")


def _emit(pem: bytes, file: str | None, force: bool, message: str) -> int:
    if not file:
        print(pem.decode(), end="")
        return 0
    path = Path(file)
    if path.exists() and not force:
        raise CLIError(f"file {path} already exists; use --force to overwrite it")
    write_private_file(path, pem)
    print(message.format(path))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("health", help="get the status of the CA")
    add_ca_flags(parser)
    parser.set_defaults(handler=health)

    parser = commands.add_parser("bootstrap", help="initialize the environment to use the CA commands")
    parser.add_argument("--ca-url", required=True)
    parser.add_argument("--fingerprint", required=True, help="SHA-256 fingerprint (hex) of the root certificate")
    parser.add_argument("-f", "--force", action="store_true")
    parser.set_defaults(handler=bootstrap)

    parser = commands.add_parser("root", help="download and validate the root certificate")
    parser.add_argument("file", nargs="?")
    parser.add_argument("--ca-url")
    parser.add_argument("--fingerprint")
    parser.add_argument("-f", "--force", action="store_true")
    parser.set_defaults(handler=root)

    for name, handler, text in (
        ("roots", roots, "download all the root certificates"),
        ("federation", federation, "download all the federated certificates"),
    ):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("file", nargs="?")
        add_ca_flags(parser)
        parser.add_argument("-f", "--force", action="store_true")
        parser.set_defaults(handler=handler)
