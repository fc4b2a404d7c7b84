"""The protected_external contract: it must catch every way of importing cryptography.hazmat outside crypto."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import grimp
import pytest
from grimp import ImportGraph
from importlinter import api
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain.contract import InvalidContractOptions

from tests.lint.contracts import ProtectedExternalContract, Violation, find_violations

PROTECTED, ALLOWED = ["cryptography.hazmat"], ["app.crypto"]
ROOT = Path(__file__).resolve().parents[2]


def _graph(*imports: tuple[str, str]) -> ImportGraph:
    """A graph of package ``app`` where each (importer, line) imports the squashed external ``cryptography``."""
    graph = ImportGraph()
    for importer, line in imports:
        graph.add_module(importer)
        graph.add_module("cryptography", is_squashed=True)
        graph.add_import(importer=importer, imported="cryptography", line_number=3, line_contents=line)
    return graph


@pytest.mark.parametrize(
    ("line", "imported"),
    [
        ("from cryptography.hazmat.primitives import hashes", "cryptography.hazmat.primitives.hashes"),
        ("from cryptography.hazmat.primitives.asymmetric import ec", "cryptography.hazmat.primitives.asymmetric.ec"),
        ("import cryptography.hazmat.primitives.serialization as s", "cryptography.hazmat.primitives.serialization"),
        ("from cryptography import hazmat", "cryptography.hazmat"),
        ("from cryptography import x509, hazmat", "cryptography.hazmat"),
        ("from cryptography.hazmat.primitives.asymmetric import (", "cryptography.hazmat.primitives.asymmetric"),
        ("    from cryptography.hazmat.primitives import hashes  # nested", "cryptography.hazmat.primitives.hashes"),
    ],
)
def test_a_hazmat_import_outside_the_allowed_package_is_a_violation(line: str, imported: str) -> None:
    violations = find_violations(_graph(("app.web.jws", line)), PROTECTED, ALLOWED)
    assert violations[0] == Violation("app.web.jws", 3, line, imported)


@pytest.mark.parametrize(
    "line",
    [
        "from cryptography import x509",
        "from cryptography.x509.oid import NameOID",
        "from cryptography.x509.oid import (",  # wrapped, but nothing under x509 is hazmat
        "from cryptography.exceptions import InvalidSignature",
        "import cryptography",
    ],
)
def test_other_cryptography_imports_are_fine_anywhere(line: str) -> None:
    assert find_violations(_graph(("app.web.jws", line)), PROTECTED, ALLOWED) == []


def test_the_allowed_package_and_its_descendants_may_import_hazmat() -> None:
    line = "from cryptography.hazmat.primitives import hashes"
    graph = _graph(("app.crypto", line), ("app.crypto.keys", line), ("app.cryptography_notes", line))
    assert [v.importer for v in find_violations(graph, PROTECTED, ALLOWED)] == ["app.cryptography_notes"]


def test_unreadable_wrapped_import_of_the_parent_package_fails_closed() -> None:
    violations = find_violations(_graph(("app.nowhere", "from cryptography import (")), PROTECTED, ALLOWED)
    assert [v.imported for v in violations] == ["?"]


def test_wrapped_import_is_read_whole_from_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "wrapped_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ok.py").write_text("from cryptography import (\n    x509,\n)\n")
    (package / "bad.py").write_text(textwrap.dedent("""\
        from cryptography import (
            x509,
            hazmat,
        )
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("wrapped_app", include_external_packages=True, cache_dir=None)
    violations = find_violations(graph, PROTECTED, ["wrapped_app.crypto"])
    assert violations == [Violation("wrapped_app.bad", 1, "from cryptography import (", "cryptography.hazmat")]


def test_the_contract_refuses_to_run_without_external_packages() -> None:
    options = {"protected_modules": PROTECTED, "allowed_importers": ALLOWED}
    with pytest.raises(InvalidContractOptions):
        ProtectedExternalContract("hazmat", session_options={"root_package": "app"}, contract_options=options)
    contract = ProtectedExternalContract(
        "hazmat", session_options={"include_external_packages": True}, contract_options=options
    )
    check = contract.check(_graph(("app.web", "from cryptography import hazmat")), verbose=False)
    assert not check.kept
    assert check.metadata["violations"][0]["importer"] == "app.web"


