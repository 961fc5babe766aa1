"""The built site must be valid HTML, free of axe WCAG 2.2 A/AA violations, and load in a
real browser without console errors, failed requests or any request leaving 127.0.0.1.

Fixtures (tests/conftest.py): `built_site` (output folder), `site_url` (its served base
URL), `chromium` (Playwright Browser), `site_audit` (one visit of every page, shared by the
two browser tests so each page is loaded only once per session).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import copy_site
from support.browser import (
    SiteAudit,
    audit_site,
    format_problems,
    format_violations,
    html_files,
    require_java,
    require_node_file,
    serve_directory,
)
from support.nu import VNU_JAR, format_nu, nu_errors

from piasite import compare, pipeline, prefectures


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


@pytest.fixture(scope="module")
def split_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pages only a large site has: comparisons, a system's page and the overview split by
    prefecture, finished consultations by year (prefectures.ONE_PAGE_MAX and
    compare.ITEM_PAGE_MAX lowered so that the bundled 全項目評価書 of three prefectures split,
    旭川市's results published). Only those pages are kept, with the theme's files."""
    site = copy_site(tmp_path_factory.mktemp("split"), ("asahikawa", "okayama", "toyonaka"))
    draft = site / "content/asahikawa/juki/2025-07-01/index.md"
    draft.write_text(draft.read_text(encoding="utf-8").replace(
        'start = "令和７年７月１日"', 'start = "令和７年７月１日"\nresults = { published = "令和7年10月1日" }',
        1), encoding="utf-8")
    out = site / "output"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prefectures, "ONE_PAGE_MAX", 0)
        mp.setattr(compare, "ITEM_PAGE_MAX", 2)
        assert pipeline.build(site, out, now="2025-11-22", jobs=1).wrote
    kept = ("compare/zenkoumoku/II-4-itaku-re-7/", "compare/zenkoumoku/II-6-1/",
            "systems/juki-net/", "compare/index.html", "compare/overview/",
            "compare/zenkoumoku/index.html", "comments/")
    for page in html_files(out):
        rel = page.relative_to(out).as_posix()
        if not rel.startswith(kept):
            page.unlink()
    # Two items, a system and the overview: each its page and three prefectures'; the
    # family's page, which then lists no assessments; /comments/ and its year.
    assert len(html_files(out)) == 19
    return out


@pytest.mark.browser
def test_split_comparison_pages_pass_nu_and_axe(split_site: Path, chromium) -> None:
    java = require_java()
    require_node_file(VNU_JAR)
    errors = nu_errors(html_files(split_site), java=java)
    if errors:
        pytest.fail(format_nu(errors, root=split_site), pytrace=False)
    with serve_directory(split_site) as base_url:
        audit = audit_site(chromium, base_url, split_site)
    assert len(audit.pages) == 19
    if any(audit.violations.values()):
        pytest.fail(format_violations(audit.violations), pytrace=False)
    if any(audit.problems.values()):
        pytest.fail(format_problems(audit.problems), pytrace=False)
