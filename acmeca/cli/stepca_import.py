"""``acmeca init --from-step-ca STEPPATH``: adopt an existing step-ca, its PKI copied byte for byte, not re-issued.

The root and intermediate certificates and keys are copied into acmeca's layout; ca.json keeps step-ca's
provisioners (JWK keys with their ``encryptedKey``, so ``step ca token`` keeps working), claims, policy,
address, DNS names and TLS options. step-ca's database (badger, bbolt, or its key/value tables in MySQL or
PostgreSQL) cannot be read and is replaced by acmeca's SQLite file. Everything is checked before anything is
written: the files are assembled in a staging folder next to ``$ACMECA_PATH`` and moved into place only when
the new ca.json loads.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file, write_json
from acmeca.cli.passwords import prompt_password
from acmeca.config import CAConfig, ConfigError, acmeca_path, load_config, parse_config
from acmeca.crypto import certs
from acmeca.crypto.keys import WrongPassword, write_private_file
from acmeca.domain.addresses import parse_listen_address
from acmeca.domain.errors import Malformed
from acmeca.engine.trust import load_signing_authority

# A key that names a KMS (pkcs11:..., awskms:..., yubikey:...) rather than a file; one letter is a Windows drive.
_KMS_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
# init's flags that describe a new PKI; with --from-step-ca the PKI is step-ca's.
_NEW_PKI_FLAGS = (
    ("name", "--name"), ("dns", "--dns"), ("address", "--address"), ("provisioner", "--provisioner"),
    ("provisioner_password_file", "--provisioner-password-file"), ("acme", "--acme"), ("curve", "--curve"),
    ("size", "--size"), ("remote_management", "--remote-management"), ("admin_subject", "--admin-subject"),
)
ROOT_KEY = "secrets/root_ca_key"


@dataclass
class Plan:
    """What lands where under ``$ACMECA_PATH``: relative destination -> source file, and what to tell the user."""

    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def import_step_ca(args: argparse.Namespace) -> int:
    source = Path(args.from_step_ca).expanduser().absolute()
    base = acmeca_path().absolute()
    _refuse_new_pki_flags(args)
    ca_json_path = base / "config" / "ca.json"
    if ca_json_path.exists() and not args.force:
        raise CLIError(f"{ca_json_path} already exists; use --force to overwrite the existing PKI")
    if source == base or source in base.parents or base in source.parents:
        raise CLIError(f"cannot import {source} into {base}: use an ACMECA_PATH outside the step-ca folder")
    document = _read_step_document(source)
    _refuse_unsupported(source, document)
    plan = _plan(source, document)
    _check_keys(source, plan, _password(args, document))
    new_document = _new_ca_json(base, document, plan)
    try:  # nothing is written unless acmeca serve would load it
        parse_config(copy.deepcopy(new_document), path=ca_json_path)
    except ConfigError as exc:
        raise CLIError(f"cannot import {source}: its ca.json does not load in acmeca: {exc}") from None
    defaults = _defaults(source, base, new_document, plan)
    config = _install(base, plan, new_document, defaults)
    _report(source, base, document, plan, config, defaults["fingerprint"])
    return 0


def _refuse_new_pki_flags(args: argparse.Namespace) -> None:
    given = [flag for attribute, flag in _NEW_PKI_FLAGS if getattr(args, attribute, None)]
    if getattr(args, "kty", "EC") != "EC":
        given.append("--kty")
    if given:
        raise CLIError(f"--from-step-ca takes the PKI and ca.json from step-ca; it cannot be combined with "
                       f"{', '.join(given)}")


def _read_step_document(source: Path) -> dict[str, Any]:
    path = source / "config" / "ca.json"
    if not source.is_dir():
        raise CLIError(f"{source} is not a folder (give the step-ca's STEPPATH, e.g. ~/.step)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CLIError(f"{source} is not a step-ca: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise CLIError(f"{path} must hold a JSON object")
    return document


def _refuse_unsupported(source: Path, document: dict[str, Any]) -> None:
    kms = document.get("kms")
    if kms:
        kind = kms.get("type", "?") if isinstance(kms, dict) else "?"
        raise CLIError(f"{source} keeps its keys in a KMS (kms.type {kind}): acmeca needs the keys as files, "
                       "so it cannot import this step-ca")
    key = document.get("key")
    if isinstance(key, str) and _KMS_URI.match(key):
        raise CLIError(f"{source}'s intermediate key is a KMS URI ({key}): acmeca needs the key as a file, "
                       "so it cannot import this step-ca")
    authority = document.get("authority")
    if isinstance(authority, dict) and authority.get("enableAdmin") is True:
        raise CLIError(f"{source} has remote management on (authority.enableAdmin): its provisioners live in "
                       "step-ca's database, which acmeca cannot read; export them with 'step ca provisioner "
                       "list', set enableAdmin to false, import, then add them with 'acmeca provisioner add'")


def _source_file(source: Path, value: Any, standard: str, what: str) -> Path:
    """A file ca.json names (relative to STEPPATH as step-ca reads it), else the same file in STEPPATH's layout."""
    if isinstance(value, str) and value:
        named = Path(value) if Path(value).is_absolute() else source / value
        if named.is_file():
            return named
    fallback = source / standard
    if fallback.is_file():
        return fallback
    shown = value if isinstance(value, str) and value else standard
    raise CLIError(f"{source} is not a complete step-ca: the {what} {shown} does not exist")


