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
from acmeca.cli.admin_credentials import ADMIN_CREDENTIALS, add_admin_flags, admin_session
from acmeca.cli.commands.ca import ca_client
from acmeca.cli.errors import CLIError
from acmeca.cli.files import flag_or_default
from acmeca.cli.help import DURATION, Example, add_command, add_group
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
    # Imported here: the admin service reaches the store, which listing or removing never needs.
    from acmeca.admin.service.provisioner_admin import validate_document

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
    parser.add_argument(flag, dest=dest, nargs="?", const=True, default=None, metavar="true|false",
                        type=lambda v: v.lower() in ("true", "1", "yes"),
                        help=f"{help_text} Alone it means true; =false (any value but true, 1 or yes) means false.")


def _edit_flags(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("name", help="The name of the provisioner " + ("to update." if update else "to add; it "
                                                                       "must not exist yet."))
    parser.add_argument("--type", default="JWK",
                        help="Ignored: a provisioner keeps its type." if update else
                        "The type of provisioner, case-insensitive: JWK (the default; tokens signed with a JWK "
                        "key pair), ACME, X5C (tokens signed with a certificate under --x5c-roots), OIDC (OpenID "
                        "Connect ID tokens) or K8SSA (Kubernetes service account tokens).")
    parser.add_argument("--public-key", metavar="file",
                        help="JWK: a file with the provisioner's JWK, which "
                             + ("replaces its key" if update else "becomes its key")
                             + "; if the JWK is private, it is also stored encrypted with --password-file. K8SSA: "
                               "a PEM file with the public keys that verify the service account tokens.")
    parser.add_argument("--private-key", metavar="file",
                        help="JWK, with --public-key: a file with the private JWK to store encrypted with "
                             "--password-file, so 'acmeca token' can fetch it.")
    parser.add_argument("--create", action="store_true",
                        help="JWK: generate a new key pair, stored encrypted with --password-file. "
                             + ("Replaces the provisioner's key." if update else
                                "The default for a JWK provisioner without --public-key."))
    parser.add_argument("--password-file", metavar="file",
                        help="JWK: the file with the password that encrypts the stored private key.")
    parser.add_argument("--challenge", action="append", metavar="type",
                        help=f"ACME: a challenge type to offer, one of {', '.join(CHALLENGES)}; repeat the flag "
                             "for several" + (". They are added to the provisioner's list; one without a list "
                                              "offers http-01, dns-01 and tls-alpn-01, and then gets just these."
                                              if update else ". Without it: http-01, dns-01 and tls-alpn-01."))
    _tristate(parser, "--force-cn", "ACME: step's forceCN, recorded as given; acmeca always makes the first DNS name "
                                    "the common name of a request without one.")
    _tristate(parser, "--require-eab", "ACME: require External Account Binding to create an account.")
    kept = "kept for step's CLI login flow, not used by the CA"
    for flag, text in (("--client-id", "the OAuth client ID that ID tokens must be issued to"),
                       ("--client-secret", f"the OAuth client secret, {kept}"),
                       ("--configuration-endpoint", "the provider's .well-known/openid-configuration URL"),
                       ("--tenant-id", f"the Azure AD tenant ID, {kept}"),
                       ("--listen-address", f"the address of the local OAuth callback, {kept}")):
        parser.add_argument(flag, metavar="value", help=f"OIDC: {text}.")
    for flag, text in (("--domain", "an email domain whose users may get certificates"),
                       ("--group", "a group whose members may get certificates (the token's groups claim)"),
                       ("--admin", "the email of an admin, who may ask for any name"),
                       ("--scope", f"a scope to request, {kept}"),
                       ("--auth-param", f"an authorization request parameter, {kept}")):
        parser.add_argument(flag, action="append", metavar="value",
                            help=f"OIDC: {text}; repeat the flag for several"
                                 + (" (added to the current list)." if update else "."))
    parser.add_argument("--x5c-roots", "--x5c-root", action="append", dest="x5c_roots", metavar="file",
                        help="X5C: a PEM file with the root certificates token certificates must chain to; repeat "
                             "the flag for several files" + (" (they replace the current roots)." if update else "."))
    for flag, text in (("--x509-min-dur", "The shortest certificate lifetime this provisioner allows, e.g. 5m."),
                       ("--x509-max-dur", "The longest certificate lifetime this provisioner allows, e.g. 24h."),
                       ("--x509-default-dur", "The lifetime of certificates whose request asks for none, e.g. "
                                              "24h.")):
        parser.add_argument(flag, metavar="duration", help=f"{text} {DURATION}")
    for flag, text in (("--disable-renewal", "Refuse to renew certificates of this provisioner."),
                       ("--allow-renewal-after-expiry", "Allow expired certificates to be renewed."),
                       ("--disable-smallstep-extensions", "Leave the smallstep provisioner extension out of "
                                                          "certificates.")):
        _tristate(parser, flag, text)
    parser.add_argument("--x509-template", metavar="file",
                        help="An X.509 certificate template file. acmeca does not apply templates yet, so a "
                             "provisioner with one is refused.")
    parser.add_argument("--x509-template-data", metavar="file", help="The data file of --x509-template.")
    if update:
        for flag in ("--remove-challenge", "--remove-domain", "--remove-group", "--remove-admin",
                     "--remove-scope", "--remove-auth-param"):
            parser.add_argument(flag, action="append", metavar="value",
                                help=f"Remove this value from the --{flag.removeprefix('--remove-')} list; repeat "
                                     "the flag for several.")


_EDITING = """\
When the CA runs with remote management (its admin API answers), the change goes through the admin API and
takes effect within seconds on every replica. Otherwise the command edits ca.json (--ca-config), and the CA
must be sent SIGHUP, or restarted, to pick it up. Either way, a provisioner the CA would refuse to load is
never written."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "provisioner", summary="manage provisioners", dest="provisioner_command",
        description=f"""\
acmeca provisioner lists, adds, updates and removes the CA's provisioners. A provisioner is what a
certificate request is authorized by: JWK and X5C provisioners accept tokens signed by their keys or
certificates, OIDC and K8SSA provisioners accept tokens of an identity provider, and ACME provisioners serve
ACME clients.

{_EDITING}

{ADMIN_CREDENTIALS}""",
        examples=[
            Example("List the provisioners:", "acmeca provisioner list"),
            Example("Add a JWK provisioner with a new key pair:",
                    "acmeca provisioner add dev@example.com --password-file password.txt"),
            Example("Add an ACME provisioner that requires External Account Binding:",
                    "acmeca provisioner add acme-eab --type ACME --require-eab"),
            Example("Remove a provisioner:", "acmeca provisioner remove dev@example.com"),
        ],
    )
    listing = add_command(
        sub, "list", summary="list provisioners (JSON)",
        description="""\
acmeca provisioner list prints all the provisioners of a running CA, as the CA publishes them on its
/provisioners endpoint, as a JSON array. It needs no admin credentials: the admin flags are accepted but not
used.""",
        examples=[
            Example("List the provisioners of the CA set up by 'acmeca bootstrap':", "acmeca provisioner list"),
            Example("List the names of the ACME provisioners:",
                    "acmeca provisioner list | jq -r '.[] | select(.type == \"ACME\") | .name'"),
        ],
    )
    add_admin_flags(listing)
    listing.set_defaults(handler=list_provisioners, offline=False)

    pages = {
        "add": ("add a provisioner", f"""\
acmeca provisioner add adds a provisioner named name. --type chooses the kind (JWK by default) and the
flags marked with that type set it up; the claims flags bound the certificates it issues.

A JWK provisioner gets a new key pair unless --public-key gives its key; the private key is stored encrypted
with --password-file, so 'acmeca token' can use it.

{_EDITING}""", [
            Example("Add a JWK provisioner with a new key pair:",
                    "acmeca provisioner add dev@example.com --password-file password.txt"),
            Example("Add an ACME provisioner that only offers http-01 and dns-01:",
                    "acmeca provisioner add acme2 --type ACME --challenge http-01 --challenge dns-01"),
            Example("Add an OIDC provisioner for Google accounts of one domain:",
                    "acmeca provisioner add google --type OIDC --client-id 1087160488420.apps.googleusercontent.com "
                    "\\\n    --client-secret udTrOT3gzrO7W9fDPgZQLfYJ \\\n"
                    "    --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration \\\n"
                    "    --domain example.com"),
            Example("Add an X5C provisioner trusting the certificates under a root, for certificates up to 8h:",
                    "acmeca provisioner add x5c --type X5C --x5c-roots x5c_root.crt --x509-max-dur 8h"),
        ]),
        "update": ("update a provisioner", f"""\
acmeca provisioner update changes the provisioner named name: only the settings given as flags change, list
flags add to the current lists and --remove-* flags take values out of them. Its type cannot change.

{_EDITING}""", [
            Example("Require External Account Binding on an ACME provisioner:",
                    "acmeca provisioner update acme --require-eab"),
            Example("Give a JWK provisioner a new key pair:",
                    "acmeca provisioner update dev@example.com --create --password-file password.txt"),
            Example("Allow certificates of up to 72 hours and their renewal after expiry:",
                    "acmeca provisioner update dev@example.com --x509-max-dur 72h --allow-renewal-after-expiry"),
        ]),
        "remove": ("remove a provisioner", f"""\
acmeca provisioner remove removes the provisioner named name. Its tokens are no longer accepted, and the
certificates it issued stay valid until they expire but can no longer be renewed.

{_EDITING}""", [
            Example("Remove a provisioner:", "acmeca provisioner remove dev@example.com"),
            Example("Remove a provisioner from a given ca.json of a CA without remote management:",
                    "acmeca provisioner remove dev@example.com --ca-config /etc/acmeca/ca.json"),
        ]),
    }
    for name, handler in (("add", add), ("update", update), ("remove", remove)):
        summary, description, examples = pages[name]
        parser = add_command(sub, name, summary=summary, description=description, examples=examples)
        if name == "remove":
            parser.add_argument("name", help="The name of the provisioner to remove.")
        else:
            _edit_flags(parser, update=name == "update")
        parser.add_argument("--ca-config", metavar="file",
                            help="The ca.json to edit when the CA has no remote management. Defaults to "
                                 "$ACMECA_CA_CONFIG, then to the ca-config of defaults.json, then to "
                                 "$ACMECA_PATH/config/ca.json.")
        add_admin_flags(parser)
        parser.set_defaults(handler=handler)
