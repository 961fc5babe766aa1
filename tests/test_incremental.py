"""A rebuild does only what changed (cache.py) and publishes exactly what a cold build would.

The build cache keeps each assessment's result keyed by its inputs; an unchanged assessment's
pages are linked from output/ into the new build, and a build where nothing differs leaves
output/ untouched. These tests read output/ as a deploy would: which files changed, which did
not, and whether the site equals a build from scratch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers import copy_site, soup, text

from piasite import pipeline

NOW = "2025-11-22"
MIDORI = "content/midori/juki/2025-12-12.md"


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file: equal stamps mean the file was not rewritten."""
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(out.rglob("*")) if p.is_file()}


def _files(out: Path) -> dict[str, bytes]:
    # Pagefind's filter files follow a hash-map order that changes per run (docs/determinism.md).
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith("pagefind/")}


def _edit(site: Path, rel: str, old: str, new: str) -> None:
    p = site / rel
    text_ = p.read_text(encoding="utf-8")
    assert old in text_, old
    p.write_text(text_.replace(old, new, 1), encoding="utf-8")


def _build(site: Path, now: str = NOW, jobs: int | None = None):
    result = pipeline.build(site, site / "output", now=now, jobs=jobs)
    assert result.wrote, [str(d) for d in result.diagnostics if d.severity.value == "error"]
    return result


