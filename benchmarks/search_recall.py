"""Recall and precision of the search page for substrings of the indexed pages.

Usage: python benchmarks/search_recall.py [--out DIR] [--samples 1200] [--seed 7]

Builds the bundled site into DIR (default: a temp folder) unless DIR/pagefind exists. Reads
every searchable part of the built pages (the elements with `data-search`, minus those marked
`data-search-ignore`) with BeautifulSoup — independently of piasite's own index — and samples
substrings of 2 to 8 characters from their text (never half a character, such as カ without
the ゛ after it), spread over the kinds of page (評価書, 意見募集, 関連資料, システム) and the
scripts (kanji, hiragana, katakana, Latin, digits, mixed);
some Latin and digit samples are typed in full width, some katakana samples with the final ー
added or removed. Every registry name and alias is queried as well.

Each query is typed into the real search page (/search/) in headless Chromium, and all its
results are loaded (次の結果を表示). A sample is recalled when the page part it was taken from is
among the results; a result is precise when its text contains every query word, or a registry
name of the same system (see docs/search.md for the normalisation both sides use).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.browser import launch_browser, serve_directory  # noqa: E402

SCRIPTS = ("kanji", "hiragana", "katakana", "latin", "digits", "mixed")
MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
                   "\u3099\u309a\uff9e\uff9f]")


def normalise(text: str) -> str:
    """docs/search.md's normalisation, written separately from piasite's."""
    t = "".join(c.lower() for c in unicodedata.normalize("NFKC", text)).replace("―", "ー")
    t = re.sub(r"(?<=[ァ-ヶ])ー+(?![ァ-ヶー])", "", t)
    return "".join(c for c in t if unicodedata.category(c)[0] in "LN")


def query_form(word: str) -> str:
    """A query word as searched: normalised, without a leading ー (docs/search.md)."""
    return normalise(word).lstrip("ー")


def script_of(s: str) -> str | None:
    kinds = set()
    for c in s:
        if "\u4e00" <= c <= "\u9fff" or c in "々〆":
            kinds.add("kanji")
        elif "\u3041" <= c <= "\u309f":
            kinds.add("hiragana")
        elif "\u30a1" <= c <= "\u30ff":
            kinds.add("katakana")
        elif (c.isascii() and c.isalpha()) or "Ａ" <= c <= "ｚ":
            kinds.add("latin")
        elif c.isdigit():
            kinds.add("digits")
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def records(out: Path) -> dict[str, dict]:
    """Every searchable part of the built site: URL -> kind, title and visible text."""
    from bs4 import BeautifulSoup

    found = {}
    for path in sorted(out.rglob("*.html")):
        raw = path.read_text(encoding="utf-8")
        if "data-search=" not in raw:
            continue
        rel = path.relative_to(out).as_posix()
        url = "/" + rel[: -len("index.html")] if rel.endswith("index.html") else "/" + rel
        soup = BeautifulSoup(raw, "html.parser")
        for el in soup.select("[data-search]"):
            data = json.loads(el["data-search"])
            for ignored in el.select("[data-search-ignore], svg, script, style, [hidden]"):
                ignored.decompose()
            text = re.sub(r"\s+", " ", data.get("title", "") + " " + el.get_text(" ")).strip()
            found[data.get("url") or url] = {"kind": data["kind"], "text": text,
                                             "n": normalise(text)}
    return found


def sample(recs: dict[str, dict], total: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(query, source URL, kind, script) spread evenly over kinds and scripts."""
    rng = random.Random(seed)
    by_kind = defaultdict(list)
    for url, r in recs.items():
        by_kind[r["kind"]].append(url)
    cells = {(k, s) for k in by_kind for s in SCRIPTS}
    quota = -(-total // len(cells))
    counts: Counter = Counter()
    out: list[tuple[str, str, str, str]] = []
    seen = set()
    for _ in range(total * 400):
        if len(out) >= total and all(counts[c] >= min(quota, 5) for c in cells):
            break
        kind = rng.choice(sorted(by_kind))
        url = rng.choice(by_kind[kind])
        text = recs[url]["text"]
        size = rng.randint(2, 8)
        if len(text) <= size:
            continue
        at = rng.randrange(len(text) - size)
        if MARKS.match(text, at) or MARKS.match(text, at + size):
            continue  # half a character (カ without its ゛): not something a reader types
        q = text[at:at + size].strip()
        script = script_of(q)
        if not script or len(q) < 2 or not query_form(q) or (kind, script) not in cells:
            continue
        if counts[(kind, script)] >= quota or (q, url) in seen:
            continue
        variant = q
        if script in ("latin", "digits") and rng.random() < 0.5:  # typed in full width
            variant = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in q)
        elif script == "katakana" and rng.random() < 0.3:  # the final long vowel, or not
            variant = q[:-1] if q.endswith("ー") and len(q) > 2 else q + "ー" if \
                q[-1] != "ー" and "\u30a1" <= q[-1] <= "\u30f6" else q
        seen.add((q, url))
        counts[(kind, script)] += 1
        out.append((variant, url, kind, script))
    return out


