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

from acmeca.cli.admin_credentials import ADMIN_CREDENTIALS, AdminSession, add_admin_flags, admin_session
from acmeca.cli.client import error_message
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group

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
             "host": {"dns": "dns", "ip": "ips", "principal": "principals"}}  # linkedca's SSHHostNames


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


# Help: what each level, side and name type means, and the flags and values its examples use.
SCOPES = {  # scope -> (its policy, the same explained, the flags that name it in examples)
    "authority": ("the authority policy", "the authority policy, which every certificate the CA issues must pass",
                  ""),
    "provisioner": ("the policy of the provisioner --provisioner",
                    "the policy of one provisioner (--provisioner), which the certificates it authorizes must pass",
                    " --provisioner dev"),
    "acme": ("the policy of the EAB key --eab-key-id or --eab-key-reference of the ACME provisioner --provisioner",
             "the policy of one ACME EAB key (--provisioner with --eab-key-id or --eab-key-reference), which the "
             "certificates of accounts bound with that key must pass",
             " --provisioner acme --eab-key-reference my-team"),
}
SIDES = {
    "allow": "Once a name type has allow rules, names of that type must match one of them.",
    "deny": "A name that matches a deny rule is refused, even when an allow rule matches it too.",
}
X509_TYPES = {  # name type -> (what its values are, how a rule matches, two example values)
    "dns": ("DNS name", "A DNS rule is a name, which matches only itself, or *.example.com, which matches the "
            "names one label below example.com. An IP address or CIDR range given here is stored as an ip rule.",
            ("'*.example.com'", "internal.example.com")),
    "ip": ("IP address", "An IP rule is an address or a CIDR range (10.0.0.0/8, 2001:db8::/32).",
           ("10.0.0.0/8", "192.168.1.7")),
    "email": ("email", "An email rule is a mailbox (alice@example.com), a domain (example.com) or its subdomains "
              "(*.example.com).", ("example.com", "alice@example.com")),
    "uri": ("URI", "A URI rule is about the URI's host, written as a DNS rule (example.com or *.example.com).",
            ("'*.example.com'", "spiffe.example.com")),
    "cn": ("common name", "A common name rule is a literal name, compared case-insensitively; a common name no cn "
           "rule names is checked as the DNS name, IP address, email or URI it looks like.",
           ("'Build Agent'", "internal-service")),
}
SSH_VALUES = {"dns": "'*.example.com'", "ip": "10.0.0.0/8", "email": "alice@example.com", "principal": "ops"}
PLURALS = {"dns": "DNS names", "ip": "IP addresses", "email": "emails", "uri": "URIs", "cn": "common names",
           "principal": "principals"}
SSH_NOTE = ("SSH rules are validated and stored, in step's format, but acmeca issues no SSH certificates, so they "
            "constrain nothing yet.")
REMOVE_HELP = "Take the values out of the rules instead of adding them."


def _example(command: str, scope: str) -> str:
    """``command`` with the flags that name ``scope``'s policy, on a line of their own when long."""
    flags = SCOPES[scope][2]
    return f"{command}{flags}" if len(command + flags) <= 90 else f"{command} \\\n    {flags.strip()}"


