"""Shared fixtures: one build of the bundled site, one local HTTP server, one Chromium.

All are session-scoped so the build, the server and the browser start once per test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import (
    SiteAudit,
    audit_site,
    launch_browser,
    require_browser,
    serve_directory,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder of `python -m piasite build` run on the bundled site (the repo root).

    Set PIASITE_TEST_OUTPUT to an existing output folder to test that instead of building.
    """
    existing = os.environ.get("PIASITE_TEST_OUTPUT")
    if existing:
        out = Path(existing).resolve()
        assert out.is_dir(), f"PIASITE_TEST_OUTPUT={existing!r} is not a directory"
        return out
    out = tmp_path_factory.mktemp("site") / "output"
    cmd = [sys.executable, "-m", "piasite", "build", "--site", str(REPO_ROOT), "--out", str(out)]
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8", errors="replace"
    )
    assert proc.returncode == 0, (
        f"site build failed (exit {proc.returncode}): {' '.join(cmd)}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    assert out.is_dir(), f"build exited 0 but did not create {out}"
    return out


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """Base URL (no trailing slash) of `built_site` served on 127.0.0.1."""
    with serve_directory(built_site) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless system Chromium (Playwright Browser). Skips locally / fails under CI
    when Chromium, Playwright or axe-core is missing."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def site_audit(built_site: Path, site_url: str, chromium: Any) -> SiteAudit:
    """Every page of `built_site` visited once in Chromium: axe violations plus console
    errors and bad/external requests, by URL. Shared by the axe and console tests."""
    return audit_site(chromium, site_url, built_site)
