"""The built site must be valid HTML, free of axe WCAG 2.2 A/AA violations, and load in a
real browser without console errors, failed requests or any request leaving 127.0.0.1.

Fixtures (tests/conftest.py): `built_site` (output folder), `site_url` (its served base
URL), `chromium` (Playwright Browser), `site_audit` (one visit of every page, shared by the
two browser tests so each page is loaded only once per session).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import (
    SiteAudit,
    format_problems,
    format_violations,
    html_files,
    require_java,
    require_node_file,
)
from support.nu import VNU_JAR, format_nu, nu_errors


def test_nu_html_checker_has_no_errors(built_site: Path) -> None:
    java = require_java()
    require_node_file(VNU_JAR)
    pages = html_files(built_site)
    assert pages, f"no *.html files under {built_site}"
    errors = nu_errors(pages, java=java)
    if errors:
        pytest.fail(format_nu(errors, root=built_site), pytrace=False)


@pytest.mark.browser
def test_axe_has_no_violations(site_audit: SiteAudit) -> None:
    assert site_audit.pages, "no pages were visited"
    if any(site_audit.violations.values()):
        pytest.fail(format_violations(site_audit.violations), pytrace=False)


@pytest.mark.browser
def test_pages_work_without_console_errors(site_audit: SiteAudit) -> None:
    assert site_audit.pages, "no pages were visited"
    if any(site_audit.problems.values()):
        pytest.fail(format_problems(site_audit.problems), pytrace=False)
