"""Bytes a browser downloads for one typical search on /search/ (must stay under 300 KB).

Usage: python benchmarks/search_payload.py [--out DIR] [--query 中間サーバー]
Builds the bundled site into DIR (default: a temp folder) unless DIR/pagefind exists, serves
it on 127.0.0.1, opens /search/ in the system Chromium (Playwright) with an empty cache,
runs the query and sums the response bodies by kind. The local server sends no compression,
so text files (HTML, CSS, JS, JSON) are also given gzip-compressed (level 6), as a CDN such
as Netlify serves them; Pagefind's index, fragments and WebAssembly are gzip files already.
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
    ap.add_argument("--false-hits", action="store_true",
                    help="instead: compare results with the pages that contain each query")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="piasite-bench-")) / "output"
    if not (out / "pagefind" / "pagefind-entry.json").is_file():
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(REPO),
                        "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    if args.false_hits:
        false_hits(out)
        return 0
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
            kind = "pagefind" if path.startswith("/pagefind/") else "page"
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
    print(f"Pagefind (library, WebAssembly, index, fragments): {sizes['pagefind']:,d} bytes, "
          f"{wire['pagefind']:,d} on the wire")
    print(f"total: {total:,d} bytes as stored; {total_wire:,d} bytes ({total_wire / 1024:.1f} KB) "
          f"on the wire; limit {LIMIT // 1024} KB")
    return 0 if total_wire < LIMIT else 1




# ------------------------------------------------------------------ false hits (--false-hits)

QUERIES = ["中間サーバー", "中間サーバ", "委託先", "住基ネット", "住民基本台帳ネットワークシステム",
           "市町村ＣＳ", "市町村CS", "コンビニ交付", "在留カード", "eLTAX", "国税連携",
           "統合宛名", "符号", "個人住民税", "ガバメントクラウド", "児童手当", "再委託",
           "中間サーバー・プラットフォーム", "情報提供ネットワークシステム", "漏えい"]

_FALSE_HITS_JS = """async (qs) => {
  const ui = await import('/static/search.js');
  const pf = await import('/pagefind/pagefind.js');
  await pf.options({basePath: '/pagefind/', excerptLength: 40, noWorker: true});
  await pf.init();
  const out = {};
  for (const q of qs) {
    const raw = await pf.search(q);
    const n = ui.normalise(q);
    const used = ui.candidates(n).find(() => true);
    const r = await ui.find(pf, n);
    const rawUrls = await Promise.all(raw.results.map(x => x.data().then(d => d.url)));
    const uiData = await Promise.all(r.results.map(x => x.data()));
    out[q] = {used, raw: rawUrls, ui: uiData.map(d => d.url),
              top: uiData.map(d => ui.rankedSections(d, q)[0] || null)};
  }
  return out;
}"""


def _fold(text: str) -> str:
    import re
    import unicodedata

    t = unicodedata.normalize("NFKC", text).replace("･", "・").replace("―", "ー")
    t = re.sub(r"([ァ-ヶ])ー+(?![ァ-ヶー])", r"\1", t)
    return re.sub(r"\s+", "", t)


def _indexed_text(out: Path, url: str):
    """(whole indexed text, {section id: text}) of one indexed page, as Pagefind reads it."""
    from bs4 import BeautifulSoup

    html = BeautifulSoup((out / url.strip("/") / "index.html").read_text("utf-8"), "html.parser")
    body = html.select_one("[data-pagefind-body]")
    for el in body.select("[data-pagefind-ignore]"):
        el.decompose()
    terms = body.select_one("[data-terms]")
    sections: dict[str, list[str]] = {}
    key = ""
    for el in body.descendants:
        if getattr(el, "name", None) in ("h1", "h2", "h3", "h4", "h5", "h6") and el.get("id"):
            key = el["id"]
        elif el.name is None:
            sections.setdefault(key, []).append(str(el))
    whole = _fold(body.get_text() + (terms["data-terms"] if terms else ""))
    return whole, {k: _fold("".join(v)) for k, v in sections.items()}


def false_hits(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with serve_directory(out) as base, sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page()
        page.goto(f"{base}/search/")
        page.wait_for_selector("body[data-search-ready]", timeout=60_000)
        res = page.evaluate(_FALSE_HITS_JS, QUERIES)
        browser.close()
    every = {u for r in res.values() for u in r["raw"] + r["ui"]}
    pages = {u: _indexed_text(out, u) for u in every}
    print("| query | searched as | pages containing it | Pagefind as typed: hits / false | "
          "search page: hits / false / missed | top section contains it |")
    print("|---|---|---|---|---|---|")
    for q in QUERIES:
        r = res[q]
        # A page or section is a true hit when it holds every word of the query as typed,
        # or of the query as searched (an alias's full name), after folding width and ー.
        forms = [[_fold(w) for w in q.split()], [_fold(w) for w in r["used"].strip('"').split()]]

        def holds(text: str, forms=forms) -> bool:
            return any(all(w in text for w in f) for f in forms)

        truth = {u for u, (whole, _) in pages.items() if holds(whole)}
        raw_false = len(set(r["raw"]) - truth)
        ui_false = len(set(r["ui"]) - truth)
        missed = len(truth - set(r["ui"]))
        tops = [t for t in r["top"] if t]
        good = sum(1 for t in tops if holds(pages[t.split("#")[0]][1].get(t.split("#")[1], "")))
        print(f"| {q} | {r['used']} | {len(truth)} | {len(r['raw'])} / {raw_false} | "
              f"{len(r['ui'])} / {ui_false} / {missed} | {good} of {len(tops)} |")


if __name__ == "__main__":
    raise SystemExit(main())
