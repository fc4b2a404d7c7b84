"""CPU cost per certificate of the engine's weak-key check and pre-issuance lint (median over N issues).

    .venv/bin/python -m bench.issuance_checks            # 200 issues per case

Measures, in one thread, exactly what the engine runs on its executor for each issuance: the badkeys verdict of
a fresh key (no cache hit) and ``LintingSigner.sign`` in enforce mode minus a plain ``build_certificate`` (so the
figure is lint plus the throw-away signature and the TBS comparison). First-use costs (imports, validator
construction, throw-away key) are paid before timing starts and reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from acmeca.config.issuance import LintMode
from acmeca.crypto.certbuild import build_certificate
from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.crypto.weakkeys import WeakKeyChecker
from acmeca.domain.identifiers import dns
from acmeca.domain.records import Requester
from acmeca.domain.status import RequesterKind
from acmeca.engine.pki import create_ca_certificates
from acmeca.engine.requests import IssuanceRequest
from acmeca.engine.serials import new_serial
from acmeca.engine.signing import LintingSigner
from acmeca.engine.templates import leaf_template
from acmeca.engine.validity import ResolvedValidity

NOW = datetime.now(UTC)


def _ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="issues per case (1 to 10,000)")
    count = parser.parse_args().n
    if not 1 <= count <= 10_000:
        parser.error("-n must be from 1 to 10,000")
    rsa_keys = [rsa.generate_private_key(65537, 2048).public_key() for _ in range(count)]
    checker = WeakKeyChecker()
    first = _ms(lambda: checker.verdict(rsa.generate_private_key(65537, 2048).public_key()))
    weak = [_ms(lambda k=k: checker.verdict(k)) for k in rsa_keys]  # type: ignore[misc]
    p256 = [_ms(lambda: checker.verdict(ec.generate_private_key(ec.SECP256R1()).public_key())) for _ in range(count)]
    print(f"weak-key check, RSA-2048: median {statistics.median(weak):.3f} ms (first use {first:.0f} ms)")
    print(f"weak-key check, P-256:    median {statistics.median(p256):.4f} ms")

    root, key = generate_key(KeySpec()), generate_key(KeySpec())
    pki = create_ca_certificates("Bench", root, key, now=NOW)
    signer = LintingSigner()
    validity = ResolvedValidity(NOW, NOW + timedelta(days=1))

    def template() -> object:
        request = IssuanceRequest(
            public_key=ec.generate_private_key(ec.SECP256R1()).public_key(), common_name="bench.example",
            identifiers=(dns("bench.example"),), requester=Requester(RequesterKind.PROVISIONER, "bench"),
            provisioner=None,
        )
        return leaf_template(request, serial=new_serial(), validity=validity, crl_urls=())

    templates = [template() for _ in range(count)]
    first = _ms(lambda: signer.sign(templates[0], pki.intermediate, key, mode=LintMode.ENFORCE, cabf=False))  # type: ignore[arg-type]
    linted = [_ms(lambda t=t: signer.sign(t, pki.intermediate, key, mode=LintMode.ENFORCE, cabf=False))  # type: ignore[misc]
              for t in templates]
    plain = [_ms(lambda t=t: build_certificate(t, pki.intermediate, key)) for t in templates]  # type: ignore[misc]
    print(f"sign, P-256 issuer, no lint:  median {statistics.median(plain):.3f} ms")
    print(f"sign with lint (enforce):     median {statistics.median(linted):.3f} ms "
          f"(lint cost {statistics.median(linted) - statistics.median(plain):.3f} ms; first use {first:.0f} ms)")


if __name__ == "__main__":
    main()
