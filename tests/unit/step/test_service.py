"""StepService against a real database: what is issued, and that every refusal issues and changes nothing."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acmeca.crypto import certs
from acmeca.domain.encoding import rfc3339
from acmeca.domain.errors import AlreadyRevoked, Forbidden, Malformed, NotFound, NotImplementedYet, Unauthenticated
from acmeca.domain.status import RevocationReason
from acmeca.step.service import RevokeRequest, SignRequest
from tests.support.csr_versions import with_version
from tests.unit.step.conftest import StepEnv, make_csr


async def _issue(env: StepEnv, name: str = "svc.test", **request: str) -> x509.Certificate:
    csr, _ = make_csr(name, [name])
    issued = await env.service.sign(SignRequest(csr=csr, ott=env.token(name), **request))
    return x509.load_pem_x509_certificate(issued.leaf_pem.encode())


async def test_sign_issues_the_default_leaf(step_env: StepEnv) -> None:
    leaf = await _issue(step_env)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "svc.test"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["svc.test"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature
    assert not key_usage.key_encipherment
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=1, minutes=1)
    assert certs.provisioner_of(leaf) == (1, "admin", step_env.kid)


async def test_sign_honours_requested_validity(step_env: StepEnv) -> None:
    leaf = await _issue(step_env, not_after="2h")
    assert leaf.not_valid_after_utc == step_env.clock.now().replace(microsecond=0) + timedelta(hours=2)


@pytest.mark.parametrize(
    ("csr_names", "token_claims", "error", "message"),
    [
        (("svc.test", ["other.test"]), {}, Forbidden, "valid DNS names"),
        (("other.test", ["svc.test"]), {}, Forbidden, "valid common name"),
        ((None, ["svc.test"]), {}, Forbidden, "empty common name"),
        (("svc.test", ["svc.test"]), {"cnf": {"x5rt#S256": "AAAA"}}, Forbidden, "cnf"),
        (("svc.test", ["svc.test"]), {"sans": ["svc.test", "10.0.0.1"]}, Forbidden, "IP addresses"),
    ],
)
async def test_csr_must_match_the_token(
    step_env: StepEnv, csr_names: tuple[str | None, list[str]], token_claims: dict[str, Any],
    error: type[Exception], message: str,
) -> None:
    csr, _ = make_csr(*csr_names)
    with pytest.raises(error, match=message):
        await step_env.service.sign(SignRequest(csr=csr, ott=step_env.token("svc.test", **token_claims)))
    assert await step_env.certificate_count() == 0


@pytest.mark.parametrize(
    ("not_after", "error", "message"),
    [("25h", Forbidden, "more than the authorized maximum"),
     ("-1h", Malformed, "notAfter"), ("soon", Malformed, "invalid time or duration"),
     ("99999999999999h", Malformed, "out of range")],
)
async def test_durations_outside_the_claims_are_refused(
    step_env: StepEnv, not_after: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await _issue(step_env, not_after=not_after)
    assert await step_env.certificate_count() == 0


async def test_the_duration_counts_from_the_backdated_not_before(step_env: StepEnv) -> None:
    """step computes an absolute notAfter, then spends a second or more before the request arrives; step-ca
    measures from its backdated notBefore (now − 1m), so a notAfter just short of the minimum from arrival
    passes (here the minimum is 1m), and the maximum admits the backdate."""
    now = step_env.clock.now().replace(microsecond=0)
    leaf = await _issue(step_env, not_after=rfc3339(now + timedelta(seconds=59)))
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (now - timedelta(minutes=1),
                                                                     now + timedelta(seconds=59))
    with pytest.raises(Forbidden, match=r"^requested duration of 59s is less than the authorized minimum"):
        await _issue(step_env, not_before="30s", not_after="59s")  # relative to the requested, unbackdated start
    with pytest.raises(Forbidden, match=r"^requested duration of 24h1m1s is more than the authorized maximum "
                                        "certificate duration of 24h1m0s$"):
        await _issue(step_env, not_after=rfc3339(now + timedelta(hours=24, seconds=1)))


async def test_go_zero_time_is_unset(step_env: StepEnv) -> None:
    zero = "0001-01-01T00:00:00Z"
    leaf = await _issue(step_env, not_before=zero, not_after=zero)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=1, minutes=1)
    with pytest.raises(Malformed, match=r"^notBefore 0001-01-01T00:00:00[+]01:00 is out of range$"):
        await _issue(step_env, not_before="0001-01-01T00:00:00+01:00")
    assert await step_env.certificate_count() == 1


async def test_missing_fields_follow_step_order(step_env: StepEnv) -> None:
    csr, _ = make_csr("svc.test", ["svc.test"])
    with pytest.raises(Malformed, match="missing csr"):
        await step_env.service.sign(SignRequest(csr=None, ott=None))
    with pytest.raises(Malformed, match="invalid csr"):
        await step_env.service.sign(SignRequest(csr="-----BEGIN CERTIFICATE REQUEST-----\nAA==\n", ott=None))
    with pytest.raises(Malformed, match="missing ott"):
        await step_env.service.sign(SignRequest(csr=csr, ott=None))


async def test_renew_by_certificate_keeps_key_subject_and_lifetime(step_env: StepEnv) -> None:
    old = await _issue(step_env)
    step_env.clock.advance(timedelta(minutes=30))
    issued = await step_env.service.renew(peer=certs.to_der(old), bearer=None)
    new = x509.load_pem_x509_certificate(issued.leaf_pem.encode())
    assert new.serial_number != old.serial_number
    assert new.subject == old.subject
    assert certs.spki_sha256_of(new) == certs.spki_sha256_of(old)
    assert new.not_valid_after_utc - new.not_valid_before_utc == old.not_valid_after_utc - old.not_valid_before_utc
    record = await step_env.engine.certificate(issued.serial)
    assert record.renewed_from == str(old.serial_number)


async def test_renew_refuses_expired_revoked_and_missing(step_env: StepEnv) -> None:
    old = await _issue(step_env)
    with pytest.raises(Malformed, match="missing client certificate"):
        await step_env.service.renew(peer=None, bearer=None)
    step_env.clock.advance(timedelta(hours=2))
    with pytest.raises(Unauthenticated, match="certificate expired on"):
        await step_env.service.renew(peer=certs.to_der(old), bearer=None)
    step_env.clock.advance(timedelta(hours=-2))
    await step_env.service.revoke(RevokeRequest(serial=str(old.serial_number), ott=step_env.token(
        str(old.serial_number), purpose="revoke")), peer=None)
    with pytest.raises(Unauthenticated, match="revoked"):
        await step_env.service.renew(peer=certs.to_der(old), bearer=None)
    assert await step_env.certificate_count() == 1


async def test_renew_disabled_by_provisioner_claims(step_env: StepEnv) -> None:
    key = step_env.norenew_key
    csr, _ = make_csr("nr.test", ["nr.test"])
    ott = step_env.token("nr.test", issuer="norenew", key=key, header={"kid": key["kid"]})
    issued = await step_env.service.sign(SignRequest(csr=csr, ott=ott))
    leaf = x509.load_pem_x509_certificate(issued.leaf_pem.encode())
    with pytest.raises(Unauthenticated, match="renew is disabled for provisioner 'norenew'"):
        await step_env.service.renew(peer=certs.to_der(leaf), bearer=None)


async def test_rekey_takes_the_csr_key(step_env: StepEnv) -> None:
    old = await _issue(step_env)
    csr, key = make_csr("svc.test", ["svc.test"])
    issued = await step_env.service.rekey(peer=certs.to_der(old), csr_pem=csr)
    new = x509.load_pem_x509_certificate(issued.leaf_pem.encode())
    assert certs.spki_sha256_of(new) != certs.spki_sha256_of(old)
    assert new.public_key() == key.public_key()
    with pytest.raises(Malformed, match="missing client certificate"):
        await step_env.service.rekey(peer=None, csr_pem=csr)
    with pytest.raises(Malformed, match="missing csr"):
        await step_env.service.rekey(peer=certs.to_der(old), csr_pem=None)


async def test_revoke_by_token_and_by_certificate(step_env: StepEnv) -> None:
    first, second = await _issue(step_env, "a.test"), await _issue(step_env, "b.test")
    serial = str(first.serial_number)
    await step_env.service.revoke(
        RevokeRequest(serial=hex(first.serial_number), ott=step_env.token(serial, purpose="revoke"), reason_code=1,
                      reason="lost laptop"), peer=None)
    record = await step_env.engine.certificate(serial)
    assert record.revocation is not None
    assert record.revocation.reason is RevocationReason.KEY_COMPROMISE
    assert record.revocation.note == "lost laptop"
    await step_env.service.revoke(RevokeRequest(serial=str(second.serial_number)), peer=certs.to_der(second))
    crl = x509.load_der_x509_crl((await step_env.service.crl()).der)
    assert {r.serial_number for r in crl} == {first.serial_number, second.serial_number}


@pytest.mark.parametrize(
    ("request_fields", "error", "message"),
    [
        ({"serial": None}, Malformed, "missing serial"),
        ({"serial": "12ab"}, Malformed, "not a decimal"),
        ({"reason_code": 11}, Malformed, "reasonCode out of bounds"),
        ({"reason_code": 7}, Malformed, "not an assigned reason"),
        ({"passive": False}, NotImplementedYet, "non-passive revocation not implemented"),
        ({"ott": None}, Malformed, "missing ott or client certificate"),
    ],
)
async def test_revoke_bad_requests(
    step_env: StepEnv, request_fields: dict[str, object], error: type[Exception], message: str
) -> None:
    leaf = await _issue(step_env)
    serial = str(leaf.serial_number)
    fields: dict[str, object] = {"serial": serial, "ott": step_env.token(serial, purpose="revoke")}
    fields.update(request_fields)
    with pytest.raises(error, match=message):
        await step_env.service.revoke(RevokeRequest(**fields), peer=None)  # type: ignore[arg-type]
    assert not (await step_env.engine.certificate(serial)).is_revoked


async def test_revoke_token_subject_must_be_the_serial(step_env: StepEnv) -> None:
    leaf, other = await _issue(step_env, "a.test"), await _issue(step_env, "b.test")
    ott = step_env.token(str(other.serial_number), purpose="revoke")
    with pytest.raises(Forbidden, match="do not match"):
        await step_env.service.revoke(RevokeRequest(serial=str(leaf.serial_number), ott=ott), peer=None)
    with pytest.raises(Forbidden, match="different"):
        await step_env.service.revoke(RevokeRequest(serial=str(leaf.serial_number)), peer=certs.to_der(other))


async def test_revoke_unknown_and_twice(step_env: StepEnv) -> None:
    with pytest.raises(NotFound):
        await step_env.service.revoke(RevokeRequest(serial="12345", ott=step_env.token("12345", purpose="revoke")),
                                      peer=None)
    leaf = await _issue(step_env)
    serial = str(leaf.serial_number)
    await step_env.service.revoke(RevokeRequest(serial=serial, ott=step_env.token(serial, purpose="revoke")), peer=None)
    with pytest.raises(AlreadyRevoked, match=f"certificate with serial number '{serial}' is already revoked"):
        await step_env.service.revoke(RevokeRequest(serial=serial, ott=step_env.token(serial, purpose="revoke")),
                                      peer=None)


async def test_eddsa_provisioner_and_its_own_claims(step_env: StepEnv) -> None:
    def ott(name: str) -> str:
        return step_env.token(name, issuer="ed", key=step_env.ed_key,
                              header={"alg": "EdDSA", "kid": step_env.ed_key["kid"]})

    csr, _ = make_csr("ed.test", ["ed.test"])
    issued = await step_env.service.sign(SignRequest(csr=csr, ott=ott("ed.test")))
    assert issued.not_after - issued.not_before == timedelta(minutes=31)  # provisioner default + backdate
    with pytest.raises(Forbidden, match="maximum certificate duration of 2h1m0s"):  # max + backdate
        await step_env.service.sign(SignRequest(csr=csr, ott=ott("ed.test"), not_after="3h"))
    with pytest.raises(Unauthenticated, match="algorithm ES256"):
        await step_env.service.sign(SignRequest(csr=csr, ott=step_env.token(
            "ed.test", issuer="ed", header={"kid": step_env.ed_key["kid"]})))


def _version_2_pem(name: str, *, break_signature: bool = False) -> str:
    pem, key = make_csr(name, [name])
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    body = base64.encodebytes(with_version(der, key, 2, break_signature=break_signature)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


async def test_sign_accepts_a_version_2_csr(step_env: StepEnv) -> None:
    issued = await step_env.service.sign(SignRequest(csr=_version_2_pem("v2.test"), ott=step_env.token("v2.test")))
    leaf = x509.load_pem_x509_certificate(issued.leaf_pem.encode())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["v2.test"]


@pytest.mark.parametrize(
    "csr",
    [
        _version_2_pem("v2.test", break_signature=True),
        "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQI=\n-----END CERTIFICATE REQUEST-----\n",
        "garbage",
    ],
    ids=["version-2-broken-signature", "truncated", "garbage"],
)
async def test_sign_refuses_an_unreadable_csr_as_malformed(step_env: StepEnv, csr: str) -> None:
    with pytest.raises(Malformed, match="invalid csr"):
        await step_env.service.sign(SignRequest(csr=csr, ott=step_env.token("v2.test")))
    assert await step_env.certificate_count() == 0


# The sign path spends its token in the transaction that reserves the serial (step/service.py, StepService.sign):
# these pin that a token still buys at most one certificate, and that refusals spend it as before.


async def _rows(env: StepEnv) -> tuple[int, int]:
    """(certificate rows in any state, spent-token rows)."""
    import sqlalchemy as sa

    from acmeca.store.schema import certificates, used_tokens

    async with env.database.read() as tx:
        certificate_rows = await tx.scalar(sa.select(sa.func.count()).select_from(certificates))
        token_rows = await tx.scalar(sa.select(sa.func.count()).select_from(used_tokens))
    return int(certificate_rows or 0), int(token_rows or 0)


async def test_one_token_sent_concurrently_buys_one_certificate(step_env: StepEnv) -> None:
    import asyncio

    csr, _ = make_csr("svc.test", ["svc.test"])
    token = step_env.token("svc.test")
    results = await asyncio.gather(
        *(step_env.service.sign(SignRequest(csr=csr, ott=token)) for _ in range(4)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 3
    assert all(isinstance(r, Unauthenticated) and "token already used" in r.detail for r in refused)
    assert await _rows(step_env) == (1, 1)  # the refused requests reserved no serial
    assert await step_env.certificate_count() == 1


async def test_a_replayed_token_reserves_nothing(step_env: StepEnv) -> None:
    csr, _ = make_csr("svc.test", ["svc.test"])
    token = step_env.token("svc.test")
    await step_env.service.sign(SignRequest(csr=csr, ott=token))
    with pytest.raises(Unauthenticated, match="token already used"):
        await step_env.service.sign(SignRequest(csr=csr, ott=token))
    assert await _rows(step_env) == (1, 1)


@pytest.mark.parametrize("refusal", ["csr", "duration", "engine"])
async def test_a_request_refused_after_the_token_checks_still_spends_the_token(
    step_env: StepEnv, refusal: str
) -> None:
    """Refused by the CSR/token agreement, the requested duration or the engine's own checks (a blocked key):
    the token is spent, and presenting it again is "token already used" even when the same refusal would
    apply (the spend is checked first, as when it came before every other check)."""
    from acmeca.crypto.keys import spki_sha256
    from acmeca.domain.errors import BadPublicKey
    from acmeca.store import certificates

    csr, key = make_csr("other.test" if refusal == "csr" else "svc.test", ["svc.test"])
    if refusal == "engine":
        async with step_env.database.write() as tx:
            await certificates.block_key(tx, spki_sha256(key.public_key()), at=step_env.clock.now(), source="test")
    request = SignRequest(csr=csr, ott=step_env.token("svc.test"), not_after="25h" if refusal == "duration" else "")
    with pytest.raises((Forbidden, Malformed, BadPublicKey)):
        await step_env.service.sign(request)
    assert await _rows(step_env) == (0, 1)
    for again in (request, SignRequest(csr=make_csr("svc.test", ["svc.test"])[0], ott=request.ott)):
        with pytest.raises(Unauthenticated, match="token already used"):
            await step_env.service.sign(again)
    assert await _rows(step_env) == (0, 1)
