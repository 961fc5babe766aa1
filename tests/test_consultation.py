"""パブリックコメント: status from the dates and "today", how to take part, feed and calendar."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

import pytest
from helpers import copy_site, soup, text

from piasite import feeds, pipeline, prefectures
from piasite.consultation import status
from piasite.model import CommentPeriod
from piasite.wareki import parse_date

DRAFT = "content/asahikawa/juki/2025-07-01/index.md"
PAGE = "asahikawa/juki/2025-07-01/index.html"


def period(start, end, **kw):
    return CommentPeriod(parse_date(start)[0], parse_date(end)[0], None, **kw)


@pytest.mark.parametrize(("today", "label"), [
    ("2025-06-30", "意見募集前"),
    ("2025-07-01", "意見募集中（あと32日）"),
    ("2025-07-15", "意見募集中（あと18日）"),
    ("2025-08-01", "意見募集中（あと1日）"),
    ("2025-08-02", "意見募集終了（結果公表待ち）"),
])
def test_status_follows_the_dates(today, label):
    p = period("令和７年７月１日", "令和７年８月１日")
    assert status(p, datetime.date.fromisoformat(today)).label == label


def test_published_results_change_the_status():
    p = period("令和７年７月１日", "令和７年８月１日", results_published=parse_date("令和7年10月1日")[0])
    assert status(p, datetime.date(2025, 7, 15)).label == "結果公表済み"


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("pc") / "site", ("asahikawa",))
    outs = {}
    for now in ("2025-07-15", "2025-11-22"):
        out = site / f"out-{now}"
        result = pipeline.build(site, out, now=now)
        assert result.wrote, [str(d) for d in result.diagnostics if d.severity.value == "error"]
        outs[now] = out
    return outs


def test_draft_is_open_mid_july_and_awaiting_results_in_november(builds):
    july = soup(builds["2025-07-15"] / PAGE).select_one(".consult-status")
    november = soup(builds["2025-11-22"] / PAGE).select_one(".consult-status")
    assert text(july) == "意見募集中（あと18日）"
    assert text(november) == "意見募集終了（結果公表待ち）"


def test_status_box_tops_every_page_of_the_draft(builds):
    out = builds["2025-07-15"]
    for rel in (PAGE, "asahikawa/juki/iken-boshu/index.html", "asahikawa/juki/changes/index.html",
                "asahikawa/juki/diff/2023-12-29..2025-07-01/index.html"):
        box = soup(out / rel).select_one("main .consult")
        assert box is not None and "意見募集中" in text(box), rel
    old = soup(out / "asahikawa/juki/2023-12-29/index.html")
    assert old.select_one("main .consult") is None
    assert "新しい評価書の案があります" in text(old.find("main"))


def test_how_to_take_part_lists_every_channel(builds):
    page = soup(builds["2025-07-15"] / PAGE)
    section = page.select_one("section.consultation")
    labels = [text(li.strong) for li in section.select("ul.channels li")]
    assert labels == ["(1) 郵送又は持参", "(2) ファクシミリ送信", "(3) 電子メール（Ｅメール）送信",
                      "(4) 電子申請", "(5) その他"]
    assert section.select_one('a[href="mailto:simin@city.asahikawa.lg.jp"]')
    assert "ＦＡＸ：（０１６６）２４－６９６７" in text(section)
    assert "使用できる言語は原則として日本語のみ" in text(section)
    assert "(ｱ) 氏名・住所" in text(section) and "個人情報は除く" in text(section)
    assert section.find("a", href="/asahikawa/juki/diff/2023-12-29..2025-07-01/")
    assert section.find("a", href="/asahikawa/juki/gaiyo/")


def test_comments_page_groups_by_status(builds):
    july = soup(builds["2025-07-15"] / "comments/index.html")
    assert "旭川市" in text(july.select_one("#c-open").parent)
    nov = soup(builds["2025-11-22"] / "comments/index.html")
    assert "旭川市" in text(nov.select_one("#c-closed").parent)
    assert "該当する意見募集はありません" in text(nov.select_one("#c-open").parent)


def test_results_page_says_results_are_being_compiled(builds):
    page = soup(builds["2025-11-22"] / "asahikawa/juki/2025-07-01/results/index.html")
    assert "取りまとめ中" in text(page.find("main"))


def test_atom_feed_is_valid_with_absolute_urls(builds):
    root = ET.parse(builds["2025-11-22"] / "feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.find("a:updated", ns).text == "2025-07-01T00:00:00Z"
    entries = root.findall("a:entry", ns)
    ids = [e.find("a:id", ns).text for e in entries]
    assert "https://piasite.netlify.app/asahikawa/juki/2025-07-01/" in ids
    assert len(ids) == len(set(ids))
    assert all(e.find("a:updated", ns) is not None and e.find("a:title", ns).text for e in entries)
    assert not any("2023-12-29" in i for i in ids)  # a reconstruction is not news


def test_the_feed_keeps_the_newest_entries(tmp_path, monkeypatch):
    # A national site's feed would list every assessment: it keeps the newest.
    monkeypatch.setattr(feeds, "FEED_MAX_ENTRIES", 2)
    site = copy_site(tmp_path / "site", ("midori", "asahikawa", "okayama"))
    assert pipeline.build(site, site / "output", now="2025-11-22").wrote
    root = ET.parse(site / "output/feed.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    updated = [e.find("a:updated", ns).text[:10] for e in root.findall("a:entry", ns)]
    # みどり市 2025-12-12 is after "now" but published: the newest two are みどり市's and
    # 旭川市's draft (2025-07-01); 岡山市 2025-04-01 and older are left out.
    assert updated == ["2025-12-12", "2025-07-01"]


def test_finished_consultations_of_a_large_site_are_listed_by_year(tmp_path, monkeypatch):
    # They accumulate year after year: past ONE_PAGE_MAX, /comments/ links a page per year
    # (here with the limit at 0 and 旭川市's results published).
    monkeypatch.setattr(prefectures, "ONE_PAGE_MAX", 0)
    site = copy_site(tmp_path / "site", ("midori", "asahikawa"))
    draft = site / DRAFT
    text_ = draft.read_text(encoding="utf-8")
    draft.write_text(text_.replace('start = "令和７年７月１日"',
                                   'start = "令和７年７月１日"\n'
                                   'results = { published = "令和7年10月1日" }', 1),
                     encoding="utf-8")
    assert pipeline.build(site, site / "output", now="2025-11-22").wrote
    page = soup(site / "output/comments/index.html")
    done = page.find(id="c-results").find_parent("section")
    assert text(done.find("h2")) == "結果公表済み（1件）"
    assert not done.select("li.card")
    link = done.find("a", string="2025年")
    assert link["href"] == "/comments/2025/" and "（1件）" in text(link.parent)
    year = soup(site / "output/comments/2025/index.html")
    assert text(year.find("h1")) == "結果公表済みのパブリックコメント（2025年）"
    cards = year.select("li.card")
    assert len(cards) == 1 and cards[0].find("a")["href"] == "/asahikawa/juki/2025-07-01/"
    assert year.find(attrs={"data-search": True}) is None  # /comments/ is the searched page


def test_calendar_file_has_the_period_and_the_deadline(builds):
    raw = (builds["2025-11-22"] / "asahikawa/juki/2025-07-01/comment.ics").read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    unfolded = raw.decode().replace("\r\n ", "")
    assert "DTSTART;VALUE=DATE:20250701" in unfolded and "DTEND;VALUE=DATE:20250802" in unfolded
    assert "DTSTART;VALUE=DATE:20250801" in unfolded and "の締切" in unfolded


def _edit_period(tmp_path, start, end, extra=""):
    site = copy_site(tmp_path / "site", ("asahikawa",))
    p = site / DRAFT
    s = p.read_text(encoding="utf-8")
    s = s.replace('start = "令和７年７月１日"', f'start = "{start}"{extra}', 1)
    s = s.replace('end = "令和７年８月１日"', f'end = "{end}"', 1)
    p.write_text(s, encoding="utf-8")
    return site


def test_period_ending_before_it_starts_is_an_error(tmp_path):
    site = _edit_period(tmp_path, "令和７年８月１日", "令和７年７月１日")
    d = [d for d in pipeline.check(site).diagnostics if d.code == "E801"]
    assert d and str(d[0].span.path) == DRAFT


def test_short_period_warns_unless_a_reason_is_given(tmp_path):
    site = _edit_period(tmp_path, "令和７年７月１日", "令和７年７月２０日")
    assert [d for d in pipeline.check(site).diagnostics if d.code == "W802"]
    site2 = _edit_period(tmp_path / "b", "令和７年７月１日", "令和７年７月２０日",
                         '\nshort_reason = "法改正の施行日に間に合わせるため"')
    assert not [d for d in pipeline.check(site2).diagnostics if d.code == "W802"]
