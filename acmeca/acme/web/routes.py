"""The route table of the ACME sub-application: one named route per resource, paths carrying the provisioner.

Paths follow step-ca (``/acme/{provisioner}/directory``). Resources answer POST only (POST-as-GET included),
so a plain GET gets the router's 405, which the edge renders as ``malformed``; the directory and newNonce
also answer GET (and HEAD).
"""

from __future__ import annotations

from aiohttp import web

from acmeca.acme.web.handlers import (
    account,
    authz,
    certificate,
    challenge,
    directory,
    finalize,
    key_change,
    nonce,
    order,
    orders,
    renewal_info,
    revoke,
)
from acmeca.acme.web.urls import (
    ACCOUNT,
    ACCOUNT_ORDERS,
    AUTHZ,
    CERTIFICATE,
    CERTIFICATE_ALTERNATE,
    CHALLENGE,
    DIRECTORY,
    FINALIZE,
    KEY_CHANGE,
    NEW_ACCOUNT,
    NEW_NONCE,
    NEW_ORDER,
    ORDER,
    RENEWAL_INFO,
    RENEWAL_INFO_CERT,
    REVOKE_CERT,
)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_route("GET", "/{provisioner}/directory", directory.get, name=DIRECTORY)
    r.add_route("HEAD", "/{provisioner}/directory", directory.get, name=DIRECTORY)
    r.add_route("POST", "/{provisioner}/directory", directory.get, name=DIRECTORY)
    r.add_route("GET", "/{provisioner}/new-nonce", nonce.get, name=NEW_NONCE)
    r.add_route("HEAD", "/{provisioner}/new-nonce", nonce.get, name=NEW_NONCE)
    r.add_route("POST", "/{provisioner}/new-nonce", nonce.post, name=NEW_NONCE)
    r.add_route("POST", "/{provisioner}/new-account", account.new_account, name=NEW_ACCOUNT)
    r.add_route("POST", "/{provisioner}/new-order", order.new_order, name=NEW_ORDER)
    r.add_route("POST", "/{provisioner}/revoke-cert", revoke.post, name=REVOKE_CERT)
    r.add_route("POST", "/{provisioner}/key-change", key_change.post, name=KEY_CHANGE)
    r.add_route("POST", "/{provisioner}/account/{account_id}", account.post, name=ACCOUNT)
    r.add_route("POST", "/{provisioner}/account/{account_id}/orders", orders.post, name=ACCOUNT_ORDERS)
    r.add_route("POST", "/{provisioner}/order/{order_id}", order.post, name=ORDER)
    r.add_route("POST", "/{provisioner}/order/{order_id}/finalize", finalize.post, name=FINALIZE)
    r.add_route("POST", "/{provisioner}/authz/{authz_id}", authz.post, name=AUTHZ)
    r.add_route("POST", "/{provisioner}/challenge/{authz_id}/{challenge_id}", challenge.post, name=CHALLENGE)
    r.add_route("POST", "/{provisioner}/certificate/{serial}", certificate.post, name=CERTIFICATE)
    r.add_route("POST", "/{provisioner}/certificate/{serial}/{chain}", certificate.post, name=CERTIFICATE_ALTERNATE)
    # ARI: an unauthenticated GET (RFC 9773 §4.1); the bare URL is only advertised, never answered.
    r.add_route("GET", "/{provisioner}/renewal-info", renewal_info.bare, name=RENEWAL_INFO)
    r.add_route("GET", "/{provisioner}/renewal-info/{cert_id}", renewal_info.get, name=RENEWAL_INFO_CERT)

