"""The one Markdown parser of piasite, and how field text becomes HTML.

CommonMark with raw HTML off (markdown-it-py's default preset allows it, see its
docs/security.md): content can never inject markup. List markers are written out as
text, because the forms number their items in their own styles ("1." "1)" "・") and a
reader, a screen reader and a copied citation should all see the same marker.
"""

from __future__ import annotations

import functools
import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_BULLETS = ("・", "●", "○", "■", "□", "◆", "※", "-")


@functools.cache
def _parser() -> MarkdownIt:
    # Imported when a text first needs it (33 ms): most values take the plain shortcut, and a
    # rebuild that renders nothing needs no parser.
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_block", "html_inline"])
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def ordered_list_open(self, tokens, idx, options, env):
        return '<ol class="marked">\n'

    def bullet_list_open(self, tokens, idx, options, env):
        # Items that already carry their own bullet ("・…") must not get a second one.
        j, own = idx + 1, True
        depth = 0
        while j < len(tokens):
            t = tokens[j]
            if t.type == "bullet_list_close" and depth == 0:
                break
            if t.type in ("bullet_list_open", "ordered_list_open"):
                depth += 1
            elif t.type in ("bullet_list_close", "ordered_list_close"):
                depth -= 1
            elif t.type == "inline" and depth == 0 and tokens[j - 2].type == "list_item_open":
                own = own and t.content.lstrip().startswith(_BULLETS)
            j += 1
        return '<ul class="marked">\n' if own else "<ul>\n"

    def list_item_open(self, tokens, idx, options, env):
        tok = tokens[idx]
        if tok.markup in (".", ")"):
            return f'<li><span class="marker">{html.escape(tok.info)}{tok.markup}</span> '
        return "<li>"

    md.add_render_rule("ordered_list_open", ordered_list_open)
    md.add_render_rule("bullet_list_open", bullet_list_open)
    md.add_render_rule("list_item_open", list_item_open)
    return md


_SAFE_SCHEME = re.compile(r"^(https?:|mailto:|tel:|#|/|\./|\.\./)", re.I)


def _safe_link(url: str) -> bool:
    """Allow only web, mail, phone and relative links (no javascript:, data:, vbscript:)."""
    return bool(_SAFE_SCHEME.match(url.strip()))


@functools.cache
def _doc_parser() -> MarkdownIt:
    """For accompanying documents: the same safety, plus GFM tables."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False})
    md.enable("table")
    md.disable(["image", "html_block", "html_inline"])
    md.validateLink = _safe_link  # type: ignore[method-assign]
    for name in ("ordered_list_open", "bullet_list_open", "list_item_open"):
        md.add_render_rule(name, _parser().renderer.rules[name])
    return md


# A full-width space opening a line is often the source's 字下げ. markdown-it strips a
# paragraph's surrounding whitespace with Python's str.strip, which takes U+3000 too (CommonMark
# strips only spaces and tabs): the first line of each paragraph lost it, the others kept it.
# As a character reference it passes the strip and comes out as the same character.
_EDGE_SPACE = re.compile(r"^\u3000|\u3000$", re.M)


def _keep_full_width_spaces(text: str) -> str:
    return _EDGE_SPACE.sub("&#x3000;", text) if "\u3000" in text else text


def render_document(text: str) -> str:
    """Render a whole accompanying document (headings and tables allowed)."""
    md = _doc_parser()
    tokens = md.parse(_keep_full_width_spaces(text))
    # The page's own title is the h1: the document's heading levels become h2, h3, … in
    # order, so a document that starts at ### or skips a level still nests without gaps.
    used = sorted({int(t.tag[1]) for t in tokens if t.type == "heading_open"})
    rank = {lvl: min(i + 2, 6) for i, lvl in enumerate(used)}
    for t in tokens:
        if t.type in ("heading_open", "heading_close"):
            t.tag = f"h{rank[int(t.tag[1])]}"
        elif t.type == "th_open":
            t.attrSet("scope", "col")
    out = md.renderer.render(tokens, md.options, {})
    out = re.sub(r"<table>", '<div class="table-scroll" tabindex="0" role="region" aria-label="表"><table>', out)
    return re.sub(r'(<span class="marker">[^<]*</span>) <p>', r"<p>\1 ", out.replace("</table>", "</table></div>"))


# Lines with no character Markdown gives a meaning to, no leading marker (list, heading,
# quote, setext underline, numbered item) and no surrounding whitespace render as escaped
# paragraphs (lines joined by a newline, a blank line between paragraphs); most field values
# are such text — 8,826 of the 11,517 multi-line values a 100-version build gave the parser,
# 0.59 of its 0.92 s (tests/test_markdown.py compares with the parser). - + = mean something
# only opening a line (a list, a setext underline, a rule): inside one they are text; and
# blank lines around the text (a TOML multi-line string's last newline) change nothing —
# 216 of the 1,686 values of the 100-version corpus the parser still got now skip it.
_PLAIN = re.compile(r"[^\\`*_\[\]<>!&#~|\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f]+")
_MARKER_START = re.compile(r"\d{1,9}[.)]|[-+=]")


def _plain(text: str) -> str | None:
    text = text.strip("\n")
    if not text or text != text.strip():
        return None
    paragraphs: list[list[str]] = []
    lines: list[str] = []
    for line in text.split("\n"):
        if not line:
            if lines:
                paragraphs.append(lines)
                lines = []
        elif not _PLAIN.fullmatch(line) or line != line.strip() or _MARKER_START.match(line):
            return None
        else:
            lines.append(line)
    paragraphs.append(lines)
    return "".join("<p>" + "\n".join(p).replace('"', "&quot;") + "</p>\n" for p in paragraphs)


@functools.lru_cache(maxsize=32768)
def render(text: str) -> str:
    """Render field text (Markdown) to HTML. The result is safe to mark as Markup.

    Cached: the same values recur across versions, the 新旧対照表 and the changes page.
    """
    fast = _plain(text)
    if fast is not None:
        return fast
    out = _parser().render(_keep_full_width_spaces(text))
    # A tight list item holds its text without <p>; loose items keep the marker outside
    # their first paragraph, which we fold back in so the marker reads with its text.
    return re.sub(r'(<span class="marker">[^<]*</span>) <p>', r"<p>\1 ", out)
