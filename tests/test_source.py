"""Tests for piasite.source: reading files, front matter, TOML key positions."""

from __future__ import annotations

import datetime
import random
import re
from pathlib import Path, PurePosixPath

import pytest
import tomli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piasite.diagnostics import Severity
from piasite.source import (
    FrontMatterError,
    SourceFile,
    TomlDoc,
    _fast_loads,
    _Scanner,
    parse_toml,
    read_source,
    split_front_matter,
)

REL = PurePosixPath("content/a.toml")


def _write(root: Path, data: bytes) -> None:
    path = root / REL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ---------------------------------------------------------------------------
# SourceFile / read_source


def test_source_file_helpers() -> None:
    src = SourceFile(REL, "一行目\n二行目\n")
    assert src.line_text(1) == "一行目"
    assert src.line_text(2) == "二行目"
    assert src.line_text(3) == ""
    assert src.line_text(0) == ""
    assert src.line_text(99) == ""
    span = src.span(2, 3)
    assert (span.path, span.line, span.col) == (REL, 2, 3)
    assert src.span(4).col == 1


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"a = 1\r\nb = 2\r\n", "a = 1\nb = 2\n"),
        (b"a = 1\rb = 2\r", "a = 1\nb = 2\n"),
        (b"\xef\xbb\xbfa = 1\n", "a = 1\n"),
        ("\ufeff事務 = 1\r\n".encode(), "事務 = 1\n"),
        (b"", ""),
    ],
)
def test_read_source_normalises(tmp_path: Path, raw: bytes, text: str) -> None:
    _write(tmp_path, raw)
    src, diags = read_source(tmp_path, REL)
    assert diags == []
    assert src is not None
    assert src.text == text
    assert src.path == REL


def test_crlf_and_bom_positions_via_read_source(tmp_path: Path) -> None:
    _write(tmp_path, '\ufeff# 評価書\r\n["基本"]\r\n"事務の名称" = "住民基本台帳"\r\n'.encode())
    src, _ = read_source(tmp_path, REL)
    assert src is not None
    doc, err = parse_toml(src.text)
    assert err is None and doc is not None
    assert doc.data == {"基本": {"事務の名称": "住民基本台帳"}}
    assert doc.pos(("基本",)) == (2, 1)
    assert doc.pos(("基本", "事務の名称")) == (3, 1)


@pytest.mark.parametrize(
    ("raw", "byte_no", "line", "col"),
    [
        (b"a = 1\n\x82\xa0 = 2\n", 7, 2, 1),  # Shift_JIS あ
        ("あいう".encode() + b"\xff", 10, 1, 4),
        (b"\xef\xbb\xbfab\xe3\x81", 6, 1, 3),  # BOM, then a truncated sequence
        (b"x\r\ny\r\n  \xc3(", 9, 3, 3),
    ],
)
def test_read_source_not_utf8(
    tmp_path: Path, raw: bytes, byte_no: int, line: int, col: int
) -> None:
    _write(tmp_path, raw)
    src, diags = read_source(tmp_path, REL)
    assert src is None
    [d] = diags
    assert d.code == "E002"
    assert d.severity is Severity.ERROR
    assert f"（{byte_no} バイト目）" in d.message
    assert (d.span.path, d.span.line, d.span.col) == (REL, line, col)


def test_read_source_too_big(tmp_path: Path) -> None:
    _write(tmp_path, b"a" * 11)
    src, diags = read_source(tmp_path, REL, max_bytes=10)
    assert src is None
    assert [d.code for d in diags] == ["E003"]
    src, diags = read_source(tmp_path, REL, max_bytes=11)
    assert src is not None and diags == []


def test_read_source_missing(tmp_path: Path) -> None:
    src, diags = read_source(tmp_path, PurePosixPath("nope.toml"))
    assert src is None
    assert [d.code for d in diags] == ["E006"]
    assert diags[0].span.path == PurePosixPath("nope.toml")


# ---------------------------------------------------------------------------
# Front matter


