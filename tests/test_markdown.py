"""Markdown in content can never inject markup or script (fixtures after markdown-it's xss.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piasite.markdown import render, render_document

XSS = [
    "<script>alert(1)</script>",
    "<iframe src='https://example.com'></iframe>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href='javascript:alert(1)'>x</a>",
    "![x](javascript:alert(1))",
]


@pytest.mark.parametrize("src", XSS)
@pytest.mark.parametrize("fn", [render, render_document])
def test_no_script_no_raw_html_no_dangerous_link(src, fn):
    out = fn(src)
    lowered = out.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<img" not in lowered
    assert 'href="javascript:' not in lowered and 'href="vbscript:' not in lowered
    assert 'href="data:' not in lowered
    assert "onerror=" not in lowered or "&lt;" in out  # only as escaped text


def test_list_markers_are_text_as_the_form_prints_them():
    out = render("1. 行政手続\n\n2. 住民基本台帳法")
    assert '<span class="marker">1.</span> 行政手続' in out
    assert '<span class="marker">2.</span> 住民基本台帳法' in out


def test_items_with_their_own_bullet_get_no_second_one():
    assert '<ul class="marked">' in render("- ・住基ネット照会\n- ・複数人での確認")
    assert "<ul>" in render("- 住基ネット照会")


def test_document_headings_start_below_the_page_title_and_tables_have_scope():
    out = render_document("# 見出し\n\n| 方法 | 宛先 |\n|---|---|\n| 郵送 | 市役所 |")
    assert "<h2>見出し</h2>" in out and '<th scope="col">方法</th>' in out


_ALPHABET = "住民基本台帳ネットワークシステム　・、。（）()「」-*_[]<>!&#~|=+.:;\"' \t\n0123456789aZ"


# Lines the shortcut may take, some with a character or a start that sends them to the parser.
_LINES = st.lists(st.text(alphabet="住民基本台帳（）・、。 　1.)-=+\"a", max_size=8), max_size=6).map("\n".join)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=24) | st.text(max_size=12) | _LINES)
def test_plain_line_shortcut_renders_exactly_as_the_parser(text):
    # Most values skip the parser; whatever it skips must come out byte for byte the same.
    from piasite.markdown import _parser, _plain

    fast = _plain(text)
    if fast is not None:
        assert fast == _parser().render(text)


def test_a_full_width_space_opening_or_closing_a_line_is_kept():
    # The source's 字下げ: markdown-it would strip it from a paragraph's first line only.
    assert render("\u3000段落一\n\n\u3000段落二\n\u3000続き") == (
        "<p>\u3000段落一</p>\n<p>\u3000段落二\n\u3000続き</p>\n")
    assert render("末尾\u3000") == "<p>末尾\u3000</p>\n"
    assert render_document("\u3000本文").startswith("<p>\u3000本文</p>")


def test_plain_lines_take_the_shortcut_and_markup_does_not():
    from piasite.markdown import _plain

    assert _plain("住民基本台帳ネットワークシステム（住基ネット）") is not None
    assert _plain("一行目\n二行目\n\n次の段落") == "<p>一行目\n二行目</p>\n<p>次の段落</p>\n"
    for text in ("1. 項目", "# 見出し", "a *b*", "- 点", "　全角空白で始まる", "a\n 1. b",
                 "a\n- b", "a\n\u3000b", "x &amp; y", ""):
        assert _plain(text) is None, text
    # - + = inside a line are text; opening one, a list, an underline or a rule
    assert _plain("平成27年10月-令和2年3月\n") == "<p>平成27年10月-令和2年3月</p>\n"
    for text in ("a\n---", "a\n===", "+ b", "a\n- b", "= c"):
        assert _plain(text) is None, text
