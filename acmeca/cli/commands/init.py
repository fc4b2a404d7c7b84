"""``acmeca init``: create a PKI and a ca.json as ``step ca init`` does, interchangeable with step's files."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file, write_json
from acmeca.cli.help import CURVE, KEY_SIZE, KEY_TYPE, Example, add_command
from acmeca.cli.passwords import prompt_password
from acmeca.cli.stepca_import import import_step_ca
from acmeca.config import (
    DEFAULT_ADMIN_SUBJECT,
    CAConfig,
    ConfigError,
    ProvisionerConfig,
    acmeca_path,
    parse_config,
    parse_provisioner,
)
from acmeca.config.sections import TLSOptions
from acmeca.crypto import certs
from acmeca.crypto.jose import encrypt_private_jwk, generate_jwk, public_part
from acmeca.crypto.keys import KeySpec, generate_key, save_private_key, write_private_file
from acmeca.domain.addresses import parse_listen_address
from acmeca.domain.errors import Malformed
from acmeca.engine.pki import create_ca_certificates


@dataclass(frozen=True)
class InitAnswers:
    name: str
    dns_names: tuple[str, ...]
    address: str
    provisioner: str
    password: bytes
    provisioner_password: bytes
    generated_password: bool


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(prompt: str, default: str | None) -> str:
    suffix = f" [{default}]" if default else ""
    answer = input(f"✔ {prompt}{suffix}: ").strip()
    return answer or (default or "")


def _collect(args: argparse.Namespace) -> InitAnswers:
    interactive = _interactive()
    missing = [
        flag for flag, value in (("--name", args.name), ("--dns", args.dns), ("--address", args.address),
                                 ("--provisioner", args.provisioner))
        if not value
    ]
    if missing and not interactive:
        raise CLIError(f"missing {', '.join(missing)}: pass the flags, or run init in a terminal to be prompted")
    name = args.name or _ask("What would you like to name your new PKI? (e.g. Smallstep)", None)
    dns = args.dns or [
        d.strip() for d in _ask("What DNS names or IP addresses will clients use to reach your CA?",
                                "localhost").split(",") if d.strip()
    ]
    address = args.address or _ask("What IP and port will your new CA bind to?", ":443")
    provisioner = args.provisioner or _ask("What would you like to name the CA's first provisioner?", "admin")
    if not name or not dns or not provisioner:
        raise CLIError("name, DNS names and provisioner name must not be empty")
    try:
        parse_listen_address(address)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    generated = False
    if args.password_file:
        password = read_password_file(args.password_file)
    elif interactive:
        typed = prompt_password("Choose a password for your CA keys and first provisioner.\n"
                                "✔ [leave empty and we'll generate one]: ",
                                what="a password for the CA keys", flag="--password-file")
        password, generated = (typed, False) if typed else (secrets.token_urlsafe(24).encode(), True)
    else:
        raise CLIError("missing --password-file: init needs a password for the CA keys")
    provisioner_password = (
        read_password_file(args.provisioner_password_file) if args.provisioner_password_file else password
    )
    return InitAnswers(name, tuple(dns), address, provisioner, password, provisioner_password, generated)


def _provisioners(answers: InitAnswers, acme: bool) -> list[dict[str, Any]]:
    private = generate_jwk("EC", "P-256")
    jwk_provisioner = {
        "type": "JWK",
        "name": answers.provisioner,
        "key": public_part(private),
        "encryptedKey": encrypt_private_jwk(private, answers.provisioner_password),
    }
    made: list[dict[str, Any]] = [jwk_provisioner]
    if acme:
        made.append({"type": "ACME", "name": "acme"})
    return made


def _ca_json(base: Path, answers: InitAnswers, listed: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "root": str(base / "certs" / "root_ca.crt"),
        "federatedRoots": None,
        "crt": str(base / "certs" / "intermediate_ca.crt"),
        "key": str(base / "secrets" / "intermediate_ca_key"),
        "address": answers.address,
        "insecureAddress": "",
        "dnsNames": list(answers.dns_names),
        "logger": {"format": "text"},
        "db": {"type": "sqlite", "dataSource": str(base / "db" / "acmeca.db")},
        "authority": {"provisioners": listed, "enableAdmin": False},
        "tls": _tls_document(TLSOptions()),
        "crl": {"enabled": True, "generateOnRevoke": True},
    }


def _configuration(
    args: argparse.Namespace, answers: InitAnswers, base: Path, ca_json_path: Path, admin_subject: str
) -> tuple[dict[str, Any], CAConfig, list[ProvisionerConfig]]:
    """ca.json, parsed, and with remote management the provisioners that go to the database instead of it."""
    documents = _provisioners(answers, args.acme)
    document = _ca_json(base, answers, documents)
    if args.remote_management:  # as step writes it: no provisioners in ca.json
        document["authority"] = {"enableAdmin": True, "adminSubject": admin_subject}
    config = parse_config(document, path=ca_json_path)  # init never writes a ca.json that serve would refuse
    return document, config, [_parsed(d, config) for d in documents] if args.remote_management else []


def _parsed(document: dict[str, Any], config: CAConfig) -> ProvisionerConfig:
    """The typed parser the admin API validates with and the catalog reads stored rows through."""
    try:
        return parse_provisioner(document, authority_claims=config.authority.claims,
                                 where=f"provisioner {document['name']}")
    except ConfigError as exc:  # a bug if it happens: init builds these documents itself
        raise CLIError(str(exc)) from None


def _tls_document(tls: TLSOptions) -> dict[str, Any]:
    """step's init writes the TLS defaults out in full; so do we, from the same defaults the loader uses."""
    return {"cipherSuites": list(tls.cipher_suites), "minVersion": tls.min_version, "maxVersion": tls.max_version,
            "renegotiation": tls.renegotiation}


