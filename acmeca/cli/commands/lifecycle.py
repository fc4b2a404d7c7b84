"""``acmeca token``, ``certificate`` and ``sign``: step ca's token-based issuance (stepca.md §4).

renew, rekey and revoke live in :mod:`acmeca.cli.commands.renewal` and are registered from here, so main.py's
optional-module list needs no change.
"""

from __future__ import annotations

import argparse
import json
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from acmeca.cli.acme_client import OrderRequest, obtain_chain, order_time
from acmeca.cli.client import CAClient, pinned_context
from acmeca.cli.commands import renewal
from acmeca.cli.commands.ca import add_ca_flags, ca_client
from acmeca.cli.commands.minting import add_provisioner_flags, ca_url, canonical_or_raw, mint_token
from acmeca.cli.errors import CLIError
from acmeca.cli.files import write_output
from acmeca.cli.help import CURVE, KEY_SIZE, KEY_TYPE, TIME_OR_DURATION, Example, add_command
from acmeca.cli.http01_responder import DEFAULT_LISTEN, responder
from acmeca.cli.serials import SERIAL_FORMS
from acmeca.cli.tokens import (
    csr_fingerprint,
    provisioner_documents,
    renew_token,
)
from acmeca.crypto import certs
from acmeca.crypto.csr import InvalidCSR, build_csr_pem, parse_csr_pem
from acmeca.crypto.keys import KeySpec, generate_key, load_private_key, private_key_pem
from acmeca.domain.encoding import b64url_decode
from acmeca.domain.errors import Malformed
from acmeca.step.sans import TokenSANs


async def token(args: argparse.Namespace) -> int:
    if args.san and args.revoke:
        raise CLIError("--san cannot be used with --revoke")
    if args.renew:
        value = await _renew_token(args)
    elif args.revoke:
        value = await mint_token(args, canonical_or_raw(args.subject), purpose="revoke")
    else:
        cnf = args.cnf
        if args.cnf_file:
            cnf = csr_fingerprint(_read_csr(args.cnf_file).der)
        value = await mint_token(args, args.subject, purpose="sign", sans=args.san or [args.subject], cnf=cnf)
    if args.output_file:
        write_output(Path(args.output_file), (value + "\n").encode(), force=True)
    else:
        print(value)
    return 0


async def _renew_token(args: argparse.Namespace) -> str:
    if not args.x5c_cert or not args.x5c_key:
        raise CLIError("--renew needs --x5c-cert and --x5c-key")
    chain = certs.load_pem_bundle(Path(args.x5c_cert).read_bytes(), source=args.x5c_cert)
    key = load_private_key(Path(args.x5c_key))
    return renew_token(chain, key, audience=f"{ca_url(args)}/1.0/renew")


def _read_csr(path: str) -> Any:
    try:
        return parse_csr_pem(Path(path).read_bytes())
    except (OSError, InvalidCSR) as exc:
        raise CLIError(f"cannot read the CSR {path}: {exc}") from None


def _token_sans(token_value: str) -> list[str] | None:
    """The ``sans`` of a token we did not mint (``--token``): step reads them unverified to build the CSR."""
    try:
        payload = token_value.split(".")[1]
        claims = json.loads(b64url_decode(payload, allow_padding=True))
    except (IndexError, ValueError):
        raise CLIError("--token is not a JWT") from None
    sans = claims.get("sans") if isinstance(claims, dict) else None
    return [str(s) for s in sans] if isinstance(sans, list) else None


async def post_sign(client: CAClient, csr_pem: str, ott: str, args: argparse.Namespace) -> dict[str, Any]:
    """POST /1.0/sign; the SignResponse document (also used by the admin credentials flow)."""
    body = {"csr": csr_pem, "ott": ott, "notBefore": args.not_before or "", "notAfter": args.not_after or ""}
    response: dict[str, Any] = await client.json("POST", "/1.0/sign", body=body, expect=(201,))
    return response


