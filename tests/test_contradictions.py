"""A source's own contradictions stay on the page and are reported as warnings."""

from __future__ import annotations

import re
import unicodedata

from helpers import copy_site
from hypothesis import example, given, settings
from hypothesis import strategies as st

from piasite import normalize, pipeline

DRAFT = "content/asahikawa/juki/2025-07-01/index.md"


def test_declared_count_that_differs_from_the_listed_entries(tmp_path):
    site = copy_site(tmp_path / "site", ("asahikawa",))
    p = site / DRAFT
    text = p.read_text(encoding="utf-8")
    assert 'count = "5"' in text
    line = text[: text.index('count = "5"')].count("\n") + 1
    p.write_text(text.replace('count = "5"', 'count = "6"', 1), encoding="utf-8")
    result = pipeline.check(site)
    d = [d for d in result.diagnostics if d.code == "W407"]
    assert len(d) == 1 and result.ok
    assert (str(d[0].span.path), d[0].span.line) == (DRAFT, line)
    assert "6 件ですが、5 件が記載" in d[0].message and d[0].related


def test_bundled_sources_keep_their_contradictions_as_warnings():
    from helpers import REPO_ROOT

    result = pipeline.check(REPO_ROOT)
    assert result.ok
    codes = {d.code for d in result.diagnostics}
    # duplicate rows, chains that break, a 変更後 that differs from the body (みどり市 and others)
    assert {"W401", "W404", "W405"} <= codes


def _rows_warned(result, code: str, path_part: str) -> set[int]:
    import re

    return {int(re.search(r"変更箇所 (\d+) 行目", d.message).group(1)) for d in result.diagnostics
            if d.code == code and path_part in str(d.span.path)}


def test_a_row_that_quotes_the_body_differently_is_not_a_contradiction():
    from helpers import REPO_ROOT

    result = pipeline.check(REPO_ROOT)
    okayama = _rows_warned(result, "W405", "okayama")
    # Row 17 names 高齢福祉部 where the body says 高齢者福祉部: a real difference, kept.
    assert 17 in okayama
    # Row 9 prints the item with its number (①岡山市…条例第４条第２項): the same text.
    assert 9 not in okayama
    # 八代市 row 38 quotes the list under its file heading (【３　送付先情報ファイル】1．…).
    assert 38 not in _rows_warned(result, "W405", "yatsushiro")


def test_excerpts_numbers_and_comma_style_agree_with_the_body():
    from piasite.check import _consistent

    body = "・住基法第７条において、住民基本台帳の記載項目と規定されており、利用するため。"
    assert _consistent("住基法第７条において，住民基本台帳の記載項目と規定されており", body)
    assert _consistent("①住基法第７条において、住民基本台帳の記載項目", body)
    assert _consistent("（略）住民基本台帳の記載項目と規定されており、（略）利用するため。", body)
    assert not _consistent("住基法第８条において、住民基本台帳の記載項目", body)
    assert not _consistent("（略）", body)


def test_items_a_reconstruction_cannot_know_are_not_compared():
    from helpers import REPO_ROOT

    result = pipeline.check(REPO_ROOT)
    reconstructed = _rows_warned(result, "W405", "asahikawa/juki/2023-12-29")
    # Row 53's item is unknown in the reconstructed version: the body shows no text to differ.
    assert 53 not in reconstructed
    # Row 34 (住民記録システム vs 既存住基システム) is a known item that really differs.
    assert 34 in reconstructed


def test_ryaku_inside_a_word_is_not_a_gap():
    from piasite.check import _consistent

    assert not _consistent("事業戦略を見直す", "事業戦を見直す")
    assert _consistent("事業戦略を見直す\n略\n年1回", "事業戦略を見直す。点検は年1回")


def _composes_backwards() -> set[str]:
    """Characters that join the one before them under NFKC: the second of every canonical
    pair, and the Hangul vowels and finals."""
    out = {chr(c) for c in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}
    for cp in range(0x110000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            out.add(chr(int(parts[1], 16)))
    return out


def test_the_characters_match_key_leaves_out_of_its_runs_are_kept_by_nfkc_in_any_context():
    # W402 and W404 compare the 変更前 and 変更後 by match_key, which applies NFKC to the
    # runs of characters NFKC may change only: every other character must be one NFKC keeps
    # as it is, neither a mark nor one whose decomposition starts with what joins the
    # character before it, or NFKC of the runs alone would differ from NFKC of the text.
    joins = _composes_backwards()
    kept = normalize._MAY_CHANGE.sub("", "".join(map(chr, range(0x110000))))
    assert len(kept) > 25_000
    assert [c for c in kept if unicodedata.normalize("NFKC", c) != c or unicodedata.combining(c)
            or unicodedata.combining(unicodedata.normalize("NFKD", c)[0])
            or unicodedata.normalize("NFKD", c)[0] in joins] == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.sampled_from("カが\u3099ｶﾞＣＳ㍻①〇･―<b>e\u0301가\u11a8\u1100\u1161 \n、。漢"), st.characters())))
@example("中間サーバー　（ＣＳ）カ\u3099e\u0301가\u11a8")
def test_match_key_is_nfkc_of_the_whole_text(text: str):
    t = unicodedata.normalize("NFKC", normalize._TAG.sub(" ", text))
    t = t.replace("･", "・").replace("〇", "○").replace("―", "ー")
    assert normalize.match_key(text) == re.sub(r"\s+", "", t)