def _ca_url(answers: InitAnswers) -> str:
    _, port = parse_listen_address(answers.address)
    host = answers.dns_names[0]
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}" + ("" if port == 443 else f":{port}")


def init(args: argparse.Namespace) -> int:
    if args.from_step_ca:
        return import_step_ca(args)
    base = acmeca_path().absolute()
    ca_json_path = base / "config" / "ca.json"
    if ca_json_path.exists() and not args.force:
        raise CLIError(f"{ca_json_path} already exists; use --force to overwrite the existing PKI")
    if args.admin_subject and not args.remote_management:
        raise CLIError("--admin-subject needs --remote-management")
    if args.deployment_type != "standalone":
        raise CLIError(f"deployment type {args.deployment_type!r} is not supported (use standalone)")
    try:
        spec = KeySpec.parse(args.kty, args.curve, args.size)
    except Malformed as exc:
        raise CLIError(exc.detail) from None
    answers = _collect(args)
    admin_subject = args.admin_subject or DEFAULT_ADMIN_SUBJECT
    document, config, stored = _configuration(args, answers, base, ca_json_path, admin_subject)
    for folder in ("certs", "secrets", "config", "db"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    os.chmod(base / "secrets", 0o700)
    os.chmod(base / "db", 0o700)
    if args.remote_management:
        from acmeca.cli import init_database  # the store's imports only for the init that writes to it

        asyncio.run(init_database.refuse_used_database(config))

    print("Generating root certificate... ", end="", flush=True)
    root_key, intermediate_key = generate_key(spec), generate_key(spec)
    pki = create_ca_certificates(answers.name, root_key, intermediate_key, now=datetime.now(UTC))
    paths = {
        "root": base / "certs" / "root_ca.crt", "root_key": base / "secrets" / "root_ca_key",
        "intermediate": base / "certs" / "intermediate_ca.crt",
        "intermediate_key": base / "secrets" / "intermediate_ca_key",
    }
    write_private_file(paths["root"], certs.to_pem(pki.root).encode())
    os.chmod(paths["root"], 0o644)
    save_private_key(paths["root_key"], root_key, answers.password)
    print("done!")
    print("Generating intermediate certificate... ", end="", flush=True)
    write_private_file(paths["intermediate"], certs.to_pem(pki.intermediate).encode())
    os.chmod(paths["intermediate"], 0o644)
    save_private_key(paths["intermediate_key"], intermediate_key, answers.password)
    print("done!")

    fingerprint = certs.sha256_fingerprint(pki.root)
    write_json(ca_json_path, document, private=True)
    if args.remote_management:
        asyncio.run(init_database.store_management(config, stored, admin_subject))
    defaults_path = base / "config" / "defaults.json"
    write_json(defaults_path, {
        "ca-url": _ca_url(answers), "ca-config": str(ca_json_path), "fingerprint": fingerprint,
        "root": str(paths["root"]),
    })
    print()
    if answers.generated_password:
        print(f"✔ Password: {answers.password.decode()}")
    print(f"✔ Root certificate: {paths['root']}")
    print(f"✔ Root private key: {paths['root_key']}")
    print(f"✔ Root fingerprint: {fingerprint}")
    print(f"✔ Intermediate certificate: {paths['intermediate']}")
    print(f"✔ Intermediate private key: {paths['intermediate_key']}")
    print(f"✔ Database folder: {base / 'db'}")
    print(f"✔ Default configuration: {defaults_path}")
    print(f"✔ Certificate Authority configuration: {ca_json_path}")
    if args.remote_management:
        print(f"✔ Admin provisioner: {answers.provisioner} (JWK)")
        print(f"✔ Super admin subject: {admin_subject}")
    print()
    print("Your PKI is ready to go. To generate certificates for individual services see 'acmeca certificate --help'.")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        commands, "init", summary="initialize the CA PKI",
        description="""\
acmeca init creates a public key infrastructure for the CA in $ACMECA_PATH (default ~/.acmeca), laid out
as 'step ca init' does: a root and an intermediate certificate with their keys, encrypted with the
password, a ca.json with a first JWK provisioner, and a defaults.json for the client commands.

    certs/             root_ca.crt, intermediate_ca.crt
    secrets/ (0700)    root_ca_key, intermediate_ca_key
    config/            ca.json (0600), defaults.json
    db/ (0700)         the SQLite database

In a terminal, init asks for the name, DNS names, address and provisioner name not given as flags, and for
a password (left empty, one is generated and printed). Elsewhere those flags and --password-file are
required. The first provisioner's key is encrypted with --provisioner-password-file, or with the same
password.

ca.json is checked with the same rules as 'acmeca serve' before it is written. An existing ca.json is only
replaced with --force. init prints the root certificate's fingerprint, which 'acmeca bootstrap' needs on
other machines.""",
        examples=[
            Example("Initialize a PKI, answering the questions in the terminal:", "acmeca init"),
            Example("Adopt the step-ca in /etc/step-ca, keeping its root, intermediate and provisioners:",
                    "acmeca init --from-step-ca /etc/step-ca --password-file password.txt"),
            Example("Initialize a PKI without questions, for a CA reachable as ca.example.com and 10.0.0.1:",
                    "acmeca init --name Example --dns ca.example.com --dns 10.0.0.1 --address :443 \\\n"
                    "    --provisioner admin@example.com --password-file password.txt"),
            Example("Initialize a PKI with RSA keys, an ACME provisioner and the admin API:",
                    "acmeca init --name Example --dns ca.example.com --address :8443 --provisioner admin \\\n"
                    "    --password-file password.txt --kty RSA --size 3072 --acme --remote-management"),
        ],
    )
    parser.add_argument("--name",
                        help="The name of the new PKI: the organization of the CA certificates, whose common "
                             "names are '<name> Root CA' and '<name> Intermediate CA'.")
    parser.add_argument("--dns", action="append", metavar="name",
                        help="A DNS name or IP address clients use to reach the CA; repeat the flag for several. "
                             "The first one makes the CA URL in defaults.json.")
    parser.add_argument("--address", help="The address the CA listens on, e.g. :443 or 127.0.0.1:8443.")
    parser.add_argument("--provisioner", metavar="name", help="The name of the first (JWK) provisioner.")
    parser.add_argument("--password-file", metavar="file",
                        help="The file with the password that encrypts the CA keys (trailing whitespace is "
                             "ignored).")
    parser.add_argument("--provisioner-password-file", metavar="file",
                        help="The file with the password that encrypts the first provisioner's key. Defaults to "
                             "the CA keys' password.")
    parser.add_argument("--acme", action="store_true", help="Also add an ACME provisioner named 'acme'.")
    parser.add_argument("--kty", default="EC", metavar="type",
                        help=KEY_TYPE.replace("of key to generate", "of the CA keys"))
    parser.add_argument("--curve", "--crv", dest="curve", metavar="curve", help=CURVE)
    parser.add_argument("--size", type=int, metavar="bits", help=KEY_SIZE)
    parser.add_argument("--deployment-type", default="standalone", metavar="name",
                        help="The deployment type, as in step. Only standalone (the default) is supported.")
    parser.add_argument("-f", "--force", action="store_true", help="Replace an existing PKI and ca.json.")
    parser.add_argument("--remote-management", action="store_true",
                        help="Enable the admin API (admins, provisioners, policies, EAB keys); the CA creates "
                             "the first super admin when it first starts.")
    parser.add_argument("--admin-subject", "--admin-name", dest="admin_subject", metavar="subject",
                        help="The subject of the first super admin (default 'step'). Needs --remote-management.")
    parser.add_argument("--from-step-ca", metavar="steppath",
                        help="Adopt the existing step-ca in steppath instead of creating a PKI: its root and "
                             "intermediate certificates and keys are copied as they are (--password-file "
                             "decrypts the intermediate key to check it), and its ca.json keeps its provisioners, "
                             "claims, policy, address, DNS names and TLS options, with acmeca's SQLite database "
                             "in place of step-ca's. See docs/migrating-from-step-ca.md.")
    parser.set_defaults(handler=init)
