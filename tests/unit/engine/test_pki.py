"""The CA's own certificates: a ten-year root and intermediate at init, and rotated intermediates under the root."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from acmeca.crypto.keys import KeySpec, generate_key
from acmeca.engine.pki import create_ca_certificates, next_intermediate
from acmeca.engine.trust import SigningAuthority

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_rotated_intermediate_keeps_the_name_and_never_outlives_the_root() -> None:
    root_key, old_key, new_key = (generate_key(KeySpec()) for _ in range(3))
    created = create_ca_certificates("Test", root_key, old_key, now=NOW)
    assert created.root.not_valid_after_utc - NOW == timedelta(days=3650)
    assert created.intermediate.not_valid_after_utc - NOW == timedelta(days=3650)

    later = NOW + timedelta(days=3000)
    rotated = next_intermediate(created.root, root_key, created.intermediate, new_key.public_key(), now=later,
                                lifetime=timedelta(days=3650))
    assert rotated.not_valid_after_utc == created.root.not_valid_after_utc
    assert rotated.subject == created.intermediate.subject
    assert rotated.serial_number != created.intermediate.serial_number
    rotated.verify_directly_issued_by(created.root)
    constraints = rotated.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)

    short = next_intermediate(created.root, root_key, created.intermediate, new_key.public_key(), now=later,
                              lifetime=timedelta(days=30))
    assert short.not_valid_after_utc - later == timedelta(days=30)


def test_key_spec_of_an_existing_key_generates_the_same_kind() -> None:
    for spec in (KeySpec("EC", "P-384"), KeySpec("RSA", size=2048), KeySpec("OKP", "Ed25519")):
        assert KeySpec.of(generate_key(spec).public_key()) == spec


def test_a_retired_intermediate_is_served_until_it_expires() -> None:
    root_key, old_key, new_key = (generate_key(KeySpec()) for _ in range(3))
    created = create_ca_certificates("Test", root_key, old_key, now=NOW)
    old = next_intermediate(created.root, root_key, created.intermediate, old_key.public_key(), now=NOW,
                            lifetime=timedelta(days=1))
    new = next_intermediate(created.root, root_key, old, new_key.public_key(), now=NOW, lifetime=timedelta(days=9))
    authority = SigningAuthority(certificate=new, key=new_key, chain=(new,), retired=(old,))
    assert authority.served_intermediates(NOW + timedelta(hours=23)) == (new, old)
    assert authority.served_intermediates(NOW + timedelta(days=1)) == (new,)
    old_ski = old.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    assert authority.retired_chain(old_ski) == (old,)
    assert authority.retired_chain("00") is None
