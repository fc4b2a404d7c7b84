"""``acmeca admin list|add|update|remove``: administrators of the remote-management API (stepca.md §4)."""

from __future__ import annotations

import argparse
from typing import Any

from acmeca.cli.admin_credentials import ADMIN_CREDENTIALS, AdminSession, add_admin_flags, admin_session
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group

HEADER = ("SUBJECT", "PROVISIONER", "TYPE")


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Tab-aligned columns, as step prints with a tabwriter."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


async def all_pages(session: AdminSession, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await session.call("GET", f"{path}?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        items.extend(page.get(key) or [])
        cursor = page.get("nextCursor") or ""
        if not cursor:
            return items


async def _provisioner_types(session: AdminSession) -> dict[str, tuple[str, str]]:
    """provisioner id -> (name, type) for the table's ``name (TYPE)`` column."""
    found: dict[str, tuple[str, str]] = {}
    for name in {p.get("name") for p in await all_pages(session, "/admin/provisioners", "provisioners")}:
        detail = await session.call("GET", f"/admin/provisioners/{name}")
        found[str(detail["id"])] = (str(detail["name"]), str(detail["type"]))
    return found


def _provisioner_id(admin: dict[str, Any]) -> str:
    """Admin objects come camelCase (protojson) or, from the list, snake_case with a numeric type."""
    return str(admin.get("provisionerId") or admin.get("provisioner_id") or "")


def _type(admin: dict[str, Any]) -> str:
    """The list's numeric type or the protojson name; protojson leaves the zero value (UNKNOWN) out."""
    value = admin.get("type", 0)
    return {0: "UNKNOWN", 1: "ADMIN", 2: "SUPER_ADMIN"}.get(value, str(value))


def _row(admin: dict[str, Any], provisioners: dict[str, tuple[str, str]]) -> tuple[str, str, str]:
    name, kind = provisioners.get(_provisioner_id(admin), ("?", "?"))
    return str(admin["subject"]), f"{name} ({kind})", _type(admin)


async def list_admins(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    provisioners = await _provisioner_types(session)
    admins = await all_pages(session, "/admin/admins", "admins")
    if args.super:
        admins = [a for a in admins if _type(a) == "SUPER_ADMIN"]
    if args.provisioner:
        admins = [a for a in admins if provisioners.get(_provisioner_id(a), ("",))[0] == args.provisioner]
    print_table(HEADER, [_row(a, provisioners) for a in admins])
    return 0


async def add_admin(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    body = {"subject": args.subject, "provisioner": args.provisioner_name, "type": 2 if args.super else 1}
    created = await session.call("POST", "/admin/admins", body=body, expect=(201,))
    print_table(HEADER, [_row(created, await _provisioner_types(session))])
    return 0


async def _find(session: AdminSession, subject: str, provisioner: str | None) -> dict[str, Any]:
    provisioners = await _provisioner_types(session)
    matches = [
        a for a in await all_pages(session, "/admin/admins", "admins")
        if a.get("subject") == subject
        and (not provisioner or provisioners.get(_provisioner_id(a), ("",))[0] == provisioner)
    ]
    if not matches:
        raise CLIError(f"admin {subject} not found")
    if len(matches) > 1:
        raise CLIError(f"several admins have subject {subject}: use --provisioner to choose one")
    return matches[0]


async def update_admin(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    admin = await _find(session, args.subject, args.provisioner)
    updated = await session.call("PATCH", f"/admin/admins/{admin['id']}", body={"type": 2 if args.super else 1})
    print_table(HEADER, [_row(updated, await _provisioner_types(session))])
    return 0


async def remove_admin(args: argparse.Namespace) -> int:
    session = await admin_session(args)
    admin = await _find(session, args.subject, args.provisioner)
    await session.call("DELETE", f"/admin/admins/{admin['id']}")
    return 0


def _bool_flag(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "admin", summary="manage the administrators of the CA (remote management)", dest="admin_command",
        description=f"""\
acmeca admin lists, adds, updates and removes the administrators of the CA's admin API, which is on when
ca.json has enableAdmin ('acmeca init --remote-management'). An admin is a subject together with
the provisioner that authenticates it. An ADMIN may manage provisioners, policies and EAB keys; a
SUPER_ADMIN may also manage admins. The CA creates the first super admin itself, and the last super admin
can be neither removed nor demoted.

Admins are printed as a table of SUBJECT, PROVISIONER (name and type) and TYPE.

{ADMIN_CREDENTIALS}""",
        examples=[
            Example("List the admins:", "acmeca admin list"),
            Example("Add an admin authenticated by the 'admin' provisioner:",
                    "acmeca admin add alice@example.com admin"),
            Example("Make an admin a super admin:", "acmeca admin update alice@example.com --super"),
        ],
    )
    listing = add_command(
        sub, "list", summary="list admins",
        description="""\
acmeca admin list prints the admins of the CA as a table of SUBJECT, PROVISIONER (name and type) and TYPE
(ADMIN or SUPER_ADMIN), optionally only the super admins or only those of one provisioner.""",
        examples=[
            Example("List all the admins:", "acmeca admin list"),
            Example("List the super admins authenticated by the 'admin' provisioner:",
                    "acmeca admin list --super --provisioner admin"),
        ],
    )
    listing.add_argument("--super", action="store_true", help="Only list super admins.")
    listing.add_argument("--provisioner", metavar="name", help="Only list the admins of this provisioner.")
    listing.set_defaults(handler=list_admins)
    add = add_command(
        sub, "add", summary="add an admin",
        description="""\
acmeca admin add makes subject an admin, authenticated by the named provisioner: an ADMIN, or a SUPER_ADMIN
with --super. Only a super admin may add admins. The new admin is printed as a table row.""",
        examples=[
            Example("Add an admin authenticated by the 'admin' JWK provisioner:",
                    "acmeca admin add alice@example.com admin"),
            Example("Add a super admin, authenticating with an admin certificate:",
                    "acmeca admin add bob@example.com admin --super --admin-cert admin.crt --admin-key admin.key"),
        ],
    )
    add.add_argument("subject", help="The subject of the new admin: the name its certificates or tokens carry.")
    add.add_argument("provisioner_name", metavar="provisioner",
                     help="The name of the provisioner that authenticates the new admin.")
    add.add_argument("--super", action="store_true", help="Make the new admin a SUPER_ADMIN rather than an ADMIN.")
    add.set_defaults(handler=add_admin)
    update = add_command(
        sub, "update", summary="change an admin's role",
        description="""\
acmeca admin update sets the role of the admin with the given subject: SUPER_ADMIN with --super, ADMIN
without it or with --super=false. Only a super admin may change roles, and the last super admin cannot be
demoted. When several admins have the subject, --provisioner says which one. The updated admin is printed
as a table row.""",
        examples=[
            Example("Promote an admin to super admin:", "acmeca admin update alice@example.com --super"),
            Example("Demote a super admin of the 'admin' provisioner to admin:",
                    "acmeca admin update alice@example.com --super=false --provisioner admin"),
        ],
    )
    update.add_argument("subject", help="The subject of the admin to update.")
    update.add_argument("--super", nargs="?", const=True, default=False, type=_bool_flag, metavar="true|false",
                        help="Make the admin a SUPER_ADMIN; without the flag, or with --super=false, it becomes an "
                             "ADMIN. Takes true/false, 1/0 or yes/no.")
    update.add_argument("--provisioner", metavar="name",
                        help="The provisioner of the admin, when several admins have the subject.")
    update.set_defaults(handler=update_admin)
    remove = add_command(
        sub, "remove", summary="remove an admin",
        description="""\
acmeca admin remove removes the admin with the given subject. Only a super admin may remove admins, and the
last super admin cannot be removed. When several admins have the subject, --provisioner says which one.""",
        examples=[
            Example("Remove an admin:", "acmeca admin remove alice@example.com"),
            Example("Remove the admin of the 'admin' provisioner when the subject has several:",
                    "acmeca admin remove alice@example.com --provisioner admin"),
        ],
    )
    remove.add_argument("subject", help="The subject of the admin to remove.")
    remove.add_argument("--provisioner", metavar="name",
                        help="The provisioner of the admin, when several admins have the subject.")
    remove.set_defaults(handler=remove_admin)
    for parser in (listing, add, update, remove):
        add_admin_flags(parser)
