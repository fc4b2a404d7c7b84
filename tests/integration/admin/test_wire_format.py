"""Every admin API answer, from a real server on SQLite and PostgreSQL, read the way step reads it: protojson
into linkedca 0.19 messages (strict), or Go's encoding/json for the two lists upstream writes that way. And
every request body field outside linkedca is a 400 naming it."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from acmeca.cli.admin_credentials import AdminSession
from tests.integration.admin.conftest import SUPER, AdminCA
from tests.integration.admin.test_eab import binding
from tests.support.acme_client import AccountKey, AcmeClient
from tests.unit.admin.linkedca_oracle import GO_ZERO_TIME_SECONDS, check_go_json, check_protojson, go_time

JWK = {"kty": "EC", "crv": "P-256", "kid": "k1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
       "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}
STEP_ADD_JWK: dict[str, Any] = {  # what `step beta ca provisioner add` sends (protojson of linkedca 0.19)
    "type": "JWK", "name": "team-jwk",
    "details": {"JWK": {"publicKey": base64.b64encode(json.dumps(JWK).encode()).decode()}},
    "claims": {"x509": {"enabled": True, "durations": {"max": "48h"}},
               "ssh": {"enabled": True, "userDurations": {}, "hostDurations": {}}},
    "x509Template": {}, "sshTemplate": {},
}


async def _provisioners(admin: AdminSession) -> None:
    listed = await admin.call("GET", "/admin/provisioners")
    assert set(listed) == {"provisioners", "nextCursor"}  # ca.json-style objects, as upstream lists them
    for entry in listed["provisioners"]:
        check_protojson("Provisioner", await admin.call("GET", f"/admin/provisioners/{entry['name']}"))
    created = await admin.call("POST", "/admin/provisioners", body=STEP_ADD_JWK, expect=(201,))
    check_protojson("Provisioner", created)
    assert created["createdAt"]
    fetched = await admin.call("GET", f"/admin/provisioners/id?id={created['id']}")
    check_protojson("Provisioner", fetched)
    assert fetched["createdAt"] == created["createdAt"], "a stored provisioner keeps its creation time, as step-ca's"
    fetched["claims"]["disableRenewal"] = True  # step's update: GET, change, PUT the whole message back
    updated = await admin.call("PUT", "/admin/provisioners/team-jwk", body=fetched)
    check_protojson("Provisioner", updated)
    assert updated["claims"]["disableRenewal"] is True
    assert updated["createdAt"] == created["createdAt"]
    acme = await admin.call("POST", "/admin/provisioners", expect=(201,), body={
        "type": "ACME", "name": "eab", "details": {"ACME": {"requireEab": True, "challenges": ["HTTP_01"]}},
        "policy": {"x509": {"allow": {"dns": ["*.team.test"]}}},
    })
    check_protojson("Provisioner", acme)
    assert acme["details"] == {"ACME": {"requireEab": True, "challenges": ["HTTP_01"]}}


async def _admins(admin: AdminSession) -> None:
    created = await admin.call("POST", "/admin/admins", expect=(201,),
                               body={"subject": "bob", "provisioner": "admin", "type": 1})
    check_protojson("Admin", created)
    assert created["type"] == "ADMIN"
    updated = await admin.call("PATCH", f"/admin/admins/{created['id']}", body={"type": 2})
    check_protojson("Admin", updated)
    assert updated["type"] == "SUPER_ADMIN"
    check_protojson("Admin", await admin.call("GET", f"/admin/admins/{created['id']}"))
    listed = await admin.call("GET", "/admin/admins")  # [quirk] Go JSON of []*linkedca.Admin, as upstream
    assert {a["subject"] for a in listed["admins"]} == {SUPER, "bob"}
    for entry in listed["admins"]:
        check_go_json("Admin", entry)


async def _policies(admin: AdminSession, key_id: str) -> None:
    for path in ("/admin/policy", "/admin/provisioners/eab/policy", f"/admin/acme/policy/eab/key/{key_id}"):
        if path == "/admin/provisioners/eab/policy":
            check_protojson("Policy", await admin.call("GET", path))  # created with the provisioner
            continue
        created = await admin.call("POST", path, expect=(201,),
                                   body={"x509": {"allow": {"dns": ["*.team.test", SUPER, "bob", "localhost"],
                                                            "ips": ["127.0.0.1"]}, "allowWildcardNames": False}})
        check_protojson("Policy", created)
        updated = await admin.call("PUT", path, body={**created, "x509": {**created["x509"],
                                                                          "allowWildcardNames": True}})
        check_protojson("Policy", updated)
        assert updated["x509"]["allowWildcardNames"] is True
        check_protojson("Policy", await admin.call("GET", path))


async def _eab_keys(admin_ca: AdminCA, admin: AdminSession) -> str:
    key = await admin.call("POST", "/admin/acme/eab/eab", body={"reference": "team-a"}, expect=(201,))
    check_protojson("EABKey", key)
    unbound = await admin.call("POST", "/admin/acme/eab/eab", body={"reference": ""}, expect=(201,))
    check_protojson("EABKey", unbound)
    tls = ssl.create_default_context(cafile=str(admin_ca.server.root_path))
    async with aiohttp.ClientSession() as http:
        client = AcmeClient(http, f"{admin_ca.server.url}/acme/eab/directory", key=AccountKey.generate(),
                            ssl_context=tls)
        url = (await client.directory())["newAccount"]
        reply = await client.register(externalAccountBinding=binding(
            client, url, key["id"], base64.b64decode(key["hmacKey"])))
        assert reply.status == 201, reply.body
    listed = await admin.call("GET", "/admin/acme/eab/eab")
    assert set(listed) == {"eaks", "nextCursor"}
    by_id = {k["id"]: k for k in listed["eaks"]}
    for entry in listed["eaks"]:
        check_go_json("EABKey", entry)
    assert by_id[unbound["id"]]["bound_at"] == {"seconds": GO_ZERO_TIME_SECONDS}
    assert go_time(by_id[key["id"]]["bound_at"]).year > 2000
    assert go_time(by_id[key["id"]]["created_at"]).year > 2000
    for entry in (await admin.call("GET", "/admin/acme/eab/eab/team-a"))["eaks"]:
        check_go_json("EABKey", entry)
    return str(key["id"])


async def test_every_admin_answer_decodes_as_step_decodes_it(admin_ca: AdminCA, tmp_path: Path) -> None:
    admin = admin_ca.session(SUPER, tmp_path)
    await _provisioners(admin)
    await _admins(admin)
    key_id = await _eab_keys(admin_ca, admin)
    await _policies(admin, key_id)
    listed = await admin.call("GET", "/admin/acme/eab/eab")
    assert next(k for k in listed["eaks"] if k["id"] == key_id)["policy"]["x509"]["allow_wildcard_names"] is True


async def test_fields_outside_linkedca_are_bad_requests_naming_them(admin_ca: AdminCA, tmp_path: Path) -> None:
    admin = admin_ca.session(SUPER, tmp_path)
    await admin.call("POST", "/admin/provisioners", body=STEP_ADD_JWK, expect=(201,))
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", "/admin/provisioners", {**STEP_ADD_JWK, "claims": {"disableSmallstepExtension": True}},
         '"claims.disableSmallstepExtension"'),
        ("POST", "/admin/provisioners", {**STEP_ADD_JWK, "createdAt": ""}, '"createdAt"'),
        ("PUT", "/admin/provisioners/team-jwk", {**STEP_ADD_JWK, "bogus": 1}, '"bogus"'),
        ("POST", "/admin/admins", {"subject": "x", "provisioner": "admin", "provisionerName": "admin"},
         '"provisionerName"'),
        ("PATCH", "/admin/admins/whoever", {"type": 2, "subject": "x"}, '"subject"'),
        ("POST", "/admin/policy", {"x509": {"allow": {"cn": ["x"]}}}, '"x509.allow.cn"'),
        ("POST", "/admin/policy", {"x509": {"allowWildcardNames": "yes"}}, '"x509.allowWildcardNames"'),
        ("POST", "/admin/acme/eab/acme", {"reference": "r", "hmacKey": "AAAA"}, '"hmacKey"'),
    ]
    for method, path, body, field in cases:
        status, data = await admin.raw(method, path, body=body)
        answer = json.loads(data)
        assert (status, answer["type"]) == (400, "badRequest"), (method, path, answer)
        assert field in answer["message"], (method, path, answer)