def chain_pem(response: dict[str, Any]) -> bytes:
    """What step writes to the crt file: ``certChain`` concatenated (leaf first)."""
    chain = response.get("certChain") or [response.get("crt"), response.get("ca")]
    return "".join(str(c) for c in chain if c).encode()


async def signed_chain(csr_pem: str, ott: str, args: argparse.Namespace) -> bytes:
    """POST /1.0/sign, or with ``--offline`` sign locally through the engine; the chain as PEM."""
    if args.offline:
        from acmeca.cli.offline import chain_bytes, sign_offline

        return chain_bytes(await sign_offline(args, csr_pem, ott))
    return chain_pem(await post_sign(ca_client(args), csr_pem, ott, args))


async def _acme_target(args: argparse.Namespace) -> tuple[str, ssl.SSLContext] | None:
    """``--acme URL``, or ``--provisioner`` naming an ACME provisioner: the directory URL and the TLS trust."""
    if args.acme:
        return args.acme, pinned_context(Path(args.root) if args.root else None)
    if not args.provisioner or args.token:
        return None
    client = None if args.offline else ca_client(args)
    documents = await provisioner_documents(args, client)
    if not any(d.get("name") == args.provisioner and str(d.get("type", "")).upper() == "ACME" for d in documents):
        return None
    directory = f"{ca_url(args)}/acme/{quote(args.provisioner, safe='')}/directory"
    return directory, (client or ca_client(args)).ssl_context


async def _acme_chain(args: argparse.Namespace, target: tuple[str, ssl.SSLContext], csr_pem: str,
                      names: TokenSANs) -> bytes:
    """step's ACME flow: new account, order, http-01 (standalone or webroot), finalize with our CSR."""
    now = datetime.now(UTC)
    request = OrderRequest(
        identifiers=(*(("dns", n) for n in names.dns_names), *(("ip", a) for a in names.ip_addresses)),
        csr_der=parse_csr_pem(csr_pem).der,
        contact=tuple(c if ":" in c else f"mailto:{c}" for c in args.contact or ()),
        not_before=order_time(args.not_before, now=now), not_after=order_time(args.not_after, now=now),
    )
    async with responder(args.webroot, args.http_listen) as solver:
        return await obtain_chain(target[0], target[1], request, solver)


async def certificate(args: argparse.Namespace) -> int:
    if args.token and (args.san or args.acme):
        raise CLIError(f"--token and {'--san' if args.san else '--acme'} are mutually exclusive")
    if args.standalone and args.webroot:
        raise CLIError("--standalone and --webroot are mutually exclusive")
    crt_path, key_path = Path(args.crt_file), Path(args.key_file)
    for path in (crt_path, key_path):
        if path.exists() and not args.force:
            raise CLIError(f"file {path} already exists; use --force to overwrite it")
    acme = await _acme_target(args)
    if acme:  # the order names the subject and every --san; the CSR's CN is one of them
        sans = list(dict.fromkeys([args.subject, *(args.san or [])]))
    else:
        sans = (_token_sans(args.token) if args.token else args.san) or [args.subject]
    split = TokenSANs.split(sans)
    if split.emails or split.uris:
        raise CLIError("ACME orders name only DNS names and IP addresses" if acme
                       else "email and URI SANs need your own CSR: use 'acmeca sign'")
    try:
        key = generate_key(KeySpec.parse(args.kty, args.curve, args.size))
    except Malformed as exc:
        raise CLIError(exc.detail) from None
    csr_pem = build_csr_pem(key, args.subject, list(split.dns_names), list(split.ip_addresses)).decode()
    if acme:
        chain = await _acme_chain(args, acme, csr_pem, split)
    else:
        ott = args.token or await mint_token(args, args.subject, purpose="sign", sans=sans)
        chain = await signed_chain(csr_pem, ott, args)
    write_output(crt_path, chain, force=True)
    write_output(key_path, private_key_pem(key), force=True)
    print(f"✔ Certificate: {crt_path}")
    print(f"✔ Private Key: {key_path}")
    return 0


