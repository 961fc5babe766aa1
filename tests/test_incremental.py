"""A rebuild does only what changed (cache.py) and publishes exactly what a cold build would.

The build cache keeps each assessment's result keyed by its inputs; an unchanged assessment's
pages are linked from output/ into the new build, and a build where nothing differs leaves
output/ untouched. These tests read output/ as a deploy would: which files changed, which did
not, and whether the site equals a build from scratch.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from helpers import copy_site, soup, text

from piasite import cache, discover, pipeline

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


def test_the_site_named_relatively_or_absolutely_shares_one_cache(tmp_path, monkeypatch):
    # Run in the site's folder, then with its full path (or the other way round): what the
    # caches kept of each file is found by both, so neither reads every file again.
    site = copy_site(tmp_path / "site", ("midori",))
    monkeypatch.chdir(site)
    first = pipeline.build(Path("."), now=NOW)
    assert first.wrote and not first.unchanged
    kept = {p.name: p.stat().st_mtime_ns for p in (site / ".piasite-cache").glob("*.pickle")}
    assert {"survey.pickle", "file-digests.pickle"} <= set(kept)
    second = pipeline.build(site.resolve(), now=NOW)
    assert second.unchanged and second.reused == 1
    assert {p.name: p.stat().st_mtime_ns
            for p in (site / ".piasite-cache").glob("*.pickle")} == kept  # nothing re-read


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


def test_a_renamed_assessment_is_renamed_on_the_registry_and_comparison_pages(tmp_path):
    # Those pages are fingerprinted by digests each assessment's summary carries, not by the
    # rows they list: a changed title must still reach every one of them.
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    affair = site / "content/midori/juki/_affair.toml"
    # Its name (the comparison's column) and its title (the registry's).
    affair.write_text(affair.read_text(encoding="utf-8").replace("に関する事務", "に関する事務（改題）"),
                      encoding="utf-8")
    _build(site)
    out = site / "output"
    listing = [p for p in sorted((out / "systems").rglob("index.html"))
               if "みどり市" in text(soup(p))]
    assert listing and all("事務（改題） 基礎項目評価書" in text(soup(p)) for p in listing)
    assert "事務（改題）" in text(soup(out / "compare/index.html"))
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    (cold / affair.relative_to(site)).write_bytes(affair.read_bytes())
    _build(cold)
    assert _files(out) == _files(cold / "output")


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


def test_a_small_edit_indexes_only_the_changed_records_into_a_delta(tmp_path, monkeypatch):
    from piasite import index

    monkeypatch.setattr(index, "DELTA_SHARE", 1.0)  # two municipalities: any edit is large
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    bundle = site / "output/pagefind"
    base = {p.relative_to(bundle).as_posix(): p.stat().st_ino for p in bundle.rglob("*")
            if p.is_file() and p.name != "piasite.json"}
    _edit(site, MIDORI, "市民課長", "戸籍住民課長")
    _build(site)
    made = json.loads((bundle / "piasite.json").read_text("utf-8"))
    assert made["bundles"] == ["/pagefind/delta/"]
    # The base's files are the published ones, linked, not made again.
    assert all((bundle / rel).stat().st_ino == ino for rel, ino in base.items())
    delta = json.loads((bundle / "delta/piasite.json").read_text("utf-8"))
    assert [v[0] for v in delta["pages"].values()] == ["/midori/juki/2025-12-12/"]
    (dropped,) = made["drop"]
    assert made["pages"][dropped][0] == "/midori/juki/2025-12-12/"
    texts = {pid: (bundle / "delta/text" / f"{pid}.json").read_text("utf-8") for pid in delta["pages"]}
    assert all("戸籍住民課長" in t for t in texts.values())
    # What a reader can choose among is counted as a cold build counts it.
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    _edit(cold, MIDORI, "市民課長", "戸籍住民課長")
    _build(cold)
    made_cold = json.loads((cold / "output/pagefind/piasite.json").read_text("utf-8"))
    assert made["filters"] == made_cold["filters"]
    assert made["records"] == made_cold["records"]
    assert "bundles" not in made_cold and "drop" not in made_cold
    # Put back, the base holds every record again: no delta, nothing dropped.
    _edit(site, MIDORI, "戸籍住民課長", "市民課長")
    _build(site)
    again = json.loads((bundle / "piasite.json").read_text("utf-8"))
    assert "bundles" not in again and "drop" not in again
    assert not (bundle / "delta").exists()
    assert (bundle / "pagefind-entry.json").stat().st_ino == base["pagefind-entry.json"]


def test_a_large_edit_or_a_lost_cache_makes_the_whole_index_anew(tmp_path, monkeypatch):
    import shutil

    from piasite import index

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    entry = site / "output/pagefind/pagefind-entry.json"
    first = entry.stat().st_ino
    _edit(site, MIDORI, "市民課長", "戸籍住民課長")  # one of two municipalities: over 5 %
    _build(site)
    made = json.loads((site / "output/pagefind/piasite.json").read_text("utf-8"))
    assert "bundles" not in made and entry.stat().st_ino != first
    monkeypatch.setattr(index, "DELTA_SHARE", 1.0)
    shutil.rmtree(site / ".piasite-cache")
    second = entry.stat().st_ino
    _edit(site, MIDORI, "戸籍住民課長", "市民課長")
    _build(site)
    made = json.loads((site / "output/pagefind/piasite.json").read_text("utf-8"))
    assert "bundles" not in made and entry.stat().st_ino != second


def test_links_are_checked_again_only_when_a_page_they_reach_changed(tmp_path, monkeypatch):
    from piasite import linkcheck

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    target = "/asahikawa/juki/gaiyo/"
    page = site / MIDORI
    page.write_text(page.read_text(encoding="utf-8") + f"\n[旭川市の概要]({target}) を参照。\n",
                    encoding="utf-8")
    _build(site)
    checked: set[str] = set()
    real = linkcheck.check_scans
    monkeypatch.setattr(linkcheck, "check_scans", lambda pages, *a, **k: checked.update(
        map(str, pages)) or real(pages, *a, **k))
    _build(site)  # nothing changed: the links were whole in the build that published them
    # The sitemap is made anew by every build; the same as published, it is not checked again.
    assert checked == set()
    # The document removed: midori, unchanged and taken from the last build, links to a page
    # that is gone.
    (site / "content/asahikawa/juki/_pages/gaiyo.md").unlink()
    result = pipeline.build(site, site / "output", now=NOW)
    assert not result.wrote
    errors = [str(d) for d in result.diagnostics if d.severity.value == "error"]
    assert len(errors) == 1 and target in errors[0] and MIDORI in errors[0], errors
    # Of the site-wide pages taken from the last build, only links that may reach a page
    # added, removed or with other ids are checked: the error page links to none of them.
    # The sitemap, without the removed page now, is checked again.
    assert "404.html" not in checked and "sitemap.xml" in checked


def test_an_unchanged_assessment_reads_its_link_targets_only_if_a_file_moved_near_them(
        tmp_path):
    # An edit moves mostly the edited assessment's own pages: the others' link targets are
    # read from the store only when a file moved in a folder they lead into.
    import dataclasses

    from piasite import linkcheck
    from piasite.compare import STORE, EntryStore
    from piasite.write import load_pickle

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    page = site / MIDORI
    page.write_text(page.read_text(encoding="utf-8") + "\n[旭川市の概要](/asahikawa/juki/gaiyo/)\n",
                    encoding="utf-8")
    _build(site)
    stored = [load_pickle(f) for f in (site / ".piasite-cache/build/midori").glob("*.pickle")]
    result = dataclasses.replace(stored[0].result, reused=True)
    assert "asahikawa/juki" in result.target_folders
    blobs = EntryStore(site / ".piasite-cache" / STORE)

    def outbound(moved: set[str]) -> list[str]:
        folders = {linkcheck.folder(m) for m in moved}
        return [o.raw for o in pipeline._outbound(result, moved, folders, blobs)]

    assert outbound({"asahikawa/juki/gaiyo/index.html"}) == ["/asahikawa/juki/gaiyo/"]
    # A file beside the target: the targets are read, and no link leads to it.
    assert outbound({"asahikawa/juki/index.html"}) == []

    def unread(digest):
        raise AssertionError(f"read {digest}")

    blobs.unpack = unread
    assert outbound({"asahikawa/index.html", "midori/juki/index.html"}) == []


def test_the_comparisons_entries_are_kept_once_and_a_lost_store_rebuilds(tmp_path):
    import pickle
    import sqlite3

    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "toyonaka"))
    _build(site)
    published = _files(site / "output")
    # The cache entry keeps no entries; the store keeps each once, by digest.
    entry = pickle.loads((site / ".piasite-cache/build/asahikawa/juki.pickle").read_bytes())
    record = entry.result.summary.compare
    assert record.digests and not record.entries
    store = site / ".piasite-cache/compare.sqlite"
    db = sqlite3.connect(store)
    stored = {d for (d,) in db.execute("SELECT digest FROM blob")}
    db.close()
    assert set(record.digests.values()) <= stored
    store.unlink()
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    result = _build(site)
    assert result.reused == 0  # entries without their store are not used
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa", "toyonaka"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    _build(cold)
    assert _files(site / "output") == _files(cold / "output") != published


def test_entries_no_record_refers_to_are_forgotten_once_they_add_up(tmp_path):
    import sqlite3

    from piasite.compare import PRUNE_SHARE

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    store = site / ".piasite-cache/compare.sqlite"

    def digests() -> set[str]:
        db = sqlite3.connect(store)
        try:
            return {d for (d,) in db.execute("SELECT digest FROM blob")}
        finally:
            db.close()

    def add_stale(n: int, tag: str) -> set[str]:
        db = sqlite3.connect(store)
        db.executemany("INSERT INTO blob VALUES (?, ?)",
                       [(f"stale-{tag}-{i}", b"x") for i in range(n)])
        db.commit()
        db.close()
        return {f"stale-{tag}-{i}" for i in range(n)}

    live = digests()
    # A few stale entries (an edit's old ones) stay: forgetting costs more than they weigh.
    few = add_stale(int(len(live) * PRUNE_SHARE) // 2, "few")
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（一）住民基本台帳")
    _build(site)
    assert few <= digests()
    # Past PRUNE_SHARE of the live ones, every entry no record refers to is forgotten; the
    # site built from what is left equals a cold build.
    add_stale(len(live), "many")
    _edit(site, MIDORI, "本市は、（一）住民基本台帳", "本市は、（二）住民基本台帳")
    _build(site)
    left = digests()
    assert not any(d.startswith("stale-") for d in left) and len(left) <= len(live) + 50
    _edit(site, MIDORI, "本市は、（二）住民基本台帳", "本市は、（三）住民基本台帳")
    _build(site)
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    _build(cold)
    assert _files(site / "output") == _files(cold / "output")


def test_the_index_reads_a_page_again_when_its_kept_records_are_lost(tmp_path):
    import shutil

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    shutil.rmtree(site / ".piasite-cache/search-records")
    _edit(site, MIDORI, "市民課長", "戸籍住民課長")  # over 5 %: the whole index, every record
    _build(site)
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    _edit(cold, MIDORI, "市民課長", "戸籍住民課長")
    _build(cold)

    def manifest(s: Path) -> dict:
        return json.loads((s / "output/pagefind/piasite.json").read_text("utf-8"))

    ours, theirs = manifest(site), manifest(cold)
    assert ours["records"] == theirs["records"] and ours["filters"] == theirs["filters"]
    assert sorted(ours["pages"].values()) == sorted(theirs["pages"].values())


def test_two_output_folders_from_one_site_keep_their_own_entries(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "toyonaka"))
    assert pipeline.build(site, tmp_path / "a", now=NOW).wrote
    _edit(site, "content/asahikawa/juki/2025-07-01/40-other.md", "。", "。（別の出力）")
    assert pipeline.build(site, tmp_path / "b", now=NOW).wrote
    _edit(site, "content/asahikawa/juki/2025-07-01/40-other.md", "。（別の出力）", "。")
    again = pipeline.build(site, tmp_path / "a", now=NOW)
    assert again.wrote and again.unchanged  # a's entries, with a's comparisons' entries
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa", "toyonaka"))
    assert pipeline.build(cold, tmp_path / "c", now=NOW).wrote
    assert _files(tmp_path / "a") == _files(tmp_path / "c")


def test_an_assessment_back_after_an_unpublished_build_finds_its_entries(tmp_path, monkeypatch):
    import shutil

    from piasite import index

    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "toyonaka"))
    _build(site)
    away = tmp_path / "toyonaka"
    shutil.move(site / "content/toyonaka", away)  # its comparisons' entries are not needed …

    def broken(staged: Path, *_: object) -> index.IndexResult:
        return index.IndexResult(0, [pipeline.diagnostics.error("E901", "索引なし", index._SPAN)])

    with monkeypatch.context() as m:
        m.setattr(pipeline, "index_site", broken)
        assert not pipeline.build(site, site / "output", now=NOW).wrote  # … nor published
    shutil.move(away, site / "content/toyonaka")
    # output/ still matches toyonaka's cache entry, which is taken with its entries (the
    # others were rebuilt for another set of compared kinds, and come out the same).
    result = _build(site)
    assert result.reused == 1 and result.unchanged


def test_a_damaged_entry_store_is_made_anew(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "toyonaka"))
    _build(site)
    (site / ".piasite-cache/compare.sqlite").write_bytes(b"not a database" * 100)
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    result = _build(site)
    assert result.reused == 0  # a new store: nothing is taken from the cache
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa", "toyonaka"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    _build(cold)
    assert _files(site / "output") == _files(cold / "output")


def test_a_rebuild_moves_only_the_files_that_changed_into_output(tmp_path, monkeypatch):
    from piasite import pipeline as pl

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    out = site / "output"
    folder = out.stat().st_ino
    before = _stamps(out)
    staged: list[set[str]] = []
    real = pl.commit

    def spy(tmp, dest, changed=None, removed=()):
        staged.append({p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()})
        return real(tmp, dest, changed, removed)

    monkeypatch.setattr(pl, "commit", spy)
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    result = _build(site)
    after = _stamps(out)
    # output/ is the same folder; every file that kept its bytes kept its inode and mtime.
    assert out.stat().st_ino == folder
    rewritten = {rel for rel in after if before.get(rel) != after[rel]}
    assert {rel for rel in rewritten if not rel.startswith("pagefind/")} == set(result.changed)
    assert "midori/juki/index.html" in rewritten and "asahikawa/juki/index.html" not in rewritten
    # Only what changed was staged: the changed pages and the search index.
    assert staged and {rel for rel in staged[0] if not rel.startswith("pagefind/")} == set(
        result.changed)
    assert not [p.name for p in site.iterdir() if p.name.startswith(".output")]
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    _build(cold)
    assert _files(out) == _files(cold / "output")


def test_a_commit_cut_short_is_finished_by_the_next_build(tmp_path, monkeypatch):
    from piasite import write

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    # Two edits: pages change, and a version is removed (its pages must go).
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    versions = sorted((site / "content/asahikawa/juki").glob("20*"))
    import shutil

    shutil.rmtree(versions[0]) if versions[0].is_dir() else versions[0].unlink()
    real = write._place
    calls = []

    def cut(src, dst, top):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the machine stops in the middle of the commit
        calls.append(dst)
        return real(src, dst, top)

    monkeypatch.setattr(write, "_place", cut)
    try:
        pipeline.build(site, site / "output", now=NOW)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the commit was not cut short")
    monkeypatch.setattr(write, "_place", real)
    assert len(calls) == 2 and (site / ".output.commit.json").is_file()
    result = _build(site)  # finishes the commit, then finds nothing left to do
    assert result.unchanged and not (site / ".output.commit.json").exists()
    assert not [p.name for p in site.iterdir() if p.name.startswith(".output")]
    cold = copy_site(tmp_path / "cold", ("midori", "asahikawa"))
    (cold / MIDORI).write_bytes((site / MIDORI).read_bytes())
    gone = cold / versions[0].relative_to(site)
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    _build(cold)
    assert _files(site / "output") == _files(cold / "output")

    def manifest(s: Path) -> dict:
        return json.loads((s / "output/pagefind/piasite.json").read_text("utf-8"))

    assert manifest(site)["records"] == manifest(cold)["records"]


def test_an_edit_with_its_size_and_mtime_put_back_is_still_rebuilt(tmp_path):
    site = copy_site(tmp_path / "site", ("midori",))
    _build(site)
    page = site / MIDORI
    st = page.stat()
    text_ = page.read_text(encoding="utf-8")
    assert "市民課長" in text_
    page.write_text(text_.replace("市民課長", "市民課員", 1), encoding="utf-8")  # same bytes long
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert page.stat().st_size == st.st_size and page.stat().st_mtime_ns == st.st_mtime_ns
    result = _build(site)
    assert not result.unchanged and result.reused == 0
    assert "市民課員" in text(soup(site / "output/midori/juki/2025-12-12/index.html"))


def test_only_a_one_shot_build_freezes_its_caches_out_of_the_garbage_collector(tmp_path):
    import gc

    from piasite.write import frozen_loads

    # The preview server builds with pipeline.build and lives on: nothing it loads is frozen
    # (cyclic garbage frozen along with it would wait). `piasite build` freezes what its
    # caches load until the build ends (write.frozen_loads).
    site = copy_site(tmp_path / "site", ("midori",))
    _build(site)
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    _build(site)
    assert gc.get_freeze_count() == 0
    with frozen_loads():
        _edit(site, MIDORI, "本市は、（編集）住民基本台帳", "本市は、（二）住民基本台帳")
        _build(site)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_an_assessment_worker_frees_the_last_assessments_cycles_before_the_next():
    import gc
    import weakref

    from piasite import assessment

    # A worker runs the cyclic collector itself, before each assessment
    # (assessment._collect_before_task): what the last one left in cycles must be gone then,
    # in its young pass as in its periodic full one.
    class Node:
        pass

    try:
        for _ in range(assessment.FULL_PASS_EVERY + 1):
            a, b = Node(), Node()
            a.other, b.other = b, a
            left = weakref.ref(a)
            del a, b
            assessment._collect_before_task()
            assert not gc.isenabled()
            assert left() is None
    finally:
        gc.enable()


def test_an_edited_municipality_toml_is_read_again(tmp_path):
    # The survey keeps what it read of each municipality.toml by the file's stat: an edit
    # must reach the page, and a mistake must be reported at its place, on the next build.
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    rel = "content/midori/_municipality.toml"
    _build(site)
    _edit(site, rel, 'agency = "群馬県みどり市長"', 'agency = "群馬県みどり市長（改）"')
    _build(site)
    page = soup(site / "output/midori/index.html")
    assert "群馬県みどり市長（改）" in text(page.find("dt", string="評価実施機関名").find_next("dd"))
    _edit(site, rel, 'agency = "群馬県みどり市長（改）"', 'agency = "群馬県みどり市長（改）')
    result = pipeline.build(site, site / "output", now=NOW)
    assert not result.wrote
    lines = [str(d) for d in result.diagnostics if d.severity.value == "error"]
    assert len(lines) == 1 and lines[0].startswith(f"{rel}:5:") and "error[E001]" in lines[0]
    _edit(site, rel, 'agency = "群馬県みどり市長（改）', 'agency = "群馬県みどり市長"')
    _build(site)
    page = soup(site / "output/midori/index.html")
    assert text(page.find("dt", string="評価実施機関名").find_next("dd")) == "群馬県みどり市長"


def test_a_published_site_page_is_checked_again_from_its_stored_links(tmp_path):
    # A site-wide page taken from the last build keeps its links in the build's blob store
    # (cache.SitePage.links): when a file one of them reaches is gone, the link is read back
    # and reported at its place in the page.

    from piasite.cache import SitePage
    from piasite.compare import STORE, EntryStore
    from piasite.config import load_config
    from piasite.write import load_pickle

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    _build(site)
    row = load_pickle(site / ".piasite-cache" / "site.pickle")[2]["index.html"]
    assert isinstance(SitePage.of_row(row).links, str)  # a digest: the links are in the store
    config, _ = load_config(site)
    blobs = EntryStore(site / ".piasite-cache" / STORE)
    unchanged = {"index.html": row}

    def check(moved: set[str]) -> list:
        made = pipeline._SiteLinks([], unchanged, [], config, [], blobs, site / "output")
        return pipeline._check_links(made, [], moved, site / "output")

    found = check({"midori/index.html"})
    lines = [str(d) for d in found]
    assert lines and all(line.startswith("index.html:") and "error[E701]" in line
                         and "「/midori/」" in line for line in lines), lines
    # Nothing it reaches moved: its links are not even read.
    def unread(digest):
        raise AssertionError(f"read {digest}")

    blobs.unpack = unread
    assert check({"nowhere/index.html"}) == []


def _walked(top: Path) -> list[tuple[str, os.stat_result]]:
    """Every regular file under `top` by a sorted os.walk, symlinks not followed (what the
    privacy scan and the cache keys read before content/ was listed once)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top / "content"):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                out.append((Path(dirpath, name).relative_to(top).as_posix(), st))
    return out


