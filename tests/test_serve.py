"""The staff preview: live rebuild of what changed, reload signal, errors in the browser."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path, PurePosixPath

import pytest
from helpers import copy_site

from piasite.serve import make_server

REV = "content/midori/juki/2025-12-12.md"


@pytest.fixture
def server(tmp_path):
    site = copy_site(tmp_path / "site")
    httpd, preview, watcher = make_server(site, "127.0.0.1", 0)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    watcher.start()
    yield site, httpd.server_address[1], preview
    watcher.stop.set()
    httpd.shutdown()
    httpd.server_close()


def get(port: int, path: str) -> tuple[int, str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode("utf-8", "replace")
    conn.close()
    return resp.status, body, dict(resp.getheaders())


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def edit(site: Path, old: str, new: str) -> None:
    p = site / REV
    p.write_text(p.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def test_serves_pages_with_the_reload_script_and_preview_banner(server):
    site, port, _ = server
    status, body, _ = get(port, "/midori/juki/")
    assert status == 200 and "市民部 市民課" in body
    assert '<script src="/__piasite/reload.js" defer></script>' in body
    assert "プレビュー" in body
    assert get(port, "/__piasite/reload.js")[0] == 200
    assert not (site / "output").exists()  # the preview never writes output/


def listen(port: int, page: str, timeout: float = 15
           ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """A tab's reload channel, as the preview's reload.js opens it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", f"/__piasite/events?page={page}")
    events = conn.getresponse()
    assert events.getheader("Content-Type") == "text/event-stream"
    assert events.readline() == b"retry: 500\n" and events.readline() == b"\n"
    return conn, events


def changed_since(preview, gen: int) -> set[str]:
    return {f for g, files in preview.history if g > gen for f in files or ()}


def test_edit_rebuilds_only_what_it_affects_and_reloads_the_tabs_showing_it(server):
    site, port, preview = server
    assert preview_watching(preview)
    shown, shown_events = listen(port, "/midori/juki/2025-12-12/")
    other, other_events = listen(port, "/", timeout=1.5)
    gen = preview.generation
    edit(site, 'name = "市民部 市民課"', 'name = "市民部 市民課 住民係"')
    assert wait_for(lambda: preview.settled > gen, timeout=30)
    # The assessment was rebuilt in place and shown first, then the whole build followed.
    first = dict(preview.history)[gen + 1]
    assert "midori/juki/2025-12-12/index.html" in first and preview.settled > gen + 1
    assert "市民部 市民課 住民係" in get(port, "/midori/juki/2025-12-12/")[1]
    assert shown_events.readline() == b"event: reload\n"
    changed = changed_since(preview, gen)
    assert "midori/juki/2025-12-12/index.html" in changed
    assert "midori/juki/diff/2023-08-18..2025-12-12/index.html" in changed
    # pages that do not show this version are not rewritten, and their tabs do not reload
    assert "404.html" not in changed and "index.html" not in changed
    with pytest.raises(TimeoutError):
        other_events.readline()
    shown.close()
    other.close()


def test_a_new_version_is_shown_and_listed_site_wide(server):
    site, port, preview = server
    assert preview_watching(preview)
    gen = preview.generation
    src = site / "content/midori/juki/2025-12-12.md"
    text = src.read_text(encoding="utf-8")
    assert get(port, "/midori/juki/2026-01-05/")[0] == 404
    (site / "content/midori/juki/2026-01-05.md").write_text(
        text.replace("2025-12-12", "2026-01-05", 1), encoding="utf-8")
    assert wait_for(lambda: preview.settled > gen, timeout=30)
    assert get(port, "/midori/juki/2026-01-05/")[0] == 200
    assert "/midori/juki/2026-01-05/" in get(port, "/midori/juki/")[1]


