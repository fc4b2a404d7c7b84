"""``--offline`` signing: the CLI acts as the CA itself, through the same engine and store as the server.

The token is still minted and verified (replay row included), so an offline certificate is recorded and
audited exactly like one issued over HTTPS; only the network hop is skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from acmeca.cli.errors import CLIError
from acmeca.cli.files import read_password_file
from acmeca.cli.tokens import ca_json_path
from acmeca.config import load_config
from acmeca.domain.errors import CAError
from acmeca.engine.requests import IssuedCertificate
from acmeca.server.services import Services, StartupError, build_services
from acmeca.step.service import RevokeRequest, SignRequest


def _ca_password(args: argparse.Namespace) -> bytes | None:
    """``init`` uses one password for the CA keys and the first provisioner: try the provisioner's file."""
    path = getattr(args, "provisioner_password_file", None)
    return read_password_file(Path(path)) if path else None


async def _local_service(args: argparse.Namespace) -> Services:
    config = load_config(ca_json_path(args))
    try:
        services = await build_services(config, _ca_password(args))
    except StartupError as exc:
        raise CLIError(str(exc)) from None
    if services.step is None:
        await services.close()
        raise CLIError("the token API is not available in this build")
    return services


async def sign_offline(args: argparse.Namespace, csr_pem: str, ott: str) -> IssuedCertificate:
    services = await _local_service(args)
    assert services.step is not None
    try:
        return await services.step.sign(
            SignRequest(csr=csr_pem, ott=ott, not_before=args.not_before or "", not_after=args.not_after or "")
        )
    except CAError as exc:
        raise CLIError(exc.detail) from None
    finally:
        await services.close()


async def revoke_offline(args: argparse.Namespace, request: RevokeRequest) -> None:
    services = await _local_service(args)
    assert services.step is not None
    try:
        await services.step.revoke(request, peer=None)
    except CAError as exc:
        raise CLIError(exc.detail) from None
    finally:
        await services.close()


def chain_bytes(issued: IssuedCertificate) -> bytes:
    return issued.full_chain_pem.encode()
