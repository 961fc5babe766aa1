"""Privacy guard: no 個人番号 (マイナンバー) may be published.

Every text file under content/ is scanned for 12-digit numbers (ASCII or full-width digits,
also written 4-4-4 with a space or hyphen) whose 12th digit is a valid 個人番号 check digit
(番号法施行令第8条). Each one is error E601 at its file, line and column, unless that
occurrence is listed in content/_privacy-allowlist.toml with a reason:

    [[allow]]
    path = "content/midori/juki/2025-12-12.md"   # relative to the site folder
    line = 41
    number = "012345678901"                        # as written, or its ASCII digits
    reason = "電話番号（0277-76-XXXX）と内線番号の連結で、個人番号ではない"

An entry that matches nothing is a warning (W602), so the list cannot silently outlive
the text it excuses. A random 12-digit number passes the check digit 1 time in 11, so
false positives are expected and the allow-list is the intended answer to them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import processes, schema
from .diagnostics import Diagnostic, Span, error, warning
from .discover import Listing, Stamp
from .source import parse_toml, read_source
from .write import keep_pickle, load_pickle

ALLOWLIST = PurePosixPath("content/_privacy-allowlist.toml")
MIN_FILES_FOR_WORKERS = 1000
"""Below this many files to read, starting worker processes costs more than it saves."""
# Python's \d is every Unicode decimal digit: ASCII and full-width (０-９) alike (str.isdecimal).
# A run of exactly 12 digits. No lookbehind: a pattern that starts with one is tried at every
# character, one that starts with \d only where a digit is (a cold build scans every file:
# 237 MB at 1,000 versions); a run is matched whole from its first digit, and a run of more
# than 12 is not a number.
_RUN = re.compile(r"\d{12,}")
# 1234 5678 9012 / 1234-5678-9012 (one separator used throughout), neither preceded nor
# followed by a digit or a hyphen (`_bounded`: checked after the match, for the same reason).
_DASHES = "-‐－"
_GROUPED = re.compile(rf"(\d{{4}})([ \u3000{re.escape(_DASHES)}])(\d{{4}})\2(\d{{4}})")
_CANDIDATE = re.compile(rf"\d{{4}}(?:\d{{8}}|[ \u3000{re.escape(_DASHES)}]\d{{4}})")
"""What both shapes begin with. Most files have neither (894 of 972 files of the corpus) and
are then read once, not twice: the scan was 1.6 % of a cold 1,000-version build."""
_MAX_BYTES = 5_000_000


def check_digit(first11: str) -> int:
    """The 個人番号 check digit of 11 ASCII digits (番号法施行令第8条)."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("11 ASCII digits expected")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])  # P1 is the rightmost of the 11 digits
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def ascii_digits(text: str) -> str:
    """The ASCII digits of `text` (full-width and other decimal digits converted)."""
    return "".join(str(unicodedata.decimal(c)) for c in text if unicodedata.decimal(c, None) is not None)


def is_individual_number(digits: str) -> bool:
    """True when `digits` (12 decimal digits, any script) has a valid 個人番号 check digit."""
    d = ascii_digits(digits)
    return len(d) == 12 and check_digit(d[:11]) == int(d[11])


@dataclass(frozen=True, slots=True)
class Finding:
    path: PurePosixPath
    line: int
    col: int
    written: str
    """The number as it appears in the file."""

    @property
    def number(self) -> str:
        return ascii_digits(self.written)


def find_numbers(text: str, path: PurePosixPath) -> list[Finding]:
    """Every 個人番号-shaped occurrence in `text`, with 1-based line and column."""
    return [Finding(path, line, col, written) for line, col, written in _positions(text)]


@functools.lru_cache(maxsize=1024)
def _positions(text: str) -> tuple[tuple[int, int, str], ...]:
    # Cached by content: the preview server scans every file on each save.
    if _CANDIDATE.search(text) is None:
        return ()
    hits: dict[int, str] = {}
    for m in _RUN.finditer(text):
        if is_individual_number(m.group(0)):  # exactly 12 digits
            hits[m.start()] = m.group(0)
    pos = 0
    while (m := _GROUPED.search(text, pos)) is not None:
        if _bounded(text, m.start(), m.end()):
            if is_individual_number(m.group(0)):
                hits.setdefault(m.start(), m.group(0))
            pos = m.end()
        else:  # as the lookbehind would: a match may start inside it, after a space
            pos = m.start() + 1
    out = []
    for start, written in sorted(hits.items()):
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        out.append((line, col, written))
    return tuple(out)


