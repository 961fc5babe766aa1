"""Any content yields diagnostics or a model, never a traceback (property-based, hypothesis).

Random bytes, random TOML built from the real keys, random edits of a valid version and random
Markdown are written into a copy of tests/sites/invalid/_base; `pipeline.check` (and the whole-site `load_checked`) must return
well-formed diagnostics every time. The 和暦 parser gets arbitrary strings.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piasite import pipeline
from piasite.wareki import parse_date

BASE = REPO_ROOT / "tests" / "sites" / "invalid" / "_base"
REV = "content/midori/juki/2025-12-12.md"
CHANGES = "content/midori/juki/2025-12-12.changes.toml"
FILES = (REV, CHANGES, "content/midori/juki/_affair.toml", "content/midori/_municipality.toml",
         "content/systems/juki-net.toml", "site.toml", "content/midori/juki/_pages/memo.md",
         "content/midori/juki/2025-12-12/extra.md")
LINE = re.compile(r"^.+:\d+:\d+: (error|warning|note)\[[A-Z]\d{3}\]: \S")

FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("fuzz") / "site"
    shutil.copytree(BASE, dest)
    return dest


@pytest.fixture
def put(site: Path) -> Iterator:
    """put(rel, data): write a file for one example; every file is restored afterwards."""
    saved: dict[Path, bytes | None] = {}

    def write(rel: str, data: bytes | str) -> None:
        p = site / rel
        if p not in saved:
            saved[p] = p.read_bytes() if p.exists() else None
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)

    def restore() -> None:
        for p, data in saved.items():
            if data is None:
                p.unlink(missing_ok=True)
            else:
                p.write_bytes(data)
        saved.clear()

    write.restore = restore  # type: ignore[attr-defined]
    yield write
    restore()


def _check(site: Path, put) -> None:
    try:
        result = pipeline.check(site)
        # The preview reads the site whole; a build, one assessment at a time: both must see
        # the same mistakes.
        whole = pipeline.load_checked(site)
    finally:
        put.restore()
    assert whole.site is not None
    assert [d.format() for d in result.diagnostics] == [d.format() for d in whole.diagnostics]
    for d in result.diagnostics:
        assert LINE.match(str(d)), str(d)
        assert not d.span.path.is_absolute() and d.span.line >= 1 and d.span.col >= 1


# --- strategies

keys = st.sampled_from([
    "form", "status", "published", "agency", "source", "title", "unpublished", "lost",
    "labels", "reconstructed", "reconstructed.basis", "reconstructed.applied", "comment",
    "comment.start", "comment.end", "comment.channels", "related", "related.systems",
    "related.affair_name", "related.info_network.implemented", "name", "number", "kind",
    "code", "scope", "aliases", "changes", "date", "item", "before", "after", "field",
    "source_lines", "x-unknown", '"quoted key"', "I-1-2", "special_notes", "readings",
    "readings.status", "readings.changes", "reason", "lines", "clipped"])
scalars = st.one_of(
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"')
                             .replace("\n", "\\n").replace("\r", "\\r") + '"'),
    st.integers(-10**20, 10**20).map(str), st.booleans().map(lambda b: str(b).lower()),
    st.sampled_from(['"kiso-r7-05"', '"令和7年2月30日"', '"平成32年1月1日"', '"2025-12-12"',
                     "2025-12-12", "1979-05-27T07:32:00Z", "inf", "nan", '""', '"令和0年1月1日"',
                     '"draft"', '"juki-net"', '"national"', '"I-1-2"', '"layout"', '"date-order"',
                     '"layuot"']))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.tuples(keys, inner), max_size=3).map(
        lambda kv: "{ " + ", ".join(f"{k} = {v}" for k, v in dict(kv).items()) + " }")),
    max_leaves=8)
toml_line = st.one_of(
    st.tuples(keys, values).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    keys.map(lambda k: f"[{k}]"), keys.map(lambda k: f"[[{k}]]"),
    st.sampled_from(["", "# comment", "=", "[", "a = ", '"unterminated', "+++", "[[changes]]"]))
toml_text = st.lists(toml_line, max_size=12).map("\n".join)
md_piece = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["## 事務の概要 {#I-1-2}", "## x {#I-1-2}", "## {#}", "## 見出し {#nope}",
                     "# {#cover-declaration}", "+++", "```", "[a](#I-9)", "[b](javascript:x)",
                     "<script>alert(1)</script>", "| a | b |\n|---|---|\n| 1 | 2 |", "\ufeff",
                     "\r\n", "\x00", "123456789018", "　", "\u202e"]))
md_text = st.lists(md_piece, max_size=12).map("\n".join)


# --- properties


@FUZZ
@given(rel=st.sampled_from(FILES), data=st.binary(max_size=300))
def test_random_bytes(site: Path, put, rel: str, data: bytes) -> None:
    put(rel, data)
    _check(site, put)


@FUZZ
@given(rel=st.sampled_from(FILES[1:6]), text=toml_text)
def test_random_toml_files(site: Path, put, rel: str, text: str) -> None:
    put(rel, text)
    _check(site, put)


@FUZZ
@given(front=toml_text, body=md_text)
def test_random_front_matter_and_body(site: Path, put, front: str, body: str) -> None:
    put(REV, f"+++\n{front}\n+++\n{body}\n")
    put("content/midori/juki/_pages/memo.md", f"+++\ntitle = \"メモ\"\n{front}\n+++\n{body}\n")
    _check(site, put)


@FUZZ
@given(data=st.data())
def test_random_edits_of_a_valid_version(site: Path, put, data) -> None:
    text = (BASE / REV).read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 80)))
        text = text[:i] + data.draw(st.one_of(md_piece, toml_line, st.just(""))) + text[j:]
    put(REV, text)
    _check(site, put)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=30), st.from_regex(
    r"(令和|平成|昭和|大正|明治|R|H)?[0-9０-９元]{0,4}年?[0-9０-９]{0,3}月?[0-9０-９]{0,3}日?",
    fullmatch=True)))
def test_wareki_parser_never_raises(text: str) -> None:
    date, problems = parse_date(text)
    errors = [p for p in problems if p.severity == "error"]
    # a date or an error, never both, never neither
    assert (date is None) == bool(errors), (text, date, problems)
    for p in problems:
        assert p.severity in ("error", "warning") and re.fullmatch(r"[EW]\d{3}", p.code)
        assert p.message
    if date is not None:
        assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date.iso()), date
