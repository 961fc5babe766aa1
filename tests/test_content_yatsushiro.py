"""八代市 住民基本台帳に関する事務 重点項目評価書 (seed 000): hard cases as a resident sees them.

The source is a scrambled pdftotext extraction; each test pins one place where the reading
order had to be rebuilt (a value far from its label, a vertical 再委託, scattered 変更箇所
cells, checkboxes and selections of Ⅲ, 別添１) so that a regression in the content or the
form shows up on the built page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_copy, field, soup, text

REV = "yatsushiro/juki/2025-07-11/index.html"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return build_copy(tmp_path_factory, ("yatsushiro",))


@pytest.fixture(scope="module")
def page(out):
    return soup(out / REV)




def fold(s: str) -> str:
    """Fold whitespace as text() does (U+3000 included)."""
    return " ".join(s.split())


def value_after_heading(page, anchor: str) -> str:
    """Text of an item printed as a heading (`heading = true`): the block that follows it."""
    return text(field(page, anchor).find_next_sibling())


def date_of(tr) -> str:
    """The 変更日 cell of a 変更箇所 row, without a reading note under it."""
    return text(tr.select_one("td time"))


def checked(page, anchor: str) -> list[str]:
    """Labels of the ticked boxes of a checkbox item."""
    items = field(page, anchor).select("ul.checks li")
    return [text(li).split(" ", 1)[1] for li in items
            if li.select_one(".box")["aria-label"] == "チェックあり"]


def test_value_printed_before_its_label_sits_under_it(page):
    # ②事務の内容 is printed at seed lines 41-72, its label only at line 90.
    content = text(field(page, "I-1-2"))
    assert "住民基本台帳は、住民基本台帳法（昭和４２年法律第８１号。以下「住基法」という。）" in content
    assert "（10）個人番号カード等を用いた本人確認" in content
    # ③対象人数: "[ 10万人以上30万人未満" (l.96) with its choices at l.74-81.
    assert text(field(page, "I-1-3").select_one(".selected")) == "10万人以上30万人未満"


def test_eight_systems_and_three_files_in_printed_order(page):
    names = [text(field(page, f"I-2-sys-{i}-1").select_one("dd")) for i in (
        "kizon-juki", "juki-net", "atena-kanri", "chukan-server", "togo-atena",
        "jido-kofu", "conveni-kofu", "service-kensaku")]
    assert names[0] == "既存住民基本台帳システム"
    assert names[4] == "団体内統合宛名システム"      # printed before システム4 in the seed
    assert names[7] == "サービス検索・電子申請機能"
    assert len(page.select('[id^="I-2-sys-"][id$="-1"].field')) == 8
    for f, name in (("juki", "１　住民基本台帳ファイル"), ("honnin", "２　本人確認情報ファイル"),
                    ("sofusaki", "３　送付先情報ファイル")):
        assert value_after_heading(page, f"II-{f}-1") == fold(name)
        assert value_after_heading(page, f"III-{f}-1") == fold(name)


def test_unattributable_connection_checkboxes_are_marked_illegible(page):
    el = field(page, "I-2-sys-kizon-juki-3")
    assert "読み取れません" in text(el)
    assert not el.select("ul.checks")


def test_vertical_saiitaku_group_of_each_outsourcing_item(page):
    items = page.select('[id^="II-juki-4-itaku-"][id$="-sai"]')
    assert len(items) == 4
    sai = field(page, "II-juki-4-itaku-kizon-juki-unyo-sai")
    assert text(sai).startswith("再委託")
    assert text(field(page, "II-juki-4-itaku-kizon-juki-unyo-sai-4").select_one(".selected")) == "再委託しない"
    assert "キャリアリンク株式会社" in text(field(page, "II-juki-4-itaku-madoguchi-3"))
    assert "株式会社RKKCS" in text(field(page, "II-honnin-4-itaku-juki-net-unyo-3"))


def test_risk_selections_and_checkboxes_of_part_three(page):
    sel = field(page, "III-honnin-4-r-3").select_one(".selected")
    assert text(sel) == "再委託していない"
    assert text(field(page, "III-juki-7-r-2").select_one(".selected")) == "発生なし"
    assert checked(page, "III-juki-8-1") == ["自己点検", "内部監査"]
    acquire = field(page, "III-juki-6-none-acquire").select_one(".box")["aria-label"]
    provide = field(page, "III-juki-6-none-provide").select_one(".box")["aria-label"]
    assert (acquire, provide) == ("チェックあり", "チェックなし")
    assert checked(page, "II-sofusaki-2-4-2")[-1] == "その他（通知カード及び交付申請書の送付先の情報）"


def test_appendix_one_table_and_lists(page):
    rows = field(page, "A1-juki-2").select("tbody tr")
    assert len(rows) == 53
    assert [text(td) for td in rows[0].select("td")] == [
        "・宛名番号", "・住所_枝番２", "・本籍_都道府県", "・統合記載欄B類型1"]
    # l.2089 separates two cells by a single space only
    assert [text(td) for td in rows[18].select("td")][2:] == [
        "・転出先住所（予定）_地方公共団体コード", "・算定団体コード"]
    honnin = field(page, "A1-honnin-3").select("li")
    assert len(honnin) == 40 and text(honnin[8]) == "9．大字・小字コード"
    assert len(field(page, "A1-sofusaki-3").select("li")) == 67


def test_all_85_change_rows_with_resolved_dates(page):
    rows = page.select("table.changes tbody tr")
    assert len(rows) == 85
    dates = [date_of(r) for r in rows]
    assert dates.count("平成31年1月31日") == 31
    assert dates.count("令和7年7月11日") == 7
    assert dates[0] == "平成28年9月30日"


def test_change_row_whose_cells_are_scattered_over_the_page(page):
    # Ⅲ 送付先情報ファイル: 項目 l.3488, 変更前 l.3491, 変更後 l.3445-3446, 提出時期 l.3448.
    rows = page.select("table.changes tbody tr")
    row = next(r for r in rows if fold("（３　送付先情報ファイル）") in text(r.select_one("th"))
               and "自己点検" in text(r))
    cells = [text(td) for td in row.select("td")]
    assert cells[1] == "〇自己点検" and cells[2] == "〇自己点検 〇内部監査" and cells[3] == "事後"
    assert row.select_one("th a")["href"] == "#III-sofusaki-8-1"
    # the 令和1年 row on a mixed-date page, and a row with its 提出時期に係る説明
    kibi = next(r for r in rows if "（３）機微情報については" in text(r))
    assert date_of(kibi) == "令和1年10月16日"
    reasons = [r for r in rows if "番号法改正による変更で重要な変更に該当しない" in text(r)]
    assert len(reasons) == 10


def test_items_pointing_into_missing_attachments_say_so(page):
    for anchor in ("II-juki-5-teikyo-joho-shokaisha-2", "II-juki-5-iten-shinai-soshiki-0"):
        assert "別紙" in text(field(page, anchor)) and "含まれていません" in text(field(page, anchor))
    assert text(field(page, "II-juki-5-teikyo-gakko-kyoiku-0").select_one("dd")) == "八代市教育委員会学校教育課"


def test_provision_and_transfer_counts_read_as_the_form_prints_them(page):
    # 「提供を行っている（ 57 ）件」: the count sits in the box's parentheses, then 件.
    assert checked(page, "II-juki-5-1") == ["提供を行っている（57）件", "移転を行っている（16）件"]
    assert checked(page, "II-honnin-5-1") == ["提供を行っている（2）件"]


def test_text_cut_off_at_the_cell_edge_says_so(page):
    item = field(page, "I-1-2")
    assert "事務を委任する機構に対する情報の提供を含めて特定個人情報" in text(item)
    assert "原本の表の枠で文字が切れており" in text(item.select_one(".absent"))


def test_change_rows_cut_off_in_the_source_say_so(page):
    notes = [tr for tr in page.select("table.changes tr[id^=change-]")
             if "原本の表の枠で文字が切れており" in text(tr)]
    assert len(notes) == 8
    clipped_after = [tr for tr in notes if text(tr.find_all("td")[2]).find("個人番") >= 0
                     and "切れており" in text(tr.find_all("td")[2])]
    assert clipped_after, "the 変更後 cut off after 個人番 carries the note in its own cell"
