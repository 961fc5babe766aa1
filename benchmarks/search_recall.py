"""Recall of the search page for the words the index holds (Pagefind issue #1237).

Usage: python benchmarks/search_recall.py [--out DIR] [--kanji N]
Builds the bundled site into DIR (default: a temp folder) unless DIR/pagefind exists. Collects
every katakana word of three or more characters from the indexed pages' text (Pagefind's
fragments), plus N random kanji runs of 2–6 characters (default 0), runs each through the
search page's own `find()` in Chromium, and compares the pages found with the pages whose text
contains the word. Prints how many words reach no page, how many miss some pages, and how many
bring pages without the word (often rightly: サーバー also finds サーバ).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.browser import launch_browser, serve_directory  # noqa: E402

FIND_ALL = """async (ws) => {
  const src = [...document.scripts].map((s) => s.src).find((s) => s.includes('search'));
  const m = await import(src);
  const pf = await import('/pagefind/pagefind.js');
  const out = {};
  for (const w of ws) {
    const r = await m.find(pf, m.normalise(w));
    out[w] = await Promise.all(r.results.map(async (x) => (await x.data()).url));
  }
  return out;
}"""


def indexed_text(out: Path) -> dict[str, str]:
    pages = {}
    for path in sorted((out / "pagefind" / "fragment").glob("*.pf_fragment")):
        data = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])
        pages[data["url"]] = data["content"].replace("\u200b", "")
    return pages


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--kanji", type=int, default=0, help="also test N random kanji runs")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="piasite-bench-")) / "output"
    if not (out / "pagefind" / "pagefind-entry.json").is_file():
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(REPO),
                        "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    pages = indexed_text(out)
    text = "\n".join(pages.values())
    words = sorted({m.group() for m in re.finditer(r"[ァ-ヶー]{3,}", text)})
    if args.kanji:
        runs = sorted({m.group() for m in re.finditer(r"[\u3400-\u9fff々]{2,6}", text)})
        words += sorted(random.Random(7).sample(runs, min(args.kanji, len(runs))))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, serve_directory(out) as url:
        page = launch_browser(pw).new_page(locale="ja-JP")
        page.goto(url + "/search/")
        page.wait_for_selector("body[data-search-ready]", timeout=30_000)
        found = page.evaluate(FIND_ALL, words)
    none, some, extra = [], [], []
    for w in words:
        want = {u for u, c in pages.items() if w in c}
        got = set(found[w])
        if not got & want:
            none.append(w)
        elif want - got:
            some.append(w)
        if got - want:
            extra.append(w)
    print(f"{len(words)} words from {len(pages)} indexed pages")
    print(f"reach no page containing them: {len(none)}  {' '.join(none)}")
    print(f"miss some pages containing them: {len(some)}  {' '.join(some)}")
    print(f"also bring pages without them: {len(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
