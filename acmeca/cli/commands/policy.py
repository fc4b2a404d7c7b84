"""``acmeca policy authority|provisioner|acme ...``: issuance policies through the admin API (stepca.md §4).

Every edit is read-modify-write: GET the policy (absent means empty), change one rule, then POST (new) or
PUT (existing). The server validates the result and refuses policies that would lock out an admin.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from typing import Any
from urllib.parse import quote

from acmeca.cli.admin_credentials import AdminSession, add_admin_flags, admin_session
from acmeca.cli.client import error_message
from acmeca.cli.errors import CLIError

NAME_TYPES = {"dns": "dns", "ip": "ips", "email": "emails", "uri": "uris", "cn": "commonNames"}


def policy_path(args: argparse.Namespace) -> str:
    if args.scope == "authority":
        return "/admin/policy"
    if not args.provisioner:
        raise CLIError(f"--provisioner is required for {args.scope} policies")
    provisioner = quote(args.provisioner, safe="")
    if args.scope == "provisioner":
        return f"/admin/provisioners/{provisioner}/policy"
    if args.eab_key_id:
        return f"/admin/acme/policy/{provisioner}/key/{quote(args.eab_key_id, safe='')}"
    if args.eab_key_reference:
        return f"/admin/acme/policy/{provisioner}/reference/{quote(args.eab_key_reference, safe='')}"
    raise CLIError("--eab-key-id or --eab-key-reference is required for acme policies")


async def _current(session: AdminSession, path: str) -> dict[str, Any] | None:
    status, data = await session.raw("GET", path)
    if status == 404:
        return None
    if status != 200:
        raise CLIError(error_message(status, data))
    document: dict[str, Any] = json.loads(data)
    return document


def _print(document: Any) -> None:
    print(json.dumps(document, indent=3))


async def view(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    document = await _current(session, policy_path(args))
    if document is None:
        raise CLIError("certificate issuance policy does not exist")
    _print(document)
    return 0


async def remove(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    await session.call("DELETE", policy_path(args))
    print("policy deleted")
    return 0


def _rule_type(name_type: str, value: str) -> str:
    """An address or CIDR given as a dns rule is an ip rule: the CA's own dnsNames often hold both kinds,
    and a policy must allow both at once or it would be refused for forbidding the CA's own names."""
    if name_type == "dns":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "dns"
        return "ip"
    return name_type


def edit_rules(document: dict[str, Any], side: str, name_type: str, values: list[str], *, remove: bool) -> None:
    rules = document.setdefault("x509", {}).setdefault(side, {})
    for value in values:
        key = NAME_TYPES[_rule_type(name_type, value)]
        current: list[str] = list(rules.get(key) or [])
        if remove and value in current:
            current.remove(value)
        elif not remove and value not in current:
            current.append(value)
        rules[key] = current


async def _save(session: AdminSession, path: str, existing: bool, document: dict[str, Any]) -> None:
    saved = await session.call("PUT" if existing else "POST", path, body=document)
    _print(saved)


async def rule(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    path = policy_path(args)
    current = await _current(session, path)
    document = current or {}
    edit_rules(document, args.side, args.name_type, args.values, remove=args.remove)
    await _save(session, path, current is not None, document)
    return 0


async def wildcards(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    path = policy_path(args)
    current = await _current(session, path)
    document = current or {}
    document.setdefault("x509", {})["allowWildcardNames"] = args.side == "allow"
    await _save(session, path, current is not None, document)
    return 0


SSH_TYPES = {"user": {"email": "emails", "principal": "principals"},
             "host": {"dns": "dns", "ip": "ips", "email": "emails", "principal": "principals"}}


async def ssh_rule(args: argparse.Namespace) -> int:
    """SSH rules are stored and validated (no SSH CA issues under them yet), with step's CLI shape."""
    session = await admin_session(args)
    path = policy_path(args)
    current = await _current(session, path)
    document = current or {}
    rules = document.setdefault("ssh", {}).setdefault(args.cert_type, {}).setdefault(args.side, {})
    key = SSH_TYPES[args.cert_type][args.name_type]
    values: list[str] = list(rules.get(key) or [])
    for value in args.values:
        if args.remove and value in values:
            values.remove(value)
        elif not args.remove and value not in values:
            values.append(value)
    rules[key] = values
    await _save(session, path, current is not None, document)
    return 0


def _register_ssh(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ssh = actions.add_parser("ssh", help="SSH rules").add_subparsers(dest="cert_type", required=True)
    for cert_type, types in SSH_TYPES.items():
        sides = ssh.add_parser(cert_type, help=f"SSH {cert_type} certificate rules").add_subparsers(
            dest="side", required=True
        )
        for side in ("allow", "deny"):
            kinds = sides.add_parser(side, help=f"{side} names").add_subparsers(dest="name_type", required=True)
            for name_type in types:
                parser = kinds.add_parser(name_type, help=f"{side} {name_type} names")
                parser.add_argument("values", nargs="+", metavar="value")
                parser.add_argument("--remove", action="store_true", help="remove the value(s) instead of adding")
                parser.set_defaults(handler=ssh_rule)
                _scope_flags(parser, "authority")


def _scope_flags(parser: argparse.ArgumentParser, scope: str) -> None:
    parser.set_defaults(scope=scope)
    if scope != "authority":
        parser.add_argument("--provisioner", help="the provisioner the policy belongs to")
    if scope == "acme":
        parser.add_argument("--eab-key-id", help="the ACME EAB key id")
        parser.add_argument("--eab-key-reference", help="the ACME EAB key reference")
    add_admin_flags(parser)


def _register_scope(sub: argparse._SubParsersAction[argparse.ArgumentParser], scope: str) -> None:
    group = sub.add_parser(scope, help=f"{scope} certificate issuance policy")
    actions = group.add_subparsers(dest="policy_action", metavar="<action>", required=True)
    for name, handler in (("view", view), ("remove", remove)):
        parser = actions.add_parser(name, help=f"{name} the policy")
        parser.set_defaults(handler=handler)
        _scope_flags(parser, scope)
    x509 = actions.add_parser("x509", help="X.509 rules").add_subparsers(dest="x509_action", required=True)
    for side in ("allow", "deny"):
        side_parser = x509.add_parser(side, help=f"{side} names").add_subparsers(dest="name_type", required=True)
        for name_type in NAME_TYPES:
            parser = side_parser.add_parser(name_type, help=f"{side} {name_type} names")
            parser.add_argument("values", nargs="+", metavar="value")
            parser.add_argument("--remove", action="store_true", help="remove the value(s) instead of adding")
            parser.set_defaults(handler=rule, side=side, name_type=name_type)
            _scope_flags(parser, scope)
    wild = x509.add_parser("wildcards", help="allow or deny literal wildcard names").add_subparsers(
        dest="side", required=True
    )
    for side in ("allow", "deny"):
        parser = wild.add_parser(side, help=f"{side} wildcard names")
        parser.set_defaults(handler=wildcards)
        _scope_flags(parser, scope)
    if scope == "authority":  # as step's CLI: SSH rules only at authority level
        _register_ssh(actions)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("policy", help="manage certificate issuance policies")
    sub = group.add_subparsers(dest="policy_scope", metavar="<scope>", required=True)
    for scope in ("authority", "provisioner", "acme"):
        _register_scope(sub, scope)