def _register_ssh(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prog = "acmeca policy authority ssh"
    ssh = add_group(
        actions, "ssh", summary="SSH rules", dest="cert_type", metavar="<type>",
        description=f"""\
{prog} edits the SSH rules of the authority policy: allow and deny lists of names, for user certificates
(emails, principals) and for host certificates (DNS names, IP addresses, principals). {SSH_NOTE}""",
        examples=[
            Example("Allow the principal ops in SSH user certificates:", f"{prog} user allow principal ops"),
            Example("Deny a network in SSH host certificates:", f"{prog} host deny ip 10.0.0.0/8"),
        ],
    )
    for cert_type, types in SSH_TYPES.items():
        sides = add_group(
            ssh, cert_type, summary=f"SSH {cert_type} certificate rules", dest="side", metavar="<side>",
            description=f"""\
{prog} {cert_type} edits the allow and deny rules for SSH {cert_type} certificates in the authority policy,
for these name types: {", ".join(PLURALS[t] for t in types)}. {SSH_NOTE}""",
            examples=[
                Example(f"Allow {SSH_VALUES[t]} ({PLURALS[t]}) in SSH {cert_type} certificates:",
                        f"{prog} {cert_type} allow {t} {SSH_VALUES[t]}")
                for t in types
            ],
        )
        for side in ("allow", "deny"):
            kinds = add_group(
                sides, side, summary=f"{side} names", dest="name_type", metavar="<name-type>",
                description=f"""\
{prog} {cert_type} {side} adds names to (or with --remove takes them out of) the {side} rules for SSH
{cert_type} certificates in the authority policy, one subcommand per name type. {SIDES[side]} {SSH_NOTE}""",
                examples=[
                    Example(f"{side.capitalize()} {SSH_VALUES[t]} ({PLURALS[t]}):",
                            f"{prog} {cert_type} {side} {t} {SSH_VALUES[t]}")
                    for t in types
                ],
            )
            for name_type in types:
                command, value = f"{prog} {cert_type} {side} {name_type}", SSH_VALUES[name_type]
                parser = add_command(
                    kinds, name_type, summary=f"{side} {PLURALS[name_type]}",
                    description=f"""\
{command} adds the given values to the {side} rules for the {PLURALS[name_type]} of SSH {cert_type}
certificates in the authority policy (creating the policy when there is none), or with --remove takes them
out, and prints the policy as saved. {SIDES[side]} {SSH_NOTE}""",
                    examples=[
                        Example(f"{side.capitalize()} {value}:", f"{command} {value}"),
                        Example("Take it out of the rules again:", f"{command} {value} --remove"),
                    ],
                )
                parser.add_argument("values", nargs="+", metavar="value",
                                    help=f"The {PLURALS[name_type]} to add to or remove from the rules; give one "
                                         "or more.")
                parser.add_argument("--remove", action="store_true", help=REMOVE_HELP)
                parser.set_defaults(handler=ssh_rule)
                _scope_flags(parser, "authority")


def _scope_flags(parser: argparse.ArgumentParser, scope: str) -> None:
    parser.set_defaults(scope=scope)
    if scope == "provisioner":
        parser.add_argument("--provisioner", metavar="name", help="The provisioner whose policy this is (required).")
    if scope == "acme":
        parser.add_argument("--provisioner", metavar="name",
                            help="The ACME provisioner of the EAB key whose policy this is (required).")
        parser.add_argument("--eab-key-id", metavar="id",
                            help="The EAB key whose policy this is, by its key ID. This or --eab-key-reference is "
                                 "required.")
        parser.add_argument("--eab-key-reference", metavar="reference",
                            help="The EAB key whose policy this is, by its reference.")
    add_admin_flags(parser)


def _register_x509(actions: argparse._SubParsersAction[argparse.ArgumentParser], scope: str) -> None:
    prog, policy = f"acmeca policy {scope} x509", SCOPES[scope][0]
    x509 = add_group(
        actions, "x509", summary="X.509 rules", dest="x509_action", metavar="<rules>",
        description=f"""\
{prog} edits the X.509 rules of {policy}: allow and deny lists per name type (DNS names, IP addresses,
emails, URIs, common names), and whether wildcard DNS names are allowed.""",
        examples=[
            Example("Allow the names under example.com:", _example(f"{prog} allow dns '*.example.com'", scope)),
            Example("Deny a network:", _example(f"{prog} deny ip 10.0.0.0/8", scope)),
            Example("Allow wildcard DNS names:", _example(f"{prog} wildcards allow", scope)),
        ],
    )
    for side in ("allow", "deny"):
        side_parser = add_group(
            x509, side, summary=f"{side} names", dest="name_type", metavar="<name-type>",
            description=f"""\
{prog} {side} adds names to (or with --remove takes them out of) the {side} rules of {policy}, one
subcommand per name type. {SIDES[side]}""",
            examples=[
                Example(f"{side.capitalize()} {X509_TYPES[t][2][0]} ({PLURALS[t]}):",
                        _example(f"{prog} {side} {t} {X509_TYPES[t][2][0]}", scope))
                for t in ("dns", "ip", "email")
            ],
        )
        for name_type in NAME_TYPES:
            _, rule_text, (first, second) = X509_TYPES[name_type]
            command = f"{prog} {side} {name_type}"
            parser = add_command(
                side_parser, name_type, summary=f"{side} {PLURALS[name_type]}",
                description=f"""\
{command} adds the given values to the {side} rules for {PLURALS[name_type]} of {policy} (creating the
policy when there is none), or with --remove takes them out, and prints the policy as saved.

{rule_text} {SIDES[side]}""",
                examples=[
                    Example(f"{side.capitalize()} {first} and {second}:", _example(f"{command} {first} {second}",
                                                                                    scope)),
                    Example(f"Take {second} out of the rules again:", _example(f"{command} {second} --remove", scope)),
                ],
            )
            parser.add_argument("values", nargs="+", metavar="value",
                                help=f"The {X509_TYPES[name_type][0]} rules to add or remove; give one or more.")
            parser.add_argument("--remove", action="store_true", help=REMOVE_HELP)
            parser.set_defaults(handler=rule, side=side, name_type=name_type)
            _scope_flags(parser, scope)
    wild = add_group(
        x509, "wildcards", summary="allow or deny literal wildcard names", dest="side", metavar="<side>",
        description=f"""\
{prog} wildcards says whether certificates may carry wildcard DNS names (*.example.com) under {policy}.
Without allowWildcardNames, a wildcard name is refused whenever the policy has DNS rules.""",
        examples=[
            Example("Allow wildcard names:", _example(f"{prog} wildcards allow", scope)),
            Example("Deny them again:", _example(f"{prog} wildcards deny", scope)),
        ],
    )
    for side, value in (("allow", "true"), ("deny", "false")):
        parser = add_command(
            wild, side, summary=f"{side} wildcard names",
            description=f"""\
{prog} wildcards {side} sets allowWildcardNames to {value} in {policy} (creating the policy when there is
none), and prints the policy as saved.""",
            examples=[
                Example(f"{side.capitalize()} wildcard names:", _example(f"{prog} wildcards {side}", scope)),
                Example(f"{side.capitalize()} them, authenticating with an admin certificate:",
                        _example(f"{prog} wildcards {side} --admin-cert admin.crt --admin-key admin.key", scope)),
            ],
        )
        parser.set_defaults(handler=wildcards)
        _scope_flags(parser, scope)


def _register_scope(sub: argparse._SubParsersAction[argparse.ArgumentParser], scope: str) -> None:
    prog, policy, explained = f"acmeca policy {scope}", SCOPES[scope][0], SCOPES[scope][1]
    ssh = " Its SSH rules are stored but not enforced." if scope == "authority" else ""
    actions = add_group(
        sub, scope, summary=f"{scope} certificate issuance policy", dest="policy_action", metavar="<action>",
        description=f"{prog} views, removes and edits {explained}.{ssh}",
        examples=[
            Example("View the policy:", _example(f"{prog} view", scope)),
            Example("Allow the names under example.com:", _example(f"{prog} x509 allow dns '*.example.com'", scope)),
            Example("Remove the policy:", _example(f"{prog} remove", scope)),
        ],
    )
    pages = {
        "view": ("view the policy", f"""\
{prog} view prints {policy} as JSON, as the admin API returns it. It is an error when there is no such
policy."""),
        "remove": ("remove the policy", f"""\
{prog} remove deletes {policy}, and prints 'policy deleted'. Names are then no longer constrained at this
level; the other levels still apply."""),
    }
    for name, handler in (("view", view), ("remove", remove)):
        summary, description = pages[name]
        parser = add_command(
            actions, name, summary=summary, description=description,
            examples=[
                Example(f"{summary.capitalize()}:", _example(f"{prog} {name}", scope)),
                Example("Authenticate with an admin certificate:",
                        _example(f"{prog} {name} --admin-cert admin.crt --admin-key admin.key", scope)),
            ],
        )
        parser.set_defaults(handler=handler)
        _scope_flags(parser, scope)
    _register_x509(actions, scope)
    if scope == "authority":  # as step's CLI: SSH rules only at authority level
        _register_ssh(actions)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "policy", summary="manage certificate issuance policies", dest="policy_scope", metavar="<scope>",
        description=f"""\
acmeca policy views and edits the CA's certificate issuance policies through the admin API. A policy says
which names certificates may carry: allow and deny rules for DNS names, IP addresses, emails, URIs and
common names, and whether wildcard DNS names are allowed. There are three levels: the authority (every
certificate), a provisioner (the certificates it authorizes) and an ACME EAB key (the certificates of the
accounts bound with it). A certificate must pass every level that has a policy.

Within a level, with no rules every name passes. A name that matches a deny rule is refused. When a name
type has allow rules, names of that type must match one; and once there is any allow rule, names of a type
with no rules at all are refused.

Each edit reads the policy, changes one list and writes it back, then prints the policy as saved. The CA
refuses, changing nothing, a policy that is invalid, that would stop an admin from getting the certificate
they authenticate with, or, at authority level, that would forbid one of the CA's own DNS names.

{ADMIN_CREDENTIALS}""",
        examples=[
            Example("Only allow certificates for names under example.com, and the CA's own name:",
                    "acmeca policy authority x509 allow dns '*.example.com' ca.example.com"),
            Example("Deny a network to the certificates of the provisioner dev:",
                    "acmeca policy provisioner x509 deny ip 10.0.0.0/8 --provisioner dev"),
            Example("View the authority policy:", "acmeca policy authority view"),
        ],
    )
    for scope in ("authority", "provisioner", "acme"):
        _register_scope(sub, scope)
