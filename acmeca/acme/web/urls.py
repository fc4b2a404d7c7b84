"""Route names of the ACME sub-application and the one function that turns a name into a URL.

URLs are absolute, https, on the host the client used, and include the prefix the sub-application is
mounted at (``/acme`` or ``/2.0/acme``), so one process serves both mounts without configuration.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

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
    values = {key: quote(value, safe="") for key, value in parts.items()}
    values["provisioner"] = quote(request.match_info["provisioner"], safe="")
    return f"https://{request.host}{_formatter(request.app.router[name]).format(**values)}"


@functools.lru_cache(maxsize=256)
def _formatter(resource: web.AbstractResource) -> str:
    """The route's path template ("/acme/{provisioner}/order/{order_id}"): every reply builds several URLs,
    and formatting a template is far cheaper than the router's URL builder."""
    info = resource.get_info()
    return str(info.get("formatter") or info["path"])
