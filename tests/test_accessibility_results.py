"""Record the automated accessibility results that the アクセシビリティ page states, and check
that the page states exactly what was recorded.

Recording runs only on request, after the checks themselves, so the file holds numbers that
were measured, never hoped for:

    PIASITE_A11Y_RESULTS=1 CI=true .venv/bin/pytest -p no:randomly \\
        tests/test_keyboard_reflow.py tests/test_print.py tests/test_accessibility.py \\
        tests/test_accessibility_results.py

then rebuild and commit docs/accessibility-results.json.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, soup, text
from support.browser import AXE_TAGS, NODE_MODULES, html_files, require_java, require_node_file
from support.nu import VNU_JAR, nu_errors

RESULTS = REPO_ROOT / "docs" / "accessibility-results.json"
ENV = "PIASITE_A11Y_RESULTS"
CHECK_FILES = ("test_keyboard_reflow.py", "test_print.py", "test_accessibility.py")


def _package_version(name: str) -> str:
    data = json.loads((NODE_MODULES / name / "package.json").read_text(encoding="utf-8"))
    return str(data["version"])


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@pytest.mark.browser
@pytest.mark.skipif(not os.environ.get(ENV), reason=f"{ENV} is not set: nothing to record")
def test_record_results(request: pytest.FixtureRequest, built_site: Path, site_audit: Any,
                        chromium: Any) -> None:
    pages = html_files(built_site)
    java = require_java()
    require_node_file(VNU_JAR)
    nu = nu_errors(pages, java=java)
    before = [item for item in request.session.items if item is not request.node]
    runs = {name: sum(1 for i in before if i.path.name == name) for name in CHECK_FILES}
    violations = [v for vs in site_audit.violations.values() for v in vs]
    results = {
        "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _git("rev-parse", "HEAD"),
        "worktree_clean": _git("status", "--porcelain") == "",
        "browser": f"Chromium {chromium.version}",
        "pages": len(pages),
        "axe": {
            "version": _package_version("axe-core"),
            "tags": list(AXE_TAGS),
            "pages": len(site_audit.pages),
            "violations": sum(len(v["nodes"]) or 1 for v in violations),
            "rules": sorted({v["id"] for v in violations}),
            "pages_with_violations": sum(1 for vs in site_audit.violations.values() if vs),
            "load_problems": sum(len(p) for p in site_audit.problems.values()),
        },
        "nu": {"version": _package_version("vnu-jar"), "pages": len(pages), "errors": len(nu)},
        "browser_tests": {
            "files": runs,
            "tests": sum(runs.values()),
            "failed": request.session.testsfailed,
        },
    }
    assert all(runs.values()), f"run this after {', '.join(CHECK_FILES)}: {runs}"
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                       encoding="utf-8")


def test_accessibility_page_states_the_recorded_results(built_site: Path) -> None:
    page = soup(built_site / "accessibility" / "index.html")
    body = text(page.find("main"))
    assert "JIS X 8341-3:2016" in body and "WCAG 2.2" in body
    if not RESULTS.is_file():
        assert "記録はまだありません" in body
        return
    rec = json.loads(RESULTS.read_text(encoding="utf-8"))
    table = text(page.find(id="results"))
    assert page.select_one(f'#results caption time[datetime="{rec["measured_at"][:10]}"]')
    for number in (rec["pages"], rec["axe"]["violations"], rec["nu"]["errors"],
                   rec["browser_tests"]["tests"], rec["browser_tests"]["failed"]):
        assert f"{number}" in table
    published = built_site / "accessibility" / "results.json"
    assert published.read_bytes() == RESULTS.read_bytes()


def test_every_page_links_the_accessibility_page(built_site: Path) -> None:
    for p in html_files(built_site):
        footer = soup(p).find("footer")
        assert footer is not None and footer.find("a", href="/accessibility/"), p
