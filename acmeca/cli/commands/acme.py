"""``acmeca acme eab list|add|remove`` (External Account Binding keys, stepca.md §4) and
``acmeca acme renewal-window`` (ask ARI clients to renew early).

Upstream's open-source CA answers these with 501; here they work. The HMAC key is printed once, at
creation, base64url without padding (what certbot's ``--eab-hmac-key`` and lego's ``--hmac`` expect). Tables
keep step's columns, in step's order.
"""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from acmeca.cli.admin_credentials import ADMIN_CREDENTIALS, add_admin_flags, admin_session
from acmeca.cli.commands.admin import all_pages
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group
from acmeca.domain.encoding import b64url_encode
from acmeca.domain.management import MAX_EAB_REFERENCE

LIST_HEADER = ("Key ID", "Provisioner", "Key (masked)", "Created At", "Bound At", "Account", "Reference")
LIST_WIDTHS = (36, 28, 16, 30, 30, 40)  # step's "%-36s%-28s%-16s%-30s%-30s%-40s%s"
ADD_HEADER = ("Key ID", "Provisioner", "Key (base64, raw url encoded)", "Reference")
ADD_WIDTHS = (36, 28, 48)  # step's "%-36s%-28s%-48s%s"


def print_columns(widths: tuple[int, ...], rows: list[tuple[str, ...]]) -> None:
    """step's fixed-width columns; a cell too wide for its column still gets one space after it."""
    for row in rows:
        cells = [cell.ljust(width) if len(cell) < width else cell + " " for cell, width in
                 zip(row[:-1], widths, strict=True)]
        print(("".join(cells) + row[-1]).rstrip())


def raw_url_key(std_base64: str) -> str:
    return b64url_encode(base64.b64decode(std_base64))


def listed_time(value: Any) -> str:
    """A listed key's ``created_at``/``bound_at`` (Go's JSON of a Timestamp) as step prints it; Go's zero
    time, which the list gives an unbound key, prints as nothing."""
    if not isinstance(value, dict):
        return ""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        seconds=int(value.get("seconds") or 0), microseconds=int(value.get("nanos") or 0) // 1000
    )
    return "" if moment.year == 1 else moment.strftime("%Y-%m-%d %H:%M:%S +00:00")


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
    print_columns(LIST_WIDTHS, [LIST_HEADER, *[
        (str(k["id"]), str(k.get("provisioner") or ""), "*****", listed_time(k.get("created_at")),
         listed_time(k.get("bound_at")), str(k.get("account") or ""), str(k.get("reference") or ""))
        for k in keys
    ]])
    return 0


