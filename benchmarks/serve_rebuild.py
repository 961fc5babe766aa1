"""Benchmark: `piasite serve`, first page served and save-to-rebuilt for a one-version edit.

Copies the bundled site to a temporary folder (or uses --site, e.g. a corpus from
benchmarks/corpus.py, and puts the edited file back at the end), starts the preview
in-process, times the first page served over HTTP from the start, then N times appends a
character to one version's free text, waits for the watcher to rebuild, and records the time
from the write to the rebuilt page. Prints the median, the pages re-rendered per edit and the
total number of pages.

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


def run(site: Path, target: Path, anchor: str, runs: int, idle: float) -> None:
    t0 = time.perf_counter()
    httpd, preview, watcher = make_server(site, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    status = _get(httpd.server_address[1], "/")
    first = time.perf_counter() - t0
    total = len([p for p in preview.rendered.files if str(p).endswith(".html")])
    watcher.start()
    # Edits are timed from a watch in place (its start-up is part of the first page's time).
    if hasattr(watcher, "watching"):
        watcher.watching.wait(30)
    # When each rebuild starts: save-to-rebuild-start is what the watcher adds.
    starts: list[float] = []
    rebuild = preview.rebuild

    def timed_rebuild() -> None:
        starts.append(time.perf_counter())
        rebuild()

    preview.rebuild = timed_rebuild
    # The watcher's own cost while nothing changes: CPU of this process over a quiet spell.
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(idle)
    idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    times, detected, counts = [], [], []
    for i in range(runs):
        gen = preview.generation
        text = target.read_text(encoding="utf-8")
        marker = f"{anchor}\n\n"
        assert marker in text, f"{anchor} not in {target}"
        start = time.perf_counter()
        target.write_text(text.replace(marker, f"{marker}変{i}", 1), encoding="utf-8")
        while preview.generation == gen:
            time.sleep(0.002)
        times.append(time.perf_counter() - start)
        detected.append(starts[-1] - start)
        counts.append(len(preview.last_rendered))
        time.sleep(0.2)
    watcher.stop.set()
    httpd.shutdown()
    httpd.server_close()
    print(f"site: {total} HTML pages; first page served (HTTP {status}) {first:.2f} s after start "
          "(load, check, diff, render in memory)")
    print(f"edit of {target.relative_to(site)}: {runs} runs")
    print(f"save-to-rebuilt median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"save-to-rebuild-start (the watcher's part) median "
          f"{statistics.median(detected) * 1000:.0f} ms, max {max(detected) * 1000:.0f} ms")
    print(f"pages re-rendered per edit: {statistics.median(counts):.0f} of {total}")
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
            run(site, target, args.anchor, args.runs, args.idle)
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
            args.runs, args.idle)


if __name__ == "__main__":
    main()
