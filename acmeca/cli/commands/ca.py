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
from acmeca.cli.help import Example, add_command
from acmeca.config import acmeca_path
from acmeca.crypto import certs
from acmeca.crypto.keys import write_private_file


def add_ca_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-url", metavar="URI",
                        help="URI of the CA, e.g. https://ca.example.com. Defaults to $ACMECA_CA_URL, then to the "
                             "ca-url of $ACMECA_PATH/config/defaults.json.")
    parser.add_argument("--root", metavar="file",
                        help="The PEM file with the root certificate the CA's TLS certificate must chain to. "
                             "Defaults to $ACMECA_ROOT, then to the root of defaults.json, then to "
                             "$ACMECA_PATH/certs/root_ca.crt.")


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


FORCE_HELP = "Overwrite the output file if it already exists."
FINGERPRINT = "0d7d3834cf187726cf331c40a31aa7ef6b29ba4df601416c9788f6ee01058cf3"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        commands, "health", summary="get the status of the CA",
        description="""\
acmeca health makes a request to the /health endpoint of the CA, over TLS verified with --root, and prints
the status the CA reports: 'ok' when it is healthy. A CA that cannot be reached, whose TLS certificate
does not chain to the root, or that is not ready (it answers 503 while its database is unavailable) is an
error.""",
        examples=[
            Example("Using the flags:", "acmeca health --ca-url https://ca.example.com:9000 --root root_ca.crt"),
            Example("With the CA URL and root set by 'acmeca bootstrap' (or $ACMECA_CA_URL and $ACMECA_ROOT):",
                    "acmeca health"),
        ],
    )
    add_ca_flags(parser)
    parser.set_defaults(handler=health)

    parser = add_command(
        commands, "bootstrap", summary="initialize the environment to use the CA commands",
        description="""\
acmeca bootstrap downloads the root certificate from the CA and sets up the current environment to use it.
The download is not verified by TLS (the root is not trusted yet); instead the SHA-256 fingerprint of the
certificate received must equal --fingerprint.

The root certificate is stored in $ACMECA_PATH/certs/root_ca.crt, and $ACMECA_PATH/config/defaults.json
gets the CA URL, the fingerprint and the root certificate's path (other keys in it are kept). After that,
the other commands need no --ca-url or --root.

A different root certificate or fingerprint already stored there is only replaced with --force.""",
        examples=[
            Example("Bootstrap from a CA URL and the fingerprint 'acmeca init' printed:",
                    f"acmeca bootstrap --ca-url https://ca.example.com \\\n    --fingerprint {FINGERPRINT}"),
            Example("Bootstrap again after the CA got a new root:",
                    f"acmeca bootstrap --force --ca-url https://ca.example.com \\\n    --fingerprint {FINGERPRINT}"),
        ],
    )
    parser.add_argument("--ca-url", metavar="URI", required=True, help="URI of the CA, e.g. https://ca.example.com.")
    parser.add_argument("--fingerprint", required=True,
                        help="The SHA-256 fingerprint of the root certificate, in hex (colons or dashes between "
                             "the bytes are allowed), as 'acmeca init' prints it.")
    parser.add_argument("-f", "--force", action="store_true",
                        help="Replace a different root certificate or fingerprint already stored.")
    parser.set_defaults(handler=bootstrap)

    parser = add_command(
        commands, "root", summary="download and validate the root certificate",
        description="""\
acmeca root downloads the root certificate from the CA and validates it: the SHA-256 fingerprint of the
certificate received must equal --fingerprint. The download itself is not verified by TLS, so the command
works before any root is trusted; the fingerprint check is what makes it safe.

The certificate is written to root-file (mode 0600), or printed to standard output when root-file is
omitted.

--ca-url and --fingerprint default to $ACMECA_CA_URL and $ACMECA_FINGERPRINT, then to the values in
$ACMECA_PATH/config/defaults.json that 'acmeca bootstrap' and 'acmeca init' write.""",
        examples=[
            Example("Download the root certificate from the CA set up by 'acmeca bootstrap':",
                    "acmeca root root_ca.crt"),
            Example("Download the root certificate from a given CA:",
                    f"acmeca root root_ca.crt --ca-url https://ca.example.com:9000 \\\n"
                    f"    --fingerprint {FINGERPRINT}"),
            Example("Print the root certificate using the flags set by 'acmeca bootstrap':", "acmeca root"),
        ],
    )
    parser.add_argument("file", nargs="?", metavar="root-file",
                        help="The file to write the root certificate to (PEM). Without it, the certificate is "
                             "printed to standard output.")
    parser.add_argument("--ca-url", metavar="URI",
                        help="URI of the CA, e.g. https://ca.example.com. Defaults to $ACMECA_CA_URL, then to the "
                             "ca-url of defaults.json.")
    parser.add_argument("--fingerprint",
                        help="The SHA-256 fingerprint (hex, colons or dashes allowed) the root certificate must "
                             "have. Defaults to $ACMECA_FINGERPRINT, then to the fingerprint of defaults.json.")
    parser.add_argument("-f", "--force", action="store_true", help=FORCE_HELP)
    parser.set_defaults(handler=root)

    for name, handler, path, what, text, bundle in (
        ("roots", roots, "/roots", "root", "download all the root certificates",
         "a PEM bundle with all the root certificates of the CA"),
        ("federation", federation, "/federation", "federated", "download all the federated certificates",
         "a PEM bundle with the root certificates of the CA together with the federatedRoots of its ca.json"),
    ):
        parser = add_command(
            commands, name, summary=text,
            description=f"""\
acmeca {name} downloads, from the {path} endpoint of the CA, {bundle}. The request is made over TLS verified
with --root.

The bundle is written to {name}-file (mode 0600), or printed to standard output when {name}-file is
omitted.""",
            examples=[
                Example("Download the bundle using the flags set by 'acmeca bootstrap':",
                        f"acmeca {name} {name}.pem"),
                Example("Download the bundle with explicit flags:",
                        f"acmeca {name} {name}.pem --ca-url https://ca.example.com --root root_ca.crt"),
                Example("Print the bundle:", f"acmeca {name}"),
            ],
        )
        parser.add_argument("file", nargs="?", metavar=f"{name}-file",
                            help=f"The file to write the {what} certificates to (PEM). Without it, they are "
                                 "printed to standard output.")
        add_ca_flags(parser)
        parser.add_argument("-f", "--force", action="store_true", help=FORCE_HELP)
        parser.set_defaults(handler=handler)
