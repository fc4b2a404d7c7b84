"""The dispatcher: preconditions, the retry budget, and that nothing escapes as an exception."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta

import pytest

from acmeca.domain.errors import CAError, ConnectionProblem, DNSProblem, Malformed
from acmeca.domain.identifiers import dns
from acmeca.domain.status import ChallengeType
from acmeca.validation import dispatch
from acmeca.validation.attempt import Attempt
from acmeca.validation.dispatch import ValidationResult, ValidationSettings, validate
from acmeca.validation.outcome import Transient
from tests.unit.validation.conftest import KEY_AUTHORIZATION, TOKEN


def test_public_surface() -> None:
    assert set(dispatch.__all__) == {"ValidationResult", "ValidationSettings", "validate"}
    result = ValidationResult(ok=True, error=None, record={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]


@pytest.mark.parametrize("kind", list(ChallengeType))
async def test_key_authorization_must_belong_to_the_token(settings: ValidationSettings, kind: ChallengeType) -> None:
    result = await validate(kind, dns("a.test"), TOKEN, "other-token.thumb", settings)
    assert isinstance(result.error, Malformed)
    assert result.record["attempts"] == 0


@pytest.mark.parametrize("kind", [ChallengeType.HTTP_01, ChallengeType.TLS_ALPN_01])
async def test_wildcards_need_dns01(settings: ValidationSettings, kind: ChallengeType) -> None:
    result = await validate(kind, dns("*.a.test"), TOKEN, KEY_AUTHORIZATION, settings)
    assert isinstance(result.error, Malformed)


class ScriptedValidator:
    """A stand-in validator whose outcomes are scripted, to test the retry loop in isolation."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self, attempt: Attempt) -> None:
        self.calls += 1
        attempt.records.append({"call": self.calls})
        outcome = self.outcomes.pop(0) if self.outcomes else self.outcomes_default()
        if outcome is not None:
            raise outcome

    def outcomes_default(self) -> BaseException:
        return Transient(ConnectionProblem("still refused"))


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedValidator]:
    def install(*outcomes: BaseException | None) -> ScriptedValidator:
        validator = ScriptedValidator(*outcomes)
        monkeypatch.setitem(dispatch.VALIDATORS, ChallengeType.HTTP_01, validator)
        return validator

    return install  # type: ignore[return-value]


async def run(settings: ValidationSettings) -> ValidationResult:
    return await validate(ChallengeType.HTTP_01, dns("a.test"), TOKEN, KEY_AUTHORIZATION, settings)


async def test_transient_then_success(scripted: type[ScriptedValidator], settings: ValidationSettings) -> None:
    validator = scripted(Transient(ConnectionProblem("refused")), Transient(DNSProblem("SERVFAIL")), None)
    result = await run(settings)
    assert result.ok
    assert validator.calls == 3
    assert result.record["attempts"] == 3
    assert result.record["validationRecord"] == [{"call": 3}]  # the record of the attempt that decided


async def test_final_error_is_not_retried(scripted: type[ScriptedValidator], settings: ValidationSettings) -> None:
    validator = scripted(DNSProblem("NXDOMAIN"))
    result = await run(settings)
    assert isinstance(result.error, DNSProblem)
    assert validator.calls == 1


async def test_transients_stop_within_the_budget(
    scripted: type[ScriptedValidator], settings: ValidationSettings
) -> None:
    validator = scripted()
    budget = dataclasses.replace(settings, timeout=timedelta(seconds=1))
    started = time.monotonic()
    result = await run(budget)
    elapsed = time.monotonic() - started
    assert isinstance(result.error, ConnectionProblem)
    assert result.error.detail == "still refused"
    assert 2 <= validator.calls <= 6  # backoff 0.2, 0.4, ... inside one second
    assert elapsed <= 1.2


async def test_unexpected_exception_becomes_a_verdict(
    scripted: type[ScriptedValidator], settings: ValidationSettings, caplog: pytest.LogCaptureFixture
) -> None:
    scripted(RuntimeError("bug"))
    result = await run(settings)
    assert not result.ok
    assert type(result.error) is CAError
    assert "bug" not in (result.error.detail if result.error else "")
    assert "unexpected failure" in caplog.text


async def test_slow_validator_is_cut_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, settings: ValidationSettings
) -> None:
    async def forever(attempt: Attempt) -> None:
        await asyncio.sleep(60)

    monkeypatch.setitem(dispatch.VALIDATORS, ChallengeType.HTTP_01, forever)
    started = time.monotonic()
    result = await run(dataclasses.replace(settings, timeout=timedelta(milliseconds=400)))
    assert isinstance(result.error, ConnectionProblem)
    assert "timed out" in result.error.detail
    assert time.monotonic() - started < 1.0