def test_front_matter_split_and_offsets() -> None:
    text = '+++\ntitle = "x"\n\n[meta]\ndate = "令和7年"\n+++\n# 本文\n本文です\n'
    toml, toml_line, body, body_line = split_front_matter(text)
    assert toml == 'title = "x"\n\n[meta]\ndate = "令和7年"\n'
    assert toml_line == 2
    assert body == "# 本文\n本文です\n"
    assert body_line == 7
    assert text.split("\n")[body_line - 1] == "# 本文"
    doc, err = parse_toml(toml, line_offset=toml_line - 1)
    assert err is None and doc is not None
    assert doc.pos(("title",)) == (2, 1)
    assert doc.pos(("meta", "date")) == (5, 1)
    assert text.split("\n")[5 - 1].startswith("date")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# 見出し\n本文\n", (None, 1, "# 見出し\n本文\n", 1)),
        ("", (None, 1, "", 1)),
        ("+++ \nx\n+++\n", (None, 1, "+++ \nx\n+++\n", 1)),
        ("+++\n+++\n", ("", 2, "", 3)),
        ("+++\na = 1\n+++", ("a = 1\n", 2, "", 4)),
        ("+++\na = 1\n+++\n\nbody", ("a = 1\n", 2, "\nbody", 4)),
        ("+++\ns = '''\n++\n'''\n+++\nb", ("s = '''\n++\n'''\n", 2, "b", 6)),
    ],
)
def test_split_front_matter_cases(text: str, expected: tuple) -> None:
    assert split_front_matter(text) == expected


@pytest.mark.parametrize("text", ["+++", "+++\n", "+++\na = 1\n", "+++\na = 1\n+++ \nbody"])
def test_front_matter_unclosed(text: str) -> None:
    with pytest.raises(FrontMatterError) as info:
        split_front_matter(text)
    assert info.value.line == 1
    assert info.value.code == "E004"


# ---------------------------------------------------------------------------
# TOML positions, table-driven

