"""axe-core accessibility checks for browser tests: inject the npm-installed axe, run it.

axe-core comes from the npm registry (tests/e2e/package.json, installed by `make test`);
nothing of it is vendored in this repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def axe_available() -> None:
    """Skip (fail on CI) when axe-core is not installed: `make test` runs `npm install`."""
    if AXE_SCRIPT.exists():
        return
    message = f"{AXE_SCRIPT} not found: run `npm install --prefix tests/e2e` (make test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as it is now."""
    axe_available()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol rather than a <script> tag: the page's
        # Content-Security-Policy (script-src 'self') stays in force for everything else.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    results: dict[str, Any] = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page) -> None:
    """Zero serious or critical axe-core violations on the page, or a readable failure."""
    found = serious_violations(page)
    where = page.url
    assert not found, f"axe-core found serious/critical violations on {where}:\n" + "\n".join(
        f"- {item['id']} ({item['impact']}): {item['help']} at {item['nodes']}" for item in found
    )
