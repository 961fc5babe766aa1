"""Benchmark: save-to-rebuilt time of `piasite serve` for a one-version edit.

Copies the bundled site to a temporary folder, starts the preview (in-process, no HTTP),
then N times appends a character to one version's free text, waits for the watcher to
rebuild, and records the time from the write to the rebuilt page. Prints the median, the
pages re-rendered per edit and the total number of pages.

    .venv/bin/python benchmarks/serve_rebuild.py [--runs 15] [--file content/.../x.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from piasite.serve import make_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--file", default="content/midori/juki/2025-12-12.md")
    ap.add_argument("--anchor", default="{#I-1-2}")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        for name in ("site.toml", "content", "themes"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, site / name)
        t0 = time.perf_counter()
        httpd, preview, watcher = make_server(site, "127.0.0.1", 0)
        first = time.perf_counter() - t0
        httpd.server_close()
        total = len([p for p in preview.rendered.files if str(p).endswith(".html")])
        watcher.start()
        target = site / args.file
        times, counts = [], []
        for i in range(args.runs):
            gen = preview.generation
            text = target.read_text(encoding="utf-8")
            marker = f"{args.anchor}\n\n"
            assert marker in text, f"{args.anchor} not in {args.file}"
            start = time.perf_counter()
            target.write_text(text.replace(marker, f"{marker}変{i}", 1), encoding="utf-8")
            while preview.generation == gen:
                time.sleep(0.002)
            times.append(time.perf_counter() - start)
            counts.append(len(preview.last_rendered))
            time.sleep(0.2)
        watcher.stop.set()
    print(f"site: {total} HTML pages; first build (load, check, diff, render in memory): {first:.2f} s")
    print(f"edit of {args.file}: {args.runs} runs")
    print(f"save-to-rebuilt median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"pages re-rendered per edit: {statistics.median(counts):.0f} of {total}")


if __name__ == "__main__":
    main()