TRICKY = """\
# 先頭のコメント
title = "評価書"   # 行末コメント
"事務の名称" = "住民基本台帳に関する事務"
'literal key' = 1
a . b. 'c' = 1
notes = \"\"\"
[fake]
key = 1 # not a comment "
\\\"\"\"still inside
\"\"\"
lit = '''it's [x] = # ''\'''
dt = 1979-05-27 07:32:00
when = 1979-05-27T07:32:00Z
[risk.priority]
x = 1
[risk]
audit = [1, # コメント
  "２",
  [3, 4],
]
[related]
systems = [ {label="a"}, {label = "b", sub = {z = 1}},
  { label = "x" } ]
[[changes]]
date = 1
[[changes]]
date = 2
  [[changes.items]]
  k = "v"
  [[changes.items]]
  k = "w"
  [ changes . meta ]
  m = 1
[[changes]]
[[changes]]
date = 4
[cells]
rows = [["a", 'b', ""], [ "c" , 1 ], [],
  [\"\"\"multi
line\"\"\", 1979-05-27 07:32:00, "x" ,],   # コメント
]
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), (1, 1)),
        (("title",), (2, 1)),
        (("事務の名称",), (3, 1)),
        (("literal key",), (4, 1)),
        (("a",), (5, 1)),
        (("a", "b"), (5, 5)),
        (("a", "b", "c"), (5, 8)),
        (("notes",), (6, 1)),
        (("lit",), (11, 1)),
        (("dt",), (12, 1)),
        (("when",), (13, 1)),
        (("risk",), (16, 1)),  # the [risk] header wins over [risk.priority]
        (("risk", "priority"), (14, 1)),
        (("risk", "priority", "x"), (15, 1)),
        (("risk", "audit"), (17, 1)),
        (("risk", "audit", 0), (17, 10)),
        (("risk", "audit", 1), (18, 3)),
        (("risk", "audit", 2), (19, 3)),
        (("risk", "audit", 2, 1), (19, 7)),
        (("related", "systems"), (22, 1)),
        (("related", "systems", 0, "label"), (22, 14)),
        (("related", "systems", 1, "sub", "z"), (22, 47)),
        (("related", "systems", 2), (23, 3)),
        (("related", "systems", 2, "label"), (23, 5)),
        (("changes",), (24, 1)),
        (("changes", 0), (24, 1)),
        (("changes", 0, "date"), (25, 1)),
        (("changes", 1), (26, 1)),
        (("changes", 1, "items"), (28, 3)),
        (("changes", 1, "items", 1), (30, 3)),
        (("changes", 1, "items", 1, "k"), (31, 3)),
        (("changes", 1, "meta"), (32, 3)),
        (("changes", 1, "meta", "m"), (33, 3)),
        (("changes", 2), (34, 1)),
        (("changes", 3), (35, 1)),
        (("changes", 3, "date"), (36, 1)),
        # An array's elements: a table's cells, one after another, and what is not one string
        # or one scalar (a multi-line string, a date with its time, an empty array).
        (("cells", "rows", 0), (38, 9)),
        (("cells", "rows", 0, 0), (38, 10)),
        (("cells", "rows", 0, 1), (38, 15)),
        (("cells", "rows", 0, 2), (38, 20)),
        (("cells", "rows", 1), (38, 25)),
        (("cells", "rows", 1, 0), (38, 27)),
        (("cells", "rows", 1, 1), (38, 33)),
        (("cells", "rows", 2), (38, 38)),
        (("cells", "rows", 3), (39, 3)),
        (("cells", "rows", 3, 0), (39, 4)),
        (("cells", "rows", 3, 1), (40, 10)),
        (("cells", "rows", 3, 2), (40, 31)),
    ],
)
def test_tricky_positions(path: tuple, expected: tuple[int, int]) -> None:
    doc, err = parse_toml(TRICKY)
    assert err is None and doc is not None
    assert path in doc.positions
    assert doc.pos(path) == expected


def test_tricky_data_is_tomli() -> None:
    doc, _ = parse_toml(TRICKY)
    assert doc is not None
    assert doc.data == tomli.loads(TRICKY)
    assert doc.data["notes"].startswith("[fake]\nkey = 1")
    assert len(doc.data["changes"]) == 4


def test_toml_1_1_is_read_with_positions_on_every_python() -> None:
    # tomli, not each Python's tomllib (TOML 1.0 before 3.15): a file valid on one staff
    # machine is valid on every other, and its keys still have their positions.
    text = ('title = "評価書\\e"\n'
            "contact = {\n"
            '  name = "市民課",\n'
            "  tel = '0277-76-0975',\n"
            "}\n"
            "at = 09:30\n")
    doc, err = parse_toml(text)
    assert err is None and doc is not None
    assert doc.data["title"] == "評価書\x1b"
    assert doc.data["contact"] == {"name": "市民課", "tel": "0277-76-0975"}
    assert doc.data["at"] == datetime.time(9, 30)
    assert doc.pos(("contact", "name")) == (3, 3)
    assert doc.pos(("contact", "tel")) == (4, 3)
    assert doc.pos(("at",)) == (6, 1)


def test_implicit_tables_point_at_creating_key() -> None:
    text = "x = 0\nrisk.a = 1\nrisk.b = 2\n[p.q.r]\ns = 1\n"
    doc, _ = parse_toml(text)
    assert doc is not None
    assert doc.pos(("risk",)) == (2, 1)
    assert doc.pos(("risk", "b")) == (3, 6)
    assert doc.pos(("p",)) == (4, 2)
    assert doc.pos(("p", "q")) == (4, 4)
    assert doc.pos(("p", "q", "r")) == (4, 1)


def test_multiline_strings_hide_structure() -> None:
    text = "a = \"\"\"\n[x]\nkey = 1\n\"\"\"\nb = '''\n[[y]]\nz = 2 # '''\nc = 3\n"
    doc, _ = parse_toml(text)
    assert doc is not None
    assert set(doc.positions) == {(), ("a",), ("b",), ("c",)}
    assert doc.pos(("c",)) == (8, 1)


def test_quoted_keys_with_escapes() -> None:
    text = '"a\\u0062" = 1\n"tab\\there" = 2\n"q\\"uote".\'lit\\\' = 3\n'
    doc, _ = parse_toml(text)
    assert doc is not None
    assert doc.data == {"ab": 1, "tab\there": 2, 'q"uote': {"lit\\": 3}}
    assert doc.pos(("ab",)) == (1, 1)
    assert doc.pos(("tab\there",)) == (2, 1)
    assert doc.pos(('q"uote', "lit\\")) == (3, 11)


def test_japanese_columns_count_code_points() -> None:
    text = '"表" = { "名前" = "あいう", "値" = ["え", "お"] }\n'
    doc, _ = parse_toml(text)
    assert doc is not None
    assert doc.pos(("表", "名前")) == (1, 9)
    assert doc.pos(("表", "値")) == (1, 23)
    assert doc.pos(("表", "値", 1)) == (1, 35)


def test_crlf_text_directly() -> None:
    doc, _ = parse_toml("a = 1\r\n[t]\r\nb = [\r\n  1,\r\n  2\r\n]\r\n")
    assert doc is not None
    assert doc.pos(("t", "b", 1)) == (5, 3)


def test_pos_falls_back_to_ancestor() -> None:
    doc, _ = parse_toml("\n[a]\nb = 1\n")
    assert doc is not None
    assert doc.pos(("a", "missing", 3)) == (2, 1)
    assert doc.pos(("nothing",)) == (1, 1)
    assert TomlDoc({}, {}).pos(("x",)) == (1, 1)


def test_line_offset_applies_to_positions() -> None:
    doc, _ = parse_toml("a = 1\n[b]\nc = 2\n", line_offset=4)
    assert doc is not None
    assert doc.pos(("a",)) == (5, 1)
    assert doc.pos(("b", "c")) == (7, 1)
    assert doc.pos(("zzz",)) == (5, 1)


def test_an_arrays_elements_are_placed_when_asked_for() -> None:
    """An array of strings and scalars is passed over whole and read again only when one of
    its elements is asked for: the same positions, the same keys, no element beyond it."""
    doc, _ = parse_toml('a = [1, # コメント\n  "x",\n  \'y\' ,\n]\nb = []\nc = [[1, 2], "z"]\n',
                        line_offset=2)
    assert doc is not None
    assert [doc.pos(("a", i)) for i in range(3)] == [(3, 6), (4, 3), (5, 3)]
    assert ("a", 2) in doc.positions and ("a", 3) not in doc.positions
    assert ("a", -1) not in doc.positions and ("b", 0) not in doc.positions
    assert doc.pos(("a", 3)) == (3, 1)  # not an element: its array's position
    assert doc.positions.get(("c", 0, 1)) == (8, 10) and doc.positions[("c", 1)] == (8, 14)
    assert set(doc.positions) == {(), ("a",), ("a", 0), ("a", 1), ("a", 2), ("b",), ("c",),
                                  ("c", 0), ("c", 0, 0), ("c", 0, 1), ("c", 1)}
    assert len(doc.positions) == 11


# ---------------------------------------------------------------------------
# TOML errors


@pytest.mark.parametrize(
    ("text", "offset", "message", "line", "col"),
    [
        ("a = \n", 0, "Invalid value", 1, 5),
        ("a = 1\nb = ", 3, "Invalid value", 5, 5),
        ("x = 1\n[a", 0, "Expected ']' at the end of a table declaration", 2, 3),
        ("a = [1,", 0, "Invalid value", 1, 8),  # "at end of document"
        ('a = "abc\n', 10, "Illegal character '\\n'", 11, 9),
        ("a = 1\na = 2\n", 0, "Cannot overwrite a value", 2, 6),
    ],
)
def test_toml_errors(text: str, offset: int, message: str, line: int, col: int) -> None:
    doc, err = parse_toml(text, line_offset=offset)
    assert doc is None and err is not None
    assert err.message == message
    assert "(at " not in err.message
    assert (err.line, err.col) == (line, col)


def test_toml_errors_that_tomli_does_not_decorate() -> None:
    _, err = parse_toml("a = " + "[" * 5000 + "]" * 5000)
    assert err is not None and (err.line, err.col) == (1, 1)
    _, err = parse_toml("a = " + "1" * 5000, line_offset=2)
    assert err is not None and (err.line, err.col) == (3, 1)


# ---------------------------------------------------------------------------
# Property tests

TOMLISH = st.text(alphabet="[]{}=\"'#.,\n\r\t abc1-:元_\\", max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), TOMLISH))
def test_parse_toml_never_raises(text: str) -> None:
    doc, err = parse_toml(text)
    assert (doc is None) != (err is None)
    if doc is not None:
        # Run the scanner unguarded: on tomli-valid text it must not fail.
        _Scanner(text).run()
        assert doc.data == tomli.loads(text)
    else:
        assert err.line >= 1 and err.col >= 1


_BARE_RE = re.compile(r"[A-Za-z0-9_-]+")
TRICKY_TEXT = [
    "[x]\nkey = 1",
    "# not a comment",
    '"""',
    "'''",
    "a = [1,",
    "}{][",
    "事務の名称 = 1",
    "''",
    '\\"',
    "\n",
    "[[changes]]",
]
KEYS = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True),
    st.sampled_from(["事務の名称", "a.b", "[x]", "key = 1", "#", '"', "'", "", " ", "元"]),
    st.text(max_size=5),
)
STRINGS = st.one_of(
    st.text(max_size=12),
    st.lists(st.sampled_from(TRICKY_TEXT), max_size=4).map("".join),
)
SCALARS = st.one_of(
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    STRINGS,
    st.dates(),
    st.datetimes(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=12,
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)


def _control_escape(c: str) -> str:
    return f"\\u{ord(c):04X}"


def _basic(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(_control_escape(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _literal_ok(s: str, *, multiline: bool) -> bool:
    allowed = "\t\n" if multiline else "\t"
    return (
        not any((ord(c) < 0x20 and c not in allowed) or ord(c) == 0x7F for c in s)
        and ("'''" not in s if multiline else "'" not in s)
        and not s.endswith("'")
    )


class _Writer:
    """Serialise a dict to TOML, choosing table styles at random; remember key spellings."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.lines: list[str] = []
        self.spelled: dict[str, str] = {}

    def key(self, k: str) -> str:
        if k not in self.spelled:
            r = self.rnd.random()
            if _BARE_RE.fullmatch(k) and r < 0.7:
                self.spelled[k] = k
            elif _literal_ok(k, multiline=False) and r < 0.85:
                self.spelled[k] = f"'{k}'"
            else:
                self.spelled[k] = _basic(k)
        return self.spelled[k]

    def dotted(self, keys: list[str]) -> str:
        sep = self.rnd.choice([".", " . ", ". "])
        return sep.join(keys)

    def string(self, s: str) -> str:
        r = self.rnd.random()
        if r < 0.25:
            body = "".join(c if c == "\n" else _basic(c)[1:-1] for c in s)
            return '"""\n' + body + '"""'  # the newline after """ is trimmed
        if r < 0.5 and _literal_ok(s, multiline=True):
            return "'''\n" + s + "'''"
        if r < 0.7 and _literal_ok(s, multiline=False):
            return f"'{s}'"
        return _basic(s)

    def value(self, v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return self.string(v)
        if isinstance(v, datetime.datetime):
            return v.isoformat(sep=self.rnd.choice([" ", "T"]))
        if isinstance(v, datetime.date | datetime.time):
            return v.isoformat()
        if isinstance(v, list):
            if self.rnd.random() < 0.5:
                inner = ", ".join(self.value(x) for x in v)
                return f"[{inner}]"
            items = "".join(f"\n  {self.value(x)}, # c" for x in v)
            return f"[ # open{items}\n]"
        assert isinstance(v, dict)
        inner = ", ".join(f"{self.key(k)} = {self.value(x)}" for k, x in v.items())
        return "{ " + inner + " }" if inner else "{}"

    def emit_dotted(self, prefix: list[str], d: dict) -> None:
        for k, v in d.items():
            keys = [*prefix, self.key(k)]
            if isinstance(v, dict) and v and self.rnd.random() < 0.5:
                self.emit_dotted(keys, v)
            else:
                self.lines.append(f"{self.dotted(keys)} = {self.value(v)}")

    def table(self, header: list[str], d: dict, *, aot: bool = False) -> None:
        if aot:
            self.lines.append(f"[[{self.dotted(header)}]]")
        elif header:
            self.lines.append(f"[ {self.dotted(header)} ]")
        later: list[tuple[str, str, object]] = []
        for k, v in d.items():
            r = self.rnd.random()
            if isinstance(v, dict) and r < 0.4:
                later.append(("table", k, v))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and r < 0.6:
                later.append(("aot", k, v))
            elif isinstance(v, dict) and v and r < 0.7:
                self.emit_dotted([self.key(k)], v)
            else:
                self.lines.append(f"{self.key(k)} = {self.value(v)}")
        for kind, k, v in later:
            sub = [*header, self.key(k)]
            if kind == "table":
                assert isinstance(v, dict)
                self.table(sub, v)
            else:
                assert isinstance(v, list)
                for element in v:
                    self.table(sub, element, aot=True)

    def dump(self, d: dict) -> str:
        self.table([], d)
        return "\n".join(self.lines) + "\n"


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS, st.randoms(use_true_random=False), st.integers(0, 3))
def test_generated_documents_positions(data: dict, rnd: random.Random, offset: int) -> None:
    writer = _Writer(rnd)
    text = writer.dump(data)
    assert tomli.loads(text) == data, text  # the writer itself is right
    _Scanner(text).run()
    doc, err = parse_toml(text, line_offset=offset)
    assert err is None and doc is not None
    lines = text.split("\n")
    for path in _paths(data):
        assert path in doc.positions, (path, text)
        line_no, col = doc.positions[path]
        line = lines[line_no - offset - 1]
        here = line[col - 1 :]
        last = path[-1]
        if isinstance(last, str):
            spelled = writer.spelled[last]
            # Keys point at the key; tables defined by a header point at its "[".
            assert here.startswith(spelled) or (here.startswith("[") and spelled in line), (
                path,
                line,
                col,
                text,
            )
        else:
            assert here and here[0] not in " \t#,]", (path, line, col, text)


# ---------------------------------------------------------------------------
# rtoml first, tomli for what rtoml refuses (source._fast_loads)


def _alike(a: object, b: object) -> bool:
    """Equal, of the same types, dict keys in the same order (`==` ignores both)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_alike(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, datetime.datetime | datetime.time):
        return a == b and type(a.tzinfo) is type(b.tzinfo)  # type: ignore[union-attr]
    return a == b or (a != a and b != b)  # nan


def _toml_texts() -> list[tuple[Path, str]]:
    root = Path(__file__).parent.parent
    out = []
    for folder in (root / "content", root / "tests" / "sites", root / "piasite" / "forms"):
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".toml", ".md"):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # the test sites' files that are not UTF-8 on purpose
            if path.suffix == ".md":
                try:
                    text = split_front_matter(text)[0]
                except FrontMatterError:
                    continue
                if text is None:
                    continue
            out.append((path, text))
    return out


def test_every_bundled_document_reads_as_tomli_reads_it() -> None:
    """A new rtoml that reads a document otherwise (a value, a type, the keys' order) than
    tomli fails here, before a site shows it."""
    pytest.importorskip("rtoml")
    texts = _toml_texts()
    assert len(texts) > 75
    fast = 0
    for path, text in texts:
        got = _fast_loads(text)
        try:
            want = tomli.loads(text)
        except tomli.TOMLDecodeError:
            assert got is None, path  # an invalid file is left to tomli and its message
            continue
        if got is not None:
            fast += 1
            assert _alike(got, want), path
        assert _alike(parse_toml(text)[0].data, want), path  # type: ignore[union-attr]
    assert fast > 75  # rtoml did read them


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS, st.randoms(use_true_random=False))
def test_generated_documents_read_as_tomli_reads_them(data: dict, rnd: random.Random) -> None:
    text = _Writer(rnd).dump(data)
    doc, _ = parse_toml(text)
    assert doc is not None and _alike(doc.data, tomli.loads(text)), text


def test_what_rtoml_reads_otherwise_or_refuses_is_read_by_tomli() -> None:
    # A date-time's offset: rtoml's own time zone class, not datetime.timezone.
    doc, _ = parse_toml("at = 2025-12-12T09:30:00+09:00\n")
    assert doc is not None
    assert doc.data["at"].tzinfo == datetime.timezone(datetime.timedelta(hours=9))
    assert type(doc.data["at"].tzinfo) is datetime.timezone
    # Nesting that rtoml refuses and tomli reads.
    text = "a = " + "[" * 150 + "]" * 150
    doc, err = parse_toml(text)
    assert err is None and doc is not None and doc.data == tomli.loads(text)
    # An error is tomli's, message and position.
    _, err = parse_toml('a = 1\nb = "x\n')
    assert err is not None and (err.message, err.line, err.col) == ("Illegal character '\\n'", 2, 7)
