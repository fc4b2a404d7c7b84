"""Policy documents -> validated rule sets.

Two spellings exist upstream and both are accepted: the admin API's linkedca JSON uses plural keys
(``dns, ips, emails, uris, commonNames``) while ``ca.json``'s ``authority.policy`` uses singular ones
(``dns, ip, email, uri, cn``). Everything is validated here, once, so a document that parses is a policy
that can be evaluated; anything else is refused with the offending rule named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from acmeca.policy.constraints import (
    InvalidPolicy,
    IPNetwork,
    common_name_constraint,
    dns_constraint,
    email_constraint,
    ip_constraint,
    uri_constraint,
)

T = TypeVar("T")

# canonical key -> accepted spellings (linkedca plural first, ca.json singular second)
_X509_KEYS: dict[str, tuple[str, ...]] = {
    "dns": ("dns",),
    "ips": ("ips", "ip"),
    "emails": ("emails", "email"),
    "uris": ("uris", "uri"),
    "commonNames": ("commonNames", "cn"),
}
_SSH_KEYS: dict[str, tuple[str, ...]] = {
    "dns": ("dns",),
    "ips": ("ips", "ip"),
    "emails": ("emails", "email"),
    "principals": ("principals", "principal"),
}


@dataclass(frozen=True)
class NameRules:
    """One side (allow or deny) of an X.509 policy, already normalised."""

    dns: tuple[str, ...] = ()
    ips: tuple[IPNetwork, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    common_names: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.dns) + len(self.ips) + len(self.emails) + len(self.uris) + len(self.common_names)


def _strings(section: Mapping[str, Any], spellings: tuple[str, ...], where: str) -> list[str]:
    values: list[str] = []
    for key in spellings:
        raw = section.get(key)
        if raw is None:
            continue
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise InvalidPolicy(f"{where}.{key} must be a list of strings")
        values.extend(raw)
    return values


def _normalised(values: list[str], parse: Callable[[str], T]) -> tuple[T, ...]:
    result: list[T] = []
    for value in values:
        item = parse(value)
        if item not in result:
            result.append(item)
    return tuple(result)


def _section(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"{where}.{key} must be an object")
    unknown = set(value) - {s for spellings in _X509_KEYS.values() for s in spellings}
    if unknown:
        raise InvalidPolicy(f"{where}.{key} has unknown name types: {', '.join(sorted(unknown))}")
    return value


def parse_name_rules(section: Mapping[str, Any], where: str) -> NameRules:
    return NameRules(
        dns=_normalised(_strings(section, _X509_KEYS["dns"], where), dns_constraint),
        ips=_normalised(_strings(section, _X509_KEYS["ips"], where), ip_constraint),
        emails=_normalised(_strings(section, _X509_KEYS["emails"], where), email_constraint),
        uris=_normalised(_strings(section, _X509_KEYS["uris"], where), uri_constraint),
        common_names=_normalised(_strings(section, _X509_KEYS["commonNames"], where), common_name_constraint),
    )


def parse_x509_policy(document: Mapping[str, Any] | None) -> tuple[NameRules, NameRules, bool]:
    """``(allow, deny, allowWildcardNames)`` of the ``x509`` part of a policy document."""
    if not document:
        return NameRules(), NameRules(), False
    if not isinstance(document, Mapping):
        raise InvalidPolicy("policy must be a JSON object")
    x509 = document.get("x509")
    if x509 is None:
        return NameRules(), NameRules(), False
    if not isinstance(x509, Mapping):
        raise InvalidPolicy("policy.x509 must be an object")
    wildcards = x509.get("allowWildcardNames", False)
    if not isinstance(wildcards, bool):
        raise InvalidPolicy("policy.x509.allowWildcardNames must be a boolean")
    allow = parse_name_rules(_section(x509, "allow", "policy.x509"), "policy.x509.allow")
    deny = parse_name_rules(_section(x509, "deny", "policy.x509"), "policy.x509.deny")
    return allow, deny, wildcards


def _validate_ssh(document: Mapping[str, Any]) -> None:
    """SSH rules are stored and returned but not enforced (no SSH CA yet); still refuse malformed ones."""
    ssh = document.get("ssh")
    ssh = {} if ssh is None else ssh
    if not isinstance(ssh, Mapping):
        raise InvalidPolicy("policy.ssh must be an object")
    for kind in ("user", "host"):
        part = ssh.get(kind)
        part = {} if part is None else part
        if not isinstance(part, Mapping):
            raise InvalidPolicy(f"policy.ssh.{kind} must be an object")
        for side in ("allow", "deny"):
            section = part.get(side)
            section = {} if section is None else section
            where = f"policy.ssh.{kind}.{side}"
            if not isinstance(section, Mapping):
                raise InvalidPolicy(f"{where} must be an object")
            _normalised(_strings(section, _SSH_KEYS["dns"], where), dns_constraint)
            _normalised(_strings(section, _SSH_KEYS["ips"], where), ip_constraint)
            _normalised(_strings(section, _SSH_KEYS["emails"], where), email_constraint)
            _strings(section, _SSH_KEYS["principals"], where)


def parse_policy_document(document: Any) -> dict[str, Any]:
    """Validate a whole policy document and return it in linkedca (plural-key) spelling for storage."""
    if not isinstance(document, Mapping):
        raise InvalidPolicy("policy must be a JSON object")
    unknown = set(document) - {"x509", "ssh"}
    if unknown:
        raise InvalidPolicy(f"policy has unknown keys: {', '.join(sorted(unknown))}")
    parse_x509_policy(document)
    _validate_ssh(document)
    return canonical_document(document)


def canonical_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The linkedca spelling of a (valid) document, values kept as the operator wrote them."""
    result: dict[str, Any] = {}
    x509 = document.get("x509")
    if isinstance(x509, Mapping):
        out: dict[str, Any] = {}
        for side in ("allow", "deny"):
            section = x509.get(side)
            if isinstance(section, Mapping):
                names = {key: _strings(section, spellings, "") for key, spellings in _X509_KEYS.items()}
                out[side] = {key: values for key, values in names.items() if values}
        out["allowWildcardNames"] = bool(x509.get("allowWildcardNames", False))
        result["x509"] = out
    if isinstance(document.get("ssh"), Mapping):
        result["ssh"] = dict(document["ssh"])
    return result
