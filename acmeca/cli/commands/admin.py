"""``acmeca admin list|add|update|remove``: administrators of the remote-management API (stepca.md §4)."""

from __future__ import annotations

import argparse
from typing import Any

from acmeca.cli.admin_credentials import AdminSession, add_admin_flags, admin_session
from acmeca.cli.errors import CLIError

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
    return {1: "ADMIN", 2: "SUPER_ADMIN"}.get(admin.get("type"), str(admin.get("type")))  # type: ignore[arg-type]


def _row(admin: dict[str, Any], provisioners: dict[str, tuple[str, str]]) -> tuple[str, str, str]:
    name, kind = provisioners.get(_provisioner_id(admin), (str(admin.get("provisionerName", "?")), "?"))
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
    group = commands.add_parser("admin", help="manage the administrators of the CA (remote management)")
    sub = group.add_subparsers(dest="admin_command", metavar="<subcommand>", required=True)
    listing = sub.add_parser("list", help="list admins")
    listing.add_argument("--super", action="store_true", help="only super admins")
    listing.add_argument("--provisioner", help="only admins of this provisioner")
    listing.set_defaults(handler=list_admins)
    add = sub.add_parser("add", help="add an admin")
    add.add_argument("subject")
    add.add_argument("provisioner_name", metavar="provisioner")
    add.add_argument("--super", action="store_true", help="make it a SUPER_ADMIN")
    add.set_defaults(handler=add_admin)
    update = sub.add_parser("update", help="change an admin's role")
    update.add_argument("subject")
    update.add_argument("--super", nargs="?", const=True, default=False, type=_bool_flag,
                        help="SUPER_ADMIN (--super=false demotes to ADMIN)")
    update.add_argument("--provisioner", help="the admin's provisioner, when the subject is ambiguous")
    update.set_defaults(handler=update_admin)
    remove = sub.add_parser("remove", help="remove an admin")
    remove.add_argument("subject")
    remove.add_argument("--provisioner", help="the admin's provisioner, when the subject is ambiguous")
    remove.set_defaults(handler=remove_admin)
    for parser in (listing, add, update, remove):
        add_admin_flags(parser)
