"""The CRL: numbered from the database, stored and served as the same bytes, IDP, grace for expired entries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cryptography import x509

from acmeca.config import CRLConfig
from acmeca.domain.errors import NotFound
from acmeca.engine.crl import CRLService
from acmeca.step.service import RevokeRequest, SignRequest
from tests.unit.step.conftest import CA_URL, StepEnv, make_csr


async def _revoked(env: StepEnv, name: str, reason: int = 0) -> int:
    csr, _ = make_csr(name, [name])
    issued = await env.service.sign(SignRequest(csr=csr, ott=env.token(name)))
    await env.service.revoke(RevokeRequest(serial=issued.serial, ott=env.token(issued.serial, purpose="revoke"),
                                           reason_code=reason), peer=None)
    return int(issued.serial)


async def test_crl_contents_and_extensions(step_env: StepEnv) -> None:
    compromised = await _revoked(step_env, "a.test", reason=1)
    unspecified = await _revoked(step_env, "b.test")
    stored = await step_env.service.crl()
    crl = x509.load_der_x509_crl(stored.der)
    assert crl.is_signature_valid(step_env.pki.intermediate.public_key())  # type: ignore[arg-type]
    assert crl.issuer == step_env.pki.intermediate.subject
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(hours=24)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == stored.number
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.full_name == [x509.UniformResourceIdentifier(f"{CA_URL}/1.0/crl")]
    first = crl.get_revoked_certificate_by_serial_number(compromised)
    assert first is not None
    assert first.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    second = crl.get_revoked_certificate_by_serial_number(unspecified)
    assert second is not None
    assert len(second.extensions) == 0


async def test_numbers_increase_and_the_stored_bytes_are_served(step_env: StepEnv) -> None:
    await _revoked(step_env, "a.test")
    after_first = await step_env.service.crl()
    await _revoked(step_env, "b.test")
    after_second = await step_env.service.crl()
    assert after_second.number == after_first.number + 1
    assert (await step_env.service.crl()).der == after_second.der
    results = await asyncio.gather(*(step_env.crl.generate() for _ in range(5)))
    assert len({r.number for r in results}) == 5
    assert (await step_env.service.crl()).number == max(r.number for r in results)


async def test_expired_certificates_leave_after_an_hour(step_env: StepEnv) -> None:
    serial = await _revoked(step_env, "a.test")
    step_env.clock.advance(timedelta(hours=1, minutes=30))  # expired 29 minutes ago (1h01m lifetime)
    listed = x509.load_der_x509_crl((await step_env.crl.generate()).der)
    assert listed.get_revoked_certificate_by_serial_number(serial) is not None
    step_env.clock.advance(timedelta(hours=1))
    gone = x509.load_der_x509_crl((await step_env.crl.generate()).der)
    assert gone.get_revoked_certificate_by_serial_number(serial) is None


async def test_an_expired_crl_is_regenerated_on_demand(step_env: StepEnv) -> None:
    first = await step_env.service.crl()
    step_env.clock.advance(timedelta(hours=25))
    assert (await step_env.service.crl()).number == first.number + 1


async def test_disabled_crl_is_not_found(step_env: StepEnv) -> None:
    disabled = CRLService(
        config=CRLConfig(enabled=False), authority=step_env.engine.authority,
        db=step_env.database, clock=step_env.clock, runtime=None, idp_url="",  # type: ignore[arg-type]
    )
    with pytest.raises(NotFound, match="Certificate Revocation Lists are not enabled"):
        await disabled.current()


def test_refresh_period_defaults_to_two_thirds_of_the_cache(step_env: StepEnv) -> None:
    assert step_env.crl.refresh_period == timedelta(hours=16)
