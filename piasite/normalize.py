"""Text forms of values for matching: never shown to readers, never written back.

Pages show the source as written. NFKC, whitespace folding and the like are only for
comparing (check rules, diff alignment, search aliases).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

from .model import Item, thaw

_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_BULLET_MARK = re.compile(r"^\s*[-*+]\s+", re.M)


PLACEHOLDERS = frozenset({"—", "-", "―", "ー", "－", "一", "なし", "≪追加≫", "追加", "（追加）", "新規", "（新規）",
                          "新設", "（新設）", "削除", "（削除）"})
"""What a 変更箇所 cell says instead of text: nothing was there before, or nothing is after."""


KEPT_BY_FOLDING = (
    "\x09\x0a\x20-\x40\x5b-\x7e\u2010\u2012-\u2014\u2016\u2018-\u2023\u2027-\u202e"
    "\u2030-\u2032\u2035\u2038-\u203b\u203d\u203f-\u2046\u204a-\u2056\u2058-\u205e"
    "\u2190-\u222b\u222e\u2231-\u2328\u232b-\u23ff\u2500-\u27bf\u3001-\u3029\u3030-\u3035"
    "\u3037\u303b-\u303f\u3041-\u3098\u309d\u309e\u30a0-\u30fe\u3400-\u4dbf\u4e00-\u9fff")
"""A regex class of the characters that NFKC and lower case keep as they are: ASCII but
capitals, kana, kanji, the common punctuation and symbols (tested on every one), none a
mark, none decomposing to one that joins the character before it. Most of a Japanese text;
the folds here (`match_key`) and search's (`index.normalise`) work on the runs of the
others only."""
_NFKC_KEEPS = KEPT_BY_FOLDING + "A-Z\u2015"
_MAY_CHANGE = re.compile(f"[{_NFKC_KEEPS}]?[^{_NFKC_KEEPS}]+")
"""A run of characters NFKC may change, with the character before it. The others (ASCII,
kana, kanji, the common punctuation and symbols) NFKC keeps, none is a mark, and none
decomposes to one that joins the character before it (tested on every one): NFKC of the
runs alone is NFKC of the whole text. NFKC over the whole text cost 120 ns a character
(match_key was 2.5 % of a 1,000-version build); most of a Japanese text is outside the runs."""


def _nfkc(m: re.Match) -> str:
    return unicodedata.normalize("NFKC", m.group())


@functools.lru_cache(maxsize=65536)
def match_key(text: str) -> str:
    """Fold width, spaces, markup and look-alike marks so equal wording compares equal."""
    t = _MAY_CHANGE.sub(_nfkc, _TAG.sub(" ", text))
    t = t.replace("･", "・").replace("〇", "○").replace("―", "ー")
    return _SPACE.sub("", t)


def item_text(item: Item) -> str:
    """Return a field's value as the document prints it, in one string."""
    node, v = item.node, item.value
    if v is None:
        return ""
    if node.kind == "text":
        # Markdown bullet marks are how the content is written, not what the form prints.
        return _BULLET_MARK.sub("", str(v))
    if node.kind == "date":
        return f"{v} {node.suffix}".strip() if node.suffix and v else str(v)
    if node.kind == "select":
        if node.show_number and node.choices and v in node.choices.options:
            return f"{node.choices.options.index(v) + 1}) {v}"
        return str(v)
    if node.kind == "check":
        return ("[○]" if v else "[ ]") + node.label
    if node.kind in ("list", "checks"):
        if node.kind == "list":
            labels = [el["label"] if isinstance(el, Mapping) else str(el) for el in v]  # type: ignore[union-attr]
            # Numbered as printed: items that carry their own numbers get no second one.
            text = " ".join(f"{i}. {s}" if node.numbered else s for i, s in enumerate(labels, 1))
            return f"{text}\n\n{item.note}" if item.note else text
        return "、".join(check_text(el, node.detail_unit) for el in v)  # type: ignore[union-attr]
    return str(thaw(v))  # a table: its Python form, as before the model was frozen


def check_text(el: object, unit: str = "") -> str:
    """One ticked box as printed: its label, and what was written in its parentheses."""
    if not isinstance(el, Mapping):
        return str(el)
    detail = el.get("detail", "")
    return f"{el['label']}（{detail}）{unit}" if detail else el["label"]
