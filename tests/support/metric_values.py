"""Read this process's metric values as a scrape would (prometheus-client's default registry)."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The value of one sample (``acmeca_nonce_rejections_total``), 0 when it has not been recorded yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