def _plan(source: Path, document: dict[str, Any]) -> Plan:
    plan = Plan()
    roots = document.get("root")
    root_values = roots if isinstance(roots, list) and roots else [roots]
    for index, value in enumerate(root_values):
        name = "certs/root_ca.crt" if index == 0 else f"certs/root_ca_{index + 1}.crt"
        plan.files[name] = _source_file(source, value, "certs/root_ca.crt" if index == 0 else name,
                                        "root certificate")
    federated = document.get("federatedRoots")
    for index, value in enumerate(federated if isinstance(federated, list) else []):
        name = f"certs/federated_root_{index + 1}.crt"
        plan.files[name] = _source_file(source, value, name, "federated root")
    plan.files["certs/intermediate_ca.crt"] = _source_file(
        source, document.get("crt"), "certs/intermediate_ca.crt", "intermediate certificate")
    plan.files["secrets/intermediate_ca_key"] = _source_file(
        source, document.get("key"), "secrets/intermediate_ca_key", "intermediate key")
    if (source / ROOT_KEY).is_file():
        plan.files[ROOT_KEY] = source / ROOT_KEY
    else:
        plan.notes.append(f"the root key: {source / ROOT_KEY} is not there (kept offline?), so none was copied")
    return plan


def _password(args: argparse.Namespace, document: dict[str, Any]) -> bytes | None:
    if args.password_file:
        return read_password_file(args.password_file)
    if isinstance(document.get("password"), str) and document["password"]:
        return str(document["password"]).encode()
    if sys.stdin.isatty() and sys.stdout.isatty():
        return prompt_password("Please enter the password to decrypt the step-ca's intermediate key: ",
                               what="the step-ca's password", flag="--password-file")
    return None


def _check_keys(source: Path, plan: Plan, password: bytes | None) -> None:
    """The password decrypts the intermediate key, the key is the certificate's, and a root issued it."""
    crt, key = plan.files["certs/intermediate_ca.crt"], plan.files["secrets/intermediate_ca_key"]
    try:
        authority = load_signing_authority(crt, key, password)
    except WrongPassword as exc:
        hint = "" if password else " (pass the step-ca's password with --password-file)"
        raise CLIError(f"cannot import {source}: {exc}{hint}") from None
    except (Malformed, ValueError) as exc:
        raise CLIError(f"cannot import {source}: {exc}") from None
    roots = []
    for name, path in plan.files.items():
        if name.startswith("certs/root_ca"):
            try:
                roots.extend(certs.load_pem_bundle(path.read_bytes(), source=str(path)))
            except ValueError as exc:
                raise CLIError(f"cannot import {source}: {exc}") from None
    top = authority.chain[-1]
    for root in roots:
        try:
            top.verify_directly_issued_by(root)
            return
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise CLIError(f"cannot import {source}: {crt} was not issued by the root certificate in ca.json")


