"""The pipeline runs its stages one way, in the order DESIGN.md gives."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from piasite import assessment, pipeline

PKG = Path(pipeline.__file__).parent


def _order(fn, *calls: str) -> list[int]:
    src = inspect.getsource(fn)
    return [src.index(c) for c in calls]


def test_stage_order_is_load_check_link_diff_render_write():
    assert pipeline.STAGES == ("load", "check", "link", "diff", "render", "write")
    assert _order(pipeline.load_checked, "load(root)", "check_site(site)", "link(site)") == sorted(
        _order(pipeline.load_checked, "load(root)", "check_site(site)", "link(site)"))
    # A build takes each assessment through the stages (in a worker process), then makes the
    # site-wide pages, checks every link, indexes and only then moves the new files in.
    one = _order(assessment._build_one, "load_affair(", "check_site(site", "resolve([affair]",
                 "diff_site(public", "affair_jobs(", "write.put(", "check_scans(")
    assert one == sorted(one)
    staged = _order(pipeline._write_with, "_assessments(", "site_jobs(", "put(staged",
                    "_check_links(")
    assert staged == sorted(staged)
    build = _order(pipeline._build_into, "_write(", "index_site(staged", "commit(staged")
    assert build == sorted(build)
    stages = _order(pipeline.render_site, "diff_site(site", "render(site")
    assert stages == sorted(stages)


def _imports(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_no_stage_reaches_back():
    # load never renders, render never loads, only write/serve touch output/.
    for loader in ("discover", "schema", "bind", "load"):
        assert not _imports(loader) & {"render", "write", "check", "views", "link"}, loader
    assert not _imports("routes") & {"load", "render", "model", "check"}  # everyone asks it
    assert not _imports("render") & {"load", "write", "check"}
    assert not _imports("check") & {"load", "render", "write"}
    assert not _imports("views") & {"load", "write", "check"}
    assert not _imports("diff") & {"load", "render", "write", "views"}


def test_reload_reuses_untouched_versions_and_sees_every_edit(tmp_path):
    # The preview reloads the whole site on each save; unchanged versions come from a cache
    # keyed by their files' bytes, so an edit to any file of a version must still show.
    from helpers import copy_site

    from piasite.load import load

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    first, _ = load(site)
    second, _ = load(site)
    old = {r.id: r for r in first.revisions()}
    again = {r.id: r for r in second.revisions()}
    assert again["2025-12-12"] is old["2025-12-12"]

    changes = site / "content/asahikawa/juki/2025-07-01/changes.toml"
    changes.write_text(changes.read_text(encoding="utf-8").replace('timing = "事前"', 'timing = "事後"', 1),
                       encoding="utf-8")
    third, _ = load(site)
    draft = {r.id: r for r in third.revisions()}["2025-07-01"]
    assert draft is not old["2025-07-01"]
    assert [r.timing for r in draft.changes] != [r.timing for r in old["2025-07-01"].changes]

    rev = site / "content/midori/juki/2025-12-12.md"
    rev.write_text(rev.read_text(encoding="utf-8").replace('form = "kiso-r7-05"', 'form = "kiso-r9"', 1),
                   encoding="utf-8")
    for _ in range(2):  # a cached failure reports its diagnostics every time
        broken, diags = load(site)
        assert "E105" in {d.code for d in diags}
        assert "2025-12-12" not in {r.id for r in broken.revisions() if r.muni == "midori"}


def test_a_build_on_a_terminal_says_how_far_it_is(tmp_path):
    # A national site takes minutes: on a terminal the build keeps one line up to date, and
    # clears it before its report. Captured (not a terminal), it prints no such line.
    import os
    import pty
    import subprocess
    import sys
    import threading

    from helpers import REPO_ROOT, copy_site

    site = copy_site(tmp_path / "site", ("midori", "yatsushiro", "asahikawa", "okayama",
                                          "toyonaka"))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "piasite", "build", "--site", str(site)],
                            stderr=slave, stdout=subprocess.DEVNULL, cwd=REPO_ROOT)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed with the process
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    assert proc.wait(timeout=300) == 0
    reader.join(timeout=10)
    os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "検索の索引を作っています" in shown
    assert "\r\x1b[K" in shown and "ファイルを" in shown.rsplit("\r\x1b[K", 1)[1]
    piped = subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(site)],
                           capture_output=True, text=True, cwd=REPO_ROOT)
    assert piped.returncode == 0 and "\r" not in piped.stderr


def test_a_build_reports_each_assessment_and_the_pages_as_it_goes(tmp_path):
    from helpers import copy_site

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    seen: list[tuple[str, int, int]] = []
    assert pipeline.build(site, now="2026-01-15", progress=lambda *a: seen.append(a)).ok
    assert [s for s in seen if s[0] == "assessments"] == [("assessments", 1, 2),
                                                         ("assessments", 2, 2)]
    pages = [s for s in seen if s[0] == "pages"]
    assert pages[0][1] == 0 and pages[0][2] > 10 and seen[-1] == ("index", 0, 1)
    seen.clear()  # nothing changed: every assessment from the cache, nothing to index
    assert pipeline.build(site, now="2026-01-15", progress=lambda *a: seen.append(a)).unchanged
    assert not [s for s in seen if s[0] in ("assessments", "index")]


def test_worker_results_are_taken_in_order_and_let_go_once_taken():
    # The comparison item pages' ids and links come back from the workers while this
    # process makes the other site-wide pages; each batch's are checked and let go as soon
    # as they are ready, in the order the batches were sent (the output does not depend on
    # which worker finished first).
    import gc
    import weakref
    from concurrent.futures import Future

    from piasite.processes import InOrder

    class Found(list):
        pass

    results = InOrder([Future(), Future(), Future()])
    first, second, third = results.pending
    second.set_result(Found(["b"]))
    assert list(results.ready()) == []  # the first is not ready: nothing out of order
    first.set_result(Found(["a"]))
    taken = weakref.ref(first.result())
    del first, second
    assert list(results.ready()) == [["a"], ["b"]]
    gc.collect()
    assert taken() is None  # nothing holds a batch once it was taken
    third.set_result(Found(["c"]))
    assert list(results) == [["c"]] and not results.pending
