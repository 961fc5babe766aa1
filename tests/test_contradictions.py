"""A source's own contradictions stay on the page and are reported as warnings."""

from __future__ import annotations

from helpers import copy_site

from piasite import pipeline

DRAFT = "content/asahikawa/juki/2025-07-01/index.md"


def test_declared_count_that_differs_from_the_listed_entries(tmp_path):
    site = copy_site(tmp_path / "site", ("asahikawa",))
    p = site / DRAFT
    text = p.read_text(encoding="utf-8")
    assert 'count = "5"' in text
    line = text[: text.index('count = "5"')].count("\n") + 1
    p.write_text(text.replace('count = "5"', 'count = "6"', 1), encoding="utf-8")
    result = pipeline.check(site)
    d = [d for d in result.diagnostics if d.code == "W407"]
    assert len(d) == 1 and result.ok
    assert (str(d[0].span.path), d[0].span.line) == (DRAFT, line)
    assert "6 件ですが、5 件が記載" in d[0].message and d[0].related


def test_bundled_sources_keep_their_contradictions_as_warnings():
    from helpers import REPO_ROOT

    result = pipeline.check(REPO_ROOT)
    assert result.ok
    codes = {d.code for d in result.diagnostics}
    # duplicate rows, chains that break, a 変更後 that differs from the body (みどり市 and others)
    assert {"W401", "W404", "W405"} <= codes
