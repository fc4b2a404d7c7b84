"""Challenges (RFC 8555 §7.5.1): ``{}`` starts validation, ``""`` reads; replies link ``rel="up"`` to the authz.

``{}`` answers with the outcome when validation settles within ``validation.settleWithin``, else
``processing`` with a Retry-After that follows the validation's progress.
"""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.context import account_of, json_reply, services, verify
from acmeca.acme.web.resources import challenge_json
from acmeca.acme.web.urls import ACCOUNT, AUTHZ, CHALLENGE, url_for
from acmeca.domain.errors import NotFound
from acmeca.domain.status import ChallengeStatus


async def post(request: web.Request) -> web.Response:
    verified = await verify(request)
    account = account_of(verified)
    challenges = services(request).challenges
    challenge_id = request.match_info["challenge_id"]
    if verified.payload is None:
        challenge, authz = await challenges.challenge(account, challenge_id)
    else:
        challenge, authz = await challenges.respond(  # other fields ignored (§7.5.1)
            account, challenge_id, account_uri=url_for(request, ACCOUNT, account_id=account.id)
        )
    if authz.id != request.match_info["authz_id"]:
        raise NotFound("no such challenge")
    response = json_reply(
        challenge_json(request, challenge),
        location=url_for(request, CHALLENGE, authz_id=authz.id, challenge_id=challenge.id),
        links=(f'<{url_for(request, AUTHZ, authz_id=authz.id)}>;rel="up"',),
    )
    if challenge.status is ChallengeStatus.PROCESSING:  # not settled within validation.settleWithin
        response.headers["Retry-After"] = str(await challenges.retry_after(challenge, authz))
    return response
