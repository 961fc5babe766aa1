"""Page weight of the comparison pages, per assessment (docs/compare.md, "Cost and page weight").

Usage: python benchmarks/compare_pages.py [--out DIR]
Builds the bundled site into DIR (default: a temp folder) unless DIR/compare exists, then
measures, on every /compare/<family>/<item>/ page, the bytes of each assessment's block
(<section class="compare-col">) and of the rest of the page, the overview's rows, and the
total of the item pages and their JSON. With the per-assessment figure, the size of a page
listing N assessments is about rest + N x block.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r'<section class="compare-col".*?</section>', re.S)
ROW = re.compile(r'<tr id="a-.*?</tr>', re.S)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="piasite-bench-")) / "output"
    if not (out / "compare").is_dir():
        subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(REPO), "--out",
                        str(out)], check=True, capture_output=True)
    blocks: dict[str, list[int]] = {"selection": [], "other": []}
    rest, html_total, json_total = [], 0, 0
    for page in sorted(out.glob("compare/*/*/index.html")):
        raw = page.read_text(encoding="utf-8")
        sizes = [len(b.encode()) for b in BLOCK.findall(raw)]
        kind = "selection" if 'class="counts"' in raw else "other"
        blocks[kind].extend(sizes)
        rest.append(len(raw.encode()) - sum(sizes))
        html_total += len(raw.encode())
        json_total += page.parent.with_suffix(".json").stat().st_size
    n_pages = len(rest)
    if not n_pages:
        print("no comparison pages (no form family used by two municipalities)")
        return 1
    for kind, sizes in blocks.items():
        if sizes:
            p90 = sorted(sizes)[int(len(sizes) * 0.9)]
            print(f"block per assessment ({kind}): median {statistics.median(sizes):,.0f} B, "
                  f"90th percentile {p90:,} B, max {max(sizes):,} B ({len(sizes)} blocks)")
    print(f"rest of an item page: median {statistics.median(rest):,.0f} B, max {max(rest):,} B")
    print(f"{n_pages} item pages: {html_total:,} B HTML, {json_total:,} B JSON")
    overview = (out / "compare" / "index.html").read_text(encoding="utf-8")
    rows = [len(r.encode()) for r in ROW.findall(overview)]
    print(f"overview: {len(rows)} rows of {min(rows):,}–{max(rows):,} B, page {len(overview.encode()):,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
