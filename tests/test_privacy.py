"""Privacy guard: a 個人番号-shaped number in content stops the build, at its line and column."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from helpers import REPO_ROOT, copy_site
from hypothesis import example, given
from hypothesis import strategies as st

from piasite import pipeline
from piasite.privacy import check_digit, find_numbers, is_individual_number, scan

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
P = PurePosixPath("content/x.md")
REV = "content/midori/juki/2025-12-12.md"

eleven = st.text(alphabet="0123456789", min_size=11, max_size=11)
# Japanese text without digits around the number (a digit next to it would make it longer).
prose = st.text(alphabet=st.characters(codec="utf-8", categories=("Lo", "Po", "Zs"),
                                       exclude_characters="\r\n"), max_size=20)


def valid(first11: str) -> str:
    return first11 + str(check_digit(first11))


def reference_check_digit(first11: str) -> int:
    """The formula as 番号法施行令第8条 writes it, independently of the module."""
    p = [int(c) for c in reversed(first11)]  # p[0] is P1
    s = sum(p[n - 1] * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    return 0 if s % 11 <= 1 else 11 - s % 11


def test_known_example() -> None:
    # The example number in デジタル庁's and many libraries' documentation.
    assert is_individual_number("123456789018")
    assert not is_individual_number("123456789012")


@given(eleven)
def test_check_digit_matches_the_ordinance(first11: str) -> None:
    assert check_digit(first11) == reference_check_digit(first11)


@given(eleven, prose, prose)
def test_valid_number_in_japanese_text_is_found(first11: str, before: str, after: str) -> None:
    number = valid(first11)
    text = f"一行目\n{before}個人番号{number}を{after}\n"
    (hit,) = find_numbers(text, P)
    assert (hit.line, hit.col, hit.number) == (2, len(before) + 5, number)


@given(eleven)
def test_full_width_and_grouped_forms_are_found(first11: str) -> None:
    number = valid(first11)
    wide = number.translate(FULLWIDTH)
    assert [f.number for f in find_numbers(f"番号：{wide}。", P)] == [number]
    grouped = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert [f.number for f in find_numbers(f"番号は{grouped}です", P)] == [number]


@given(eleven, st.integers(1, 9))
def test_wrong_check_digit_is_not_flagged(first11: str, offset: int) -> None:
    wrong = first11 + str((check_digit(first11) + offset) % 10)
    assert find_numbers(f"番号{wrong}です", P) == []


@given(eleven, st.sampled_from("0123456789０９"))
def test_digit_runs_of_other_lengths_are_not_flagged(first11: str, extra: str) -> None:
    number = valid(first11)
    assert find_numbers(number + extra, P) == []
    assert find_numbers(extra + number, P) == []
    assert find_numbers(number[:-1], P) == []


# The patterns as first written (with lookbehinds, tried at every character): the faster
# ones must find exactly what these find, wherever digits, hyphens and spaces meet.
_RUN_AS_WRITTEN = re.compile(r"(?<!\d)\d{12}(?!\d)")
_GROUPED_AS_WRITTEN = re.compile(
    r"(?<![\d\-‐－])(\d{4})([ \u3000\-‐－])(\d{4})\2(\d{4})(?![\d\-‐－])")


def _as_written(text: str) -> list[tuple[int, int, str]]:
    hits: dict[int, str] = {}
    for rx in (_RUN_AS_WRITTEN, _GROUPED_AS_WRITTEN):
        for m in rx.finditer(text):
            if is_individual_number(m.group(0)):
                hits.setdefault(m.start(), m.group(0))
    return [(text.count("\n", 0, s) + 1, s - (text.rfind("\n", 0, s) + 1) + 1, w)
            for s, w in sorted(hits.items())]


# Valid numbers (plain, full-width, grouped) and the pieces that can join, split or border them.
_pieces = st.one_of(
    eleven.map(valid), eleven.map(lambda e: valid(e).translate(FULLWIDTH)),
    st.tuples(eleven.map(valid), st.sampled_from([" ", "\u3000", "-", "‐", "－"])).map(
        lambda t: t[0][:4] + t[1] + t[0][4:8] + t[1] + t[0][8:]),
    st.text(alphabet="0123456789０ -‐－\u3000\n番号", max_size=6))


_INSIDE = valid("56789012345")


@given(st.lists(_pieces, max_size=8))
# A grouped number that starts inside a longer run of digits and spaces (after a space).
@example(["71234 ", f"{_INSIDE[:4]} {_INSIDE[4:8]} {_INSIDE[8:]}"])
def test_the_scan_finds_what_the_patterns_as_written_find(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert [(f.line, f.col, f.written) for f in find_numbers(text, P)] == _as_written(text)


# --- the whole pipeline: file, line and column; the allow-list


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(tmp_path / "site")


def _append(site: Path, rel: str, text: str) -> int:
    """Append `text` to a file; return the 1-based line it starts on."""
    p = site / rel
    old = p.read_text(encoding="utf-8")
    if not old.endswith("\n"):
        old += "\n"
    p.write_text(old + text, encoding="utf-8")
    return old.count("\n") + 1


def _codes(diags, code):
    return [d for d in diags if d.code == code]


def test_bundled_content_has_no_individual_number() -> None:
    assert [str(d) for d in scan(REPO_ROOT) if d.code.startswith(("E60", "W60"))] == []


def test_number_in_body_fails_check_with_position(site: Path) -> None:
    line = _append(site, REV, "住民の個人番号１２３４５６７８９０１８を誤って記載した。\n")
    (d,) = _codes(pipeline.check(site).diagnostics, "E601")
    assert str(d).startswith(f"{REV}:{line}:8: error[E601]: ")
    assert "１２３４５６７８９０１８" in d.message


def test_number_in_changes_and_pages_is_found(site: Path) -> None:
    changes = "content/midori/juki/2025-12-12.changes.toml"
    line = _append(site, changes, '# 123456789018\n')
    page = site / "content/midori/juki/_pages/memo.md"
    page.parent.mkdir()
    page.write_text('+++\ntitle = "メモ"\n+++\n\n番号 1234-5678-9018\n', encoding="utf-8")
    found = {(str(d.span.path), d.span.line, d.span.col)
             for d in _codes(pipeline.check(site).diagnostics, "E601")}
    assert found == {(changes, line, 3), ("content/midori/juki/_pages/memo.md", 5, 4)}


def test_links_out_of_content_are_never_read(site: Path, tmp_path: Path) -> None:
    """The scan reads only regular files it reached without following a link: a number in a
    file a link points to outside content/ is not the site's (the loader refuses the link)."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    for f in (outside / "secret.md", outside / "dir" / "x.md"):
        f.write_text("番号 123456789018\n", encoding="utf-8")
    (site / "content/midori/juki/notes.md").symlink_to(outside / "secret.md")
    (site / "content/midori/linked").symlink_to(outside / "dir", target_is_directory=True)
    assert scan(site) == []
    diags = pipeline.check(site).diagnostics
    assert _codes(diags, "E601") == []
    assert _codes(diags, "E007")


