"""``acmeca acme eab list|add|remove`` (External Account Binding keys, stepca.md §4) and
``acmeca acme renewal-window`` (ask ARI clients to renew early).

Upstream's open-source CA answers these with 501; here they work. The HMAC key is printed once, at
creation, base64url without padding (what certbot's ``--eab-hmac-key`` and lego's ``--hmac`` expect).
"""

from __future__ import annotations

import argparse
import base64
from typing import Any
from urllib.parse import quote

from acmeca.admin.service.eab import MAX_REFERENCE
from acmeca.cli.admin_credentials import add_admin_flags, admin_session
from acmeca.cli.commands.admin import all_pages, print_table
from acmeca.cli.errors import CLIError
from acmeca.domain.encoding import b64url_encode

LIST_HEADER = ("Key ID", "Provisioner", "Key (masked)", "Created At", "Bound At", "Account", "Reference")
ADD_HEADER = ("Key ID", "Provisioner", "Key (base64, raw url encoded)", "Reference")


def raw_url_key(std_base64: str) -> str:
    return b64url_encode(base64.b64decode(std_base64))


async def list_keys(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    path = f"/admin/acme/eab/{quote(args.provisioner, safe='')}"
    if args.reference:
        path += f"/{quote(args.reference, safe='')}"
    keys: list[dict[str, Any]] = await all_pages(session, path, "eaks")
    if args.limit:
        keys = keys[: args.limit]
    if not keys:
        print(f"No ACME EAB keys stored for provisioner {args.provisioner}")
        return 0
    print_table(LIST_HEADER, [
        (str(k["id"]), str(k["provisioner"]), "*****", str(k.get("createdAt") or "-"), str(k.get("boundAt") or "-"),
         str(k.get("account") or "-"), str(k.get("reference") or "-"))
        for k in keys
    ])
    return 0


async def add_key(args: argparse.Namespace) -> int:
    if args.reference and len(args.reference) > MAX_REFERENCE:
        raise CLIError(f"reference must be at most {MAX_REFERENCE} characters")
    session = await admin_session(args)
    body = {"reference": args.reference or ""}
    key = await session.call("POST", f"/admin/acme/eab/{quote(args.provisioner, safe='')}", body=body, expect=(201,))
    print_table(ADD_HEADER, [
        (str(key["id"]), str(key["provisioner"]), raw_url_key(str(key["hmacKey"])), str(key.get("reference") or "")),
    ])
    return 0


async def remove_key(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    path = f"/admin/acme/eab/{quote(args.provisioner, safe='')}/{quote(args.key_id, safe='')}"
    await session.call("DELETE", path)
    print("Key was deleted successfully!")
    return 0


async def renewal_window(args: argparse.Namespace) -> int:
    """Move the ARI window of some certificates to now, so ARI clients renew at their next poll."""
    if not args.now:
        raise CLIError("say --now: the suggested window can only be moved to now")
    if bool(args.serial) == bool(args.issuer):
        raise CLIError("give --serial (repeatable) or --issuer, not both")
    body: dict[str, Any] = {"serials": args.serial} if args.serial else {"issuer": args.issuer}
    session = await admin_session(args)
    reply = await session.call("POST", "/admin/acme/renewal-info", body=body)
    count = int(reply.get("count", 0))
    print(f"Early renewal requested for {count} certificate{'s' if count != 1 else ''}.")
    for serial in reply.get("serials", []):
        print(serial)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("acme", help="manage ACME settings of the CA")
    acme_commands = group.add_subparsers(dest="acme_command", metavar="<subcommand>", required=True)
    eab = acme_commands.add_parser("eab", help="manage External Account Binding keys")
    sub = eab.add_subparsers(dest="eab_command", metavar="<subcommand>", required=True)
    listing = sub.add_parser("list", help="list EAB keys of an ACME provisioner")
    listing.add_argument("provisioner")
    listing.add_argument("reference", nargs="?")
    listing.add_argument("--limit", type=int, help="show at most this many keys")
    listing.set_defaults(handler=list_keys)
    add = sub.add_parser("add", help="create an EAB key (its HMAC key is shown once)")
    add.add_argument("provisioner")
    add.add_argument("reference", nargs="?")
    add.set_defaults(handler=add_key)
    remove = sub.add_parser("remove", help="delete an EAB key")
    remove.add_argument("provisioner")
    remove.add_argument("key_id", metavar="key-id")
    remove.set_defaults(handler=remove_key)
    window = acme_commands.add_parser("renewal-window", help="ask ARI clients to renew certificates now")
    window.add_argument("--serial", action="append", default=[], help="a certificate serial (repeatable)")
    window.add_argument("--issuer", help="every live certificate of this intermediate (SKI in hex)")
    window.add_argument("--now", action="store_true", help="move the suggested renewal window to now")
    window.set_defaults(handler=renewal_window)
    for parser in (listing, add, remove, window):
        add_admin_flags(parser)
