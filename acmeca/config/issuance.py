"""The top-level sections that tune the issuing engine's checks: ``weakKeys`` and ``lint``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from acmeca.config.registry import Key, Reader, Reload, section

# What ``badkeys --update-bl`` writes into its cache directory; both are needed for a lookup.
BLOCKLIST_FILES = ("badkeysdata.json", "blocklist.dat")

WEAK_KEYS = section("weakKeys", "Known-weak keys (badkeys): its offline checks always run on RSA keys.", (
    Key("blocklistDir", "path", "A directory holding badkeys' blocklist of published private keys "
        "(badkeysdata.json and blocklist.dat, as `badkeys --update-bl` writes them into ~/.cache/badkeys); "
        "keys on it are refused too. Read once, at the first lookup.", Reload.RESTART, default="none"),
))
LINT = section("lint", "Every certificate is linted with pkilint (RFC 5280) before it is signed.", (
    Key("mode", "string", '"enforce" (an error-level finding refuses issuance), "warn" (logged, issued) or '
        '"off".', default="enforce"),
))
PROFILE_LINT = section("authority.provisioners[].profiles.NAME.lint", "Extra lint sets for one ACME profile.", (
    Key("cabf", "boolean", "Also apply pkilint's CA/Browser Forum TLS Baseline Requirements (subscriber) "
        "validators.", default="false"),
))


class LintMode(StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"
    OFF = "off"


@dataclass(frozen=True)
class WeakKeysConfig:
    blocklist_dir: Path | None = None


@dataclass(frozen=True)
class LintConfig:
    mode: LintMode = LintMode.ENFORCE


def read_weak_keys(reader: Reader, base: Path) -> WeakKeysConfig:
    """The blocklist directory must hold badkeys' files: a typo stops the CA at start, not at a lookup."""
    raw = reader.string("blocklistDir")
    if not raw:
        return WeakKeysConfig()
    directory = Path(raw) if Path(raw).is_absolute() else (base / raw).resolve()
    missing = [name for name in BLOCKLIST_FILES if not (directory / name).is_file()]
    if missing:
        raise reader.fail("blocklistDir", f"{directory} lacks {', '.join(missing)} (run badkeys --update-bl)")
    return WeakKeysConfig(directory)


def read_lint(reader: Reader) -> LintConfig:
    mode = reader.string("mode", LintMode.ENFORCE.value)
    if mode not in {m.value for m in LintMode}:
        raise reader.fail("mode", f'must be "enforce", "warn" or "off", not {mode!r}')
    return LintConfig(LintMode(mode))
