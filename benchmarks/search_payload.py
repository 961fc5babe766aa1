"""Bytes a browser downloads for one typical search on /search/ (must stay under 300 KB).

Usage: python benchmarks/search_payload.py [--out DIR] [--query 中間サーバー]
Builds the bundled site into DIR (default: a temp folder) unless DIR/pagefind exists, serves
it on 127.0.0.1, opens /search/ in the system Chromium (Playwright) with an empty cache,
runs the query and sums the response bodies by kind. The local server sends no compression,
so text files (HTML, CSS, JS, JSON) are also given gzip-compressed (level 6), as a CDN such
as Netlify serves them; Pagefind's index, filters and WebAssembly are gzip files already.
The limit applies to the bytes on the wire, i.e. the compressed figure.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.browser import launch_browser, serve_directory  # noqa: E402

LIMIT = 300 * 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--query", default="中間サーバー")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="piasite-bench-")) / "output"
    if not (out / "pagefind" / "pagefind-entry.json").is_file():
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(REPO),
                        "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    from playwright.sync_api import sync_playwright

    sizes: dict[str, int] = defaultdict(int)
    wire: dict[str, int] = defaultdict(int)
    files: dict[str, tuple[int, int]] = {}
    with serve_directory(out) as base, sync_playwright() as p:
        browser = launch_browser(p)
        context = browser.new_context(locale="ja-JP")
        page = context.new_page()

        def on_finished(request) -> None:
            body = request.response().body() if request.response() else b""
            path = urlsplit(request.url).path
            text = path.endswith(("/", ".html", ".css", ".js", ".json"))
            sent = len(gzip.compress(body, 6)) if text else len(body)
            files[path] = (len(body), sent)
            kind = ("text" if path.startswith("/pagefind/text/") else
                    "pagefind" if path.startswith("/pagefind/") else "page")
            sizes[kind] += len(body)
            wire[kind] += sent

        page.on("requestfinished", on_finished)
        page.goto(f"{base}/search/?q={quote(args.query)}")
        page.wait_for_selector("body[data-search-ready]", timeout=60_000)
        page.wait_for_load_state("networkidle")
        status = page.inner_text("#search-status")
        browser.close()
    total, total_wire = sum(sizes.values()), sum(wire.values())
    print(f"{'as stored':>9}  {'on wire':>9}  path")
    for path, (n, sent) in sorted(files.items(), key=lambda kv: -kv[1][1]):
        print(f"{n:>9,d}  {sent:>9,d}  {path}")
    print(f"query: {args.query} → {status}")
    print(f"page (HTML, CSS, search.js): {sizes['page']:,d} bytes, {wire['page']:,d} on the wire")
    print(f"Pagefind (library, WebAssembly, index, filters) and piasite.json: "
          f"{sizes['pagefind']:,d} bytes, {wire['pagefind']:,d} on the wire")
    print(f"page texts for the excerpts (pagefind/text/): {sizes['text']:,d} bytes, "
          f"{wire['text']:,d} on the wire")
    print(f"total: {total:,d} bytes as stored; {total_wire:,d} bytes ({total_wire / 1024:.1f} KB) "
          f"on the wire; limit {LIMIT // 1024} KB")
    return 0 if total_wire < LIMIT else 1




if __name__ == "__main__":
    raise SystemExit(main())
