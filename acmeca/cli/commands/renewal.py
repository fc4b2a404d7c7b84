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
from acmeca.cli.help import CURVE, DURATION, KEY_SIZE, KEY_TYPE, Example, add_command
from acmeca.cli.renew_daemon import DaemonOptions, RenewDaemon, RenewSchedule
from acmeca.cli.serials import SERIAL_FORMS
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
from acmeca.step.requests import RevokeRequest


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


DAEMON = """\
With --daemon the command keeps running in the foreground and {verb}s the certificate at about two thirds
of its lifetime (minus a random jitter of up to a twentieth of the lifetime, so certificates issued
together are not {verb}ed together), or when --expires-in is left, or every --{verb}-period. SIGHUP makes
it {verb} at once; SIGTERM and SIGINT stop it. While the CA cannot be reached it retries, waiting 1 second
and doubling up to 30 seconds. After each {noun} it runs --exec and signals the process in --pid-file."""
REASONS = "\n".join(  # step's spelling: KeyCompromise, CACompromise, RemoveFromCRL
    f"    {int(reason):>2}  "
    + "".join(word if word in ("CA", "AA", "CRL") else word.capitalize() for word in reason.name.split("_"))
    for reason in RevocationReason
)


def _add_daemon_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    noun = "renewal" if verb == "renew" else "rekey"
    parser.add_argument("--expires-in", metavar="duration",
                        help="Renew only when less than this time is left before the certificate expires (with a "
                             "random jitter of a twentieth of it); with --daemon, renew when this much is left "
                             f"instead of at two thirds of the lifetime. {DURATION}"
                        if verb == "renew" else
                        f"With --daemon: {verb} when this much time is left before the certificate expires, "
                        f"instead of at two thirds of its lifetime. {DURATION}")
    outputs = "an existing --out file" if verb == "renew" else "existing --out-cert and --out-key files"
    parser.add_argument("-f", "--force", action="store_true",
                        help=f"Replace {outputs} (the daemon replaces {'it' if verb == 'renew' else 'them'} always).")
    parser.add_argument("--daemon", action="store_true",
                        help=f"Keep running and {verb} the certificate periodically (see above).")
    parser.add_argument("--exec", dest="exec_command", metavar="command",
                        help=f"With --daemon: a shell command to run after each {noun}.")
    parser.add_argument("--pid-file", "--pid", dest="pid_file", metavar="file",
                        help=f"With --daemon: a file holding the id of a process to signal after each {noun}, "
                             "so it reloads the certificate. (--pid takes a file here, not a process id.)")
    parser.add_argument("--signal", type=int, default=1, metavar="number",
                        help="The signal number to send to the process in --pid-file (default 1, SIGHUP).")
    parser.add_argument("--password-file", metavar="file",
                        help="The file with the password of an encrypted key-file (trailing whitespace is "
                             "ignored).")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        commands, "renew", summary="renew a certificate",
        description=f"""\
acmeca renew asks the CA for a new certificate with the same names and key as crt-file (POST /1.0/renew)
and writes it to crt-file, or to --out, replacing the file atomically (mode 0600).

While the certificate is valid the request is authenticated with it over mTLS; after it has expired, or
with --mtls=false, it carries a renew token signed with key-file instead (the provisioner must allow
renewal after expiry for an expired certificate).

{DAEMON.format(verb="renew", noun="renewal")}""",
        examples=[
            Example("Renew a certificate, replacing it:", "acmeca renew internal.crt internal.key"),
            Example("Renew a certificate only if it expires within 8 hours, writing the new one elsewhere:",
                    "acmeca renew internal.crt internal.key --expires-in 8h --out new.crt --force"),
            Example("Keep the certificate renewed and reload nginx after each renewal:",
                    "acmeca renew internal.crt internal.key --daemon --exec \"nginx -s reload\""),
            Example("Renew every 16 hours and send SIGHUP to the process in a pid file:",
                    "acmeca renew internal.crt internal.key --daemon --renew-period 16h \\\n"
                    "    --pid-file /run/nginx.pid"),
        ],
    )
    parser.add_argument("crt_file", help="The certificate (PEM, leaf first) to renew.")
    parser.add_argument("key_file", help="The private key of the certificate.")
    add_ca_flags(parser)
    parser.add_argument("--mtls", nargs="?", const="true", default="true", metavar="true|false",
                        help="Authenticate with the certificate over mTLS while it is valid (the default). "
                             "--mtls=false (or 0, no, off) uses a renew token signed with key-file instead.")
    parser.add_argument("--out", "--output-file", dest="out", metavar="file",
                        help="Write the new certificate here instead of replacing crt-file.")
    parser.add_argument("--renew-period", metavar="duration",
                        help=f"With --daemon: renew at this fixed interval. Not with --expires-in. {DURATION}")
    _add_daemon_flags(parser, "renew")
    parser.set_defaults(handler=renew)

    parser = add_command(
        commands, "rekey", summary="rekey a certificate",
        description=f"""\
acmeca rekey asks the CA, over mTLS with the current certificate (which must still be valid), for a new
certificate with the same names and a new key (POST /1.0/rekey). The key is generated here (--kty, --curve,
--size) unless --private-key gives one.

The new key is written first, then the certificate, replacing key-file and crt-file (or writing --out-key
and --out-cert) atomically with mode 0600. The new key is written unencrypted.

{DAEMON.format(verb="rekey", noun="rekey")}""",
        examples=[
            Example("Rekey a certificate, replacing the certificate and key files:",
                    "acmeca rekey internal.crt internal.key"),
            Example("Rekey a certificate with an RSA key, writing new files:",
                    "acmeca rekey internal.crt internal.key --kty RSA --size 3072 \\\n"
                    "    --out-cert new.crt --out-key new.key"),
            Example("Rekey with a key you generated yourself (it replaces internal.key):",
                    "acmeca rekey internal.crt internal.key --private-key new.key"),
            Example("Keep rekeying every 16 hours and reload nginx after each rekey:",
                    "acmeca rekey internal.crt internal.key --daemon --rekey-period 16h --exec \"nginx -s reload\""),
        ],
    )
    parser.add_argument("crt_file", help="The certificate (PEM, leaf first) to rekey.")
    parser.add_argument("key_file", help="The private key of the certificate.")
    add_ca_flags(parser)
    parser.add_argument("--out-cert", metavar="file",
                        help="Write the new certificate here instead of replacing crt-file.")
    parser.add_argument("--out-key", metavar="file",
                        help="Write the new private key here instead of replacing key-file.")
    parser.add_argument("--private-key", metavar="file",
                        help="Use this private key (PEM, not encrypted) instead of generating one; --kty, "
                             "--curve and --size are then ignored.")
    parser.add_argument("--kty", default="EC", metavar="type", help=KEY_TYPE)
    parser.add_argument("--curve", "--crv", dest="curve", metavar="curve", help=CURVE)
    parser.add_argument("--size", type=int, metavar="bits", help=KEY_SIZE)
    parser.add_argument("--rekey-period", metavar="duration",
                        help=f"With --daemon: rekey at this fixed interval. {DURATION}")
    _add_daemon_flags(parser, "rekey")
    parser.set_defaults(handler=rekey, mtls="true")

    parser = add_command(
        commands, "revoke", summary="revoke a certificate",
        description=f"""\
acmeca revoke revokes the certificate with the given serial number (POST /1.0/revoke). The CA records the
revocation, refuses to renew the certificate, and lists it in its CRL when the CRL is enabled; with reason
KeyCompromise it also refuses new certificates for the same key.

The request is authorized in one of two ways. With --cert and --key, by the certificate itself over mTLS
(it must still be valid); a serial number given as well must be that certificate's. Otherwise, by a revoke
token: --token, or one minted here with a JWK provisioner, as 'acmeca token --revoke' does (see the
provisioner flags).

{SERIAL_FORMS}""",
        examples=[
            Example("Revoke a certificate by serial number, with a token minted for you (reason Unspecified):",
                    "acmeca revoke 308893286343609293989051180431574390766"),
            Example("Revoke a certificate by the serial openssl shows, with a reason:",
                    "acmeca revoke $(openssl x509 -noout -serial -in internal.crt | cut -d= -f2) \\\n"
                    "    --reasonCode keyCompromise --reason \"laptop stolen\""),
            Example("Revoke a certificate with itself, over mTLS:",
                    "acmeca revoke --cert internal.crt --key internal.key"),
            Example("Revoke with a token made beforehand:",
                    "TOKEN=$(acmeca token --revoke 0xe86362a9a1ef8c4d9bf4a1d2d3b0e7ae)\n"
                    "acmeca revoke --token $TOKEN 0xe86362a9a1ef8c4d9bf4a1d2d3b0e7ae"),
            Example("Revoke on the CA's host without a running CA:",
                    "acmeca revoke 308893286343609293989051180431574390766 --offline \\\n"
                    "    --provisioner-password-file password.txt"),
        ],
    )
    parser.add_argument("serial", nargs="?", metavar="serial-number",
                        help="The serial number of the certificate to revoke: decimal, 0x-prefixed hex, or hex "
                             "as openssl prints it (see above). May be left out with --cert and --key.")
    add_ca_flags(parser)
    add_provisioner_flags(
        parser,
        offline="Revoke without contacting the CA, through the CA's own configuration, keys and database "
                "(--ca-config); the provisioner password file also decrypts the intermediate key. Ignored with "
                "--cert, which always asks the CA.",
        key="With --cert: the certificate's private key (PEM). Otherwise a file with the provisioner's private "
            "JWK, to sign the revoke token with instead of decrypting the provisioner's encryptedKey.",
    )
    parser.add_argument("--reason", metavar="text", help="A free-text reason, recorded with the revocation.")
    parser.add_argument("--reasonCode", "--reason-code", dest="reason_code", metavar="code",
                        help=f"""\
The RFC 5280 reason for the revocation, by number or by name (case-insensitive; spaces and underscores are
ignored, so "key compromise" is KeyCompromise). The default is Unspecified (0). The reasons are:

{REASONS}""")
    parser.add_argument("--token", metavar="token",
                        help="A revoke token from 'acmeca token --revoke' to use instead of minting one.")
    parser.add_argument("--cert", metavar="file",
                        help="Revoke this certificate (PEM) over mTLS with it, --key being its private key.")
    parser.set_defaults(handler=revoke)