def _bounded(text: str, start: int, end: int) -> bool:
    """Neither preceded nor followed by a digit or a hyphen."""
    return not any(0 <= i < len(text) and (text[i].isdecimal() or text[i] in _DASHES)
                   for i in (start - 1, end))


def _load_cache(path: Path | None) -> dict[str, tuple[Stamp, tuple]]:
    data = load_pickle(path) if path is not None else None
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class _Allow:
    path: str
    line: int
    number: str
    span: Span


def _allowlist(root: Path) -> tuple[list[_Allow], list[Diagnostic]]:
    if not (root / ALLOWLIST).is_file():
        return [], []
    src, diags = read_source(root, ALLOWLIST)
    if src is None:
        return [], diags
    doc, err = parse_toml(src.text)
    if err is not None:
        return [], [error("E001", f"TOML の構文エラー: {err.message}", Span(ALLOWLIST, err.line, err.col))]
    checked = schema.validate_doc(doc, ALLOWLIST, schema.PRIVACY_ALLOWLIST)
    diags.extend(checked.diagnostics)
    where = schema.where_in(doc, ALLOWLIST)
    entries: list[_Allow] = []
    for i, e in enumerate((checked.value or {}).get("allow", ())):  # type: ignore[union-attr]
        if e is None:  # reported by the schema
            continue
        if not e["reason"].strip():
            diags.append(error("E603", "「reason」に、個人番号ではない理由を書いてください",
                               where(("allow", i, "reason"))))
            continue
        entries.append(_Allow(e["path"], e["line"], ascii_digits(e["number"]), where(("allow", i))))
    return entries, diags


def _read(work: tuple[str, str]) -> tuple | None:
    """The numbers one file holds (`_positions`); None when it cannot be read as text:
    unreadable, oversized and non-UTF-8 files are the loader's to report (E002/E003/E006)."""
    root, name = work
    src, _ = read_source(Path(root), PurePosixPath(name), max_bytes=_MAX_BYTES, walked=True)
    return None if src is None else _positions(src.text)


def scan(root: Path, cache: Path | None = None, jobs: int = 1,
         listing: Listing | None = None) -> list[Diagnostic]:
    """E601 for every 個人番号-shaped number in content/ not on the allow-list; W602 for stale entries.

    With `cache`, what each file holds is kept there by its size, times and inode, and a file
    whose stat did not change is not read again (a build of thousands of files). `jobs`
    worker processes read the files that changed when there are many."""
    if not (root / "content").is_dir():
        return []
    allowed, diags = _allowlist(root)
    used: set[int] = set()
    before = _load_cache(cache)
    after: dict[str, tuple[Stamp, tuple]] = {}
    # Every regular file under content/, symlinks neither followed nor read.
    listing = listing or Listing(root)
    allow = str(ALLOWLIST)
    files = [(name, stamp) for name, stamp in listing.files if name != allow]
    todo = [name for name, stamp in files
            if (hit := before.get(name)) is None or hit[0] != stamp]
    # On workers when many: alone, the scan keeps one core busy while the other waits.
    found = processes.map_in_order(_read, [(str(root), name) for name in todo], jobs,
                                   MIN_FILES_FOR_WORKERS)
    read = dict(zip(todo, found, strict=True))
    for name, stamp in files:
        positions = read[name] if name in read else before[name][1]
        if positions is None:
            continue
        after[name] = (stamp, positions)
        rel = PurePosixPath(name) if positions else None
        for f in (Finding(rel, line, col, written) for line, col, written in positions):
            hit = next((i for i, a in enumerate(allowed)
                        if a.path == name and a.line == f.line and a.number == f.number), None)
            if hit is not None:
                used.add(hit)
                continue
            diags.append(error(
                "E601", f"個人番号（マイナンバー）の形をした12桁の数字「{f.written}」があります",
                Span(rel, f.line, f.col),
                hint=f"個人番号なら削除してください。そうでなければ {ALLOWLIST} に path・line・"
                     "number・reason を書いて許可してください。"))
    if cache is not None and after != before:
        keep_pickle(cache, after)
    for i, a in enumerate(allowed):
        if i not in used:
            diags.append(warning("W602", f"許可リストの「{a.path}」{a.line} 行目の「{a.number}」は"
                                 "本文に見つかりません（古い項目は削除してください）", a.span))
    return diags
