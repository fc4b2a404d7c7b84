"""Fuzzing the parsers of ACME payload members once the JWS verified: newOrder identifiers, profile and times,
newAccount contacts and the externalAccountBinding header, revocation reasons, ARI certIDs and nonces.

Payloads start from what certbot and lego send and get members replaced by random JSON; identifier values
come from the IDNA and IP strategies. Allowed outcomes: a value or a CAError (rendered as a problem document).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from acmeca.acme.service.accounts import check_contacts
from acmeca.acme.service.certificates import revocation_reason
from acmeca.acme.service.eab import _header
from acmeca.acme.service.nonces import _decode
from acmeca.acme.service.orders import _time, parse_order_identifiers, select_profile
from acmeca.acme.service.provisioner import AcmeProvisioner
from acmeca.acme.service.renewal_info import decode_cert_id
from acmeca.config import parse_provisioner
from acmeca.domain.claims import Claims
from acmeca.domain.errors import CAError
from acmeca.engine.catalog import config_entry
from tests.unit.fuzz.strategies import b64url, dns_names, ip_texts, json_bytes, json_values, mutated_json, mutated_text

URL = "https://ca.test/acme/acme/new-account"
CLAIMS = Claims(min_duration=timedelta(minutes=5), max_duration=timedelta(hours=24),
                default_duration=timedelta(hours=1))
PROVISIONERS = tuple(
    AcmeProvisioner.from_entry(config_entry(parse_provisioner(doc, authority_claims=CLAIMS, where="p")))
    for doc in ({"type": "ACME", "name": "acme"}, {"type": "ACME", "name": "http", "challenges": ["http-01"]})
)
identifier_items = st.fixed_dictionaries({
    "type": st.sampled_from(("dns", "ip", "email")) | json_values,
    "value": dns_names | ip_texts | json_values,
})


@given(st.sampled_from(PROVISIONERS), st.lists(identifier_items, max_size=4) | json_values
       | mutated_json([{"type": "dns", "value": "a.test"}, {"type": "ip", "value": "192.0.2.1"}], ("type", "value")))
@example(PROVISIONERS[1], [{"type": "dns", "value": "*.a.test"}])
@example(PROVISIONERS[0], [{"type": "ip", "value": "fe80::1%eth0"}, {"type": "ip", "value": "::ffff:1.2.3.4"}])
@example(PROVISIONERS[0], [{"type": "dns", "value": ["a"]}])
def test_order_identifiers_parse_or_raise_a_typed_error(provisioner: AcmeProvisioner, raw: Any) -> None:
    with contextlib.suppress(CAError):
        parse_order_identifiers(provisioner, raw)


_TIMES = st.sampled_from((
    "2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00z", "", "Z", "2026-01-01T24:00:00Z",
))


@given(json_values | _TIMES | _TIMES.flatmap(mutated_text), json_values | st.sampled_from(("default", "", "x")))
def test_order_times_and_profile_parse_or_raise_a_typed_error(value: Any, profile: Any) -> None:
    with contextlib.suppress(CAError):
        _time(value, "notAfter")
    with contextlib.suppress(CAError):
        select_profile(PROVISIONERS[0], profile)


_CONTACTS = st.sampled_from(("mailto:a@b.test", "mailto:a@b.test?subject=x", "mailto:%40@b", "MAILTO:a@b",
                             "tel:+1", "mailto:a@b,c@d", "mailto:", "mailto:a@"))


@given(st.lists(_CONTACTS | _CONTACTS.flatmap(mutated_text) | st.text(max_size=20), max_size=6) | json_values)
def test_contacts_parse_or_raise_a_typed_error(contact: Any) -> None:
    with contextlib.suppress(CAError):
        check_contacts(contact)


@given(json_values | st.integers(-10, 12))
def test_revocation_reason_parses_or_raises_a_typed_error(value: Any) -> None:
    with contextlib.suppress(CAError):
        revocation_reason(value)


_CERT_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@given(st.just(_CERT_ID) | mutated_text(_CERT_ID) | st.text(max_size=30)
       | st.tuples(st.binary(max_size=4), st.binary(max_size=4)).map(lambda p: f"{b64url(p[0])}.{b64url(p[1])}"))
@example("AA.AA")
@example(".")
def test_cert_id_parses_or_raises_malformed(text: str) -> None:
    with contextlib.suppress(CAError):
        decode_cert_id(text)


@given(st.text(max_size=60) | st.binary(min_size=16, max_size=40).map(b64url).flatmap(mutated_text))
def test_nonce_decodes_or_raises_bad_nonce(nonce: str) -> None:
    with contextlib.suppress(CAError):
        _decode(nonce)


_EAB_HEADER = {"alg": "HS256", "kid": "key-id", "url": URL}


@given(mutated_json(_EAB_HEADER, ("nonce", "alg", "kid", "url")).map(lambda h: b64url(json_bytes(h)))
       .flatmap(lambda p: st.just(p) | mutated_text(p)) | json_values)
@example(b64url(b"[" * 200 + b"]" * 200))
@example(b64url(b'{"alg": [], "kid": "key-id"}'))  # found: TypeError (unhashable) in the alg check, a 500
def test_eab_header_parses_or_raises_malformed(protected: Any) -> None:
    with contextlib.suppress(CAError):
        _header({"protected": protected, "payload": "", "signature": ""}, URL)