async def sign(args: argparse.Namespace) -> int:
    crt_path = Path(args.crt_file)
    if crt_path.exists() and not args.force:
        raise CLIError(f"file {crt_path} already exists; use --force to overwrite it")
    csr = _read_csr(args.csr_file)
    if not csr.common_name:
        raise CLIError("the CSR has no common name: the token subject must be the CSR's common name")
    sans = [*csr.dns_names, *csr.ip_addresses, *csr.emails, *csr.uris] or [csr.common_name]
    ott = args.token or await mint_token(args, csr.common_name, purpose="sign", sans=sans)
    pem = Path(args.csr_file).read_text(encoding="utf-8")
    write_output(crt_path, await signed_chain(pem, ott, args), force=True)
    print(f"✔ Certificate: {crt_path}")
    return 0


OFFLINE_SIGN = ("Sign without contacting the CA: read the provisioners from ca.json (--ca-config) and issue the "
                "certificate through the CA's own configuration, keys and database, recorded as if the CA had "
                "issued it. The provisioner password file also decrypts the intermediate key (init uses one "
                "password for both).")
NAMES = ("Subject Alternative Names: with --san, exactly those; otherwise the subject alone. The CA's policies "
         "and the provisioner decide which names it accepts.")


def _register_token(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        commands, "token", summary="generate an OTT granting access to the CA",
        description=f"""\
acmeca token generates a one-time token (OTT) that grants access to the CA, and prints it (or writes it to
--output-file). By default it is a sign token for 'acmeca certificate --token' or 'acmeca sign --token':
signed with the key of a JWK provisioner, for the subject and the names in --san. With --revoke it
authorizes revoking the certificate whose serial number is the subject; with --renew it is a renew token
signed with the key of an existing certificate (--x5c-cert, --x5c-key).

The provisioner's private key is its encryptedKey, fetched from the CA (or read from ca.json with
--offline) and decrypted with --provisioner-password-file, or a private JWK given with --key.

A token is valid for 5 minutes. For sign and revoke tokens --not-before and --not-after set another window,
from 10 seconds to 1 hour long, starting at most 30 minutes from now.

{SERIAL_FORMS}""",
        examples=[
            Example("Get a token for a certificate for internal.example.com:", "acmeca token internal.example.com"),
            Example("Get a token with several names and use it:",
                    "TOKEN=$(acmeca token internal.example.com --san internal.example.com --san 10.0.0.5)\n"
                    "acmeca certificate internal.example.com internal.crt internal.key --token $TOKEN"),
            Example("Get a token that authorizes revoking a certificate, and use it:",
                    "TOKEN=$(acmeca token --revoke 7e:5f:a2:9c:13:44:0b:d1:88:02:ff:60:2a:11:c4:9d)\n"
                    "acmeca revoke --token $TOKEN 7e:5f:a2:9c:13:44:0b:d1:88:02:ff:60:2a:11:c4:9d"),
            Example("Get a token valid for 30 minutes from a provisioner named 'dev', without asking the CA:",
                    "acmeca token internal.example.com --provisioner dev --not-after 30m --offline \\\n"
                    "    --provisioner-password-file password.txt"),
        ],
    )
    parser.add_argument("subject",
                        help="The subject (common name) of the certificate the token is for; also its only name "
                             "when there is no --san. With --revoke, the serial number of the certificate to "
                             "revoke. Not used with --renew.")
    add_ca_flags(parser)
    add_provisioner_flags(parser, offline="Do not ask the CA: read the provisioners from ca.json (--ca-config), and "
                                          "when no CA URL is set (--ca-url, $ACMECA_CA_URL, defaults.json) take "
                                          "the token's audience from ca.json too.")
    parser.add_argument("--san", action="append", metavar="name",
                        help="A name (DNS name, IP address, email or URI) the token authorizes; repeat the flag "
                             "for several. The certificate request must carry exactly these names. Not with "
                             "--revoke.")
    parser.add_argument("--not-before", dest="not_before_token", metavar="time|duration",
                        help=f"When the token becomes valid (default: now). {TIME_OR_DURATION}")
    parser.add_argument("--not-after", dest="not_after_token", metavar="time|duration",
                        help="When the token expires (default: 5 minutes after it becomes valid). A duration is "
                             "counted from --not-before.")
    parser.add_argument("--revoke", action="store_true",
                        help="Generate a token to revoke the certificate whose serial number is the subject.")
    parser.add_argument("--renew", action="store_true",
                        help="Generate a renew token, signed with --x5c-key, for the certificate in --x5c-cert.")
    parser.add_argument("--x5c-cert", metavar="file", help="With --renew: the certificate (chain, PEM) to renew.")
    parser.add_argument("--x5c-key", metavar="file", help="With --renew: the private key of --x5c-cert.")
    parser.add_argument("--cnf", metavar="fingerprint",
                        help="Bind a sign token to one certificate request: the base64url SHA-256 fingerprint "
                             "of the request's DER.")
    parser.add_argument("--cnf-file", metavar="file",
                        help="Bind the token to the certificate request (PEM) in this file, as --cnf does.")
    parser.add_argument("--output-file", metavar="file",
                        help="Write the token to this file (mode 0600, replacing it) instead of printing it.")
    parser.set_defaults(handler=token)


