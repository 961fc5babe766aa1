"""Benchmark: where one `piasite build` spends its wall clock, step by step.

Runs `piasite build` in this process (as the command line does, `write.frozen_loads`
included) with the pipeline's steps wrapped in timers — no profiler, so Python-heavy steps
are not inflated — and prints each step's total wall time and calls, largest first. With
`--edit N`, first changes one sentence of the corpus's edit target (benchmarks/corpus.py),
times the build, puts the file back and times the build that reverts it.

    .venv/bin/python benchmarks/build_steps.py --site /tmp/scale-new/site-1000
    .venv/bin/python benchmarks/build_steps.py --site /tmp/scale-new/site-1000 --edit 1

Times of nested steps overlap (`_assessments` holds every `BuildCache.lookup`); what no step
names is the rest of `main` (reporting, the stages' glue). docs/benchmarks.md, "Rebuilds that
read and move less", has a run.
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
import time
from collections import defaultdict
from contextlib import redirect_stderr
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

STEPS = {
    "pipeline": ("_survey", "_assessments", "_site_pages", "site_jobs", "published",
                 "_moved_targets", "_check_links", "settle", "reuse_index", "index_site",
                 "commit", "prune_entries", "recover", "sitemaps", "_plan", "_to_make"),
    "cache.BuildCache": ("key", "lookup", "store", "forget_others"),
    "cache.SiteCache": ("__init__", "reuse", "reuse_group", "save"),
    "summary.SiteSummary": ("assemble",),
}


def _wrap(owner: object, name: str, label: str, totals: dict, calls: dict) -> None:
    f = getattr(owner, name)
    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod):
        f = f.__func__
        wrapped_cm = True
    else:
        wrapped_cm = False

    @functools.wraps(f)
    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - t
            calls[label] += 1

    setattr(owner, name, classmethod(timed) if wrapped_cm else timed)


def timed_build(site: Path, now: str) -> tuple[float, dict[str, float], dict[str, int], str]:
    """One build of `site`: wall seconds, each step's seconds and calls, the build's last line."""
    from piasite import __main__ as cli
    from piasite import cache, pipeline, summary

    totals: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    owners = {"pipeline": pipeline, "cache.BuildCache": cache.BuildCache,
              "cache.SiteCache": cache.SiteCache, "summary.SiteSummary": summary.SiteSummary}
    saved = {(o, n): owners[o].__dict__[n] if isinstance(owners[o], type)
             else getattr(owners[o], n) for o, names in STEPS.items() for n in names}
    for o, names in STEPS.items():
        for n in names:
            _wrap(owners[o], n, f"{o.split('.')[-1]}.{n}" if o != "pipeline" else n,
                  totals, calls)
    err = io.StringIO()
    defaults = cli._print_report.__defaults__
    cli._print_report.__defaults__ = (err,)  # its stream is bound when piasite is imported
    try:
        t = time.perf_counter()
        with redirect_stderr(err):
            cli.main(["build", "--site", str(site), "--now", now])
        wall = time.perf_counter() - t
    finally:
        cli._print_report.__defaults__ = defaults
        for (o, n), f in saved.items():
            setattr(owners[o], n, f)
    last = err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else ""
    return wall, dict(totals), dict(calls), last


def report(label: str, result: tuple[float, dict[str, float], dict[str, int], str]) -> None:
    wall, totals, calls, last = result
    print(f"== {label}: {wall:.2f} s — {last}")
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.005:
            print(f"{seconds:8.2f} s {calls[name]:6d}  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, required=True)
    ap.add_argument("--now", default="2025-11-22")
    ap.add_argument("--edit", type=int, default=0, help="edit the corpus's target (nth wording)")
    args = ap.parse_args()
    if not args.edit:
        report("build", timed_build(args.site, args.now))
        return
    import corpus

    path, original = corpus.edit(args.site, args.edit)
    try:
        report("one edit", timed_build(args.site, args.now))
    finally:
        path.write_bytes(original)
    report("put back", timed_build(args.site, args.now))


if __name__ == "__main__":
    main()
