"""The step front end's application key and route names; here rather than in edge/keys.py because edge sits
below step."""

from __future__ import annotations

from aiohttp import web

from acmeca.step.service import StepService

STEP: web.AppKey[StepService] = web.AppKey("step")


def route_name(prefix: str, name: str) -> str:
    """The name of a step route under ``prefix``: ``sign`` at the root, ``v1.sign`` under ``/1.0``.

    One router holds both mounts, and aiohttp names are unique per router (and must be identifiers).
    """
    return f"v1.{name}" if prefix == "/1.0" else name
