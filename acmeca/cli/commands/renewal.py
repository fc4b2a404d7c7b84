"""``acmeca renew``, ``rekey`` and ``revoke`` (stepca.md §4), one-shot or as a daemon.

Renewal authenticates with the certificate itself: mTLS while it is valid, else (or with ``--mtls=false``) a
renew token signed by its key. Outputs are replaced atomically, so a reader never sees half a certificate.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from acmeca.cli.client import CAClient, pinned_context
from acmeca.cli.commands.ca import add_ca_flags, ca_client
from acmeca.cli.commands.minting import add_provisioner_flags, canonical_or_raw, mint_token
from acmeca.cli.errors import CLIError
from acmeca.cli.files import flag_or_default, read_password_file
from acmeca.cli.renew_daemon import DaemonOptions, RenewDaemon, RenewSchedule
from acmeca.cli.tokens import renew_token
from acmeca.config import acmeca_path
from acmeca.crypto import certs
from acmeca.crypto.csr import build_csr_pem
from acmeca.crypto.keys import (
    KeySpec,
    PrivateKey,
    WrongPassword,
    generate_key,
    load_private_key,
    private_key_pem,
    write_private_file,
)
from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed
from acmeca.domain.status import RevocationReason
from acmeca.step.service import RevokeRequest


def _root(args: argparse.Namespace) -> Path:
    root = flag_or_default(getattr(args, "root", None), "root")
    return Path(root) if root else acmeca_path() / "certs" / "root_ca.crt"


def _duration(value: str | None, flag: str) -> timedelta | None:
    if not value:
        return None
    try:
        return parse_duration(value)
    except Malformed:
        raise CLIError(f"{flag}: invalid duration {value!r}") from None


def _flag_true(value: str) -> bool:
    return value.strip().lower() not in ("false", "0", "no", "off")


@dataclass
class CertificateFiles:
    """The certificate being kept alive and where its successors go."""

    args: argparse.Namespace
    crt: Path
    key: Path
    out_crt: Path
    out_key: Path | None = None  # rekey only

    def chain(self) -> list[x509.Certificate]:
        try:
            return certs.load_pem_bundle(self.crt.read_bytes(), source=str(self.crt))
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot read certificate {self.crt}: {exc}") from None

    def private_key(self) -> PrivateKey:
        password_file = getattr(self.args, "password_file", None)
        password = read_password_file(password_file) if password_file else None
        try:
            return load_private_key(self.key, password)
        except (WrongPassword, Malformed) as exc:
            raise CLIError(str(exc)) from None

    def mtls_client(self) -> CAClient:
        client = ca_client(self.args)
        context = pinned_context(_root(self.args))
        password_file = getattr(self.args, "password_file", None)
        password = read_password_file(password_file) if password_file else None
        try:
            context.load_cert_chain(str(self.crt), str(self.key), password)
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot use {self.crt} and {self.key} for mTLS: {exc}") from None
        return CAClient(client.ca_url, context)


def _chain_pem(response: dict[str, Any]) -> bytes:
    chain = response.get("certChain") or [response.get("crt"), response.get("ca")]
    return "".join(str(c) for c in chain if c).encode()


async def renew_once(files: CertificateFiles) -> x509.Certificate:
    """One renewal: mTLS while valid (unless ``--mtls=false``), else a renew token; then an atomic write."""
    chain = files.chain()
    expired = datetime.now(UTC) >= chain[0].not_valid_after_utc
    if _flag_true(files.args.mtls) and not expired:
        response = await files.mtls_client().json("POST", "/1.0/renew", expect=(201,))
    else:
        client = ca_client(files.args)
        bearer = renew_token(chain, files.private_key(), audience=f"{client.ca_url}/1.0/renew")
        response = await client.json(
            "POST", "/1.0/renew", expect=(201,), headers={"Authorization": f"Bearer {bearer}"}
        )
    data = _chain_pem(response)
    write_private_file(files.out_crt, data)
    return x509.load_pem_x509_certificate(data)


async def rekey_once(files: CertificateFiles) -> x509.Certificate:
    """One rekey over mTLS: a new (or ``--private-key``) key, the old names; the key is written first."""
    leaf = files.chain()[0]
    args = files.args
    if args.private_key:
        key: PrivateKey = load_private_key(Path(args.private_key))
    else:
        try:
            key = generate_key(KeySpec.parse(args.kty, args.curve, args.size))
        except Malformed as exc:
            raise CLIError(exc.detail) from None
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = x509.SubjectAlternativeName([])
    dns_names = list(names.get_values_for_type(x509.DNSName))
    ips = [str(a) for a in names.get_values_for_type(x509.IPAddress)]
    csr = build_csr_pem(key, certs.common_name(leaf), dns_names, ips).decode()
    response = await files.mtls_client().json("POST", "/1.0/rekey", body={"csr": csr}, expect=(201,))
    data = _chain_pem(response)
    write_private_file(files.out_key or files.key, private_key_pem(key))
    write_private_file(files.out_crt, data)
    return x509.load_pem_x509_certificate(data)


def _should_renew(leaf: x509.Certificate, expires_in: timedelta | None) -> bool:
    """step's ``--expires-in``: renew only when less than that remains, with ±1/20 jitter."""
    if expires_in is None:
        return True
    jitter = expires_in / 20
    threshold = expires_in + timedelta(seconds=random.uniform(-1, 1) * jitter.total_seconds())
    return leaf.not_valid_after_utc - datetime.now(UTC) < threshold