def _add_validity_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--not-before", metavar="time|duration",
                        help=f"When the certificate's validity starts. {TIME_OR_DURATION} The provisioner's "
                             "claims bound what the CA accepts.")
    parser.add_argument("--not-after", metavar="time|duration",
                        help="When the certificate's validity ends, given as for --not-before. Without it the "
                             "provisioner's default duration applies.")
    parser.add_argument("--token", metavar="token",
                        help="A sign token from 'acmeca token' to use instead of minting one.")
    parser.add_argument("-f", "--force", action="store_true", help="Overwrite the output files if they exist.")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_token(commands)
    parser = add_command(
        commands, "certificate", summary="generate a new private key and certificate",
        description="""\
acmeca certificate generates a new private key, sends a certificate request for it to the CA (POST
/1.0/sign) authorized by a sign token, and writes the certificate chain (leaf first) to crt-file and the
private key, unencrypted PEM, to key-file, both with mode 0600.

The token is the one given with --token, whose names become the request's names, or one minted here with a
JWK provisioner (see 'acmeca token') for the subject and the --san names. Names go into the request as DNS
names and IP addresses; for email or URI names, make your own request and use 'acmeca sign'.

With --provisioner naming an ACME provisioner of the CA, or with --acme and the directory URL of any ACME
server, the certificate is obtained with ACME instead, as step does: a new account (--contact), an order for
the subject and every --san (DNS names and IP addresses), http-01 answered by a server of its own on
--http-listen (--standalone, the default) or by files written under --webroot for a running web server,
then the request. With --acme the server's TLS certificate is verified with --root if given, else with the
system's trusted roots.

Existing files are not overwritten without --force.""",
        examples=[
            Example("Request a certificate for a name, using the flags set by 'acmeca bootstrap':",
                    "acmeca certificate internal.example.com internal.crt internal.key"),
            Example("Request a certificate with several names and an RSA key:",
                    "acmeca certificate internal.example.com internal.crt internal.key \\\n"
                    "    --san internal.example.com --san 10.0.0.5 --kty RSA --size 3072"),
            Example("Request a certificate valid for 8 hours with a token from 'acmeca token':",
                    "TOKEN=$(acmeca token internal.example.com)\n"
                    "acmeca certificate internal.example.com internal.crt internal.key --token $TOKEN "
                    "--not-after 8h"),
            Example("Issue a certificate on the CA's host without a running CA:",
                    "acmeca certificate internal.example.com internal.crt internal.key --offline \\\n"
                    "    --provisioner-password-file password.txt"),
            Example("Get a certificate with the CA's ACME provisioner 'acme', answering http-01 on port 8080:",
                    "acmeca certificate internal.example.com internal.crt internal.key --provisioner acme \\\n"
                    "    --http-listen :8080"),
            Example("Get a certificate from another ACME server, with files served by a running web server:",
                    "acmeca certificate www.example.com www.crt www.key \\\n"
                    "    --acme https://acme.example.net/directory --webroot /var/www/html \\\n"
                    "    --contact admin@example.com"),
        ],
    )
    parser.add_argument("subject", help=f"The subject (common name) of the certificate. {NAMES} With ACME, the "
                                        "subject and every --san.")
    parser.add_argument("crt_file", help="The file to write the certificate chain to (PEM, leaf first).")
    parser.add_argument("key_file", help="The file to write the new private key to (PEM, not encrypted).")
    add_ca_flags(parser)
    add_provisioner_flags(parser, offline=OFFLINE_SIGN,
                          provisioner="The name of the provisioner to use: a JWK provisioner to mint the token "
                                      "with (needed only when the CA has more than one), or an ACME provisioner "
                                      "to get the certificate with ACME.")
    _add_validity_flags(parser)
    parser.add_argument("--san", action="append", metavar="name",
                        help="A DNS name or IP address for the certificate; repeat the flag for several. Not with "
                             "--token, whose names are used.")
    parser.add_argument("--kty", default="EC", metavar="type", help=KEY_TYPE)
    parser.add_argument("--curve", "--crv", dest="curve", metavar="curve", help=CURVE)
    parser.add_argument("--size", type=int, metavar="bits", help=KEY_SIZE)
    parser.add_argument("--acme", metavar="URL",
                        help="Get the certificate with ACME from the server with this directory URL (any ACME "
                             "server). Not with --token.")
    parser.add_argument("--standalone", action="store_true",
                        help="ACME: answer http-01 with a server of its own on --http-listen, only while the "
                             "command runs (the default). Not with --webroot.")
    parser.add_argument("--webroot", metavar="dir",
                        help="ACME: answer http-01 by writing the challenge files under dir/.well-known/"
                             "acme-challenge/ for a web server that serves dir, removing them afterwards.")
    parser.add_argument("--http-listen", default=DEFAULT_LISTEN, metavar="address",
                        help="ACME: the [host]:port the --standalone server listens on (default :80, every "
                             "interface), e.g. 127.0.0.1:8080.")
    parser.add_argument("--contact", action="append", metavar="email",
                        help="ACME: a contact email (or URI) for the new account; repeat the flag for several.")
    parser.set_defaults(handler=certificate)

    parser = add_command(
        commands, "sign", summary="generate a new certificate signing a certificate request",
        description="""\
acmeca sign sends the certificate signing request in csr-file to the CA (POST /1.0/sign), authorized by a
sign token, and writes the certificate chain (leaf first) to crt-file with mode 0600.

The request must have a common name: a token minted here (see 'acmeca token') is for that name and all the
names the request carries (DNS names, IP addresses, emails and URIs). A token given with --token must match
the request the same way.

An existing crt-file is not overwritten without --force.""",
        examples=[
            Example("Sign a certificate request, using the flags set by 'acmeca bootstrap':",
                    "acmeca sign internal.csr internal.crt"),
            Example("Get a certificate valid for 24 hours, with a token from 'acmeca token':",
                    "TOKEN=$(acmeca token internal.example.com)\n"
                    "acmeca sign internal.csr internal.crt --token $TOKEN --not-after 24h"),
            Example("Sign a certificate request on the CA's host without a running CA:",
                    "acmeca sign internal.csr internal.crt --offline --provisioner-password-file password.txt"),
        ],
    )
    parser.add_argument("csr_file", help="The certificate signing request to sign (PEM).")
    parser.add_argument("crt_file", help="The file to write the certificate chain to (PEM, leaf first).")
    add_ca_flags(parser)
    add_provisioner_flags(parser, offline=OFFLINE_SIGN)
    _add_validity_flags(parser)
    parser.set_defaults(handler=sign)
    renewal.register(commands)