def test_content_listed_once_is_what_a_walk_finds_and_digests_the_same(tmp_path):
    site = copy_site(tmp_path / "s", ("midori", "asahikawa"))
    content = site / "content"
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "x.md").write_text("x", encoding="utf-8")
    (outside / "y.md").write_text("y", encoding="utf-8")
    juki = content / "midori" / "juki"
    (juki / "notes.md").symlink_to(outside / "y.md")  # a symlinked file, and a folder
    (content / "asahikawa" / "linked").symlink_to(outside / "dir", target_is_directory=True)
    os.mkfifo(content / "asahikawa" / "juki" / "pipe")
    (juki / "deep" / "er").mkdir(parents=True)
    (juki / "deep" / "er" / "a.md").write_text("a", encoding="utf-8")
    (juki / "deep" / "b.md").write_text("b", encoding="utf-8")
    (juki / "deep" / "a b.md").write_text("c", encoding="utf-8")
    listing = discover.Listing(site)
    walked = _walked(site)
    assert [n for n, _ in listing.files] == [n for n, _ in walked]
    assert [s for _, s in listing.files] == [cache.stat_stamp(s) for _, s in walked]
    digests = cache.FileDigests(None)
    folders = [p for p in content.rglob("*") if p.is_dir() and not p.is_symlink()]
    assert juki in folders and content / "asahikawa" / "juki" in folders
    for folder in [content, *folders]:
        assert (cache.files_digest(folder, digests, listing)
                == cache.files_digest(folder, digests)), folder
    # Where a folder holds a symlink or a pipe, the digest walks it itself (and follows the
    # symlinked file): the listing has no span for it.
    assert listing.under(juki) is None and listing.under(content / "asahikawa") is None
    assert listing.under(juki / "deep") is not None
    assert listing.stamp(site / "content/midori/_municipality.toml") == cache.stat_stamp(
        os.stat(site / "content/midori/_municipality.toml"))
    assert listing.stamp(juki / "notes.md") is None


