"""Benchmark: Japanese tokenisers for the 新旧対照表, for speed and for the marks they produce.

Every 新旧対照表 of the bundled site (every version pair, every changed item) and every
変更箇所 row's 変更前/変更後 is computed with each candidate in place of the tokenizer in
`piasite.diff`, and compared with the reference (janome, the tokenizer before the switch):
how many items are marked differently, how many change runs and isolated one- or two-character
"equal" islands between changes (confetti) there are, and examples of every difference. Speed:
loading, and tokenizing all the text of all bundled versions (median of --runs).

    .venv/bin/python benchmarks/tokenizers.py [--runs 3] [--examples 8] [--only janome,sudachi-c]

Candidates that are not installed are skipped: sudachipy + sudachidict_core (what piasite
uses, mode B); janome (the reference: piasite's tokenizer until diff.ALGORITHM 3; in the bench
extra); fugashi + unidic-lite, lindera-python-unidic (pip install them to compare). "runs"
(a cut by script runs) needs nothing. Times are CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from piasite import diff  # noqa: E402
from piasite.load import load  # noqa: E402
from piasite.normalize import item_text  # noqa: E402

Splitter = Callable[[str], list[str]]

_SCRIPT_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf々〆ヵヶ]+|[ぁ-ゖ]+|[ァ-ヺー]+|[A-Za-zＡ-Ｚａ-ｚ]+|.",
                         re.S)
_SENTENCE = re.compile(r"[^。]*。|[^。]+")


def make_janome() -> Splitter:
    from janome.tokenizer import Tokenizer

    t = Tokenizer(wakati=True)
    return lambda s: list(t.tokenize(s))


def make_sudachi(mode: str) -> Callable[[], Splitter]:
    def make() -> Splitter:
        from sudachipy import Dictionary, SplitMode

        tok = Dictionary(dict="core").tokenizer(getattr(SplitMode, mode))

        def split(s: str) -> list[str]:
            # Sudachi refuses inputs over 49,149 bytes: cut long runs at sentence ends.
            parts = _SENTENCE.findall(s) if len(s.encode()) > 40_000 else [s]
            return [m.surface() for p in parts for m in tok.tokenize(p)]
        return split
    return make


def make_fugashi() -> Splitter:
    import fugashi

    tagger = fugashi.Tagger()
    return lambda s: [w.surface for w in tagger(s)]


def make_lindera() -> Splitter:
    from lindera import Tokenizer, load_dictionary

    tok = Tokenizer(load_dictionary("embedded://unidic"), mode="normal")
    return lambda s: [t.surface for t in tok.tokenize(s)]


def make_runs() -> Splitter:
    return _SCRIPT_RUN.findall


CANDIDATES: dict[str, Callable[[], Splitter]] = {
    "janome": make_janome,
    "sudachi-a": make_sudachi("A"),
    "sudachi-b": make_sudachi("B"),
    "sudachi-c": make_sudachi("C"),
    "fugashi-unidic-lite": make_fugashi,
    "lindera-unidic": make_lindera,
    "runs": make_runs,
}


def tokens_with(split: Splitter) -> Callable[[str], list[str]]:
    """diff.tokens with another splitter for the text between dates, numbers and spaces."""
    return functools.partial(diff.tokens, split=split)


def all_marks(site, tokens: Callable[[str], list[str]]) -> dict[tuple, tuple]:
    """Every inline diff the site shows, computed with `tokens`."""
    saved = diff.tokens
    diff.tokens = tokens
    try:
        cache = diff.DiffCache(None)
        out: dict[tuple, tuple] = {}
        for affair in site.affairs():
            for old, new in diff.pairs(affair):
                d = diff.diff_revisions(old, new, cache)
                for f in d.fields:
                    if f.status == "changed":
                        out[("pair", affair.muni, affair.slug, old.id, new.id, f.anchor)] = (f.old, f.new)
            for rev in affair.revisions:
                for r in rev.changes:
                    out[("row", affair.muni, affair.slug, rev.id, r.index)] = cache.get(r.before, r.after)
        return out
    finally:
        diff.tokens = saved


def texts_of(site) -> list[str]:
    """The text the tokenizer sees: every value of every version, without dates and numbers."""
    out = []
    for rev in site.revisions():
        for it in rev.walk():
            if not it.children and it.present:
                t = item_text(it)
                out.extend(p for p in diff._ATOM.split(t) if p)
    return out


def render(segs: tuple, mark: str) -> str:
    o, c = ("[-", "-]") if mark == "delete" else ("{+", "+}")
    return "".join(f"{o}{s.text}{c}" if s.op == mark else s.text for s in segs)


def stats(marks: dict) -> dict:
    runs = confetti = marked = whole = 0
    for old, new in marks.values():
        for side in (old, new):
            ops = [s.op for s in side]
            runs += sum(op != "equal" for op in ops)
            marked += sum(len(s.text) for s in side if s.op != "equal")
            for i in range(1, len(side) - 1):
                s = side[i]
                if (s.op == "equal" and len(s.text.strip()) <= 2 and side[i - 1].op != "equal"
                        and side[i + 1].op != "equal"):
                    confetti += 1
        if (len(old) <= 1 and len(new) <= 1 and all(s.op != "equal" for s in (*old, *new))):
            whole += 1
    return {"items": len(marks), "change_runs": runs, "marked_chars": marked,
            "confetti": confetti, "replaced_whole": whole}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--only", default="")
    ap.add_argument("--reference", default="janome")
    args = ap.parse_args()
    names = [n for n in (args.only.split(",") if args.only else CANDIDATES) if n]
    if args.reference not in names:
        names.insert(0, args.reference)
    site, _ = load(REPO)
    texts = texts_of(site)
    chars = sum(map(len, texts))
    print(f"text to tokenize: {chars:,} characters in {len(texts):,} pieces (all bundled versions)")
    results = {}
    for name in names:
        t0 = time.process_time()
        try:
            split = CANDIDATES[name]()
            split("住民基本台帳")  # a dictionary may load lazily on first use
        except ImportError as exc:
            print(f"{name}: not installed ({exc})")
            continue
        loaded = time.process_time() - t0
        # CPU time of this process: the machine is shared, and wall time measures the others.
        times = []
        for _ in range(args.runs):
            t0 = time.process_time()
            for t in texts:
                split(t)
            times.append(time.process_time() - t0)
        lossless = all("".join(split(t)) == t for t in texts)
        t0 = time.process_time()
        marks = all_marks(site, tokens_with(split))
        diff_time = time.process_time() - t0
        results[name] = marks
        s = stats(marks)
        med = statistics.median(times)
        print(f"\n== {name} (CPU seconds): load {loaded:.2f} s, tokenize {med:.2f} s "
              f"({med / chars * 1e6:.2f} µs/char, runs {', '.join(f'{x:.2f}' for x in times)}), "
              f"every diff of the site {diff_time:.2f} s; surfaces rebuild the text: {lossless}")
        print("   " + ", ".join(f"{k} {v}" for k, v in s.items()))
    ref = results.get(args.reference)
    if ref is None:
        return
    for name, marks in results.items():
        if name == args.reference:
            continue
        differ = [k for k in ref if ref[k] != marks.get(k)]
        pairs = sum(k[0] == "pair" for k in differ)
        print(f"\n== {name} vs {args.reference}: {len(differ)} of {len(ref)} marked differently "
              f"({pairs} in 新旧対照表 items, {len(differ) - pairs} in 変更箇所 rows)")
        for k in differ[: args.examples]:
            (ro, rn), (co, cn) = ref[k], marks[k]
            print(f"-- {' '.join(map(str, k))}")
            for label, a, b in (("old", render(ro, "delete"), render(co, "delete")),
                                ("new", render(rn, "insert"), render(cn, "insert"))):
                if a != b:
                    print(f"   {args.reference:>9} {label}: {_clip(a)}")
                    print(f"   {name:>9} {label}: {_clip(b)}")


def _clip(s: str, width: int = 400) -> str:
    s = s.replace("\n", "⏎")
    if len(s) <= width:
        return s
    first = min((i for i in (s.find("[-"), s.find("{+")) if i >= 0), default=0)
    start = max(0, first - 60)
    return ("…" if start else "") + s[start:start + width] + "…"


if __name__ == "__main__":
    main()
