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
from acmeca.server.services import StartupError, build_services
from acmeca.step.service import SignRequest


def _ca_password(args: argparse.Namespace) -> bytes | None:
    """``init`` uses one password for the CA keys and the first provisioner: try the provisioner's file."""
    path = getattr(args, "provisioner_password_file", None)
    return read_password_file(Path(path)) if path else None


async def sign_offline(args: argparse.Namespace, csr_pem: str, ott: str) -> IssuedCertificate:
    config = load_config(ca_json_path(args))
    try:
        services = await build_services(config, _ca_password(args))
    except StartupError as exc:
        raise CLIError(str(exc)) from None
    try:
        if services.step is None:
            raise CLIError("the token API is not available in this build")
        return await services.step.sign(
            SignRequest(csr=csr_pem, ott=ott, not_before=args.not_before or "", not_after=args.not_after or "")
        )
    except CAError as exc:
        raise CLIError(exc.detail) from None
    finally:
        await services.close()


def chain_bytes(issued: IssuedCertificate) -> bytes:
    return issued.full_chain_pem.encode()