def _configured(contract_type: str, name_part: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(session options, contract options) of one contract as lint-imports reads pyproject.toml."""
    configuration = api.read_configuration(str(ROOT / "pyproject.toml"))
    matching = [
        c for c in configuration["contracts_options"] if c["type"] == contract_type and name_part in c["name"]
    ]
    assert len(matching) == 1, f"pyproject.toml must configure one {contract_type} contract about {name_part!r}"
    return configuration["session_options"], matching[0]


def test_make_lint_keeps_hazmat_in_acmeca_crypto() -> None:
    session, options = _configured("protected_external", "cryptography.hazmat")
    assert (options["protected_modules"], options["allowed_importers"]) == (PROTECTED, ["acmeca.crypto"])
    contract = ProtectedExternalContract(options["name"], session_options=session, contract_options=options)
    assert contract.check(grimp.build_graph("acmeca", include_external_packages=True, cache_dir=None), False).kept


def _web_graph(*chain: str) -> ImportGraph:
    """The packages the web contract names, plus one chain of direct imports."""
    graph = ImportGraph()
    for package in ("acmeca.admin.web", "acmeca.acme.web", "acmeca.step.web", "acmeca.store", "acmeca.engine"):
        graph.add_module(package)
    for importer, imported in itertools.pairwise(chain):
        graph.add_module(importer)
        graph.add_module(imported)
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return graph


@pytest.mark.parametrize(
    ("chain", "kept"),
    [
        (("acmeca.admin.web.context", "acmeca.store.admins"), False),
        (("acmeca.acme.web.handlers.order", "acmeca.engine.issuer"), False),
        (("acmeca.step.web.certificates", "acmeca.store.certificates"), False),
        (("acmeca.admin.web.context", "acmeca.admin.service.graph", "acmeca.store.admins"), True),
        (("acmeca.step.web.certificates", "acmeca.step.service", "acmeca.engine.issuer"), True),
    ],
)
def test_make_lint_keeps_web_layers_off_store_and_engine(chain: tuple[str, ...], kept: bool) -> None:
    session, options = _configured("forbidden", "Web layers")
    contract = ForbiddenContract(options["name"], session_options=session, contract_options=options)
    assert contract.check(_web_graph(*chain), verbose=False).kept is kept


def _module_graph(*imports: tuple[str, str]) -> ImportGraph:
    """The modules of ``imports`` with every parent package (the contract walks down from ``acmeca``)."""
    graph = ImportGraph()
    for importer, imported in imports:
        for module in (importer, imported):
            parts = module.split(".")
            for end in range(1, len(parts) + 1):
                graph.add_module(".".join(parts[:end]))
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return graph


@pytest.mark.parametrize(
    ("imports", "kept"),
    [
        ((("acmeca.domain.identifiers", "acmeca.domain.errors"),
          ("acmeca.domain.errors", "acmeca.domain.identifier_types")), True),
        ((("acmeca.domain.identifiers", "acmeca.domain.errors"),
          ("acmeca.domain.errors", "acmeca.domain.identifiers")), False),
        ((("acmeca.cli.commands.lifecycle", "acmeca.cli.commands.renewal"),
          ("acmeca.cli.commands.renewal", "acmeca.cli.commands.minting")), True),
        ((("acmeca.cli.commands.lifecycle", "acmeca.cli.commands.renewal"),
          ("acmeca.cli.commands.renewal", "acmeca.cli.commands.lifecycle")), False),
    ],
)
def test_make_lint_refuses_import_circles_between_siblings(imports: tuple[tuple[str, str], ...], kept: bool) -> None:
    session, options = _configured("acyclic_siblings", "circles")
    contract = AcyclicSiblingsContract(options["name"], session_options=session, contract_options=options)
    assert contract.check(_module_graph(*imports), verbose=False).kept is kept
