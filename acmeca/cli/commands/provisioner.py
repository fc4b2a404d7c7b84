"""``acmeca provisioner list|add|update|remove`` (stepca.md §4).

Like step, the CLI first probes the admin API with an unauthenticated ``GET /admin/admins``: 401 means
remote management is on and the change goes through the admin API (effective on every replica within
seconds); 404/501, or no CA to ask, means the CLI edits ``ca.json`` and tells the operator to SIGHUP.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from acmeca.admin.service import linkedca
from acmeca.admin.service.provisioner_admin import validate_document
from acmeca.cli.admin_credentials import add_admin_flags, admin_session
from acmeca.cli.commands.ca import ca_client
from acmeca.cli.errors import CLIError
from acmeca.cli.files import flag_or_default
from acmeca.cli.provisioner_flags import CHALLENGES, build_document
from acmeca.cli.tokens import ca_json_path, provisioner_documents
from acmeca.config import ConfigError, load_config, parse_config, read_document
from acmeca.domain.claims import Claims
from acmeca.domain.errors import CAError

RELOAD_HINT = (
    "Success! Your `step-ca` config has been updated. To pick up the new configuration SIGHUP "
    "(kill -1 <pid>) or restart the step-ca process."
)


async def remote_management(args: argparse.Namespace) -> bool:
    """True when the CA answers the admin API (401 to an anonymous probe)."""
    if not flag_or_default(getattr(args, "ca_url", None), "ca-url"):
        return False
    try:
        status, _, _ = await ca_client(args).request("GET", "/admin/admins")
    except CLIError:
        return False
    return status == 401


async def list_provisioners(args: argparse.Namespace) -> int:
    print(json.dumps(await provisioner_documents(args, ca_client(args)), indent=3))
    return 0


def _load_ca_json(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The document to edit; the same loader as ``serve`` refuses a broken file before anything is changed."""
    path = ca_json_path(args)
    load_config(path)
    return path, read_document(path)


def _save_ca_json(path: Path, document: dict[str, Any]) -> None:
    try:
        parse_config(document, path=path)  # never write a ca.json that serve would refuse
    except ConfigError as exc:
        raise exc.within(str(path)) from None
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=3) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    print(f"✔ CA Configuration: {path}")
    print(RELOAD_HINT)


def _checked(document: dict[str, Any]) -> dict[str, Any]:
    try:
        linkedca.to_config(linkedca.from_config("", document))  # refuses templates etc. like the server
        validate_document(document, Claims())
    except CAError as exc:
        raise CLIError(exc.detail) from None
    return document


def _local_edit(args: argparse.Namespace, action: str) -> None:
    path, config = _load_ca_json(args)
    provisioners: list[dict[str, Any]] = config.setdefault("authority", {}).setdefault("provisioners", [])
    index = next((i for i, p in enumerate(provisioners) if p.get("name") == args.name), None)
    if action == "add":
        if index is not None:
            raise CLIError(f"provisioner with name {args.name} already exists")
        provisioners.append(_checked(build_document(args, None)))
    elif index is None:
        raise CLIError(f"provisioner {args.name} not found")
    elif action == "update":
        provisioners[index] = _checked(build_document(args, provisioners[index]))
    else:
        provisioners.pop(index)
    _save_ca_json(path, config)


async def _remote_edit(args: argparse.Namespace, action: str) -> None:
    session = await admin_session(args)
    name = quote(args.name, safe="")
    if action == "remove":
        await session.call("DELETE", f"/admin/provisioners/{name}")
        return
    if action == "add":
        document = _checked(build_document(args, None))
        await session.call("POST", "/admin/provisioners", body=_linked(document), expect=(201,))
        return
    current = await session.call("GET", f"/admin/provisioners/{name}")
    document = _checked(build_document(args, linkedca.to_config(current)))
    await session.call("PUT", f"/admin/provisioners/{name}", body={**_linked(document), "id": current["id"]})


def _linked(document: dict[str, Any]) -> dict[str, Any]:
    body = linkedca.from_config("", document)
    for key in ("id", "authorityId", "createdAt"):
        body.pop(key, None)
    return body


async def _edit(args: argparse.Namespace, action: str) -> int:
    if await remote_management(args):
        await _remote_edit(args, action)
    else:
        _local_edit(args, action)
    return 0


async def add(args: argparse.Namespace) -> int:
    return await _edit(args, "add")


async def update(args: argparse.Namespace) -> int:
    return await _edit(args, "update")


async def remove(args: argparse.Namespace) -> int:
    return await _edit(args, "remove")


def _tristate(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    dest = flag.lstrip("-").replace("-", "_")
    parser.add_argument(flag, dest=dest, nargs="?", const=True, default=None,
                        type=lambda v: v.lower() in ("true", "1", "yes"), help=help_text)


def _edit_flags(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("name")
    parser.add_argument("--type", default="JWK", help="JWK (default), ACME, X5C, OIDC or K8SSA")
    parser.add_argument("--public-key", help="JWK: public key file; K8SSA: PEM public keys")
    parser.add_argument("--private-key", help="JWK: private key file to encrypt and store")
    parser.add_argument("--create", action="store_true", help="JWK: generate a new key pair")
    parser.add_argument("--password-file", help="JWK: password that encrypts the private key")
    parser.add_argument("--challenge", action="append", help=f"ACME: {', '.join(CHALLENGES)} (repeatable)")
    _tristate(parser, "--force-cn", "ACME: always set the CN")
    _tristate(parser, "--require-eab", "ACME: require External Account Binding")
    for flag in ("--client-id", "--client-secret", "--configuration-endpoint", "--tenant-id", "--listen-address"):
        parser.add_argument(flag, help="OIDC setting")
    for flag in ("--domain", "--group", "--admin", "--scope", "--auth-param"):
        parser.add_argument(flag, action="append", help="OIDC list setting (repeatable)")
    parser.add_argument("--x5c-roots", "--x5c-root", action="append", dest="x5c_roots", help="X5C: PEM roots file")
    for flag in ("--x509-min-dur", "--x509-max-dur", "--x509-default-dur"):
        parser.add_argument(flag, help="X.509 certificate duration claim (e.g. 24h)")
    for flag in ("--disable-renewal", "--allow-renewal-after-expiry", "--disable-smallstep-extensions"):
        _tristate(parser, flag, "claim")
    parser.add_argument("--x509-template", help="X.509 template file (refused until templates land)")
    parser.add_argument("--x509-template-data", help="X.509 template data file")
    if update:
        for flag in ("--remove-challenge", "--remove-domain", "--remove-group", "--remove-admin",
                     "--remove-scope", "--remove-auth-param"):
            parser.add_argument(flag, action="append", help="remove a list value (repeatable)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("provisioner", help="manage provisioners")
    sub = group.add_subparsers(dest="provisioner_command", metavar="<subcommand>", required=True)
    listing = sub.add_parser("list", help="list provisioners (JSON)")
    add_admin_flags(listing)
    listing.set_defaults(handler=list_provisioners, offline=False)
    for name, handler, help_text in (("add", add, "add a provisioner"), ("update", update, "update a provisioner"),
                                     ("remove", remove, "remove a provisioner")):
        parser = sub.add_parser(name, help=help_text)
        if name == "remove":
            parser.add_argument("name")
        else:
            _edit_flags(parser, update=name == "update")
        parser.add_argument("--ca-config", help="ca.json to edit when remote management is off")
        add_admin_flags(parser)
        parser.set_defaults(handler=handler)
