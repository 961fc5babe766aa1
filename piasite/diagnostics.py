"""Diagnostics: what `check` reports about content, with a position in the source.

Problems in content are diagnostics, never exceptions. Each carries a Span whose line
and column count the whole file (1-based, columns in Unicode code points).
"""

from __future__ import annotations

import bisect
import difflib
import enum
import pickle
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .pickling import quick_pickle


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@quick_pickle
@dataclass(frozen=True, slots=True, order=True)
class Span:
    path: PurePosixPath
    """Path relative to the site root, with '/' separators on every OS."""
    line: int = 1
    """1-based line, counted in the whole file."""
    col: int = 1
    """1-based column, counted in Unicode code points."""
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


# A message repeats across assessments (the corpus of 1,000 versions: 29,563 diagnostics,
# a few hundred texts), but each assessment's result is a pickle of its own: restored
# without `sys.intern`, the messages were half of the 17 MiB the diagnostics held.
@quick_pickle(restore={"message": sys.intern})
@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    """Stable ASCII code, e.g. ``E101``; listed in docs/diagnostics.md."""
    message: str
    """One sentence in Japanese; user text quoted in 「」."""
    span: Span
    hint: str | None = None
    related: tuple[Span, ...] = ()

    def __str__(self) -> str:
        return f"{self.span}: {self.severity.value}[{self.code}]: {self.message}"

    def sort_key(self) -> tuple:
        s = self.span
        return (str(s.path), s.line, s.col, self.code, self.message)

    def format(self) -> str:
        """Return the diagnostic with its hint and related spans, one per line."""
        lines = [str(self)]
        if self.hint:
            lines.append(f"  ヒント: {self.hint}")
        lines.extend(f"  関連: {r}" for r in self.related)
        return "\n".join(lines)


def error(code: str, message: str, span: Span, **kw) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, **kw)


def warning(code: str, message: str, span: Span, **kw) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, **kw)


def note(code: str, message: str, span: Span, **kw) -> Diagnostic:
    """Information for a reviewer (a reading to confirm): never fails a build, even --strict."""
    return Diagnostic(Severity.NOTE, code, message, span, **kw)


def sort(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by (path, line, col, code) and drop exact repeats."""
    seen: set[tuple] = set()
    out = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        k = (d.sort_key(), d.severity)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


@dataclass(frozen=True, slots=True)
class Block:
    """Diagnostics in `sort`'s order as the build cache keeps an assessment's: printed, counted,
    pickled, and the keys of the first and the last. A rebuild prints and counts them from
    here; the objects are made again only where a build needs them (`Report`). Unpickling,
    sorting and printing the 30,000 diagnostics of a 1,000-version site's cached assessments
    took about a quarter of a second of every rebuild."""

    text: str
    """Each one's `format()` and a newline."""
    blob: bytes
    first: tuple
    last: tuple
    """`Diagnostic.sort_key` of the first and the last."""
    counts: tuple[tuple[Severity, str, int], ...]
    """How many of each severity and code."""
    size: int

    @classmethod
    def of(cls, diags: Iterable[Diagnostic]) -> Block | None:
        """The block of `diags`, put in `sort`'s order; None for none."""
        diags = sort(diags)
        if not diags:
            return None
        counts = Counter((d.severity, d.code) for d in diags)
        return cls("".join(f"{d.format()}\n" for d in diags),
                   pickle.dumps(tuple(diags), protocol=pickle.HIGHEST_PROTOCOL),
                   diags[0].sort_key(), diags[-1].sort_key(),
                   tuple((s, c, n) for (s, c), n in counts.items()), len(diags))

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return pickle.loads(self.blob)


class Report:
    """A build's diagnostics in `sort`'s order, the cached assessments' still in their
    blocks: `Report(items).diagnostics() == sort(items, each block's diagnostics in its
    place)`. A block stays whole when no other diagnostic sorts within its first and last
    (an assessment's own are about its own folder's files); else it is read back and sorted
    with the rest."""

    def __init__(self, items: Iterable[Diagnostic | Block] = ()):
        self.items = list(items)
        blocks = [b for b in self.items if isinstance(b, Block)]
        whole = _apart(blocks, sorted(d.sort_key() for d in self.items
                                      if isinstance(d, Diagnostic))) if blocks else []
        kept = {id(b) for b in whole}
        loose = sort(d for item in self.items if id(item) not in kept
                     for d in (item.diagnostics() if isinstance(item, Block) else (item,)))
        keys = [d.sort_key() for d in loose] if whole else []
        self.parts: list[Diagnostic | Block] = []
        at = 0
        for b in sorted(whole, key=lambda b: b.first):
            upto = bisect.bisect_left(keys, b.first, at)
            self.parts += loose[at:upto]
            self.parts.append(b)
            at = upto
        self.parts += loose[at:]
        self._list: list[Diagnostic] | None = None

    def diagnostics(self) -> list[Diagnostic]:
        if self._list is None:
            self._list = [d for p in self.parts
                          for d in (p.diagnostics() if isinstance(p, Block) else (p,))]
        return self._list

    def plus(self, more: Iterable[Diagnostic]) -> Report:
        return Report([*self.items, *more])

    def text(self) -> str:
        """What `piasite build` prints: each one's `format()` and a newline."""
        return "".join(p.text if isinstance(p, Block) else f"{p.format()}\n" for p in self.parts)

    def counts(self) -> Counter[tuple[Severity, str]]:
        """How many of each severity and code."""
        counts: Counter[tuple[Severity, str]] = Counter()
        for p in self.parts:
            if isinstance(p, Block):
                counts.update({(s, c): n for s, c, n in p.counts})
            else:
                counts[p.severity, p.code] += 1
        return counts

    def __len__(self) -> int:
        return sum(p.size if isinstance(p, Block) else 1 for p in self.parts)

    def has_errors(self) -> bool:
        return any(s is Severity.ERROR for s, _ in self.counts())

    def has_warnings(self) -> bool:
        """Errors or warnings: what --strict refuses (notes never count)."""
        return any(s is not Severity.NOTE for s, _ in self.counts())


def _apart(blocks: list[Block], keys: list[tuple]) -> list[Block]:
    """The blocks that nothing else sorts within: neither another block nor one of the
    diagnostics whose sorted `keys` are given."""
    whole: list[Block] = []
    ordered = sorted(blocks, key=lambda b: b.first)
    i = 0
    while i < len(ordered):
        # A run of blocks each starting at or before the end of one before it: all read back.
        j, end = i + 1, ordered[i].last
        while j < len(ordered) and ordered[j].first <= end:
            end = max(end, ordered[j].last)
            j += 1
        b = ordered[i]
        if j == i + 1:
            at = bisect.bisect_left(keys, b.first)
            if at == len(keys) or keys[at] > b.last:
                whole.append(b)
        i = j
    return whole


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def did_you_mean(word: str, candidates: Iterable[object]) -> str | None:
    """A "did you mean" hint for a near-miss name (a key, a form id, an item id), or None.

    The one typo hinter of piasite, like pypa/build's: difflib's closest candidate at a
    similarity of 0.6 or more.
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f"「{close[0]}」の誤りではありませんか" if close else None
