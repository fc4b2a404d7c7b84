"""The step front end's application key; here rather than in edge/keys.py because edge sits below step."""

from __future__ import annotations

from aiohttp import web

from acmeca.step.service import StepService

STEP: web.AppKey[StepService] = web.AppKey("step")
