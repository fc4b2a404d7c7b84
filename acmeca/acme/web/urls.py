"""Route names of the ACME sub-application and the one function that turns a name into a URL.

URLs are absolute, https, on the host the client used, and include the prefix the sub-application is
mounted at (``/acme`` or ``/2.0/acme``), so one process serves both mounts without configuration.
"""

from __future__ import annotations

from aiohttp import web

DIRECTORY = "directory"
NEW_NONCE = "new-nonce"
NEW_ACCOUNT = "new-account"
NEW_ORDER = "new-order"
REVOKE_CERT = "revoke-cert"
KEY_CHANGE = "key-change"
ACCOUNT = "account"
ACCOUNT_ORDERS = "account-orders"
ORDER = "order"
FINALIZE = "finalize"
AUTHZ = "authz"
CHALLENGE = "challenge"
CERTIFICATE = "certificate"
CERTIFICATE_ALTERNATE = "certificate-alternate"
RENEWAL_INFO = "renewal-info"
RENEWAL_INFO_CERT = "renewal-info-cert"


def url_for(request: web.Request, name: str, **parts: str) -> str:
    """An absolute https URL for a named route of this sub-application, on the client's host."""
    path = request.app.router[name].url_for(provisioner=request.match_info["provisioner"], **parts)
    return f"https://{request.host}{path}"
