"""Diagnostics: what `check` reports about content, with a position in the source.

Problems in content are diagnostics, never exceptions. Each carries a Span whose line
and column count the whole file (1-based, columns in Unicode code points).
"""

from __future__ import annotations

import difflib
import enum
import sys
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


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def has_warnings(diags: Iterable[Diagnostic]) -> bool:
    """Errors or warnings: what --strict refuses (notes never count)."""
    return any(d.severity is not Severity.NOTE for d in diags)


def did_you_mean(word: str, candidates: Iterable[object]) -> str | None:
    """A "did you mean" hint for a near-miss name (a key, a form id, an item id), or None.

    The one typo hinter of piasite, like pypa/build's: difflib's closest candidate at a
    similarity of 0.6 or more.
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f"「{close[0]}」の誤りではありませんか" if close else None
