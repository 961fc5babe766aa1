"""Japanese era (和暦) and ISO dates as written in 評価書.

`parse_date` accepts 和暦 (``令和7年12月12日``, ``令和元年``, ``平成２７年６月``), ISO
(``2025-12-12``, ``2015-06``) and Western dates (``2015/5/8``, ``2015年5月8日``), at day,
month or year precision. Problems are returned, never raised.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = ["ERAS", "DateProblem", "Era", "JDate", "parse_date", "to_wareki"]


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    start: datetime.date
    end: datetime.date | None
    """Last day of the era; None for the current one."""

    def gregorian(self, era_year: int) -> int:
        return self.start.year + era_year - 1


# Real boundaries. 明治 counts from 1868-01-01 because the 改元 of 1868 applied to the
# whole year (明治元年 = 1868).
ERAS: tuple[Era, ...] = (
    Era("明治", datetime.date(1868, 1, 1), datetime.date(1912, 7, 29)),
    Era("大正", datetime.date(1912, 7, 30), datetime.date(1926, 12, 24)),
    Era("昭和", datetime.date(1926, 12, 25), datetime.date(1989, 1, 7)),
    Era("平成", datetime.date(1989, 1, 8), datetime.date(2019, 4, 30)),
    Era("令和", datetime.date(2019, 5, 1), None),
)
_ERA_BY_NAME = {e.name: e for e in ERAS}


@dataclass(frozen=True, slots=True)
class JDate:
    """A date as written, at day, month (``day`` None) or year (``month`` None) precision."""

    year: int
    month: int | None
    day: int | None
    text: str
    """Verbatim input."""
    era: str | None
    """``令和`` etc.; None for ISO and Western input."""
    era_year: int | None

    @property
    def precision(self) -> Literal["day", "month", "year"]:
        if self.month is None:
            return "year"
        return "month" if self.day is None else "day"

    def iso(self) -> str:
        """Return ``2025-12-12``, ``2015-06`` or ``2015``."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def date(self) -> datetime.date | None:
        """Return the day, or None at month or year precision."""
        if self.month is None or self.day is None:
            return None
        return datetime.date(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class DateProblem:
    severity: Literal["error", "warning"]
    code: str
    """E301 malformed, E302 impossible date, E303 era year 0, W304 outside the era."""
    message: str


_ERA_NAMES = "|".join(e.name for e in ERAS)
_WAREKI_RE = re.compile(
    rf"({_ERA_NAMES})\s*(元|[0-9]+)\s*年(?:\s*([0-9]+)\s*月(?:\s*([0-9]+)\s*日)?)?"
)
# Western years must have four digits so that an era-less "27年" is not taken as 0027.
_SEIREKI_RE = re.compile(r"([0-9]{4})\s*年(?:\s*([0-9]+)\s*月(?:\s*([0-9]+)\s*日)?)?")
_ISO_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})(?:-([0-9]{1,2}))?")
_SLASH_RE = re.compile(r"([0-9]{4})/([0-9]{1,2})(?:/([0-9]{1,2}))?")

_EXAMPLE = "「令和7年12月12日」「令和7年12月」「2025-12-12」のように書いてください。"


def _num(digits: str | None) -> int | None:
    # Cap the length: int() refuses very long digit strings, and nothing that long is a date.
    if digits is None:
        return None
    return int(digits) if len(digits) <= 6 else 10**6


def parse_date(text: str) -> tuple[JDate | None, list[DateProblem]]:
    """Parse a date; return (JDate or None on error, problems). Never raises."""
    if not isinstance(text, str):
        return None, [_malformed(repr(text))]
    jd, problems = _parse_date(text)
    return jd, list(problems)


@functools.lru_cache(maxsize=4096)
def _parse_date(text: str) -> tuple[JDate | None, tuple[DateProblem, ...]]:
    # Remembered: a date is read by the schema, by the loader and by the checks, and most
    # dates recur (a 変更箇所 table's rows share a few).
    jd, problems = _parse(text)
    return jd, tuple(problems)


