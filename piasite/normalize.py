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


@functools.lru_cache(maxsize=65536)
def match_key(text: str) -> str:
    """Fold width, spaces, markup and look-alike marks so equal wording compares equal."""
    t = unicodedata.normalize("NFKC", _TAG.sub(" ", text))
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
