"""Tests for piasite.wareki: parsing 和暦/ISO dates and formatting 和暦."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piasite.wareki import JDate, parse_date, to_wareki


@pytest.mark.parametrize(
    ("text", "ymd", "era", "era_year", "iso"),
    [
        ("令和7年12月12日", (2025, 12, 12), "令和", 7, "2025-12-12"),
        ("令和元年", (2019, None, None), "令和", 1, "2019"),
        ("令和1年", (2019, None, None), "令和", 1, "2019"),
        ("令和元年5月1日", (2019, 5, 1), "令和", 1, "2019-05-01"),
        ("令和1年5月1日", (2019, 5, 1), "令和", 1, "2019-05-01"),
        ("平成２７年６月", (2015, 6, None), "平成", 27, "2015-06"),
        ("令和 7 年 1 月", (2025, 1, None), "令和", 7, "2025-01"),
        ("　令和７年　１月　２日　", (2025, 1, 2), "令和", 7, "2025-01-02"),
        ("平成31年4月30日", (2019, 4, 30), "平成", 31, "2019-04-30"),
        ("平成元年1月8日", (1989, 1, 8), "平成", 1, "1989-01-08"),
        ("昭和64年1月7日", (1989, 1, 7), "昭和", 64, "1989-01-07"),
        ("昭和元年12月25日", (1926, 12, 25), "昭和", 1, "1926-12-25"),
        ("大正15年12月24日", (1926, 12, 24), "大正", 15, "1926-12-24"),
        ("大正元年7月30日", (1912, 7, 30), "大正", 1, "1912-07-30"),
        ("明治45年7月29日", (1912, 7, 29), "明治", 45, "1912-07-29"),
        ("㍻27年6月", (2015, 6, None), "平成", 27, "2015-06"),
        ("2025-12-12", (2025, 12, 12), None, None, "2025-12-12"),
        ("2015-06", (2015, 6, None), None, None, "2015-06"),
        ("2015/5/8", (2015, 5, 8), None, None, "2015-05-08"),
        ("2015/05", (2015, 5, None), None, None, "2015-05"),
        ("２０１５／５／８", (2015, 5, 8), None, None, "2015-05-08"),
        ("2015年5月8日", (2015, 5, 8), None, None, "2015-05-08"),
        ("2024-02-29", (2024, 2, 29), None, None, "2024-02-29"),
    ],
)
def test_valid_dates(
    text: str, ymd: tuple, era: str | None, era_year: int | None, iso: str
) -> None:
    jd, problems = parse_date(text)
    assert problems == []
    assert jd is not None
    assert (jd.year, jd.month, jd.day) == ymd
    assert jd.text == text
    assert (jd.era, jd.era_year) == (era, era_year)
    assert jd.iso() == iso
    if ymd[2] is None:
        assert jd.date() is None
    else:
        assert jd.date() == datetime.date(*ymd)


def test_precision() -> None:
    assert parse_date("令和7年12月12日")[0].precision == "day"  # type: ignore[union-attr]
    assert parse_date("令和7年12月")[0].precision == "month"  # type: ignore[union-attr]
    assert parse_date("令和7年")[0].precision == "year"  # type: ignore[union-attr]


def test_gannen_and_1nen_are_identical_except_text() -> None:
    a, _ = parse_date("令和元年6月")
    b, _ = parse_date("令和1年6月")
    assert a is not None and b is not None
    fields = ("year", "month", "day", "era", "era_year")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "E301"),
        ("   ", "E301"),
        ("foo", "E301"),
        ("令和", "E301"),
        ("令和七年", "E301"),
        ("R7.12.12", "E301"),
        ("27年6月", "E301"),
        ("令和7年12月12日（金）", "E301"),
        ("2025-12-12T00:00", "E301"),
        ("2025-", "E301"),
        ("12/12/2025", "E301"),
        ("令和7年2月30日", "E302"),
        ("令和7年2月29日", "E302"),
        ("令和7年13月", "E302"),
        ("令和7年0月", "E302"),
        ("令和7年1月0日", "E302"),
        ("2025-04-31", "E302"),
        ("2025/13/1", "E302"),
        ("0000-01-01", "E302"),
        ("令和99999999999999999999999999年", "E302"),
        ("令和7年1月99999999999999999999日", "E302"),
        ("令和0年", "E303"),
        ("令和０年５月", "E303"),
        ("平成0年1月1日", "E303"),
    ],
)
def test_errors(text: str, code: str) -> None:
    jd, problems = parse_date(text)
    assert jd is None
    assert [(p.severity, p.code) for p in problems] == [("error", code)]
    assert problems[0].message


def test_error_messages() -> None:
    [p] = parse_date("令和7年2月30日")[1]
    assert "2025年2月は 28 日まで" in p.message
    [p] = parse_date("令和0年")[1]
    assert "令和元年" in p.message
    [p] = parse_date("foo")[1]
    assert "「foo」" in p.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "平成32年4月1日",
            "「平成32年」は平成の終わり（平成31年4月30日）より後です。令和2年にあたります。",
        ),
        (
            "平成32年",
            "「平成32年」は平成の終わり（平成31年4月30日）より後です。令和2年にあたります。",
        ),
        (
            "平成31年5月",
            "「平成31年」は平成の終わり（平成31年4月30日）より後です。令和元年にあたります。",
        ),
        (
            "昭和64年1月8日",
            "「昭和64年」は昭和の終わり（昭和64年1月7日）より後です。平成元年にあたります。",
        ),
        (
            "令和1年4月1日",
            "「令和1年」は令和の始まり（令和元年5月1日）より前です。平成31年にあたります。",
        ),
        (
            "令和元年4月",
            "「令和元年」は令和の始まり（令和元年5月1日）より前です。平成31年にあたります。",
        ),
        (
            "大正元年7月29日",
            "「大正元年」は大正の始まり（大正元年7月30日）より前です。明治45年にあたります。",
        ),
    ],
)
def test_era_range_warnings(text: str, message: str) -> None:
    jd, problems = parse_date(text)
    assert jd is not None  # still usable
    assert [(p.severity, p.code, p.message) for p in problems] == [("warning", "W304", message)]


@pytest.mark.parametrize(
    "text", ["平成31年", "平成31年4月", "令和元年", "令和元年5月", "昭和64年", "昭和64年1月"]
)
def test_periods_overlapping_the_era_are_fine(text: str) -> None:
    jd, problems = parse_date(text)
    assert jd is not None and problems == []


def test_planned_date_keeps_its_real_value() -> None:
    jd, _ = parse_date("平成32年4月1日")
    assert jd is not None
    assert jd.date() == datetime.date(2020, 4, 1)
    assert (jd.era, jd.era_year) == ("平成", 32)


@pytest.mark.parametrize(
    ("d", "gannen", "expected"),
    [
        (datetime.date(2019, 5, 1), True, "令和元年5月1日"),
        (datetime.date(2019, 5, 1), False, "令和1年5月1日"),
        (datetime.date(2019, 4, 30), True, "平成31年4月30日"),
        (datetime.date(2025, 12, 12), True, "令和7年12月12日"),
        (datetime.date(1989, 1, 7), True, "昭和64年1月7日"),
        (datetime.date(1989, 1, 8), True, "平成元年1月8日"),
        (datetime.date(1989, 1, 8), False, "平成1年1月8日"),
        (datetime.date(1926, 12, 24), True, "大正15年12月24日"),
        (datetime.date(1926, 12, 25), True, "昭和元年12月25日"),
        (datetime.date(1912, 7, 29), True, "明治45年7月29日"),
        (datetime.date(1912, 7, 30), True, "大正元年7月30日"),
        (datetime.date(1868, 1, 1), True, "明治元年1月1日"),
    ],
)
def test_to_wareki(d: datetime.date, gannen: bool, expected: str) -> None:
    assert to_wareki(d, gannen=gannen) == expected


def test_to_wareki_before_meiji() -> None:
    with pytest.raises(ValueError):
        to_wareki(datetime.date(1867, 12, 31))


def test_jdate_iso_pads() -> None:
    assert JDate(812, 3, 4, "x", None, None).iso() == "0812-03-04"


# ---------------------------------------------------------------------------
# Properties

DATEISH = st.text(alphabet="令和平成昭和元年月日0123456789０１２-/ 　.", max_size=16)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), DATEISH))
def test_parse_date_never_raises(text: str) -> None:
    jd, problems = parse_date(text)
    if jd is None:
        assert [p.severity for p in problems] == ["error"]
    else:
        assert all(p.severity == "warning" for p in problems)
        jd.iso()
        jd.date()


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=datetime.date(1868, 1, 1)), st.booleans())
def test_wareki_round_trip(d: datetime.date, gannen: bool) -> None:
    jd, problems = parse_date(to_wareki(d, gannen=gannen))
    assert problems == []
    assert jd is not None and jd.date() == d


@settings(max_examples=200, deadline=None)
@given(st.dates())
def test_iso_round_trip(d: datetime.date) -> None:
    jd, problems = parse_date(d.isoformat())
    assert problems == []
    assert jd is not None and jd.date() == d and jd.iso() == d.isoformat()
