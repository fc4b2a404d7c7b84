"""``--offline`` signing: the CLI acts as the CA itself, through the same engine and store as the server.

The token is still minted and verified (replay row included), so an offline certificate is recorded and
audited exactly like one issued over HTTPS; only the network hop is skipped.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.tokens import ca_json_path
from acmeca.config import load_config
from acmeca.domain.errors import CAError
from acmeca.engine.requests import IssuedCertificate
from acmeca.server.database import StartupError
from acmeca.server.graph import GraphOptions, ServiceGraph, service_graph
from acmeca.step.requests import RevokeRequest, SignRequest

OFFLINE = GraphOptions(background=False, server_tls=False)


def _ca_password(args: argparse.Namespace) -> bytes | None:
    """``init`` uses one password for the CA keys and the first provisioner: try the provisioner's file."""
    path = getattr(args, "provisioner_password_file", None)
    return read_password_file(Path(path)) if path else None


@asynccontextmanager
async def _local_ca(args: argparse.Namespace) -> AsyncIterator[ServiceGraph]:
    """The CA's own service graph, as ``serve`` builds it, minus the background work and the TLS listener."""
    config = load_config(ca_json_path(args))
    try:
        async with service_graph(config, _ca_password(args), options=OFFLINE) as graph:
            yield graph
    except StartupError as exc:
        raise CLIError(str(exc)) from None


async def sign_offline(args: argparse.Namespace, csr_pem: str, ott: str) -> IssuedCertificate:
    async with _local_ca(args) as graph:
        try:
            return await graph.step.sign(
                SignRequest(csr=csr_pem, ott=ott, not_before=args.not_before or "", not_after=args.not_after or "")
            )
        except CAError as exc:
            raise CLIError(exc.detail) from None


async def revoke_offline(args: argparse.Namespace, request: RevokeRequest) -> None:
    async with _local_ca(args) as graph:
        try:
            await graph.step.revoke(request, peer=None)
        except CAError as exc:
            raise CLIError(exc.detail) from None


def chain_bytes(issued: IssuedCertificate) -> bytes:
    return issued.full_chain_pem.encode()
