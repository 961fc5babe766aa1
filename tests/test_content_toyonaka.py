"""豊中市 住民基本台帳事務 全項目評価書 (seed 003): hard cases as a resident sees them.

The source is a scrambled pdftotext extraction of a 様式4 (平成30年5月) document: label cells,
value cells and checkbox grids come out in drawing order, the ⑤～⑨ cells of one 委託事項 sit
under the heading of the next one, the 提供先 blocks are interleaved, and the last page of the
変更箇所 table prints rows across page breaks. Each test pins one place where the reading order
had to be rebuilt, so that a regression in the content or in the form shows up on the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import build_copy, field, row, selected, soup, text

BASE = "toyonaka/juki"
REV = f"{BASE}/2023-03-15/index.html"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return build_copy(tmp_path_factory, ("toyonaka",))


@pytest.fixture(scope="module")
def page(out):
    return soup(out / REV)




def checked(page, anchor: str) -> list[str]:
    """Labels (with any bracketed text) of the ticked boxes of a checkbox item."""
    items = field(page, anchor).select("ul.checks li")
    return [text(li).split(" ", 1)[1] for li in items
            if li.select_one(".box")["aria-label"] == "チェックあり"]




def ids(page, pattern: str) -> set[str]:
    return {e["id"] for e in page.select("[id]") if re.fullmatch(pattern, e["id"])}


def test_ten_systems_three_files_and_every_outsourcing_provision_and_transfer(page):
    systems = [text(e) for e in page.select('[id^="I-2-sys-"][id$="-1"]')]
    assert len(systems) == 10
    assert "住民記録システム（既存住民基本台帳システム）" in systems[0]
    assert "申請管理システム" in systems[9] and "サービス検索・電子申請機能" in systems[8]
    assert ids(page, r"II-([a-z-]+)-1") == {"II-juki-1", "II-honnin-1", "II-sofusaki-1"}
    counts = {f: (len(ids(page, rf"II-{f}-4-itaku-[a-z-]+-0")),
                  len(ids(page, rf"II-{f}-5-teikyo-[a-z0-9-]+-0")),
                  len(ids(page, rf"II-{f}-5-iten-[a-z-]+-0")))
              for f in ("juki", "honnin", "sofusaki")}
    assert counts == {"juki": (4, 7, 1), "honnin": (1, 2, 0), "sofusaki": (1, 1, 0)}


def test_subcontract_cells_printed_under_the_next_heading_go_to_their_own_item(page):
    # 委託事項2's ⑤～⑨ (日本電気, 再委託する) are printed under the heading "委託事項3"; the
    # 変更箇所 (令和2年6月30日: 委託事項2 再委託しない→再委託する) pins them to 委託事項2.
    p = "II-juki-4-itaku-"
    assert "庁内連携システム・宛名システムの保守" in text(field(page, f"{p}chonai-renkei-hoshu-0"))
    assert "日本電気株式会社" in text(field(page, f"{p}chonai-renkei-hoshu-6"))
    assert selected(page, f"{p}chonai-renkei-hoshu-re-7") == "再委託する"
    assert "上記委託内容と同様" in text(field(page, f"{p}chonai-renkei-hoshu-re-9"))
    # 委託事項1 (令和3年6月30日: 富士ゼロックス→富士フイルム) does not subcontract.
    assert "富士フイルムシステムサービス株式会社" in text(field(page, f"{p}jumin-system-hoshu-6"))
    assert selected(page, f"{p}jumin-system-hoshu-re-7") == "再委託しない"
    assert "空欄" in text(field(page, f"{p}jumin-system-hoshu-re-8"))
    assert "富士ソフトサービスビューロ株式会社" in text(field(page, f"{p}madoguchi-card-6"))


def test_interleaved_provision_blocks_are_reassembled(page):
    p = "II-juki-5-teikyo-tenshutsusaki-"
    assert "転出先の市町村長" in text(field(page, f"{p}0"))
    assert "住基法 第24条の2第4項" in text(field(page, f"{p}1"))
    assert "転出証明書情報を通知する" in text(field(page, f"{p}2"))
    assert "他の市町村に特例転入届を行う時" in text(field(page, f"{p}7"))
    assert "転出届を行う時" in text(field(page, "II-juki-5-teikyo-tenshutsu-todokede-7"))
    assert checked(page, "II-juki-5-teikyo-kyoiku-iinkai-6") == ["その他（庁内連携システム）"]
    assert checked(page, "II-juki-5-has") == ["提供を行っている（65）件", "移転を行っている（45）件"]


def test_scattered_checkbox_grid_of_acquisition_methods(page):
    got = checked(page, "II-juki-3-2")
    assert got[:4] == ["紙", "電子記録媒体（フラッシュメモリを除く。）", "専用線", "庁内連携システム"]
    assert "情報提供ネットワークシステム" not in got
    assert got[-1] == "その他（住民基本台帳ネットワークシステム、サービス検索・電子申請機能）"
    assert checked(page, "II-honnin-3-1") == ["その他（自部署）"]


def test_network_connection_risks_follow_the_not_connected_boxes(page):
    # File (1) ticks 接続しない（入手）: risks 1-4 are blank, 5-7 are answered.
    assert field(page, "III-juki-6-none-acquire").select_one(".box")["aria-label"] == "チェックあり"
    assert field(page, "III-juki-6-none-provide").select_one(".box")["aria-label"] == "チェックなし"
    assert "空欄" in selected(page, "III-juki-6-r1-2")
    assert selected(page, "III-juki-6-r5-2") == "十分である"
    sufficient = [e for e in page.select('div.field[id^="III-"]')
                  if text(e.find("dt")).startswith("リスクへの対策は十分か")]
    assert len(sufficient) == 66
    values = [text(e.select_one("p.selected")) for e in sufficient]
    assert values.count("十分である") == 48
    assert selected(page, "III-sofusaki-7-r1-10") == "保管していない"
    assert selected(page, "III-juki-7-r1-9") == "発生なし"


def test_attachment_tables_keep_every_row(page):
    b1 = field(page, "II-juki-5-teikyo-bangoho-19-7-list").select("tbody tr")
    b2 = field(page, "II-juki-5-iten-dogitsu-kikan-list").select("tbody tr")
    b3 = field(page, "II-juki-5-iten-dogitsu-kikan-list2").select("tbody tr")
    assert (len(b1), len(b2), len(b3)) == (59, 39, 6)
    assert [text(c) for c in b1[46].find_all("td")][:4] == [
        "47", "農林漁業団体職員共済組合", "102", "第50条（削除）"]
    assert [text(c) for c in b2[31].find_all("td")][:3] == [
        "32", "地域共生課（個人番号関係事務実施者）", "69"]


def test_what_the_source_lost_is_marked(page):
    assert "画像" in text(field(page, "A1-1"))
    assert "含まれていません" in text(field(page, "A2-juki-1"))
    assert "1 住民票コード" in text(field(page, "A2-honnin-1"))
    assert "61 外字パターン" in text(field(page, "A2-sofusaki-1"))
    assert "空欄" in text(field(page, "cover-published"))


def test_every_change_row_including_the_ones_split_across_pages(page):
    assert len(page.select('tr[id^="change-"]')) == 160
    # 結果 continues on the next page as its own row: 変更後 says 前ページ参照.
    cont = row(page, 50)
    assert cont[2].startswith("（前ページの続き）") and cont[3] == "前ページ参照"
    # Both cells on the 提出時期 line, split at the space between them.
    assert row(page, 109)[2:5] == [
        "富士ゼロックスシステムサービス株式会社", "富士フイルムシステムサービス株式会社", "事後"]
    # 令和5年3月15日, Ⅲ-２ リスク２: its 変更前 is printed before the row's date, its 変更後
    # after the next row; only the 変更後 has the サービス検索・電子申請機能 bullets.
    r2 = row(page, 151)
    assert r2[0] == "令和5年3月15日" and r2[1].startswith("Ⅲ-２-リスク２-不適切な方法")
    assert "サービス検索" not in r2[2] and "サービス検索" in r2[3]