def _daemon_options(args: argparse.Namespace, period: timedelta | None) -> DaemonOptions:
    return DaemonOptions(
        schedule=RenewSchedule(renew_period=period, expires_in=_duration(args.expires_in, "--expires-in")),
        exec_command=args.exec_command, pid_file=Path(args.pid_file) if args.pid_file else None,
        signal_number=args.signal,
    )


async def renew(args: argparse.Namespace) -> int:
    crt = Path(args.crt_file)
    out = Path(args.out) if args.out else crt
    files = CertificateFiles(args, crt, Path(args.key_file), out)
    period = _duration(args.renew_period, "--renew-period")
    if period is not None and not args.daemon:
        raise CLIError("--renew-period can only be used with --daemon")
    if period is not None and args.expires_in:
        raise CLIError("--renew-period and --expires-in are mutually exclusive")
    if args.daemon:
        return await RenewDaemon(lambda: renew_once(files), files.chain, _daemon_options(args, period)).run()
    leaf = files.chain()[0]
    if not _should_renew(leaf, _duration(args.expires_in, "--expires-in")):
        remaining = leaf.not_valid_after_utc - datetime.now(UTC)
        print(f"certificate not renewed: expires in {format_duration(remaining)}")
        return 0
    if out != crt and out.exists() and not args.force:
        raise CLIError(f"file {out} already exists; use --force to overwrite it")
    await renew_once(files)
    print(f"Your certificate has been saved in {out}.")
    return 0


async def rekey(args: argparse.Namespace) -> int:
    crt, key = Path(args.crt_file), Path(args.key_file)
    out_crt = Path(args.out_cert) if args.out_cert else crt
    out_key = Path(args.out_key) if args.out_key else key
    files = CertificateFiles(args, crt, key, out_crt, out_key)
    if args.daemon:
        period = _duration(args.rekey_period, "--rekey-period")
        return await RenewDaemon(lambda: rekey_once(files), files.chain, _daemon_options(args, period)).run()
    for path, default in ((out_crt, crt), (out_key, key)):
        if path != default and path.exists() and not args.force:
            raise CLIError(f"file {path} already exists; use --force to overwrite it")
    await rekey_once(files)
    print(f"✔ Certificate: {out_crt}")
    print(f"✔ Private Key: {out_key}")
    return 0


def parse_reason_code(value: str | None) -> int:
    """``--reasonCode`` by RFC 5280 name (case- and space-insensitive) or number 0–10."""
    if value is None or value == "":
        return 0
    text = value.strip()
    if text.isdigit():
        number = int(text)
        if number in {int(r) for r in RevocationReason}:
            return number
        raise CLIError(f"reasonCode {value!r} is not a valid revocation reason (0-10, not 7)")
    wanted = text.replace(" ", "").replace("_", "").lower()
    for reason in RevocationReason:
        if reason.name.replace("_", "").lower() == wanted:
            return int(reason)
    raise CLIError(f"reasonCode {value!r} is not a revocation reason name, e.g. keyCompromise")


