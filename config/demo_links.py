"""The links ``make demo`` prints. Apps add theirs here as they gain pages."""

from __future__ import annotations


def demo_links(base_url: str) -> list[tuple[str, str]]:
    return [
        ("Sign in", f"{base_url}/accounts/login/"),
        ("Catalog admin (study admin)", f"{base_url}/admin/"),
        ("Health", f"{base_url}/healthz"),
    ]
