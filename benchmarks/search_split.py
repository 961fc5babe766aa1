"""One search index or one per municipality: what a query costs, and whether results differ.

Usage: python benchmarks/search_split.py [--copies 10] [--work DIR] [--query 中間サーバー ...]

Makes a larger site by copying the bundled municipalities `--copies` times under new slugs,
names and 団体コード (valid check digits), with each copy's prose made distinct (a marker after
every 。 that ends a line), and builds it. Then indexes the same built pages two ways with
piasite.index:

- one bundle (`pagefind/`), as `piasite build` writes it;
- split: one bundle per municipality (`pagefind/<slug>/`) plus one for the pages of the whole
  site (system pages, /comments/) at `pagefind/`, whose piasite.json lists the others; the
  search page merges them with Pagefind's `mergeIndex`.

For each layout and query it opens /search/?q=… in Chromium with an empty cache and reports
the bytes on the wire (text files gzip-compressed as a CDN sends them), the number of requests,
the time until the search page is ready and until the results are shown, and a second query
typed into the same page. It checks that both layouts give the same results in the same order.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from support.browser import launch_browser, serve_directory  # noqa: E402

from piasite import index, lgcode  # noqa: E402

FULL_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def make_site(work: Path, copies: int) -> Path:
    site = work / "site"
    shutil.rmtree(site, ignore_errors=True)
    (site / "content").mkdir(parents=True)
    shutil.copy(REPO / "site.toml", site / "site.toml")
    shutil.copytree(REPO / "themes", site / "themes")
    shutil.copytree(REPO / "content" / "systems", site / "content" / "systems")
    munis = [p for p in sorted((REPO / "content").iterdir())
             if (p / "_municipality.toml").is_file()]
    serial = 10000
    for i in range(copies):
        for m in munis:
            dest = site / "content" / (m.name if i == 0 else f"{m.name}{i}")
            shutil.copytree(m, dest)
            if i == 0:
                continue
            mark = f"〔写{str(i).translate(FULL_DIGITS)}〕"
            for f in dest.rglob("*"):
                if f.suffix in (".md", ".toml") and f.name != "_municipality.toml":
                    text = re.sub(r"。(?=\n)", "。" + mark, f.read_text(encoding="utf-8"))
                    f.write_text(text, encoding="utf-8")
            toml = (dest / "_municipality.toml").read_text(encoding="utf-8")
            serial += 1
            code = f"{serial:05d}"
            code += str(lgcode.check_digit(code))
            toml = re.sub(r'^name = "(.*?)"', rf'name = "\g<1>{i}"', toml, flags=re.M)
            toml = re.sub(r'^code = "\d+"', f'code = "{code}"', toml, flags=re.M)
            (dest / "_municipality.toml").write_text(toml, encoding="utf-8")
    return site


def split(out: Path) -> tuple[float, int]:
    """Re-index `out` as one bundle per municipality plus one for the whole site."""
    bundle = out / index.BUNDLE
    shutil.rmtree(bundle)
    start = time.perf_counter()
    groups: dict[str, list] = defaultdict(list)
    for r in index.collect(out):
        first = r.url.strip("/").split("/")[0]
        groups["" if first in ("systems", "comments") else first].append(r)
    site_wide = groups.pop("")
    for slug, records in sorted(groups.items()):
        problem = index.write_bundle(records, bundle / slug)
        assert not problem, problem
    problem = index.write_bundle(site_wide, bundle / "_site")
    assert not problem, problem
    # The site-wide bundle is the primary one, at pagefind/, listing the others.
    for p in (bundle / "_site").iterdir():
        shutil.move(str(p), bundle / p.name)
    (bundle / "_site").rmdir()
    manifest = (bundle / index.MANIFEST).read_text(encoding="utf-8")
    listed = ",".join(f'"/pagefind/{slug}/"' for slug in sorted(groups))
    (bundle / index.MANIFEST).write_text(manifest[:-1] + f',"bundles":[{listed}]}}',
                                         encoding="utf-8")
    return time.perf_counter() - start, len(groups) + 1


def size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


RESULTS_JS = """async (q) => {
  const m = await import('/static/search.js');
  return (await m.search(q)).results.map((r) => r.url);
}"""

TYPE_JS = """async (q) => {
  const before = document.body.dataset.searchDone || '';
  document.getElementById('search-q').value = q;
  const t = performance.now();
  document.getElementById('search-form').requestSubmit();
  while ((document.body.dataset.searchDone || '') === before) await new Promise(r => setTimeout(r, 2));
  return performance.now() - t;
}"""


def measure(out: Path, queries: list[str], second: str, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    rows: dict[str, dict] = {}
    with serve_directory(out) as base, sync_playwright() as p:
        browser = launch_browser(p)
        for q in queries:
            runs = []
            for _ in range(repeat):
                context = browser.new_context(locale="ja-JP")
                page = context.new_page()
                got = {"wire": 0, "requests": 0}

                def on_finished(request, got=got) -> None:
                    body = request.response().body() if request.response() else b""
                    path = urlsplit(request.url).path
                    text = path.endswith(("/", ".html", ".css", ".js", ".json"))
                    got["wire"] += len(gzip.compress(body, 6)) if text else len(body)
                    got["requests"] += 1

                page.on("requestfinished", on_finished)
                start = time.perf_counter()
                page.goto(f"{base}/search/?q={quote(q)}")
                page.wait_for_selector("body[data-search-done]", timeout=120_000)
                shown = time.perf_counter() - start
                page.wait_for_load_state("networkidle")
                again = page.evaluate(TYPE_JS, second)
                urls = page.evaluate(RESULTS_JS, q)
                runs.append({**got, "shown": shown, "again": again / 1000, "urls": urls})
                context.close()
            rows[q] = {k: statistics.median(r[k] for r in runs)
                       for k in ("wire", "requests", "shown", "again")}
            rows[q]["urls"] = runs[0]["urls"]
        browser.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--query", nargs="*", default=["中間サーバー", "委託先", "住基ネット",
                                                     "個人番号", "市"])
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="piasite-split-"))
    one = work / "one"
    if not (one / "pagefind" / "piasite.json").is_file():
        site = make_site(work, args.copies)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(site), "--out",
                        str(one)], check=True, cwd=REPO, capture_output=True)
        print(f"built {args.copies}× the bundled site in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    records = index.collect(one)
    shutil.rmtree(one / "pagefind")
    assert not index.write_bundle(records, one / "pagefind")
    whole = time.perf_counter() - start
    parts = work / "split"
    shutil.rmtree(parts, ignore_errors=True)
    shutil.copytree(one, parts)
    took, bundles = split(parts)
    n1, b1 = size(one / "pagefind")
    n2, b2 = size(parts / "pagefind")
    print(f"{len(records)} searchable page parts")
    print(f"one index: {whole:.2f} s to index, {n1} files, {b1 / 1e6:.1f} MB")
    print(f"split into {bundles} bundles: {took:.2f} s to index, {n2} files, {b2 / 1e6:.1f} MB")
    second = "委託先"
    a = measure(one, args.query, second, args.repeat)
    b = measure(parts, args.query, second, args.repeat)
    print("\n| query | results | one: KB on the wire / requests / shown s / 2nd query s "
          "| split: KB / requests / shown s / 2nd query s | same results |")
    print("|---|---:|---|---|---|")
    same = True
    for q in args.query:
        x, y = a[q], b[q]
        same &= x["urls"] == y["urls"]
        print(f"| {q} | {len(x['urls'])} | {x['wire'] / 1024:.0f} / {x['requests']:.0f} / "
              f"{x['shown']:.2f} / {x['again']:.2f} | {y['wire'] / 1024:.0f} / "
              f"{y['requests']:.0f} / {y['shown']:.2f} / {y['again']:.2f} | "
              f"{'yes' if x['urls'] == y['urls'] else 'NO'} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