def test_files_read_by_worker_processes_give_the_same_findings(site: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    """A site of thousands of files is scanned on every core: the same findings, in the same
    order, the cache used alike, a file the loader must report still skipped."""
    import piasite.privacy as privacy

    lines = [_append(site, REV, "誤記 123456789018\n"),
             _append(site, "content/midori/juki/2025-12-12.changes.toml", "# 1234 5678 9018\n")]
    (site / "content/midori/juki/broken.md").write_bytes(b"\xff 123456789018\n")
    cache = tmp_path / "privacy.pickle"
    one = [str(d) for d in scan(site, cache)]
    assert len(one) == 2
    assert all(any(f":{n}:" in x for x in one) for n in lines)
    monkeypatch.setattr(privacy, "MIN_FILES_FOR_WORKERS", 1)
    started = []
    real = privacy.processes.pool
    monkeypatch.setattr(privacy.processes, "pool", lambda n: started.append(n) or real(n))
    assert [str(d) for d in scan(site, None, jobs=2)] == one
    # From the cache but for one changed file: still the same, that one read anew.
    line = _append(site, REV, f"追記 {valid('23456789012')}\n")
    both = [str(d) for d in scan(site, cache, jobs=2)]
    assert started == [2, 2]
    assert [x for x in both if f":{line}:" not in x] == one
    assert len(both) == 3


def test_allow_list_excuses_exactly_that_occurrence(site: Path) -> None:
    line = _append(site, REV, "問合せ番号 123456789018（個人番号ではない）\n")
    allow = site / "content/_privacy-allowlist.toml"
    allow.write_text(
        f'[[allow]]\npath = "{REV}"\nline = {line}\nnumber = "123456789018"\n'
        'reason = "受付番号で、個人番号ではない"\n'
        f'[[allow]]\npath = "{REV}"\nline = 1\nnumber = "123456789018"\nreason = "古い"\n',
        encoding="utf-8")
    diags = pipeline.check(site).diagnostics
    assert _codes(diags, "E601") == []
    (stale,) = _codes(diags, "W602")
    assert str(stale.span) == "content/_privacy-allowlist.toml:6:1"
    # the same number on another line is still an error
    other = _append(site, REV, "再掲 123456789018\n")
    (d,) = _codes(pipeline.check(site).diagnostics, "E601")
    assert d.span.line == other


def test_allow_list_needs_a_reason(site: Path) -> None:
    line = _append(site, REV, "123456789018\n")
    (site / "content/_privacy-allowlist.toml").write_text(
        f'[[allow]]\npath = "{REV}"\nline = {line}\nnumber = "123456789018"\nreason = " "\n',
        encoding="utf-8")
    diags = pipeline.check(site).diagnostics
    assert [str(d) for d in _codes(diags, "E603")] == [
        "content/_privacy-allowlist.toml:5:1: error[E603]: 「reason」に、個人番号ではない理由を書いてください"]
    assert len(_codes(diags, "E601")) == 1


def test_build_refuses_and_names_the_line(site: Path, tmp_path: Path) -> None:
    line = _append(site, REV, "番号 123456789018\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site), "--out", str(out)],
        capture_output=True, text=True, encoding="utf-8", cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert f"{REV}:{line}:4: error[E601]:" in proc.stderr
    assert not out.exists()


def test_a_number_written_after_a_build_is_found_even_with_the_old_size_and_time(
        site: Path) -> None:
    # The scan keeps each file's findings by its stat: an edit that keeps the size and sets
    # the modification time back (an editor, a copy with -p, git) must still be read again.
    assert pipeline.check(site).ok and pipeline.build(site).ok
    path = site / REV
    text = path.read_text(encoding="utf-8")
    old = path.stat()
    anchor = "XXXXXXXXXXXX"
    line = _append(site, REV, f"番号 {anchor}\n")
    assert pipeline.build(site).ok  # the anchor itself is no number: cached as clean
    grown = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace(anchor, "123456789018"),
                    encoding="utf-8")
    os.utime(path, ns=(grown.st_atime_ns, grown.st_mtime_ns))
    assert path.stat().st_size == grown.st_size and path.stat().st_mtime_ns == grown.st_mtime_ns
    (d,) = _codes(pipeline.build(site).diagnostics, "E601")
    assert str(d).startswith(f"{REV}:{line}:4: error[E601]: ")
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert _codes(pipeline.build(site).diagnostics, "E601") == []
