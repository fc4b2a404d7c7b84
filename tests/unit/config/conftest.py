"""Helpers for loading ca.json documents through the production loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MINIMAL: dict[str, Any] = {
    "root": "certs/root_ca.crt",
    "crt": "certs/intermediate_ca.crt",
    "key": "secrets/intermediate_ca_key",
    "address": ":8443",
    "db": {"type": "sqlite", "dataSource": "db/acmeca.db"},
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "ca.json"
    path.write_text(json.dumps(document))
    return path


def with_provisioner(**fields: Any) -> dict[str, Any]:
    return {**MINIMAL, "authority": {"provisioners": [{"type": "ACME", "name": "acme", **fields}]}}
