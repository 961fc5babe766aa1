"""Benchmark: time to compute every 新旧対照表 of the bundled site, cold and from the cache.

    .venv/bin/python benchmarks/diff_pairs.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from piasite.diff import DiffCache, diff_revisions, pairs  # noqa: E402
from piasite.load import load  # noqa: E402


def main() -> None:
    site, _ = load(REPO)
    rows = []
    cold = DiffCache(None)
    for affair in site.affairs():
        for old, new in pairs(affair):
            size = sum(len(str(i.value or "")) for i in new.walk())
            t0 = time.perf_counter()
            d = diff_revisions(old, new, cold)
            t_cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            diff_revisions(old, new, cold)  # every inline diff now comes from the cache
            t_warm = time.perf_counter() - t0
            rows.append((f"{affair.muni}/{affair.slug} {old.id}..{new.id}", size,
                         len(d.changed), t_cold, t_warm))
    print(f"{'pair':55} {'chars':>8} {'changed':>8} {'cold s':>8} {'cached s':>9}")
    for name, size, n, c, w in sorted(rows, key=lambda r: -r[1]):
        print(f"{name:55} {size:8d} {n:8d} {c:8.3f} {w:9.3f}")
    print(f"inline diffs computed: {cold.computed}")


if __name__ == "__main__":
    main()
