"""Known-weak public keys, found with badkeys (https://badkeys.info) rather than hand-written checks.

Key policy (``keypolicy``) says which shapes of key we accept; this module says whether one particular key is
known to be breakable: ROCA-structured, Fermat-factorable (primes too close together), sharing a prime with a
published key, and the other offline checks badkeys ships. About 0.5 ms for an RSA-2048 key, nothing for EC
and Ed25519 keys (every offline check is an RSA check), so verdicts are cached by SPKI SHA-256: renewals and
rekeys that reuse a key cost a dictionary lookup.

badkeys is a command-line tool first: a missing blocklist makes it print and call ``sys.exit``. So every call
goes through :meth:`WeakKeyChecker.verdict`, which turns *any* failure of a check (SystemExit included) into
"no verdict from that check", logged once per check; a broken check can never stop the CA, and
it never refuses a key it could not judge.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from acmeca.crypto.keys import PublicKey, spki_sha256

log = logging.getLogger(__name__)

# badkeys' offline checks, named as badkeys names them (its "blocklist" check needs downloaded data).
OFFLINE_CHECKS = ("fermat", "roca", "rsainvalid", "rsapoly", "sharedprimes", "smalld", "smallfactors")
BLOCKLIST_CHECK = "blocklist"
CACHE_SIZE = 4096
_REASONS = {
    "fermat": "its primes are close enough for Fermat factorization",
    "roca": "it has the ROCA structure (CVE-2017-15361) and can be factored",
    "rsainvalid": "its RSA parameters are invalid",
    "rsapoly": "its modulus has a pattern that allows polynomial factoring",
    "sharedprimes": "it shares a prime factor with published keys",
    "smalld": "its private exponent is small enough for Wiener's attack",
    "smallfactors": "its modulus has small prime factors",
    BLOCKLIST_CHECK: "its private key is published (badkeys blocklist)",
}

Check = Callable[..., Any]  # badkeys' checks: (n, e) for RSA ones, (value) for the blocklist; False | finding


class BlocklistUnavailable(Exception):
    """``weakKeys.blocklistDir`` does not hold the files ``badkeys --update-bl`` writes."""


@dataclass(frozen=True)
class WeakKey:
    """A key badkeys knows how to break: ``check`` is badkeys' name for the check that found it."""

    check: str

    @property
    def reason(self) -> str:
        return f"the public key is known to be weak: {_REASONS.get(self.check, self.check)}"


def _offline_checks() -> dict[str, Check]:
    from badkeys.checks import defaultchecks  # imported on first use: the CLI paths never need it

    return {name: defaultchecks[name]["function"] for name in OFFLINE_CHECKS}


def _blocklist_check(directory: Path) -> Check:
    """badkeys' blocklist lookup, reading ``directory`` instead of badkeys' per-user cache.

    badkeys 0.0.21 only reads its blocklist from the directory its module-level ``_cachedir()`` names (from
    XDG_CACHE_HOME) and mmaps it on first use; there is no parameter. Pointing that one function at the
    configured directory keeps badkeys' own lookup code and file format. The files are read once, at the
    first lookup; a badkeys without that function raises here, which the checker records as "no verdict".
    """
    from badkeys.allkeys import block

    resolved = str(directory.resolve()) + "/"
    if not all(hasattr(block, name) for name in ("_cachedir", "_blmeta", "_bldata")):
        raise BlocklistUnavailable("this badkeys version has no blocklist directory to point at")
    if block._cachedir() != resolved:
        block._cachedir = lambda: resolved
        block._blmeta = block._bldata = False  # what an earlier directory loaded is not this one's

    return block.blocklist  # type: ignore[no-any-return]


def _arguments(check: str, key: PublicKey) -> tuple[Any, ...] | None:
    """What badkeys passes each check for this key type (as its ``_checkkey`` does); None: not applicable.

    Every offline check is an RSA check; the blocklist covers EC keys by their x coordinate and Ed25519 keys
    by their raw public value.
    """
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return (numbers.n,) if check == BLOCKLIST_CHECK else (numbers.n, numbers.e)
    if check != BLOCKLIST_CHECK:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return (key.public_numbers().x,)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return (int.from_bytes(key.public_bytes_raw(), "big"),)
    return None


class WeakKeyChecker:
    """badkeys' offline checks (plus the blocklist when configured) with a bounded LRU cache of verdicts.

    Thread-safe: the engine calls it from the CPU executor.
    """

    def __init__(self, *, blocklist_dir: Path | None = None, cache_size: int = CACHE_SIZE) -> None:
        self._blocklist_dir = blocklist_dir
        self._cache_size = cache_size
        self._cache: OrderedDict[str, WeakKey | None] = OrderedDict()
        self._lock = threading.Lock()
        self._checks: dict[str, Check] | None = None
        self._failed: set[str] = set()

    def applies_to(self, key: PublicKey) -> bool:
        """Whether any configured check looks at this key type (EC and Ed25519 keys: only the blocklist)."""
        return isinstance(key, rsa.RSAPublicKey) or self._blocklist_dir is not None

    def cached_verdict(self, key: PublicKey) -> tuple[bool, WeakKey | None]:
        """(found, verdict) without running any check: lets the caller skip the executor on a hit."""
        digest = spki_sha256(key)
        with self._lock:
            if digest not in self._cache:
                return False, None
            self._cache.move_to_end(digest)
            return True, self._cache[digest]

    def verdict(self, key: PublicKey) -> WeakKey | None:
        """The first check that breaks ``key``, or None; never raises because a check failed."""
        found, cached = self.cached_verdict(key)
        if found:
            return cached
        result = self._run(key)
        with self._lock:
            self._cache[spki_sha256(key)] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _run(self, key: PublicKey) -> WeakKey | None:
        for name, check in self._loaded().items():
            arguments = _arguments(name, key)
            if arguments is None:
                continue
            try:
                finding = check(*arguments)
            except (Exception, SystemExit) as exc:  # badkeys exits when its data is missing
                self._note_failure(name, exc)
                continue
            if finding:
                return WeakKey(name)
        return None

    def _loaded(self) -> Mapping[str, Check]:
        if self._checks is None:
            checks: dict[str, Check] = {}
            try:
                checks.update(_offline_checks())
                if self._blocklist_dir is not None:
                    checks[BLOCKLIST_CHECK] = _blocklist_check(self._blocklist_dir)
            except Exception as exc:  # a badkeys release that moved its API: no verdicts, no crash
                self._note_failure("badkeys", exc)
            self._checks = checks
        return self._checks

    def _note_failure(self, name: str, exc: BaseException) -> None:
        with self._lock:
            first = name not in self._failed
            self._failed.add(name)
        if first:
            log.error(
                "a badkeys check failed; keys are accepted without its verdict",
                extra={"check": name, "error": f"{type(exc).__name__}: {exc}"},
            )