async def add_key(args: argparse.Namespace) -> int:
    if args.reference and len(args.reference) > MAX_EAB_REFERENCE:
        raise CLIError(f"reference must be at most {MAX_EAB_REFERENCE} characters")
    session = await admin_session(args)
    body = {"reference": args.reference or ""}
    key = await session.call("POST", f"/admin/acme/eab/{quote(args.provisioner, safe='')}", body=body, expect=(201,))
    print_columns(ADD_WIDTHS, [
        ADD_HEADER,
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
    acme_commands = add_group(
        commands, "acme", summary="manage ACME settings of the CA", dest="acme_command",
        description=f"""\
acmeca acme manages what ACME clients see, through the admin API: the External Account Binding (EAB) keys
of ACME provisioners that require them, and the ACME Renewal Information (ARI) windows that tell clients
when to renew.

{ADMIN_CREDENTIALS}""",
        examples=[
            Example("Create an EAB key for the ACME provisioner 'acme':", "acmeca acme eab add acme my-team"),
            Example("Ask ARI clients to renew two certificates now:",
                    "acmeca acme renewal-window --now --serial 0x7e5fa29c \\\n"
                    "    --serial 308893286343609293989051180431574390766"),
        ],
    )
    eab = add_group(
        acme_commands, "eab", summary="manage External Account Binding keys", dest="eab_command",
        description=f"""\
acmeca acme eab lists, creates and deletes the External Account Binding (EAB) keys of an ACME provisioner.
An ACME provisioner with requireEAB (see 'acmeca provisioner add --require-eab') only lets a client create an
account with a key ID and HMAC key created here; other ACME provisioners refuse these commands. An EAB key
binds one account, and may carry a reference (a name of your choice) to find it by.

{ADMIN_CREDENTIALS}""",
        examples=[
            Example("Create an EAB key with a reference, and give it to certbot:",
                    "acmeca acme eab add acme my-team\n"
                    "certbot register --server https://ca.example.com/acme/acme/directory \\\n"
                    "    --eab-kid <Key ID> --eab-hmac-key <Key> --email admin@example.com"),
            Example("List the EAB keys of the provisioner 'acme':", "acmeca acme eab list acme"),
            Example("Delete an EAB key:", "acmeca acme eab remove acme kZ3nV8qT2Xg5mXj1a0ZqTf0cV3tJ1fAw"),
        ],
    )
    listing = add_command(
        eab, "list", summary="list EAB keys of an ACME provisioner",
        description="""\
acmeca acme eab list prints the EAB keys of an ACME provisioner as a table: key ID, provisioner, the key
itself masked (it is only shown when created), creation time, when it was bound, the account it is bound to,
and its reference. With a reference, only the key with that reference is listed.""",
        examples=[
            Example("List the EAB keys of the provisioner 'acme':", "acmeca acme eab list acme"),
            Example("Show the key with the reference my-team:", "acmeca acme eab list acme my-team"),
            Example("List at most 10 keys:", "acmeca acme eab list acme --limit 10"),
        ],
    )
    listing.add_argument("provisioner", help="The name of the ACME provisioner whose keys to list.")
    listing.add_argument("reference", nargs="?", help="Only list the key with this reference.")
    listing.add_argument("--limit", type=int, metavar="number", help="List at most this many keys.")
    listing.set_defaults(handler=list_keys)
    add = add_command(
        eab, "add", summary="create an EAB key (its HMAC key is shown once)",
        description=f"""\
acmeca acme eab add creates an EAB key for an ACME provisioner that requires EAB, and prints its key ID and
HMAC key. The HMAC key is shown only this once, base64url without padding, as certbot's --eab-hmac-key and
lego's --hmac take it; keep it secret until the ACME client has used it. The reference, at most
{MAX_EAB_REFERENCE} characters, is a name to find the key by later.""",
        examples=[
            Example("Create an EAB key for the provisioner 'acme':", "acmeca acme eab add acme"),
            Example("Create an EAB key with the reference my-team:", "acmeca acme eab add acme my-team"),
        ],
    )
    add.add_argument("provisioner", help="The name of the ACME provisioner the key is for.")
    add.add_argument("reference", nargs="?",
                     help=f"A reference for the key, to find it by later (at most {MAX_EAB_REFERENCE} characters).")
    add.set_defaults(handler=add_key)
    remove = add_command(
        eab, "remove", summary="delete an EAB key",
        description="""\
acmeca acme eab remove deletes an EAB key of an ACME provisioner, by its key ID (as 'acmeca acme eab list'
shows it). An unused key can then no longer create an account; an account already bound with it is not
affected.""",
        examples=[
            Example("Delete an EAB key:", "acmeca acme eab remove acme kZ3nV8qT2Xg5mXj1a0ZqTf0cV3tJ1fAw"),
            Example("Find a key's ID by its reference, then delete it:",
                    "acmeca acme eab list acme my-team\nacmeca acme eab remove acme kZ3nV8qT2Xg5mXj1a0ZqTf0cV3tJ1fAw"),
        ],
    )
    remove.add_argument("provisioner", help="The name of the ACME provisioner the key belongs to.")
    remove.add_argument("key_id", metavar="key-id", help="The ID of the key to delete.")
    remove.set_defaults(handler=remove_key)
    window = add_command(
        acme_commands, "renewal-window", summary="ask ARI clients to renew certificates now",
        description="""\
acmeca acme renewal-window moves the ACME Renewal Information (ARI) window of certificates to now, so ACME
clients that follow ARI renew them at their next poll: after a key compromise, or when an intermediate must
be replaced. It applies to the certificates given with --serial, or to every certificate of the
intermediate given with --issuer; only certificates that are issued, unexpired and not revoked are moved.
--now is required, to say that the window moves to now. The command prints how many certificates were
moved, and their serial numbers.""",
        examples=[
            Example("Ask ARI clients to renew two certificates now:",
                    "acmeca acme renewal-window --now --serial 0x7e5fa29c \\\n"
                    "    --serial 308893286343609293989051180431574390766"),
            Example("Ask for every certificate of an intermediate to be renewed now:",
                    "acmeca acme renewal-window --now \\\n"
                    "    --issuer 7e:5f:a2:9c:13:44:0b:d1:88:02:ff:60:2a:11:c4:9d:01:02:03:04"),
        ],
    )
    window.add_argument("--serial", action="append", default=[], metavar="serial-number",
                        help="The serial number of a certificate, in decimal or 0x-prefixed hex; repeat the flag "
                             "for several (up to 1000). Not with --issuer.")
    window.add_argument("--issuer", metavar="ski",
                        help="The subject key identifier of an intermediate, in hex (colons allowed): every live "
                             "certificate it issued. Not with --serial.")
    window.add_argument("--now", action="store_true", help="Move the suggested renewal window to now (required).")
    window.set_defaults(handler=renewal_window)
    for parser in (listing, add, remove, window):
        add_admin_flags(parser)
