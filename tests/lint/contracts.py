"""An import-linter contract for a rule the built-in ones cannot state: who imports ``cryptography.hazmat``.

grimp squashes every external package to its top-level name, so the graph only says that a module imports
``cryptography``; a ``forbidden`` contract on ``cryptography.hazmat`` therefore never matches anything. Each
squashed import still carries its line, though. This contract reads that line (and, when the statement wraps
onto several lines, the statement itself from the importer's source) to name the dotted modules it imports,
and fails on any module outside ``allowed_importers`` that takes one inside ``protected_modules``.

Registered in pyproject.toml under ``contract_types`` as ``protected_external``; ``make lint`` runs it.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.contract import InvalidContractOptions

_FROM_HEAD = re.compile(r"\s*from\s+([\w.]+)\s+import\b")


@dataclass(frozen=True)
class Violation:
    importer: str
    line_number: int
    line_contents: str
    imported: str  # the dotted name that falls inside a protected module, or "?" when unreadable


def within(name: str, package: str) -> bool:
    """``name`` is ``package`` or one of its descendants."""
    return name == package or name.startswith(package + ".")


def names_of(statement: ast.stmt) -> tuple[str, ...] | None:
    """The dotted modules (or module attributes) an absolute import statement takes; None if not one."""
    if isinstance(statement, ast.Import):
        return tuple(alias.name for alias in statement.names)
    if isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
        return tuple(f"{statement.module}.{alias.name}" for alias in statement.names)
    return None


def names_on_line(line: str, protected: str) -> tuple[str, ...] | None:
    """What one source line imports, as far as the line alone tells; None when the names are needed but
    not on it (``from cryptography import (`` with the names below)."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        head = _FROM_HEAD.match(line)
        if head is None:
            return None
        module = head.group(1)
        if within(module, protected):
            return (module,)
        return None if within(protected, module) else ()
    return names_of(tree.body[0]) if len(tree.body) == 1 else None


def source_of(module: str) -> Path | None:
    """The importer's file, found on sys.path without importing anything."""
    parts = module.split(".")
    for base in sys.path:
        for candidate in (Path(base, *parts).with_suffix(".py"), Path(base, *parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def names_in_source(module: str, line_number: int) -> tuple[str, ...] | None:
    """The import statement that starts at ``line_number`` in the importer's source, read whole."""
    path = source_of(module)
    if path is None:
        return None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno == line_number:
            return names_of(node)
    return None


def find_violations(
    graph: ImportGraph, protected_modules: list[str], allowed_importers: list[str]
) -> list[Violation]:
    """Every import of a protected module by a module outside the allowed packages, in a stable order."""
    violations: list[Violation] = []
    for protected in protected_modules:
        top = protected.split(".")[0]
        if top not in graph.modules:
            continue  # nothing imports the package at all
        for importer in sorted(graph.find_modules_that_directly_import(top)):
            if any(within(importer, allowed) for allowed in allowed_importers):
                continue
            for detail in graph.get_import_details(importer=importer, imported=top):
                line, number = str(detail["line_contents"]), int(detail["line_number"])
                names = names_on_line(line, protected)
                if names is None:
                    names = names_in_source(importer, number)
                hits = ("?",) if names is None else tuple(n for n in names if within(n, protected))
                violations.extend(Violation(importer, number, line, hit) for hit in hits)
    return violations


class ProtectedExternalContract(Contract):
    """Only ``allowed_importers`` (packages: they and their descendants) may import ``protected_modules``,
    which are sub-packages of external packages (``cryptography.hazmat``)."""

    protected_modules = fields.ListField(subfield=fields.StringField())
    allowed_importers = fields.ListField(subfield=fields.StringField())

    def validate(self) -> None:
        """Without external packages the graph has no ``cryptography`` node and the contract would pass
        vacuously; refuse to run rather than report a rule kept that was never checked."""
        if str(self.session_options.get("include_external_packages")).lower() != "true":
            raise InvalidContractOptions(
                {"include_external_packages": "protected_external needs include_external_packages = true"}
            )

    def names(self, option: str) -> list[str]:
        """An option's parsed value (the class attribute is the field; the instance holds the value)."""
        return [str(value) for value in getattr(self, option)]

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        violations = find_violations(graph, self.names("protected_modules"), self.names("allowed_importers"))
        return ContractCheck(kept=not violations, metadata={"violations": [asdict(v) for v in violations]})

    def render_broken_contract(self, check: ContractCheck) -> None:
        allowed = ", ".join(self.names("allowed_importers"))
        for violation in check.metadata["violations"]:
            imported = violation["imported"]
            what = "an import whose names cannot be read" if imported == "?" else imported
            output.print_error(
                f"{violation['importer']} (l.{violation['line_number']}) imports {what}: "
                f"{violation['line_contents'].strip()}",
                bold=False,
            )
        output.new_line()
        protected = ", ".join(self.names("protected_modules"))
        output.print_error(f"Only {allowed} may import {protected}.", bold=False)
