"""The engine's weak-key and lint steps as the composition root wires them, on a real database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from acmeca.config import load_config
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import BadPublicKey, LintRefused
from acmeca.domain.identifiers import dns
from acmeca.domain.records import Requester
from acmeca.domain.status import RequesterKind
from acmeca.engine.requests import IssuanceRequest
from acmeca.server.graph import GraphOptions, ServiceGraph, service_graph
from acmeca.server.reload import reload_config
from acmeca.store.schema import certificates
from tests.support.inprocess import PASSWORD, CAHome, write_ca
from tests.support.weak_rsa import fermat_key, roca_key

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def served(ca_db: dict[str, object], tmp_path: Path) -> AsyncIterator[tuple[ServiceGraph, CAHome]]:
    ca = write_ca(tmp_path / "ca", dict(ca_db), now=NOW)
    options = GraphOptions(clock=FrozenClock(NOW), background=False, server_tls=False, cpu_workers=2)
    async with service_graph(load_config(ca.config_path), PASSWORD, options=options) as graph:
        yield graph, ca


def _request(key: object, **changes: object) -> IssuanceRequest:
    fields: dict[str, object] = {
        "public_key": key, "common_name": "svc.test", "identifiers": (dns("svc.test"),),
        "requester": Requester(RequesterKind.PROVISIONER, "admin"), "provisioner": None,
    }
    fields.update(changes)
    return IssuanceRequest(**fields)  # type: ignore[arg-type]


async def _states(graph: ServiceGraph) -> list[str]:
    async with graph.database.read() as tx:
        return list(await tx.scalars(sa.select(certificates.c.state)))


@pytest.mark.parametrize(("make", "reason"), [(fermat_key, "Fermat"), (roca_key, "ROCA")], ids=["fermat", "roca"])
async def test_weak_rsa_keys_are_refused_before_a_serial_is_reserved(
    served: tuple[ServiceGraph, CAHome], make: object, reason: str
) -> None:
    graph, _ = served
    with pytest.raises(BadPublicKey, match=reason):
        await graph.engine.issue(_request(make()))  # type: ignore[operator]
    assert await _states(graph) == []


async def test_a_lint_refusal_leaves_the_reserved_serial_failed_and_sighup_applies_lint_mode(
    served: tuple[ServiceGraph, CAHome],
) -> None:
    graph, ca = served
    unlintable = _request(ec.generate_private_key(ec.SECP256R1()).public_key(), uris=("not a uri",))
    with pytest.raises(LintRefused, match=r"pkix\.invalid_uri_syntax"):
        await graph.engine.issue(unlintable)
    assert await _states(graph) == ["failed"]
    document = json.loads(ca.config_path.read_text())
    ca.edit({**document, "lint": {"mode": "warn"}})
    assert await reload_config(graph)
    issued = await graph.engine.issue(unlintable)
    assert sorted(await _states(graph)) == ["failed", "issued"]
    assert issued.serial


async def test_with_lint_off_an_ecdsa_issuer_signs_on_the_loop_and_stores_what_it_returns(
    served: tuple[ServiceGraph, CAHome],
) -> None:
    """lint.mode off + an EC intermediate: the engine signs inline (no executor hop); the certificate, the stored
    row and a signing failure's bookkeeping must be what the executor path gives."""
    graph, ca = served
    ca.edit({**json.loads(ca.config_path.read_text()), "lint": {"mode": "off"}})
    assert await reload_config(graph)
    issued = await graph.engine.issue(_request(ec.generate_private_key(ec.SECP256R1()).public_key()))
    leaf = x509.load_der_x509_certificate(issued.der)
    leaf.verify_directly_issued_by(graph.engine.authority.certificate)
    async with graph.database.read() as tx:
        stored = await tx.scalar(sa.select(certificates.c.der).where(certificates.c.serial == issued.serial))
    assert stored == issued.der
    with pytest.raises(ValueError, match="A-label"):  # cryptography refuses a non-ASCII RFC822Name while building
        await graph.engine.issue(_request(ec.generate_private_key(ec.SECP256R1()).public_key(),
                                          emails=("ü@example.test",)))
    assert sorted(await _states(graph)) == ["failed", "issued"]