async def revoke(args: argparse.Namespace) -> int:
    """By the certificate itself over mTLS (``--cert/--key``), else by a revoke token; ``--offline`` locally."""
    request = RevokeRequest(serial=None, reason_code=parse_reason_code(args.reason_code), reason=args.reason or "")
    if args.cert:
        if not args.key:
            raise CLIError("--cert needs --key")
        files = CertificateFiles(args, Path(args.cert), Path(args.key), Path(args.cert))
        serial = str(files.chain()[0].serial_number)
        if args.serial and canonical_or_raw(args.serial) != serial:
            raise CLIError("the serial number does not match --cert")
        await files.mtls_client().json("POST", "/1.0/revoke", body=_revoke_body(replace(request, serial=serial)),
                                       expect=(200,))
    else:
        if not args.serial:
            raise CLIError("missing serial number: pass it, or use --cert and --key")
        serial = canonical_or_raw(args.serial)
        request = replace(request, serial=serial, ott=args.token or await mint_token(args, serial, purpose="revoke"))
        if args.offline:
            from acmeca.cli.offline import revoke_offline

            await revoke_offline(args, request)
        else:
            await ca_client(args).json("POST", "/1.0/revoke", body=_revoke_body(request), expect=(200,))
    print(f"Certificate with Serial Number {serial} has been revoked.")
    return 0


def _revoke_body(request: RevokeRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"serial": request.serial, "reasonCode": request.reason_code, "reason": request.reason,
                            "passive": True}
    if request.ott:
        body["ott"] = request.ott
    return body


def _add_daemon_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--expires-in", help="only renew when less than this remains (duration)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite output files without asking")
    parser.add_argument("--daemon", action="store_true", help="keep renewing in the background")
    parser.add_argument("--exec", dest="exec_command", help="command to run after each renewal")
    parser.add_argument("--pid-file", "--pid", dest="pid_file", help="file with the pid to signal after renewal")
    parser.add_argument("--signal", type=int, default=1, help="signal number for --pid-file (1 = SIGHUP)")
    parser.add_argument("--password-file", help="password of an encrypted key file")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("renew", help="renew a certificate")
    parser.add_argument("crt_file")
    parser.add_argument("key_file")
    add_ca_flags(parser)
    parser.add_argument("--mtls", nargs="?", const="true", default="true", help="use mTLS (default true)")
    parser.add_argument("--out", "--output-file", dest="out", help="write the new certificate here")
    parser.add_argument("--renew-period", help="daemon: renew at this fixed interval")
    _add_daemon_flags(parser)
    parser.set_defaults(handler=renew)

    parser = commands.add_parser("rekey", help="rekey a certificate")
    parser.add_argument("crt_file")
    parser.add_argument("key_file")
    add_ca_flags(parser)
    parser.add_argument("--out-cert", help="write the new certificate here (default crt-file)")
    parser.add_argument("--out-key", help="write the new key here (default key-file)")
    parser.add_argument("--private-key", help="use this key instead of generating one")
    parser.add_argument("--kty", default="EC")
    parser.add_argument("--curve", "--crv", dest="curve")
    parser.add_argument("--size", type=int)
    parser.add_argument("--rekey-period", help="daemon: rekey at this fixed interval")
    _add_daemon_flags(parser)
    parser.set_defaults(handler=rekey, mtls="true")

    parser = commands.add_parser("revoke", help="revoke a certificate")
    parser.add_argument("serial", nargs="?")
    add_ca_flags(parser)
    add_provisioner_flags(parser)
    parser.add_argument("--reason", help="free-text reason")
    parser.add_argument("--reasonCode", "--reason-code", dest="reason_code", help="RFC 5280 reason name or 0-10")
    parser.add_argument("--token", help="a revoke token from 'acmeca token --revoke'")
    parser.add_argument("--cert", help="revoke this certificate over mTLS (--key is then its private key)")
    parser.set_defaults(handler=revoke)
