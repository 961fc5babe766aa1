"""旭川市 住民基本台帳関係事務 全項目評価書（案）: the hard cases of seed 001 as a resident sees them.

The source is a public-comment package whose PDF text came out scrambled: values far from their
labels, systems in reversed pairs, a vertical 再委託 label, 変更箇所 rows split over pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_copy, soup, text

DRAFT = "asahikawa/juki/2025-07-01/index.html"
OLD = "asahikawa/juki/2023-12-29/index.html"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return build_copy(tmp_path_factory, ("asahikawa",))


@pytest.fixture(scope="module")
def draft(out):
    return soup(out / DRAFT)


def field(page, anchor: str) -> str:
    el = page.find(id=anchor)
    assert el is not None, anchor
    box = el if el.name == "div" else el.find_parent(["div", "section"])
    return text(box)


def test_three_files_and_eight_systems(draft):
    systems = [el["id"] for el in draft.select("[id^='I-2-sys-'][id$='-1']")]
    assert len(systems) == 8
    assert "中間サーバー" in field(draft, "I-2-sys-chukan-server-1")
    # Ⅱ, 別添２ and Ⅲ each carry the three files, in the document's order
    for prefix in ("II", "A2", "III"):
        ids = [el["id"] for el in draft.select(f"[id^='{prefix}-'][id$='-1']")
               if el["id"].count("-") == 2]
        assert ids == [f"{prefix}-juki-1", f"{prefix}-honnin-1", f"{prefix}-sofusaki-1"], prefix


def test_agency_value_printed_before_its_label_is_on_the_cover(draft):
    # 行430 「旭川市長」 comes before the label 評価実施機関名 (行456) in the extraction
    assert "旭川市長" in field(draft, "cover-agency")
    assert "空欄" in field(draft, "cover-published")


def test_vertical_saiitaku_label_groups_items_7_to_9(draft):
    sec = draft.find(id="II-juki-4-itaku-kizon-unyo-re")
    assert sec.name.startswith("h") and text(sec) == "再委託"
    box = field(draft, "II-juki-4-itaku-kizon-unyo-re-7")
    assert "再委託する" in box
    assert "日本電気株式会社" in field(draft, "II-juki-4-itaku-kizon-unyo-6")
    # 委託事項3: the contractor is withheld, as printed
    assert "非公開" in field(draft, "II-juki-4-itaku-datacenter-6")


def test_network_connection_checkboxes_of_file_1(draft):
    acquire = draft.find(id="III-juki-6-none-acquire")
    provide = draft.find(id="III-juki-6-none-provide")
    assert acquire.select_one(".box")["aria-label"] == "チェックあり"
    assert provide.select_one(".box")["aria-label"] == "チェックなし"
    # risks 1-4 blank, risk 5 selected
    assert "空欄" in field(draft, "III-juki-6-r1-2")
    assert draft.find(id="III-juki-6-r5-2").select_one(".value").get_text() == "特に力を入れている"


def test_risk_selection_that_differs_from_the_rest(draft):
    # Ⅲ(2) ５. リスク３ is the file's only 「十分である」 in section 5 (行4384)
    value = draft.find(id="III-honnin-5-r3-2").select_one(".value")
    assert value.get_text() == "十分である"
    dead = draft.find(id="III-sofusaki-7-r1-10").select_one(".value")
    assert dead.get_text() == "保管していない"


def test_besshi_tables_are_attached_to_their_destinations(draft):
    t1 = draft.find(id="II-juki-5-teikyo-joho-teikyo-list").select("tbody tr")
    t2 = draft.find(id="II-juki-5-iten-bettei-list").select("tbody tr")
    t3 = draft.find(id="II-juki-5-iten-jorei-list").select("tbody tr")
    t3b = draft.find(id="II-juki-5-iten-jorei-list2").select("tbody tr")
    assert (len(t1), len(t2), len(t3), len(t3b)) == (60, 46, 21, 4)
    # 別紙1 row 14: a 提供先 cell that spans four lines in the extraction
    row14 = [td.get_text() for td in t1[13].find_all("td")]
    assert row14[0] == "14" and row14[2] == "53"
    assert row14[1].startswith("公営住宅法（昭和二十六年法律第百九十三号）") and row14[1].endswith("市町村長")


def test_changes_table_count_and_undated_draft_rows(draft):
    rows = draft.select("tr[id^='change-']")
    assert len(rows) == 159
    dates = [text(r.find("td")) for r in rows]
    assert dates.count("") == 83
    assert sum(d.startswith("令和5年12月29日") for d in dates) == 11


def test_change_row_reassembled_across_a_page_break(draft):
    # 行7961 (変更前) and 行7990–7991 (変更後) belong to one row whose 項目 is at 行7957
    row = next(r for r in draft.select("tr[id^='change-']")
               if r.find("th").get_text().startswith("Ⅱ（２）-４") and r.find("th").get_text().endswith("④"))
    cells = [text(td) for td in row.find_all("td")]
    assert cells[1] == "サーバー室にてシステムの直接操作"
    assert cells[2] == "本市庁舎内または施設設置のシステムの直接操作"
    assert cells[4].endswith("設置場所変更")


def test_reconstructed_version_restores_the_old_system_name(out, draft):
    old = soup(out / OLD)
    assert "復元した参考版" in " ".join(text(n) for n in old.select(".notice"))
    assert "中間サーバー" in field(draft, "I-2-sys-chukan-server-1")
    assert field(old, "I-2-sys-chukan-server-1").endswith("中間サーバ")
    assert "マイナンバーカード交付予約管理システム" in field(draft, "I-2-sys-kofu-yoyaku-1")
    assert "個人番号カード交付・予約管理システム" in field(old, "I-2-sys-kofu-yoyaku-1")


def test_comment_period_notice_keeps_its_channels(out):
    page = soup(out / "asahikawa/juki/iken-boshu/index.html")
    body = text(page.find("main"))
    assert "令和７年７月１日（火）～ 令和７年８月１日（金）" in body
    for channel in ("(1) 郵送又は持参", "(2) ファクシミリ送信", "(3) 電子メール（Ｅメール）送信",
                    "(4) 電子申請", "(5) その他"):
        assert channel in body
    assert body.index("(5) その他") < body.index("５ 意見提出手続の結果について")
