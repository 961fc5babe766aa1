"""Source files and TOML with positions.

TOML is read by `tomli`, the library Python's `tomllib` was taken from, installed as a
compiled wheel (twice tomllib's speed; the same TOML 1.1 on every Python piasite runs on), and,
where its wheel installs, first by `rtoml` (Rust, five times tomli's speed): a document rtoml
reads is taken as it gives it; one it refuses is read again by tomli, whose answer — its data
or its error — stands. Both return plain dicts without positions, but every diagnostic must
point at ``path:line:col``. `parse_toml` therefore parses twice: the data first, then a small
TOML lexer (run only on text accepted) records where each key path starts. Lines are 1-based;
columns count Unicode code points.
"""

from __future__ import annotations

import contextlib
import functools
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import tomli

try:
    import rtoml
except ImportError:  # no wheel for this platform (pyproject.toml): tomli reads everything
    rtoml = None

from .diagnostics import Diagnostic, Span, error

__all__ = [
    "FrontMatterError",
    "SourceFile",
    "TomlDoc",
    "TomlError",
    "escapes",
    "parse_toml",
    "read_source",
    "split_front_matter",
    "symlink_error",
]

KeyPath = tuple[str | int, ...]


# ---------------------------------------------------------------------------
# Source files


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A decoded source file: BOM removed, CRLF and CR normalised to LF."""

    path: PurePosixPath
    """Relative to the site root, for display."""
    text: str
    _lines: tuple[str, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Split when a diagnostic first asks for a line, then kept: most files never are
        # (reading the 1,000-version corpus's 7,031 files, 1.1 -> 0.8 s with the LF check).
        object.__setattr__(self, "_lines", None)

    def span(self, line: int, col: int = 1) -> Span:
        """Return a Span in this file."""
        return Span(self.path, line, col)

    def line_text(self, line: int) -> str:
        """Return the text of 1-based `line` without its newline, '' if out of range."""
        lines = self._lines
        if lines is None:
            lines = tuple(self.text.split("\n"))
            object.__setattr__(self, "_lines", lines)
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return ""


def _normalise(text: str) -> str:
    if "\r" not in text:  # most files: no copy
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_source(
    root: Path, rel: PurePosixPath, *, max_bytes: int = 5_000_000, walked: bool = False
) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Read `root / rel` as UTF-8 text.

    Problems become diagnostics (never exceptions): E006 unreadable, E003 larger than
    `max_bytes`, E002 not UTF-8 (positioned at the first bad byte). `walked`: the caller
    found the file as a regular file by a walk that follows no link, so it cannot lead
    outside (`escapes`, two path resolutions, is not asked again).
    """
    full = Path(root, *rel.parts)
    start = Span(rel, 1, 1)
    if not walked and escapes(root, rel):
        return None, [symlink_error(rel)]
    try:
        size = full.stat().st_size
        if size > max_bytes:
            return None, [_too_big(rel, size, max_bytes)]
        with full.open("rb") as f:
            # Bounded read: the file may have grown since stat (or stat may lie, e.g. pipes).
            data = f.read(max_bytes + 1)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        return None, [error("E006", f"ファイルを読めません（{reason}）", start)]
    if len(data) > max_bytes:
        return None, [_too_big(rel, len(data), max_bytes)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [_not_utf8(rel, data, e.start)]
    text = text.removeprefix("\ufeff")
    return SourceFile(rel, _normalise(text)), []


def escapes(root: Path, rel: PurePosixPath) -> bool:
    """True when `root/rel` resolves (through a symlink) outside its top folder (content/, …).

    Such a link is refused, never followed: it could publish any file on the machine.
    """
    top = Path(root, rel.parts[0]) if len(rel.parts) > 1 else Path(root)
    try:
        return not Path(root, *rel.parts).resolve().is_relative_to(top.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return True


def symlink_error(rel: PurePosixPath) -> Diagnostic:
    where = f"{rel.parts[0]}/" if len(rel.parts) > 1 else "サイトのフォルダ"
    return error("E007", f"{where} の外を指すシンボリックリンクです（読まずに無視しました）",
                 Span(rel, 1, 1), hint="リンクではなく、ファイルそのものを置いてください。")


def _too_big(rel: PurePosixPath, size: int, limit: int) -> Diagnostic:
    return error(
        "E003",
        f"ファイルが大きすぎます（{size:,} バイト、上限 {limit:,} バイト）",
        Span(rel, 1, 1),
        hint="ファイルを分割してください。",
    )


def _not_utf8(rel: PurePosixPath, data: bytes, bad: int) -> Diagnostic:
    # Everything before the first bad byte decodes, so line/col are exact there.
    prefix = _normalise(data[:bad].decode("utf-8").removeprefix("\ufeff"))
    line = prefix.count("\n") + 1
    col = len(prefix) - (prefix.rfind("\n") + 1) + 1
    return error(
        "E002",
        f"UTF-8 として読めません（{bad + 1} バイト目）",
        Span(rel, line, col),
        hint="Shift_JIS などで保存されている場合は、UTF-8 で保存し直してください。",
    )


# ---------------------------------------------------------------------------
# Front matter


class FrontMatterError(ValueError):
    """An opening ``+++`` line without a closing one (report as E004 at `line`)."""

    code = "E004"

    def __init__(self, line: int = 1) -> None:
        super().__init__(f"front matter opened at line {line} is not closed")
        self.line = line


def split_front_matter(text: str) -> tuple[str | None, int, str, int]:
    """Split a Markdown text into TOML front matter and body.

    Returns ``(toml, toml_line, body, body_line)``: the TOML text between the ``+++``
    lines (None when the first line is not exactly ``+++``), the 1-based line of its
    first line (pass ``toml_line - 1`` as `parse_toml`'s ``line_offset``), the body,
    and the 1-based line where the body starts. Without front matter this is
    ``(None, 1, text, 1)``. Raises FrontMatterError(1) when ``+++`` is never closed.
    Expects LF newlines (as produced by `read_source`).
    """
    first, nl, rest = text.partition("\n")
    if first != "+++" or not nl:
        if first == "+++":
            raise FrontMatterError(1)
        return None, 1, text, 1
    pos = 0
    line = 2
    while pos <= len(rest):
        end = rest.find("\n", pos)
        stop = len(rest) if end < 0 else end
        if rest[pos:stop] == "+++":
            body = "" if end < 0 else rest[end + 1 :]
            return rest[:pos], 2, body, line + 1
        if end < 0:
            break
        pos = end + 1
        line += 1
    raise FrontMatterError(1)


# ---------------------------------------------------------------------------
# TOML


@dataclass(frozen=True, slots=True)
class TomlError:
    """A TOML syntax error as tomli reports it, positioned in the whole file."""

    message: str
    """tomli's message without the "(at line N, column M)" tail."""
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class TomlDoc:
    """Parsed TOML plus the (line, col) where each key path starts.

    A key path is a tuple of str keys and int array indexes. Keys point at the key
    token; a ``[table]`` or ``[[array]]`` header path points at its opening ``[``;
    ``("a",)`` of an array of tables points at its first header, ``("a", 3)`` at the
    fourth; array elements point at the element. Tables created implicitly (by
    ``a.b = 1`` or ``[a.b]``) point at the first key that created them unless a header
    defines them. ``()`` is the document start.
    """

    data: dict
    positions: Mapping[tuple, tuple[int, int]]

    def pos(self, path: tuple) -> tuple[int, int]:
        """Return the position of `path`, else of its nearest known ancestor, else (1, 1)."""
        p = tuple(path)
        while True:
            hit = self.positions.get(p)
            if hit is not None:
                return hit
            if not p:
                return (1, 1)
            p = p[:-1]


def parse_toml(text: str, *, line_offset: int = 0) -> tuple[TomlDoc | None, TomlError | None]:
    """Parse `text` (see _parse_toml); results are cached by content, so the preview server
    re-parses only the files a save changed. Callers must not mutate the returned data."""
    return _parse_toml_cached(text, line_offset)


def forget() -> None:
    """Empty the parse cache (a build, between assessments)."""
    _parse_toml_cached.cache_clear()


@functools.lru_cache(maxsize=512)
def _parse_toml_cached(text: str, line_offset: int) -> tuple[TomlDoc | None, TomlError | None]:
    return _parse_toml(text, line_offset=line_offset)


def _parse_toml(text: str, *, line_offset: int = 0) -> tuple[TomlDoc | None, TomlError | None]:
    """Parse `text`; exactly one of the results is None. Never raises.

    `line_offset` is added to every reported line (for front matter inside a file).
    """
    try:
        data = _fast_loads(text)
        if data is None:
            data = tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        return None, _toml_error(e, line_offset)
    except (ValueError, RecursionError, MemoryError) as e:
        # tomli lets some errors through undecorated: int() over the digit limit,
        # or recursion on absurdly deep nesting.
        msg = "入れ子が深すぎます" if isinstance(e, RecursionError) else str(e) or type(e).__name__
        return None, TomlError(msg, 1 + line_offset, 1)
    return TomlDoc(data, _positions(text, line_offset)), None


_OFFSET_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?[Zz+-]")
"""What may be a date-time with an offset (or a string that looks like one)."""


def _fast_loads(text: str) -> dict | None:
    """`text`'s data as tomli gives it, by rtoml; None when tomli must read it.

    rtoml agrees with tomli on all of tomli's own test documents (228 valid, 516 invalid:
    the same accepted, the same data, keys in the same order) but for the time zone of a
    date-time with an offset (its own class, not `datetime.timezone`): such text goes to
    tomli. rtoml also refuses some of what tomli reads (nesting 100 deep): whatever it
    refuses goes to tomli too, so an error is tomli's, message and position."""
    if rtoml is None or _OFFSET_DATETIME.search(text):
        return None
    try:
        return rtoml.loads(text)
    except Exception:  # its own error type, or a value it cannot turn into Python
        return None


def _toml_error(e: tomli.TOMLDecodeError, line_offset: int) -> TomlError:
    # tomli (>= 2.1; pyproject.toml asks for 2.4) gives the message and its position apart.
    return TomlError(e.msg, e.lineno + line_offset, e.colno)


def _positions(text: str, line_offset: int) -> Positions:
    scanner = _Scanner(text)
    # Positions are best effort: tomli already accepted the text and produced the
    # data, and TomlDoc.pos falls back to ancestors. A scanner gap must not turn valid
    # content into a crash.
    with contextlib.suppress(Exception):
        scanner.run()
    return Positions(text, line_offset, {**scanner.implicit, **scanner.explicit},
                     scanner.arrays)


class Positions(Mapping):
    """Key path -> (line, col) of one document, worked out when asked.

    A document has thousands of keys and array elements (a 変更箇所 file's source_lines, a
    table's cells) and a build asks for the positions of few of them: turning every index
    into a line and a column was a fifth of the scanner's time, and an array of strings or
    scalars is only read again, element by element, when one of its elements is asked for.
    """

    __slots__ = ("_arrays", "_at", "_elements", "_lines", "_offset", "_text")

    def __init__(self, text: str, line_offset: int, at: dict[tuple, int],
                 arrays: dict[tuple, int]) -> None:
        self._text = text
        self._offset = line_offset
        self._at = at
        """Key path -> index in the text (explicit definitions over implicit ones)."""
        self._arrays = arrays
        """Path of an array of one-line strings and plain scalars -> index of its "["."""
        self._elements: dict[tuple, list[int]] = {}
        self._lines: list[int] | None = None

    def _index(self, key: tuple) -> int | None:
        at = self._at.get(key)
        if at is None and key and type(key[-1]) is int and key[:-1] in self._arrays:
            starts = self._element_starts(key[:-1])
            if 0 <= key[-1] < len(starts):
                return starts[key[-1]]
        return at

    def _element_starts(self, path: tuple) -> list[int]:
        starts = self._elements.get(path)
        if starts is None:
            s = self._text
            i = _BLANK.match(s, self._arrays[path] + 1).end()  # type: ignore[union-attr]
            starts = []
            while not s.startswith("]", i):
                starts.append(i)
                m = _ELEMENT.match(s, i)
                if m is None or m.group(1) is None:  # the array's "]"
                    break
                i = m.end()
            self._elements[path] = starts
        return starts

    def get(self, key: tuple, default=None):  # without a KeyError for each ancestor tried
        if key == ():
            return 1 + self._offset, 1
        at = self._index(key)
        if at is None:
            return default
        if self._lines is None:
            self._lines = [0] + [m.end() for m in re.finditer("\n", self._text)]
        line = bisect_right(self._lines, at)
        return line + self._offset, at - self._lines[line - 1] + 1

    def __getitem__(self, key: tuple) -> tuple[int, int]:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return key == () or (isinstance(key, tuple) and self._index(key) is not None)

    def __iter__(self):
        yield ()
        yield from (k for k in self._at if k != ())
        for path in self._arrays:
            yield from ((*path, k) for k in range(len(self._element_starts(path))))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ScanError(Exception):
    pass


# Runs of characters are matched by regular expressions, not stepped through one by one:
# the 変更箇所 files and front matter are mostly long strings (a fifth of a build's loading).
_BARE = re.compile(r"[A-Za-z0-9_-]*")
_WS = re.compile(r"[ \t]*")
_BLANK = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
_SCALAR = re.compile(r"[^ \t\r\n,\]}#]*")
_BASIC = re.compile(r'"(?:[^"\\\n\r]|\\[\s\S])*"')
"""A one-line basic string: no newline but an escaped one (tomli refuses that anyway)."""
_SIMPLE_LINE = re.compile(
    r"([A-Za-z0-9_-]+)[ \t]*=[ \t]*"
    r"""(?:"(?:[^"\\\n\r]|\\[\s\S])*"|'[^'\n\r]*'|[^ \t\r\n,\]}#"'\[{]+)"""
    r"[ \t]*(?:#[^\n]*)?(?=\n|\r\n|$)")
"""A whole `key = value` line of the commonest kind: a bare key, then a one-line string or a
plain scalar (a number, a date without a time), maybe a comment. Anything else — dotted keys,
arrays, tables, multi-line strings, a date with its time — fails the match and is scanned
step by step."""
_ONE_VALUE = r"""(?:"(?:[^"\\\n\r]|\\[\s\S])*"(?!")|'[^'\n\r]*'(?!')|[^ \t\r\n,\]}#"'\[{]+)"""
_BLANKS = r"(?:[ \t\r\n]++|#[^\n]*+)*+"
_ELEMENT = re.compile(rf"{_ONE_VALUE}{_BLANKS}(?:(,){_BLANKS}|\])")
"""An array element of the commonest kind (a one-line string or a plain scalar: a table's
cell, a list's entry) with what follows it: its `,` and the blank up to the next element
(group 1), or the array's `]`. Anything else (an inline table, an array, a multi-line
string, a date with its time) fails and is scanned step by step."""
_SIMPLE_ARRAY = re.compile(rf"\[{_BLANKS}(?:{_ONE_VALUE}{_BLANKS},{_BLANKS})*+"
                           rf"(?:{_ONE_VALUE}{_BLANKS})?\]")
"""A whole array of such elements (or an empty one)."""
_ML_BASIC_END = re.compile(r'(?:[^"\\]|\\[\s\S]|"(?!""))*"""')
"""The rest of a multi-line basic string, up to its closing quotes."""
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _Scanner:
    """A TOML lexer that records key positions. Assumes tomli-valid input."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        # Explicit definitions (key = value, headers, array elements) win over
        # tables that were only created implicitly by a dotted key or header.
        self.explicit: dict[tuple, int] = {}
        self.implicit: dict[tuple, int] = {}
        self.aot_count: dict[tuple, int] = {}
        self.arrays: dict[tuple, int] = {}
        """Arrays of one-line strings and plain scalars: their elements' positions are
        found only when asked for (`Positions`)."""

    # -- low level

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def skip_ws(self) -> None:
        self.i = _WS.match(self.s, self.i).end()  # type: ignore[union-attr]

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.s.find("\n", self.i)
            self.i = self.n if end < 0 else end

    def skip_blank(self) -> None:
        """Skip whitespace, newlines and comments (inside arrays and between lines)."""
        self.i = _BLANK.match(self.s, self.i).end()  # type: ignore[union-attr]

    def expect(self, token: str) -> None:
        if not self.s.startswith(token, self.i):
            raise _ScanError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    # -- strings

    def end_of_string(self, i: int) -> int:
        """Return the index just after the string starting at `i`."""
        s = self.s
        q = s[i]
        if s.startswith(q * 3, i):
            if q == "'":
                j = s.index("'''", i + 3)
            else:
                m = _ML_BASIC_END.match(s, i + 3)
                if m is None:
                    raise _ScanError("unterminated string")
                j = m.end() - 3
            # Up to two quotes may precede the closing delimiter: '''a''''' is "a''".
            k = j + 3
            while k < self.n and s[k] == q and k - j < 5:
                k += 1
            return k
        if q == "'":
            return s.index("'", i + 1) + 1
        m = _BASIC.match(s, i)
        if m is None:
            raise _ScanError("newline in string")
        return m.end()

    # -- keys

    def key(self) -> list[tuple[str, int]]:
        """Read a (dotted) key; return its parts with their start indexes."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_ws()
            start = self.i
            c = self.peek()
            if c == '"':
                end = self.end_of_string(start)
                raw = self.s[start:end]
                name = raw[1:-1] if "\\" not in raw else _decode_basic(raw)
            elif c == "'":
                end = self.end_of_string(start)
                name = self.s[start + 1 : end - 1]
            else:
                end = _BARE.match(self.s, start).end()  # type: ignore[union-attr]
                if end == start:
                    raise _ScanError(f"expected a key at {start}")
                name = self.s[start:end]
            parts.append((name, start))
            self.i = end
            self.skip_ws()
            if self.peek() != ".":
                return parts
            self.i += 1

    def record_key(self, base: tuple, parts: list[tuple[str, int]]) -> tuple:
        path = base
        for j, (name, start) in enumerate(parts):
            path = (*path, name)
            table = self.explicit if j == len(parts) - 1 else self.implicit
            table.setdefault(path, start)
        return path

    # -- statements

    def run(self) -> None:
        table: tuple = ()
        s = self.s
        while True:
            self.skip_blank()
            if self.i >= self.n:
                return
            if s[self.i] == "[":
                table = self.header()
            else:
                line = _SIMPLE_LINE.match(s, self.i)
                if line is not None:  # most lines: one regex instead of a dozen steps
                    self.explicit.setdefault((*table, line.group(1)), self.i)
                    self.i = line.end()
                    continue
                self.keyval(table)
            self.skip_ws()
            self.skip_comment()
            if self.i < self.n and self.peek() not in "\r\n":
                raise _ScanError(f"expected end of line at {self.i}")

    def header(self) -> tuple:
        start = self.i
        is_aot = self.s.startswith("[[", start)
        self.i += 2 if is_aot else 1
        parts = self.key()
        self.expect("]]" if is_aot else "]")
        resolved: tuple = ()
        for j, (name, key_start) in enumerate(parts):
            path = (*resolved, name)
            if j < len(parts) - 1:
                self.implicit.setdefault(path, key_start)
                # A prefix naming an array of tables means its latest element.
                count = self.aot_count.get(path)
                resolved = path if count is None else (*path, count - 1)
            elif is_aot:
                index = self.aot_count.get(path, 0)
                self.aot_count[path] = index + 1
                self.explicit.setdefault(path, start)
                resolved = (*path, index)
                self.explicit[resolved] = start
            else:
                self.explicit.setdefault(path, start)
                resolved = path
        return resolved

    def keyval(self, base: tuple) -> None:
        path = self.record_key(base, self.key())
        self.skip_ws()
        self.expect("=")
        self.skip_ws()
        self.value(path)

    # -- values

    def value(self, path: tuple) -> None:
        c = self.peek()
        if c == "{":
            self.inline_table(path)
        elif c == "[":
            self.array(path)
        elif c in ('"', "'"):
            self.i = self.end_of_string(self.i)
        else:
            self.scalar()

    def scalar(self) -> None:
        s, n = self.s, self.n
        start = self.i
        j = _SCALAR.match(s, start).end()  # type: ignore[union-attr]
        if j == start:
            raise _ScanError(f"expected a value at {start}")
        # A local date may be followed by " 07:32:00": one value with a space in it.
        if (
            _DATE_RE.fullmatch(s, start, j)
            and s.startswith(" ", j)
            and j + 1 < n
            and s[j + 1] in "0123456789"
        ):
            j = _SCALAR.match(s, j + 1).end()  # type: ignore[union-attr]
        self.i = j

    def inline_table(self, path: tuple) -> None:
        self.expect("{")
        while True:
            # skip_blank (not skip_ws) also accepts TOML 1.1 multi-line inline tables.
            self.skip_blank()
            if self.peek() == "}":
                self.i += 1
                return
            self.keyval(path)
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "}":
                raise _ScanError(f"expected ',' or '}}' at {self.i}")

    def array(self, path: tuple) -> None:
        whole = _SIMPLE_ARRAY.match(self.s, self.i)
        if whole is not None:  # most arrays (source_lines, a table's rows): passed over
            self.arrays[path] = self.i
            self.i = whole.end()
            return
        self.expect("[")
        s = self.s
        index = 0
        self.skip_blank()
        while True:
            if s.startswith("]", self.i):
                self.i += 1
                return
            element = (*path, index)
            self.explicit.setdefault(element, self.i)
            index += 1
            simple = _ELEMENT.match(s, self.i)
            if simple is not None:  # most elements: one regex (tables' rows are arrays)
                self.i = simple.end()
                if simple.group(1) is None:  # the array's "]"
                    return
                continue
            self.value(element)
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1
                self.skip_blank()
            elif self.peek() != "]":
                raise _ScanError(f"expected ',' or ']' at {self.i}")


def _decode_basic(raw: str) -> str:
    """Decode a quoted basic-string key with escapes, exactly as tomli does."""
    value = tomli.loads(f"k = {raw}")["k"]
    return value if isinstance(value, str) else raw[1:-1]
