"""Each broken input yields `path:line:col: error[CODE]` at the right place, and no traceback.

Every case edits one thing in a copy of the みどり市 content, the way a staff member would
make the mistake, and asserts the code, the file and the line of the first diagnostic.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest
from helpers import copy_site
from hypothesis import given, settings, strategies

from piasite import diagnostics, pipeline
from piasite.diagnostics import Block, Diagnostic, Report, Severity, Span

REV = "content/midori/juki/2025-12-12.md"
CHANGES = "content/midori/juki/2025-12-12.changes.toml"
MUNI = "content/midori/_municipality.toml"
AFFAIR = "content/midori/juki/_affair.toml"


def edit(site: Path, rel: str, old: str, new: str) -> int:
    """Replace `old` by `new` once in a file; return the 1-based line where `new` starts."""
    path = site / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {rel}"
    i = text.index(old)
    path.write_text(text[:i] + new + text[i + len(old):], encoding="utf-8")
    return text[:i].count("\n") + 1


# (id, file, old, new, code, severity, part of the message)
CASES = [
    ("toml-syntax", AFFAIR, "number = 1", "number = = 1", "E001", "error", "TOML の構文エラー"),
    ("unknown-key", REV, 'special_notes = ""', 'special_note = ""\nspecial_notes = ""', "E101",
     "error", "special_note"),
    ("wrong-type", REV, "applied = false", 'applied = "いいえ"', "E102", "error", "「true」か「false」"),
    ("wrong-type-number", AFFAIR, "number = 1", 'number = "1"', "E102", "error", "number"),
    ("not-a-choice", REV, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"', "E104",
     "error", "発生しない"),
    ("not-a-checkbox", REV, 'audit = ["自己点検"]', 'audit = ["自己点検", "第三者監査"]', "E104",
     "error", "第三者監査"),
    ("impossible-date", REV, 'persons_as_of = "令和7年11月1日"', 'persons_as_of = "令和7年2月30日"',
     "E302", "error", "令和7年2月30日"),
    ("era-year-zero", REV, 'persons_as_of = "令和7年11月1日"', 'persons_as_of = "令和0年11月1日"',
     "E303", "error", "令和0年"),
    ("malformed-date", REV, 'persons_as_of = "令和7年11月1日"', 'persons_as_of = "令和七年十一月"',
     "E301", "error", "令和七年十一月"),
    ("iso-impossible", CHANGES, 'date = "令和7年12月12日"', 'date = "2025-13-01"', "E302",
     "error", "2025-13-01"),
    ("past-era", REV, 'persons_as_of = "令和7年11月1日"', 'persons_as_of = "平成32年4月1日"',
     "W304", "warning", "令和2年"),
    ("check-digit", MUNI, 'code = "102121"', 'code = "102122"', "E203", "error", "検査数字"),
    ("prefecture-not-the-codes", MUNI, 'prefecture = "群馬県"', 'prefecture = "栃木県"', "W205",
     "warning", "（群馬県）"),
    ("prefecture-not-a-name", MUNI, 'prefecture = "群馬県"', 'prefecture = "群馬"', "W205",
     "warning", "「群馬」"),
    ("unknown-form", REV, 'form = "kiso-r7-05"', 'form = "kiso-r7-5"', "E105", "error",
     "kiso-r7-5"),
    ("unknown-body-id", REV, "{#I-4-2}", "{#I-4-9}", "E106", "error", "I-4-9"),
    ("clipped-unknown-cell", CHANGES, 'field = "II-1-2"', 'clipped = ["変更後"]\nfield = "II-1-2"',
     "E104", "error", "clipped"),
    ("unknown-change-field", CHANGES, 'field = "II-1-2"', 'field = "II-1-9"', "E108", "error",
     "II-1-9"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_diagnostic_points_at_the_mistake(tmp_path, case):
    _, rel, old, new, code, severity, words = case
    site = copy_site(tmp_path / "site")
    line = edit(site, rel, old, new)
    result = pipeline.check(site)
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [str(d) for d in result.diagnostics]
    d = found[0]
    assert (str(d.span.path), d.severity.value) == (rel, severity)
    assert d.span.line == line, str(d)
    assert words in d.message
    assert str(d).startswith(f"{rel}:{line}:{d.span.col}: {severity}[{code}]: ")


def test_missing_required_field_points_at_its_table(tmp_path):
    site = copy_site(tmp_path / "site")
    edit(site, REV, 'handlers = "500人未満"\n', "")
    header = (site / REV).read_text(encoding="utf-8").split("\n").index("[threshold]") + 1
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E103")
    assert (str(d.span.path), d.span.line) == (REV, header)
    assert "特定個人情報ファイル取扱者数は500人以上か" in d.message


def test_text_in_front_matter_and_body_points_at_the_body(tmp_path):
    site = copy_site(tmp_path / "site")
    toml_line = edit(site, REV, 'affair_name = "住民基本台帳に関する事務"',
                     'affair_name = "住民基本台帳に関する事務"\naffair_summary = "重複"') + 1
    body_line = (site / REV).read_text(encoding="utf-8").split("\n").index(
        "## ②事務の概要 {#I-1-2}") + 1
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E106")
    assert (d.span.line, d.related[0].line) == (body_line, toml_line)
    assert "両方" in d.message


def test_unknown_key_suggests_the_right_one(tmp_path):
    site = copy_site(tmp_path / "site")
    edit(site, REV, 'special_notes = ""', 'special_note = ""')
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E101")
    assert d.hint and "special_notes" in d.hint


def test_toml_error_has_the_parser_position(tmp_path):
    site = copy_site(tmp_path / "site")
    line = edit(site, REV, 'status = "published"', 'status = "published')
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E001")
    assert (str(d.span.path), d.span.line) == (REV, line)


def test_duplicate_revision_ids(tmp_path):
    site = copy_site(tmp_path / "site")
    folder = site / "content/midori/juki/2025-12-12"
    folder.mkdir()
    (folder / "index.md").write_text((site / REV).read_text(encoding="utf-8"), encoding="utf-8")
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E202")
    assert "2025-12-12" in d.message and d.severity is Severity.ERROR


def test_revision_file_name_must_be_a_real_date(tmp_path):
    site = copy_site(tmp_path / "site")
    (site / REV).rename(site / "content/midori/juki/2025-02-30.md")
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E201")
    assert str(d.span.path) == "content/midori/juki/2025-02-30.md"


def test_file_that_is_not_utf8(tmp_path):
    site = copy_site(tmp_path / "site")
    (site / AFFAIR).write_bytes('name = "住民基本台帳に関する事務"\n'.encode("shift_jis"))
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E002")
    assert (str(d.span.path), d.span.line, d.span.col) == (AFFAIR, 1, 9)


@pytest.mark.parametrize("written", ["令和元年6月27日", "令和1年6月27日"])
def test_gannen_and_first_year_are_both_valid(tmp_path, written):
    site = copy_site(tmp_path / "site")
    edit(site, CHANGES, 'date = "令和1年6月27日"', f'date = "{written}"')
    codes = {d.code for d in pipeline.check(site).diagnostics}
    assert not codes & {"E301", "E302", "E303", "W304"}


def test_the_bundled_midori_content_has_no_errors(tmp_path):
    site = copy_site(tmp_path / "site")
    result = pipeline.check(site)
    assert result.ok, [str(d) for d in result.diagnostics if d.severity is Severity.ERROR]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "piasite", *args], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8")


def test_failed_build_exits_1_without_traceback_and_keeps_output(tmp_path):
    site = copy_site(tmp_path / "site")
    assert _run("build", "--site", ".", cwd=site).returncode == 0
    out = site / "output"
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    line = edit(site, REV, 'serious_incident = "発生なし"', 'serious_incident = "発生しない"')
    proc = _run("build", "--site", ".", cwd=site)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{REV}:{line}:" in proc.stderr and "error[E104]" in proc.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in site.iterdir() if p.name.startswith(".output")]


def test_check_command_exit_status(tmp_path):
    site = copy_site(tmp_path / "site")
    ok = _run("check", "--site", ".", cwd=site)
    assert ok.returncode == 0 and "Traceback" not in ok.stderr
    assert _run("check", "--site", ".", "--strict", cwd=site).returncode == 1  # it has warnings
    edit(site, MUNI, 'code = "102121"', 'code = "10212"')
    bad = _run("check", "--site", ".", cwd=site)
    assert bad.returncode == 1 and "error[E203]" in bad.stderr


def test_a_profiled_run_still_writes_its_profile(tmp_path):
    # The command ends without tearing the process down (__main__.run), but not under a
    # profiler: a developer asking where a build spends its time gets the answer.
    site = copy_site(tmp_path / "site")
    prof = tmp_path / "check.prof"
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "piasite",
                           "check", "--site", "."], cwd=site, capture_output=True, text=True,
                          encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    assert "警告" in proc.stderr  # the report, flushed
    import pstats
    assert pstats.Stats(str(prof)).total_calls > 0


def test_a_long_report_ends_with_the_count_of_each_code():
    from helpers import REPO_ROOT

    proc = _run("check", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith("エラー 0 件、警告 ")
    warned = sum(1 for line in lines if ": warning[" in line)
    breakdown = lines[-1]
    assert breakdown.startswith("内訳: ") and "W405 " in breakdown
    counts = [int(n) for n in re.findall(r"W\d{3} (\d+) 件", breakdown)]
    assert sum(counts) == warned


# --- a report with cached assessments' blocks (diagnostics.Report) -------------------------

_PATHS = ["content/a/x/2024-01-01.md", "content/a/x/2024-01-01.changes.toml",
          "content/a/y/2024-01-01.md", "content/b/x/2025-01-01.md", "content/systems/s.toml"]


def _diagnostic(draw) -> Diagnostic:
    st = strategies
    span = Span(PurePosixPath(draw(st.sampled_from(_PATHS))), draw(st.integers(1, 4)),
                draw(st.integers(1, 3)))
    related = tuple(Span(PurePosixPath(p), 1, 1)
                    for p in draw(st.lists(st.sampled_from(_PATHS), max_size=2)))
    return Diagnostic(draw(st.sampled_from(list(Severity))), draw(st.sampled_from(
        ["E101", "W404", "I101"])), draw(st.sampled_from(["一致しません", "読み取りです"])), span,
        hint=draw(st.sampled_from([None, "", "直してください"])), related=related)


@strategies.composite
def _items(draw) -> list:
    """Diagnostics in a build's order, some runs of them kept as blocks (as an assessment
    taken from the build cache): the blocks mostly about one file each, sometimes not."""
    items: list = []
    for _ in range(draw(strategies.integers(0, 6))):
        ds = [_diagnostic(draw) for _ in range(draw(strategies.integers(0, 5)))]
        if draw(strategies.booleans()):
            path = PurePosixPath(draw(strategies.sampled_from(_PATHS)))
            ds = [dataclasses.replace(d, span=dataclasses.replace(d.span, path=path))
                  if draw(strategies.integers(0, 9)) else d for d in ds]
            items.append(Block.of(ds))
        else:
            items += ds
    return [i for i in items if i is not None]


def _flat(items: list) -> list[Diagnostic]:
    return [d for i in items for d in (i.diagnostics() if isinstance(i, Block) else (i,))]


@settings(max_examples=400, deadline=None)
@given(_items())
def test_a_report_with_blocks_is_the_sorted_report(items: list) -> None:
    report = Report(items)
    expected = diagnostics.sort(_flat(items))
    assert report.diagnostics() == expected
    assert report.text() == "".join(f"{d.format()}\n" for d in expected)
    assert report.counts() == Counter((d.severity, d.code) for d in expected)
    assert len(report) == len(expected)
    assert report.has_errors() == any(d.severity is Severity.ERROR for d in expected)
    more = [_diagnostic_at("content/a/y/2024-01-01.md", 2)]
    assert report.plus(more).diagnostics() == diagnostics.sort(_flat(items) + more)


def _diagnostic_at(path: str, line: int) -> Diagnostic:
    return diagnostics.warning("W404", "一致しません", Span(PurePosixPath(path), line, 1))


def test_blocks_nothing_sorts_within_are_printed_without_being_read_back(monkeypatch) -> None:
    a = Block.of([_diagnostic_at(_PATHS[0], 1), _diagnostic_at(_PATHS[0], 9)])
    b = Block.of([_diagnostic_at(_PATHS[3], 1), _diagnostic_at(_PATHS[3], 2)])
    read = []
    real = Block.diagnostics
    monkeypatch.setattr(Block, "diagnostics", lambda self: read.append(self) or real(self))
    loose = [_diagnostic_at(_PATHS[2], 5), _diagnostic_at(_PATHS[4], 1)]
    report = Report([b, loose[1], a, loose[0]])
    assert report.parts == [a, loose[0], b, loose[1]]
    assert read == []
    # One inside a block's first and last: that block is read back and sorted with it.
    inside = _diagnostic_at(_PATHS[0], 5)
    assert [d.span.line for d in Report([a, inside, b]).diagnostics()[:3]] == [1, 5, 9]
    assert read[0] is a and b not in read[:1]
    # Two blocks that meet at one diagnostic (a repeat): read back, the repeat printed once.
    c = Block.of([_diagnostic_at(_PATHS[0], 9), _diagnostic_at(_PATHS[2], 1)])
    assert [str(d) for d in Report([a, c]).diagnostics()] == [
        str(_diagnostic_at(p, n)) for p, n in [(_PATHS[0], 1), (_PATHS[0], 9), (_PATHS[2], 1)]]
    assert Report([a, c]).text().count(f"{_PATHS[0]}:9:") == 1


def test_a_rebuild_prints_the_report_of_a_cold_build(tmp_path) -> None:
    """The cached assessments' diagnostics are printed from their blocks: line for line what
    the cold build printed, but for the line that says how long it took."""
    site = copy_site(tmp_path / "s", ("midori", "asahikawa"))
    cold = _run("build", "--now", "2025-12-20", cwd=site)
    again = _run("build", "--now", "2025-12-20", cwd=site)
    assert cold.returncode == again.returncode == 0, again.stderr[-2000:]
    assert "変わったところはありません" in again.stderr
    assert "warning[" in cold.stderr and "\n  関連: " in cold.stderr
    assert cold.stderr.splitlines()[:-1] == again.stderr.splitlines()[:-1]