def _parse(text: str) -> tuple[JDate | None, list[DateProblem]]:
    norm = unicodedata.normalize("NFKC", text).strip()
    era: Era | None = None
    era_year: int | None = None
    era_year_text = ""
    if m := _WAREKI_RE.fullmatch(norm):
        era = _ERA_BY_NAME[m[1]]
        era_year_text = m[2]
        era_year = 1 if m[2] == "元" else _num(m[2])
        assert era_year is not None
        if era_year == 0:
            return None, [
                DateProblem(
                    "error",
                    "E303",
                    f"「{era.name}0年」という年はありません。{era.name}の最初の年は"
                    f"「{era.name}元年」（{era.start.year}年）です。",
                )
            ]
        year = era.gregorian(era_year)
        month, day = _num(m[3]), _num(m[4])
    elif m := (_SEIREKI_RE.fullmatch(norm) or _ISO_RE.fullmatch(norm) or _SLASH_RE.fullmatch(norm)):
        year = int(m[1])
        month, day = _num(m[2]), _num(m[3])
    else:
        return None, [_malformed(text)]

    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        return None, [DateProblem("error", "E302", f"「{text}」の年は範囲外です。")]
    if month is not None and not 1 <= month <= 12:
        return None, [
            DateProblem("error", "E302", f"「{text}」の {month} 月はありません（1〜12 月）。")
        ]
    if month is not None and day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            return None, [
                DateProblem(
                    "error",
                    "E302",
                    f"「{text}」は存在しない日付です。{year}年{month}月は {last} 日までです。",
                )
            ]

    jd = JDate(year, month, day, text, era.name if era else None, era_year)
    problems: list[DateProblem] = []
    if era is not None:
        problem = _era_range_problem(jd, era, f"{era.name}{era_year_text}年")
        if problem:
            problems.append(problem)
    return jd, problems


def _malformed(text: str) -> DateProblem:
    return DateProblem("error", "E301", f"「{text}」は日付として読めません。{_EXAMPLE}")


def _period(jd: JDate) -> tuple[datetime.date, datetime.date]:
    """First and last day covered by a date of any precision."""
    if jd.month is None:
        return datetime.date(jd.year, 1, 1), datetime.date(jd.year, 12, 31)
    if jd.day is None:
        last = calendar.monthrange(jd.year, jd.month)[1]
        return datetime.date(jd.year, jd.month, 1), datetime.date(jd.year, jd.month, last)
    d = datetime.date(jd.year, jd.month, jd.day)
    return d, d


def _era_range_problem(jd: JDate, era: Era, quoted: str) -> DateProblem | None:
    """W304 when the whole period lies outside the era (planned dates past an era's end)."""
    first, last = _period(jd)
    if era.end is not None and first > era.end:
        real = _era_year_label(first)
        return DateProblem(
            "warning",
            "W304",
            f"「{quoted}」は{era.name}の終わり（{to_wareki(era.end)}）より後です。"
            f"{real}にあたります。",
        )
    if last < era.start:
        real = _era_year_label(last)
        return DateProblem(
            "warning",
            "W304",
            f"「{quoted}」は{era.name}の始まり（{to_wareki(era.start)}）より前です。"
            f"{real}にあたります。",
        )
    return None


def _era_of(d: datetime.date) -> Era:
    for era in reversed(ERAS):
        if d >= era.start:
            return era
    raise ValueError(f"{d.isoformat()} is before 明治 (1868)")


def _era_year_label(d: datetime.date, *, gannen: bool = True) -> str:
    era = _era_of(d)
    n = d.year - era.start.year + 1
    return f"{era.name}{'元' if n == 1 and gannen else n}年"


def to_wareki(d: datetime.date, *, gannen: bool = True) -> str:
    """Return ``令和元年5月1日`` (or ``令和1年5月1日`` with gannen=False).

    Raises ValueError for dates before 明治 (1868), which have no era here.
    """
    return f"{_era_year_label(d, gannen=gannen)}{d.month}月{d.day}日"
