"""The pipeline runs its stages one way, in the order DESIGN.md gives."""

from __future__ import annotations

import ast
import dataclasses
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
    build = _order(pipeline._build_into, "write(staged", "index_site(staged", "commit(staged")
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


def _not_here(*args, **kwargs):
    raise AssertionError("the pages were written in the build's own process")


def test_a_large_new_build_writes_its_pages_in_a_process_of_its_own(tmp_path, monkeypatch):
    # A build that makes most of a large site anew writes its pages in a process of its own,
    # whose memory goes back to the system before the search index: the same files, the
    # same report, and the progress still reaches the caller as it goes.
    from helpers import copy_site, stable_files

    munis = ("midori", "asahikawa")
    here: list[tuple[str, int, int]] = []
    alone = pipeline.build(copy_site(tmp_path / "one", munis), now="2026-01-15", jobs=2,
                           progress=lambda *a: here.append(a))
    assert alone.wrote
    site = copy_site(tmp_path / "site", munis)
    monkeypatch.setattr(pipeline, "APART_MIN_NEW", 2)  # two assessments, both new
    monkeypatch.setattr(pipeline, "_write", _not_here)  # only the other process may
    seen: list[tuple[str, int, int]] = []
    apart = pipeline.build(site, now="2026-01-15", jobs=2, progress=lambda *a: seen.append(a))
    assert apart.wrote
    assert [str(d) for d in apart.diagnostics] == [str(d) for d in alone.diagnostics]
    assert apart.files == alone.files
    assert stable_files(site / "output") == stable_files(tmp_path / "one/output")
    assert [s for s in seen if s[0] == "assessments"] == [("assessments", 1, 2),
                                                         ("assessments", 2, 2)]
    first_pages = next(s for s in seen if s[0] == "pages")
    assert first_pages == next(s for s in here if s[0] == "pages")
    assert seen[-1] == ("index", 0, 1)
    # What that process stored serves the next build: nothing changed, nothing written.
    monkeypatch.undo()
    assert pipeline.build(site, now="2026-01-15", jobs=2).unchanged


def test_a_build_written_apart_reports_its_errors_and_publishes_nothing(tmp_path, monkeypatch):
    from helpers import copy_site

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    home = site / "themes/default/templates/home.html"
    home.write_text(home.read_text(encoding="utf-8").replace(
        "<h2>団体ごとの評価書</h2>", '<p><a href="/no-such-page/">無いページ</a></p>\n'
        "<h2>団体ごとの評価書</h2>"), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("前回の出力", encoding="utf-8")
    monkeypatch.setattr(pipeline, "APART_MIN_NEW", 2)
    monkeypatch.setattr(pipeline, "_write", _not_here)
    result = pipeline.build(site, out, now="2026-01-15", jobs=2)
    assert not result.wrote
    broken = [str(d) for d in result.diagnostics if d.code == "E701"]
    assert len(broken) == 1 and broken[0].startswith("index.html:"), broken
    assert "「/no-such-page/」のリンク先のページ・ファイルがありません" in broken[0]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging


def test_which_builds_write_their_pages_apart(tmp_path, monkeypatch):
    from helpers import copy_site

    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    munis = pipeline._survey(site)[2]
    dest = pipeline.Dest(site / "output", site / ".piasite-cache")
    monkeypatch.setattr(pipeline, "APART_MIN_NEW", 2)
    assert pipeline._apart(dest, munis, 2)
    assert not pipeline._apart(dest, munis, 1)  # -j 1: one process, as asked
    assert not pipeline._apart(dataclasses.replace(dest, preview=True), munis, 2)
    monkeypatch.setattr(pipeline, "APART_MIN_NEW", 3)
    assert not pipeline._apart(dest, munis, 2)  # a small site: not worth a process
    monkeypatch.setattr(pipeline, "APART_MIN_NEW", 2)
    assert pipeline.build(site, now="2026-01-15", jobs=1).wrote
    assert not pipeline._apart(dest, munis, 2)  # the last build's results are stored


def test_worker_processes_check_against_the_shared_files_as_the_build_read_them(tmp_path):
    # The workers take site.toml, the forms and the registry from the build that started
    # them, not from the site folder: reading them again listed the whole site in every
    # worker, and a site.toml saved meanwhile gave one build two settings. Given a reading
    # without the forms, every assessment's form is unknown to them, in both processes.
    from types import MappingProxyType

    from helpers import copy_site

    from piasite.render import find_theme

    site = copy_site(tmp_path / "site", ("midori", "okayama"))
    shared, base, munis, _ = pipeline._survey(site)
    tasks = pipeline._tasks(munis)
    settings = assessment.Settings(site, pipeline.today_for(shared.config, None), None)
    no_forms = dataclasses.replace(shared, forms=MappingProxyType({}))
    context = assessment.Context(settings, no_forms, base, find_theme(site, "default"))
    results = list(assessment.build_all(settings, tasks, 2, context))
    assert len(results) == len(tasks) == 2
    for r in results:
        assert any(d.code == "E105" for d in r.diagnostics), [str(d) for d in r.diagnostics]