ALIASES_JS = "() => JSON.parse(document.getElementById('search-form').dataset.aliases)"

RUN_JS = """async (q) => {
  const before = document.body.dataset.searchDone || '';
  const input = document.getElementById('search-q');
  input.value = q;
  document.getElementById('search-form').requestSubmit();
  while ((document.body.dataset.searchDone || '') === before) await new Promise(r => setTimeout(r, 5));
  const more = document.getElementById('search-more');
  while (!more.hidden) {
    const n = document.querySelectorAll('#search-results > li').length;
    more.click();
    while (document.querySelectorAll('#search-results > li').length === n) await new Promise(r => setTimeout(r, 5));
  }
  return [...document.querySelectorAll('#search-results > li h3 a')].map(a => a.getAttribute('href'));
}"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--samples", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="piasite-bench-")) / "output"
    if not (out / "pagefind" / "pagefind-entry.json").is_file():
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(REPO),
                        "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    recs = records(out)
    queries = sample(recs, args.samples, args.seed)
    from playwright.sync_api import sync_playwright

    results: dict[str, list[str]] = {}
    times = []
    with sync_playwright() as pw, serve_directory(out) as base:
        page = launch_browser(pw).new_page(locale="ja-JP")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/search/")
        page.wait_for_selector("body[data-search-ready]", timeout=60_000)
        groups = page.evaluate(ALIASES_JS)
        alias_queries = sorted({w for g in groups for w in g})
        for q in [q for q, *_ in queries] + alias_queries:
            if q in results:
                continue
            start = time.perf_counter()
            results[q] = page.evaluate(RUN_JS, q)
            times.append(time.perf_counter() - start)
        if errors:
            print("page errors:", errors[:5])
    names = {normalise(w): [normalise(x) for x in g] for g in groups for w in g}

    def contains(url: str, q: str) -> bool:
        n = recs[url]["n"]
        return all(any(f and f in n for f in [query_form(w), *names.get(query_form(w), [])])
                   for w in q.split() if query_form(w))

    recalled = Counter()
    cell_total = Counter()
    missed = []
    for q, url, kind, script in queries:
        cell_total[(kind, script)] += 1
        if url in results[q]:
            recalled[(kind, script)] += 1
        else:
            missed.append((q, url))
    # Every page part that contains the query must be found, not only the sampled one.
    every = [(q, u) for q in results for u in recs if contains(u, q) and u not in results[q]]
    shown = [(q, u) for q in results for u in results[q]]
    wrong = [(q, u) for q, u in shown if u not in recs or not contains(u, q)]
    print(f"{len(recs)} searchable page parts; {len(queries)} sampled substrings "
          f"+ {len(alias_queries)} registry names and aliases = {len(results)} queries")
    print("\n| kind | " + " | ".join(SCRIPTS) + " | all |")
    print("|---|" + "---:|" * (len(SCRIPTS) + 1))
    for kind in sorted({k for k, _ in cell_total}):
        row = [f"{recalled[(kind, s)]}/{cell_total[(kind, s)]}" for s in SCRIPTS]
        n = sum(cell_total[(kind, s)] for s in SCRIPTS)
        r = sum(recalled[(kind, s)] for s in SCRIPTS)
        print(f"| {kind} | " + " | ".join(row) + f" | {r}/{n} |")
    total = sum(cell_total.values())
    print(f"\nrecall (sampled page part found): {sum(recalled.values())}/{total} "
          f"= {100 * sum(recalled.values()) / total:.2f} %")
    print(f"recall (every page part containing the query found): "
          f"{len(every)} misses over {len(results)} queries")
    print(f"precision: {len(shown) - len(wrong)}/{len(shown)} results contain the query or an "
          f"alias = {100 * (len(shown) - len(wrong)) / max(1, len(shown)):.2f} %")
    print(f"time per query (typing to all results shown): median "
          f"{1000 * statistics.median(times):.0f} ms, max {1000 * max(times):.0f} ms")
    for q, u in (missed + every)[:20]:
        print("  missed:", repr(q), u)
    for q, u in wrong[:20]:
        print("  wrong:", repr(q), u)
    return 0 if not missed and not every and len(wrong) <= len(shown) / 100 else 1


if __name__ == "__main__":
    sys.exit(main())