def test_broken_file_shows_the_error_page_then_recovers(server):
    site, port, preview = server
    gen = preview.generation
    edit(site, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"')
    assert wait_for(lambda: preview.generation > gen)
    status, body, _ = get(port, "/midori/juki/")
    assert status == 500 and "内容にエラーがあります" in body
    assert f"{REV}:" in body and "E104" in body and "発生しない" in body
    gen = preview.generation
    edit(site, 'serious_incident = "発生しない"', 'serious_incident = "発生なし"')
    assert wait_for(lambda: preview.generation > gen)
    assert get(port, "/midori/juki/")[0] == 200


@pytest.mark.parametrize("path", ["/../site.toml", "/%2e%2e/site.toml", "/..%2fsite.toml",
                                  "/static/../../site.toml", "/content/midori/_municipality.toml"])
def test_nothing_outside_the_built_site_is_served(server, path):
    _, port, _ = server
    status, body, _ = get(port, path)
    assert status in (400, 404) and "102121" not in body


def test_unpublished_versions_show_in_preview_only(tmp_path):
    from piasite import pipeline

    site = copy_site(tmp_path / "site")
    old = site / "content/midori/juki/2023-08-18.md"
    old.write_text(old.read_text(encoding="utf-8").replace(
        'status = "published"', 'status = "published"\nunpublished = true', 1), encoding="utf-8")
    result = pipeline.build(site, site / "output")
    assert result.wrote
    files = {str(p) for p in result.files}
    assert not any("2023-08-18" in f for f in files)
    assert "2023-08-18" not in (site / "output/sitemap.xml").read_text(encoding="utf-8")
    httpd, preview, _ = make_server(site, "127.0.0.1", 0)
    httpd.server_close()
    page = preview.read(PurePosixPath("midori/juki/2023-08-18/index.html")).decode()
    assert "未公開（プレビューのみ）" in page
    assert "2023-08-18" not in (site / "output/sitemap.xml").read_text(encoding="utf-8")


def test_editor_scratch_files_do_not_rebuild_but_a_save_does(server):
    site, port, preview = server
    assert preview_watching(preview)
    gen = preview.generation
    folder = site / "content/midori/juki"
    for name in (".2025-12-12.md.swp", "2025-12-12.md~", "4913", ".#2025-12-12.md"):
        (folder / name).write_text("x", encoding="utf-8")
    time.sleep(1.0)  # twice the watcher's wake-up period: nothing may have been rebuilt
    assert preview.generation == gen
    edit(site, 'name = "市民部 市民課"', 'name = "市民部 市民課 窓口係"')
    assert wait_for(lambda: preview.generation > gen)
    assert "市民部 市民課 窓口係" in get(port, "/midori/juki/2025-12-12/")[1]


def test_a_save_before_the_watch_starts_is_not_lost(tmp_path):
    site = copy_site(tmp_path / "site")
    httpd, preview, watcher = make_server(site, "127.0.0.1", 0)
    httpd.server_close()
    gen = preview.generation
    edit(site, 'name = "市民部 市民課"', 'name = "市民部 戸籍係"')  # after the first build
    watcher.start()
    try:
        assert wait_for(lambda: preview.generation > gen)
        page = preview.read(PurePosixPath("midori/juki/2025-12-12/index.html")).decode()
        assert "市民部 戸籍係" in page
    finally:
        watcher.stop.set()


def test_site_toml_replaced_by_rename_is_seen_and_still_watched(server):
    site, _, preview = server
    assert preview_watching(preview)
    for title in ("置き換えた題名", "もう一度置き換えた題名"):
        gen = preview.generation
        config = site / "site.toml"
        tmp = site / "site.toml.new"
        tmp.write_text(config.read_text(encoding="utf-8").replace(
            'title = "', f'title = "{title}', 1), encoding="utf-8")
        tmp.replace(config)  # how many editors save: a new file renamed over the old one
        assert wait_for(lambda gen=gen: preview.generation > gen)
        assert title in preview.read(PurePosixPath("index.html")).decode()


def preview_watching(preview, timeout=10.0) -> bool:
    watcher = next(t for t in threading.enumerate() if t.name == "piasite-watcher"
                   and t.preview is preview)
    return watcher.watching.wait(timeout)


def test_the_server_answers_during_the_first_build_and_then_shows_the_site(tmp_path):
    site = copy_site(tmp_path / "site")
    httpd, preview, watcher = make_server(site, "127.0.0.1", 0, build=False)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    done = threading.Event()
    watcher.on_first = done.set
    try:
        status, body, headers = get(port, "/midori/juki/")
        assert status == 503 and "プレビューを準備しています" in body and not preview.ready
        assert headers["Retry-After"] == "5"
        preview.progress = ("assessments", 3, 714)  # what a long first build reports
        assert "評価書: 3 / 714 件" in get(port, "/")[1]
        preview.progress = None
        assert '<script src="/__piasite/reload.js" defer></script>' in body
        conn, events = listen(port, "/midori/juki/")
        watcher.start()  # makes the first build, then watches
        assert events.readline() == b"event: reload\n"  # the waiting tab is told to reload
        conn.close()
        assert done.wait(30)
        status, body, _ = get(port, "/midori/juki/")
        assert status == 200 and "市民部 市民課" in body
    finally:
        watcher.stop.set()
        httpd.shutdown()
        httpd.server_close()


def test_a_deleted_document_page_goes_and_its_link_with_it(server):
    site, port, preview = server
    assert preview_watching(preview)
    page = site / "content/midori/juki/_pages/memo.md"
    page.parent.mkdir(exist_ok=True)
    gen = preview.generation
    page.write_text('+++\ntitle = "職員向けメモ"\n+++\n\n本文\n', encoding="utf-8")
    assert wait_for(lambda: preview.settled > gen, timeout=30)
    assert get(port, "/midori/juki/memo/")[0] == 200
    assert "職員向けメモ" in get(port, "/midori/juki/")[1]
    gen = preview.generation
    page.unlink()
    assert wait_for(lambda: preview.settled > gen, timeout=30)
    # Removed in place at once (the first rebuild), then the whole build agrees.
    assert "midori/juki/memo/index.html" in dict(preview.history)[gen + 1]
    assert get(port, "/midori/juki/memo/")[0] == 404
    assert "職員向けメモ" not in get(port, "/midori/juki/")[1]


def test_a_save_that_touches_many_assessments_goes_straight_to_the_whole_build(tmp_path):
    from piasite.serve import QUICK_MAX, Preview

    site = copy_site(tmp_path / "site", ("midori", "yatsushiro", "asahikawa", "okayama",
                                         "toyonaka"))
    preview = Preview(site)
    preview.rebuild()
    folders = sorted(p.parent for p in (site / "content").glob("*/*/_affair.toml"))
    assert len(folders) > QUICK_MAX
    gen = preview.generation
    preview.rebuild([str(folders[0] / "_affair.toml")])  # one: in place first, then whole
    assert preview.generation == gen + 2 and preview.settled == gen + 2
    gen = preview.generation
    preview.rebuild([str(f / "_affair.toml") for f in folders])  # a git pull: whole only
    assert preview.generation == gen + 1 and preview.settled == gen + 1 and not preview.quick


@pytest.mark.browser
def test_the_open_tab_reloads_itself_after_a_save_in_a_real_browser(server, chromium):
    # The reload script names its page; the server tells it to reload; the browser does.
    site, port, preview = server
    assert preview_watching(preview)
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{port}/midori/juki/2025-12-12/")
        assert "市民部 市民課" in page.content()
        page.wait_for_timeout(300)  # the EventSource is open
        with page.expect_navigation(timeout=20_000):
            edit(site, 'name = "市民部 市民課"', 'name = "市民部 市民課 ブラウザ係"')
        page.wait_for_load_state()
        assert "市民部 市民課 ブラウザ係" in page.content()
    finally:
        ctx.close()
