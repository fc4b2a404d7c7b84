"""A malformed ca.json stops ``acmeca serve`` with one line naming the key; step-ca keys are listed, not fatal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.ca_server import CAServer


def _serve(server: CAServer) -> Any:
    return server.cli("serve", "--config", str(server.config_path), "--password-file", str(server.password_file),
                      check=False, timeout=30)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update({"validation": {"http01port": 8080}}),
         "validation.http01port: unknown key (did you mean http01Port?)"),
        (lambda d: d.update({"validation": {"resolver": "dns.google"}}), "validation.resolver: resolver 'dns.google'"),
        (lambda d: d["authority"]["provisioners"][1].update({"validation": {"http01port": 8080}}),
         "authority.provisioners[1].validation.http01port: unknown key (did you mean http01Port?)"),
        (lambda d: d["authority"]["provisioners"].append({"type": "Kerberos", "name": "k"}),
         "authority.provisioners[2].type: 'Kerberos' is not a provisioner type step-ca defines"),
        (lambda d: d["authority"].update({"policy": {"x509": {"allow": {"dns": ["*.*.bad.test"]}}}}),
         "authority.policy: "),
        (lambda d: d.update({"crl": {"cacheDuration": "a day"}}), "crl.cacheDuration: must be a duration"),
    ],
)
def test_bad_config_stops_serve_with_one_line(ca_home: CAServer, edit: Any, expected: str) -> None:
    ca_home.edit_config(edit)
    result = _serve(ca_home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {ca_home.config_path}: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_step_ca_keys_and_inactive_provisioners_are_listed_once(ca_home: CAServer) -> None:
    def step_ca_extras(document: dict[str, Any]) -> None:
        document["kms"] = {"type": "softkms"}
        document["authority"]["deploymentType"] = "standalone"
        document["authority"]["provisioners"].append({"type": "SSHPOP", "name": "sshpop"})

    ca_home.edit_config(step_ca_extras)
    ca_home.start()
    log = ca_home.log()
    assert log.count("ca.json keys acmeca does not use were ignored") == 1
    assert "kms" in log
    assert "authority.deploymentType" in log
    assert log.count("provisioners of types acmeca does not serve are inactive") == 1
    assert "sshpop (SSHPOP)" in log
