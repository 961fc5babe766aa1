"""Benchmark: `piasite serve`, first page served and save-to-rebuilt for a one-version edit.

Copies the bundled site to a temporary folder (or uses --site, e.g. a corpus from
benchmarks/corpus.py, and puts the edited file back at the end), starts the preview
in-process, times the first page served over HTTP from a start and from a restart (its cache
in place), then N times appends a character to one version's free text and records the time
from the write to the edited page rebuilt (when its tab is told to reload) and to the whole
build done (the site-wide pages). Prints medians, the files the first rebuild changed and
the total number of pages.

    .venv/bin/python benchmarks/serve_rebuild.py [--runs 15] [--file content/.../x.md]
    .venv/bin/python benchmarks/serve_rebuild.py --site /tmp/piasite-scale/site-1000 --runs 5
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from piasite.serve import make_server  # noqa: E402


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def _page_of(site: Path, target: Path) -> str:
    """The version page a version file makes: content/m/a/2025-12-12.md -> m/a/2025-12-12/."""
    rel = target.relative_to(site / "content")
    parts = rel.parts[:-1] if rel.name == "index.md" else (*rel.parts[:-1], rel.stem)
    return "/".join(parts) + "/index.html"


def _start(site: Path, jobs: int | None):
    t0 = time.perf_counter()
    httpd, preview, watcher = make_server(site, "127.0.0.1", 0, jobs=jobs)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    status = _get(httpd.server_address[1], "/")
    return httpd, preview, watcher, status, time.perf_counter() - t0


def _stop(httpd, watcher) -> None:
    watcher.stop.set()
    httpd.shutdown()
    httpd.server_close()


def run(site: Path, target: Path, anchor: str, runs: int, idle: float, jobs: int | None) -> None:
    # A first start builds every page (cold when .piasite-cache/preview is empty); a restart
    # takes the unchanged assessments from that cache, as a staff member's next day does.
    httpd, preview, watcher, status, first = _start(site, jobs)
    _stop(httpd, watcher)
    httpd, preview, watcher, status, again = _start(site, jobs)
    total = sum(1 for _ in preview.out.rglob("*.html"))
    page = _page_of(site, target)
    watcher.start()
    # Edits are timed from a watch in place (its start-up is part of the first page's time).
    watcher.watching.wait(30)
    # The watcher's own cost while nothing changes: CPU of this process over a quiet spell.
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(idle)
    idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    shown, settled, counts, quick = [], [], [], 0
    for i in range(runs):
        gen = preview.generation
        text = target.read_text(encoding="utf-8")
        marker = f"{anchor}\n\n"
        assert marker in text, f"{anchor} not in {target}"
        start = time.perf_counter()
        target.write_text(text.replace(marker, f"{marker}変{i}", 1), encoding="utf-8")
        # The edited page is fresh once a rebuild since the save has changed it: the moment
        # its tab is told to reload.
        while not any(g > gen and (c is None or page in c) for g, c in list(preview.history)):
            time.sleep(0.002)
        shown.append(time.perf_counter() - start)
        first_change = next(c for g, c in list(preview.history) if g > gen)
        counts.append(len(first_change or ()))
        quick += dict(preview.history).get(gen + 1) is not None and preview.settled != gen + 1
        while preview.settled <= gen:
            time.sleep(0.005)
        settled.append(time.perf_counter() - start)
        time.sleep(0.2)
    _stop(httpd, watcher)
    print(f"site: {total} HTML pages; first page served (HTTP {status}) {first:.2f} s after a "
          f"start, {again:.2f} s after a restart (the preview build's cache in place)")
    print(f"edit of {target.relative_to(site)}: {runs} runs, {quick} rebuilt in place first")
    print(f"save-to-reload (the edited page fresh) median {statistics.median(shown) * 1000:.0f} ms,"
          f" min {min(shown) * 1000:.0f} ms, max {max(shown) * 1000:.0f} ms")
    print(f"save-to-site-wide (the whole build done) median "
          f"{statistics.median(settled) * 1000:.0f} ms, max {max(settled) * 1000:.0f} ms")
    print(f"files changed by the first rebuild of an edit: {statistics.median(counts):.0f}")
    print(f"CPU while idle ({idle:.0f} s, watcher and server): {idle_cpu * 100:.1f} % of a core")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--site", type=Path, default=None,
                    help="use this site in place (default: a copy of the bundled site)")
    ap.add_argument("--file", default=None,
                    help="version to edit (default: みどり市 2025-12-12, or the corpus's edit target)")
    ap.add_argument("--anchor", default="{#I-1-2}")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of quiet to measure CPU")
    ap.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: cores)")
    args = ap.parse_args()
    if args.site:
        site = args.site.resolve()
        if args.file:
            target = site / args.file
        else:
            import corpus

            target = corpus.edit_target(site)
        original = target.read_bytes()
        try:
            run(site, target, args.anchor, args.runs, args.idle, args.jobs)
        finally:
            target.write_bytes(original)
        return
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        for name in ("site.toml", "content", "themes"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, site / name)
        run(site, site / (args.file or "content/midori/juki/2025-12-12.md"), args.anchor,
            args.runs, args.idle, args.jobs)


if __name__ == "__main__":
    main()