def _counting_checks(monkeypatch) -> list[int]:
    """How many assessments each `pipeline.check` read and checked itself."""
    counts: list[int] = []
    real = pipeline.build_all

    def counted(settings, tasks, jobs=None, context=None):
        counts.append(len(tasks))
        return real(settings, tasks, jobs, context)

    monkeypatch.setattr(pipeline, "build_all", counted)
    return counts


def _printed(result) -> list[str]:
    return [d.format() for d in result.diagnostics]


def test_a_second_check_reports_the_first_ones_findings_without_reading_again(
        tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    counts = _counting_checks(monkeypatch)
    first = pipeline.check(site, jobs=1)
    second = pipeline.check(site, jobs=1)
    assert counts == [2] and second.reused == 2  # the second read none
    assert _printed(second) == _printed(first) and any("W" in d.code for d in first.diagnostics)
    assert second.report.counts() == first.report.counts()


def test_a_check_after_an_edit_reads_that_assessment_only_and_finds_what_is_new(
        tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    counts = _counting_checks(monkeypatch)
    pipeline.check(site, jobs=1)
    _edit(site, MIDORI, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"')
    told: list[tuple[str, int, int]] = []
    edited = pipeline.check(site, jobs=1, progress=lambda *a: told.append(a))
    assert counts == [2, 1] and edited.reused == 1 and not edited.ok
    assert told == [("assessments", 2, 2)]  # the unchanged one counts as done
    assert any(d.code == "E104" and str(d.span.path) == MIDORI for d in edited.diagnostics)
    # …which is what a check from scratch finds.
    shutil.rmtree(site / ".piasite-cache" / "check")
    assert _printed(pipeline.check(site, jobs=1)) == _printed(edited)
    # Put back, the error is gone again.
    _edit(site, MIDORI, 'serious_incident = "発生しない"', 'serious_incident = "発生なし"')
    assert pipeline.check(site, jobs=1).ok


def test_a_check_reads_everything_again_when_what_all_share_changed_or_its_cache_is_lost(
        tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    counts = _counting_checks(monkeypatch)
    first = _printed(pipeline.check(site, jobs=1))
    _edit(site, "site.toml", 'title = "', 'title = "（試験）')
    assert _printed(pipeline.check(site, jobs=1)) == first
    for kept in (site / ".piasite-cache" / "check").rglob("*.pickle"):
        kept.write_bytes(b"not a pickle")
    assert _printed(pipeline.check(site, jobs=1)) == first
    assert pipeline.check(site, jobs=1).reused == 2
    assert counts == [2, 2, 2]  # and the last one none


def test_a_check_after_a_build_or_the_preview_takes_their_findings(tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    alone = copy_site(tmp_path / "alone", ("midori", "okayama"))
    expected = _printed(pipeline.check(alone, jobs=1))
    _build(site, jobs=1)
    counts = _counting_checks(monkeypatch)
    after_build = pipeline.check(site, jobs=1)
    assert counts == [] and after_build.reused == 2
    assert _printed(after_build) == expected  # paths are the site's own, relative
    # The preview's build serves as well: its entries are found where it keeps them.
    shutil.rmtree(site / ".piasite-cache" / "check")
    shutil.rmtree(site / ".piasite-cache" / "build")
    _edit(site, MIDORI, "本市は、住民基本台帳", "本市は、（編集）住民基本台帳")
    assert pipeline.build(site, now=NOW, jobs=1, preview=True).ok
    counts.clear()
    assert pipeline.check(site, jobs=1).reused == 2 and counts == []
    # An edit since: that assessment is checked, the other one taken as it was.
    _edit(site, MIDORI, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"')
    edited = pipeline.check(site, jobs=1)
    assert counts == [1] and edited.reused == 1
    assert any(d.code == "E104" for d in edited.diagnostics)


def test_a_check_rewrites_only_what_it_checked_and_forgets_what_left_the_site(tmp_path):
    # One small file per assessment: an edit (or a check of one folder) does not read and
    # write every municipality's findings, which at a national size would be gigabytes.
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    kept = site / ".piasite-cache" / "check"
    (site / ".piasite-cache").mkdir()
    (site / ".piasite-cache" / "check.pickle").write_bytes(b"what an older piasite kept")
    pipeline.check(site, jobs=1)
    assert not (site / ".piasite-cache" / "check.pickle").exists()

    def files() -> dict[str, tuple[int, bytes]]:
        return {p.relative_to(kept).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
                for p in kept.rglob("*.pickle")}

    before = files()
    midori, okayama = "midori/juki.pickle", "okayama/kojin-juminzei.pickle"
    assert set(before) == {midori, okayama}
    _edit(site, MIDORI, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"')
    assert not pipeline.check(site, jobs=1).ok
    after = files()
    assert after[okayama] == before[okayama]  # not written again
    assert after[midori][1] != before[midori][1]
    # A check of one folder keeps the others; a whole check forgets an assessment removed.
    shutil.rmtree(site / "content/okayama")
    pipeline.check(site, jobs=1, only=[site / "content/midori"])
    assert set(files()) == set(before)
    pipeline.check(site, jobs=1)
    assert set(files()) == {midori}


def test_check_says_how_many_assessments_it_took_from_before(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))

    def check() -> str:
        proc = subprocess.run([sys.executable, "-m", "piasite", "check", "--site", str(site)],
                              capture_output=True, text=True, encoding="utf-8", timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    first, second = check(), check()
    said = "評価書 2 件は前回の確認かビルドから変わっていないため、そのときの結果を示します"
    assert said not in first and second.splitlines()[0].startswith(said)
    assert second.splitlines()[1:] == first.splitlines()  # and the same report after it


def test_a_check_between_two_builds_leaves_the_builds_memo_whole(tmp_path, monkeypatch):
    # The survey's memo is shared: a check keeps what it did not read itself (each
    # assessment's kind), so the build after it reads no _affair.toml again.
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    _build(site, jobs=1)
    pipeline.check(site, jobs=1)
    read: list[str] = []
    real = pipeline.affair_kind
    monkeypatch.setattr(pipeline, "affair_kind", lambda *a: read.append(a) or real(*a))
    assert _build(site, jobs=1).unchanged
    assert read == []


def test_a_check_of_some_folders_or_files_reads_and_reports_only_those(tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    whole = _printed(pipeline.check(site, jobs=1))
    shutil.rmtree(site / ".piasite-cache" / "check")
    counts = _counting_checks(monkeypatch)
    midori = pipeline.check(site, jobs=1, only=[site / "content/midori"])
    assert counts == [1] and midori.errors_outside == 0
    assert _printed(midori) == [line for line in whole if line.startswith("content/midori/")]
    changes = "content/midori/juki/2025-12-12.changes.toml"
    one = pipeline.check(site, jobs=1, only=[site / changes])
    assert counts == [1]  # its assessment as the check before found it
    assert _printed(one) == [line for line in whole if line.startswith(changes + ":")]
    assert one.diagnostics and len(one.diagnostics) < len(midori.diagnostics)
    # A whole check then reads okayama, which none of those looked at…
    assert _printed(pipeline.check(site, jobs=1)) == whole and counts == [1, 1]
    # …and what a check of some folders did not look at is kept for the next whole one.
    pipeline.check(site, jobs=1, only=[site / "content/midori"])
    assert _printed(pipeline.check(site, jobs=1)) == whole and counts == [1, 1]
    # An error elsewhere that stops the build is counted, not shown.
    _edit(site, "content/okayama/_municipality.toml", 'code = "331007"', 'code = "331008"')
    scoped = pipeline.check(site, jobs=1, only=[site / "content/midori"])
    assert scoped.errors_outside == 1 and _printed(scoped) == _printed(midori)


def test_check_refuses_a_path_outside_the_site(tmp_path):
    site = copy_site(tmp_path / "site", ("midori",))

    def check(*paths: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "piasite", "check", "--site", str(site),
                               *paths], capture_output=True, text=True, encoding="utf-8",
                              timeout=120)

    outside = check(str(tmp_path))
    assert outside.returncode == 2 and "サイトのフォルダ" in outside.stderr
    missing = check(str(site / "content/nowhere"))
    assert missing.returncode == 2 and "がありません" in missing.stderr
    _edit(site, "content/midori/_municipality.toml", 'code = "', 'code = "9')
    inside = check(str(site / "content/midori/juki"))
    assert inside.returncode == 1 and "範囲の外に、サイトのエラーが 1 件" in inside.stderr