def _new_ca_json(base: Path, document: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """step-ca's ca.json with acmeca's paths and database; everything else as step-ca wrote it."""
    new = copy.deepcopy(document)
    roots = [str(base / name) for name in plan.files if name.startswith("certs/root_ca")]
    new["root"] = roots if isinstance(document.get("root"), list) else roots[0]
    federated = [str(base / name) for name in plan.files if name.startswith("certs/federated_root_")]
    new["federatedRoots"] = federated or None
    new["crt"] = str(base / "certs" / "intermediate_ca.crt")
    new["key"] = str(base / "secrets" / "intermediate_ca_key")
    old_db = document.get("db")
    new["db"] = {"type": "sqlite", "dataSource": str(base / "db" / "acmeca.db")}
    if isinstance(old_db, dict) and old_db:
        plan.notes.append(f"step-ca's {old_db.get('type') or 'database'} database "
                          f"({old_db.get('dataSource') or '?'}): acmeca cannot read it; see below")
    logger = new.get("logger")
    if isinstance(logger, dict) and logger.get("format") == "common":
        logger["format"] = "text"
        plan.notes.append('logger.format "common" (Apache style): acmeca logs "text" instead')
    return new


def _defaults(source: Path, base: Path, document: dict[str, Any], plan: Plan) -> dict[str, str]:
    root = certs.load_certificate_file(plan.files["certs/root_ca.crt"])
    return {
        "ca-url": _step_ca_url(source) or _ca_url(document), "ca-config": str(base / "config" / "ca.json"),
        "fingerprint": certs.sha256_fingerprint(root), "root": str(base / "certs" / "root_ca.crt"),
    }


def _step_ca_url(source: Path) -> str | None:
    """The URL step-ca's own clients use, from its defaults.json, if it has one."""
    try:
        value = json.loads((source / "config" / "defaults.json").read_text(encoding="utf-8")).get("ca-url")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _ca_url(document: dict[str, Any]) -> str:
    _, port = parse_listen_address(str(document.get("address", "")))
    names = document.get("dnsNames") or ["localhost"]
    host = str(names[0])
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}" + ("" if port == 443 else f":{port}")


def _install(base: Path, plan: Plan, document: dict[str, Any], defaults: dict[str, str]) -> CAConfig:
    """Assemble the new home in a staging folder, load its ca.json, then move each file into place."""
    base.parent.mkdir(parents=True, exist_ok=True)
    staging = base.parent / f".{base.name}.from-step-ca.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for name, path in plan.files.items():
            write_private_file(staging / name, path.read_bytes())  # byte for byte, 0600 from the start
            if name.startswith("certs/"):
                os.chmod(staging / name, 0o644)
        write_json(staging / "config" / "ca.json", document, private=True)
        write_json(staging / "config" / "defaults.json", defaults)
        try:
            config = load_config(staging / "config" / "ca.json")
        except ConfigError as exc:
            raise CLIError(f"the imported ca.json does not load: {exc}") from None
        for folder, mode in (("certs", 0o755), ("secrets", 0o700), ("config", 0o755), ("db", 0o700)):
            (base / folder).mkdir(parents=True, exist_ok=True)
            os.chmod(base / folder, mode)
        for name in (*plan.files, "config/defaults.json", "config/ca.json"):
            os.replace(staging / name, base / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return config


def _report(
    source: Path, base: Path, document: dict[str, Any], plan: Plan, config: CAConfig, fingerprint: str
) -> None:
    print(f"Imported the step-ca in {source}: certificates and keys copied as they are, not re-issued.")
    print()
    labels = {"certs/root_ca.crt": "Root certificate", ROOT_KEY: "Root private key",
              "certs/intermediate_ca.crt": "Intermediate certificate",
              "secrets/intermediate_ca_key": "Intermediate private key"}
    for name in [n for n in labels if n in plan.files] + [n for n in plan.files if n not in labels]:
        print(f"✔ {labels.get(name, 'Certificate')}: {base / name}")
    print(f"✔ Root fingerprint: {fingerprint}")
    print(f"✔ Database: {config.db.data_source}")
    print(f"✔ Default configuration: {base / 'config' / 'defaults.json'}")
    print(f"✔ Certificate Authority configuration: {base / 'config' / 'ca.json'}")
    for provisioner in config.authority.provisioners:
        print(f"✔ Provisioner: {provisioner.name} ({provisioner.type.value})")
    print()
    print("Not imported:")
    for note in plan.notes:
        print(f"  - {note}")
    print("  - the certificates step-ca issued before the move: acmeca has no record of them, so it cannot revoke "
          "them by serial, renew them ('renew' refuses them: get a new certificate with a token or ACME) or list "
          "them; they stay valid under the same root until they expire")
    print("  - ACME accounts, orders and EAB keys, admins, and used one-time tokens (all in step-ca's database)")
    for key in config.notes.ignored_keys:
        print(f"  - {key}: a step-ca setting acmeca does not use (kept in ca.json, ignored)")
    for inactive in config.notes.inactive_provisioners:
        print(f"  - provisioner {inactive}: a type acmeca does not serve (kept in ca.json, inactive)")
    print()
    password_hint = "" if document.get("password") else " --password-file <the step-ca's password file>"
    print(f"The keys keep step-ca's password. Stop step-ca, then start the CA with 'acmeca serve{password_hint}'.")
