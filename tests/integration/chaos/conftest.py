"""The in-process ACME CA of tests/integration/acme/inprocess, for replaying a state a kill left behind."""

from tests.integration.acme.inprocess.conftest import acme_env, acme_options

__all__ = ["acme_env", "acme_options"]
