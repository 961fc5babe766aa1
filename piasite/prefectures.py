"""The 47 都道府県 (JIS X 0401): the first two digits of a 全国地方公共団体コード name one.

A national site splits its longest lists by prefecture (`split`: an item's comparison, a
system's page); a municipality's prefecture is read from its code, which `piasite check`
verifies (E203), and the written name is checked against it (W205).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .pickling import quick_pickle


@quick_pickle
@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str
    """Two digits, JIS X 0401: 01 北海道 … 47 沖縄県 ("" when neither code nor name says)."""
    name: str
    slug: str
    """Its name in URLs (/compare/…/okayama/)."""


_TABLE = (
    ("北海道", "hokkaido"), ("青森県", "aomori"), ("岩手県", "iwate"), ("宮城県", "miyagi"),
    ("秋田県", "akita"), ("山形県", "yamagata"), ("福島県", "fukushima"),
    ("茨城県", "ibaraki"), ("栃木県", "tochigi"), ("群馬県", "gunma"), ("埼玉県", "saitama"),
    ("千葉県", "chiba"), ("東京都", "tokyo"), ("神奈川県", "kanagawa"), ("新潟県", "niigata"),
    ("富山県", "toyama"), ("石川県", "ishikawa"), ("福井県", "fukui"), ("山梨県", "yamanashi"),
    ("長野県", "nagano"), ("岐阜県", "gifu"), ("静岡県", "shizuoka"), ("愛知県", "aichi"),
    ("三重県", "mie"), ("滋賀県", "shiga"), ("京都府", "kyoto"), ("大阪府", "osaka"),
    ("兵庫県", "hyogo"), ("奈良県", "nara"), ("和歌山県", "wakayama"), ("鳥取県", "tottori"),
    ("島根県", "shimane"), ("岡山県", "okayama"), ("広島県", "hiroshima"),
    ("山口県", "yamaguchi"), ("徳島県", "tokushima"), ("香川県", "kagawa"), ("愛媛県", "ehime"),
    ("高知県", "kochi"), ("福岡県", "fukuoka"), ("佐賀県", "saga"), ("長崎県", "nagasaki"),
    ("熊本県", "kumamoto"), ("大分県", "oita"), ("宮崎県", "miyazaki"),
    ("鹿児島県", "kagoshima"), ("沖縄県", "okinawa"),
)
ALL = tuple(Prefecture(f"{i:02d}", name, slug) for i, (name, slug) in enumerate(_TABLE, 1))
"""In JIS X 0401 order."""
BY_CODE = MappingProxyType({p.code: p for p in ALL})
BY_NAME = MappingProxyType({p.name: p for p in ALL})
UNKNOWN = Prefecture("", "都道府県不明", "unknown")
"""For a municipality whose code and written name both name no prefecture."""


def from_code(code: str) -> Prefecture | None:
    """The prefecture of a 全国地方公共団体コード (its first two digits), if they name one."""
    return BY_CODE.get(code[:2]) if len(code) == 6 else None


def of(code: str, written: str) -> Prefecture:
    """A municipality's prefecture: by its code, else by the name written beside it."""
    return from_code(code) or BY_NAME.get(written) or UNKNOWN


def problem(code: str, written: str) -> str | None:
    """A Japanese message when the written prefecture is not one, or not the code's."""
    by_code = from_code(code)
    if by_code is not None and written != by_code.name:
        return (f"都道府県「{written}」が全国地方公共団体コード「{code}」の都道府県"
                f"（{by_code.name}）と一致しません")
    if by_code is None and written not in BY_NAME:
        return f"都道府県「{written}」は都道府県の名前ではありません（「岡山県」のように書いてください）"
    return None


ONE_PAGE_MAX = 100
"""A site-wide page lists up to this many assessments (a system's page, the overview). Past
it, across prefectures, it counts and lists the prefectures, and each has a page of its own:
at 1,000 versions a system's page was up to 10 MB and the overview 1.4 MB. An item's
comparison, which splits into many more files, has its own limit (compare.ITEM_PAGE_MAX)."""


def split(prefs: Sequence[Prefecture], limit: int | None = None
          ) -> tuple[tuple[Prefecture, tuple[int, ...]], ...]:
    """Each prefecture with the indices of `prefs` in it (JIS X 0401 order, UNKNOWN last),
    or none: up to `limit` (ONE_PAGE_MAX), or all in one prefecture, fit one page."""
    by: dict[Prefecture, list[int]] = {}
    for i, p in enumerate(prefs):
        by.setdefault(p, []).append(i)
    if len(prefs) <= (ONE_PAGE_MAX if limit is None else limit) or len(by) < 2:
        return ()
    return tuple((p, tuple(ix)) for p, ix in sorted(by.items(),
                                                     key=lambda kv: (not kv[0].code, kv[0].code)))