def test_rebuild_with_nothing_changed_leaves_output_untouched(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    first = _build(site)
    assert not first.unchanged and first.reused == 0
    before = _stamps(site / "output")
    folder = (site / "output").stat().st_ino
    second = _build(site)
    assert second.unchanged and second.reused == 2 and second.diffs_computed == 0
    assert _stamps(site / "output") == before
    assert (site / "output").stat().st_ino == folder  # not even swapped


def test_a_new_piasite_that_renders_the_same_pages_rebuilds_them_once(tmp_path, monkeypatch):
    from piasite import cache

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    before = _stamps(site / "output")
    monkeypatch.setattr(cache, "code_digest", lambda: "a later piasite")
    second = _build(site)
    assert second.unchanged and second.reused == 0  # rendered again, to the same bytes
    third = _build(site)
    assert third.unchanged and third.reused == 2  # and remembered as such
    assert _stamps(site / "output") == before


def test_one_edited_version_rebuilds_its_assessment_only(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    before = _stamps(site / "output")
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    result = _build(site)
    assert result.reused == 1 and not result.unchanged
    after = _stamps(site / "output")
    page = soup(site / "output/midori/juki/2025-12-12/index.html")
    assert "本市は、（編集）住民基本台帳" in text(page)
    # The other assessment's pages are the very files published before.
    asahikawa = [f for f in before if f.startswith("asahikawa/")]
    assert asahikawa and all(after[f] == before[f] for f in asahikawa)
    # …and the site is what a cold build of the edited content publishes.
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    _build(cold)
    assert _files(site / "output") == _files(cold / "output")


def test_worker_count_does_not_change_a_byte(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "okayama"))
    one = pipeline.build(site, tmp_path / "one", now=NOW, jobs=1)
    two = pipeline.build(site, tmp_path / "two", now=NOW, jobs=2)
    assert one.wrote and two.wrote
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_removed_assessment_leaves_the_site(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    assert (site / "output/asahikawa/juki/index.html").is_file()
    for p in sorted((site / "content/asahikawa").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (site / "content/asahikawa").rmdir()
    result = _build(site)
    assert not result.unchanged
    assert not (site / "output/asahikawa").exists()
    assert "asahikawa" not in (site / "output/sitemap.xml").read_text(encoding="utf-8")


def test_a_hand_edited_output_file_is_rebuilt(tmp_path):
    site = copy_site(tmp_path / "site")
    _build(site)
    page = site / "output/midori/juki/index.html"
    good = page.read_bytes()
    page.write_bytes(b"<p>edited by hand</p>")
    result = _build(site)
    assert result.reused == 0 and not result.unchanged
    assert page.read_bytes() == good


def test_comment_status_follows_the_day_of_the_build(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site, now="2025-06-20")
    draft = site / "output/asahikawa/juki/2025-07-01/index.html"
    assert "意見募集前" in text(soup(draft))
    result = _build(site, now="2025-07-10")
    # Only the assessment with a comment period depends on the day.
    assert result.reused == 1
    assert "意見募集中" in text(soup(draft))
    assert "意見募集中" in text(soup(site / "output/comments/index.html"))


def test_a_failed_build_does_not_spoil_the_next(tmp_path):
    site = copy_site(tmp_path / "site")
    _build(site)
    before = _stamps(site / "output")
    _edit(site, MIDORI, 'form = "', 'form = "no-such-form-')
    assert not pipeline.build(site, site / "output", now=NOW).wrote
    _edit(site, MIDORI, 'form = "no-such-form-', 'form = "')
    again = _build(site)
    assert again.unchanged and _stamps(site / "output") == before


def test_cache_entries_of_deleted_assessments_are_dropped(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    cache = site / ".piasite-cache/build"
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*.pickle")) == [
        "asahikawa/juki.pickle", "midori/juki.pickle"]
    os.rename(site / "content/asahikawa", tmp_path / "gone")
    _build(site)
    assert [p.relative_to(cache).as_posix() for p in cache.rglob("*.pickle")] == [
        "midori/juki.pickle"]


def test_site_wide_pages_an_edit_does_not_touch_are_not_rewritten(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "okayama"))
    _build(site)
    before = _stamps(site / "output")
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    _build(site)
    after = _stamps(site / "output")
    # みどり市's 基礎項目評価書 is in no comparison of 全項目評価書 and its 団体・評価書 labels are
    # unchanged: those site-wide pages are the files published before, neither rendered nor
    # written again.
    untouched = [f for f in before if f.startswith("compare/zenkoumoku/")] + ["index.html",
                                                                              "midori/index.html"]
    assert len(untouched) > 100
    assert all(after[f] == before[f] for f in untouched)
    assert after["midori/juki/2025-12-12/index.html"] != before["midori/juki/2025-12-12/index.html"]


def test_a_layout_change_keeps_the_search_index_a_text_change_remakes_it(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    manifest = site / "output/pagefind/piasite.json"
    first = manifest.stat().st_ino
    base = site / "themes/default/templates/base.html"
    base.write_text(base.read_text(encoding="utf-8").replace(
        "<body>", '<body class="layout-2">', 1), encoding="utf-8")
    second = _build(site)
    assert not second.unchanged  # every page changed …
    assert 'class="layout-2"' in (site / "output/midori/juki/index.html").read_text("utf-8")
    assert manifest.stat().st_ino == first  # … but not what can be searched: index kept
    _edit(site, MIDORI, "市民部 市民課", "市民部 市民課 索引係")
    _build(site)
    assert manifest.stat().st_ino != first
    made = json.loads(manifest.read_text(encoding="utf-8"))
    texts = [(site / "output/pagefind/text" / f"{pid}.json").read_text(encoding="utf-8")
             for pid in made["pages"]]
    assert any("索引係" in t for t in texts)


def test_an_edit_reads_only_the_changed_pages_for_the_index_and_indexes_as_a_cold_build(
        tmp_path, monkeypatch):
    from piasite import index

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    _edit(site, MIDORI, "市民部 市民課", "市民部 市民課 記録係")
    read: list[str] = []
    real = index.records_of
    monkeypatch.setattr(index, "records_of", lambda page, url: read.append(url) or real(page, url))
    _build(site)
    pages = sum(1 for _ in (site / "output").rglob("*.html"))
    assert read and len(read) < pages / 4  # the pages the edit changed, not all of them
    assert all(u.startswith("/midori/") or not u.startswith(("/asahikawa/",)) for u in read)
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    _edit(cold, MIDORI, "市民部 市民課", "市民部 市民課 記録係")
    _build(cold)

    def made_from(s: Path) -> str:
        return json.loads((s / "output/pagefind/piasite.json").read_text("utf-8"))["records"]

    assert made_from(site) == made_from(cold)
    # A piasite whose indexing code differs reads every page again (its records may differ).
    monkeypatch.setattr(index, "_maker_digest", lambda: "a later piasite")
    read.clear()
    _edit(site, MIDORI, "記録係", "記録担当")
    _build(site)
    assert any(u.startswith("/asahikawa/") for u in read)  # unchanged, yet read again
