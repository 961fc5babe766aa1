"""岡山市 個人住民税に関する課税事務 全項目評価書 (seed 002): hard cases as a resident sees them.

The source is a scrambled pdftotext extraction of a 様式4 (令和6年10月) document: values printed
before their labels, a vertical 再委託 label, checkbox grids split into fragments, a 変更箇所 table
whose cells land far from their rows. Each test pins one place where the reading order had to
be rebuilt, so that a regression in the content or in the form shows up on the built page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import build_copy, field, row, selected, soup, text

BASE = "okayama/kojin-juminzei"
REV = f"{BASE}/2025-04-01/index.html"
FILE = "kojin-juminzei"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return build_copy(tmp_path_factory, ("okayama",))


@pytest.fixture(scope="module")
def page(out):
    return soup(out / REV)


@pytest.fixture(scope="module")
def changes(out):
    return soup(out / f"{BASE}/changes/index.html")




def checked(page, anchor: str) -> list[str]:
    """Labels (with any bracketed text) of the ticked boxes of a checkbox item."""
    items = field(page, anchor).select("ul.checks li")
    return [text(li).split(" ", 1)[1] for li in items
            if li.select_one(".box")["aria-label"] == "チェックあり"]


def fold(s: str) -> str:
    """Fold whitespace as text() does (U+3000 included)."""
    return " ".join(s.split())






def test_summary_printed_before_its_label_sits_under_it(page):
    # Ⅰ１．②事務の内容 is printed at seed lines 61-103, its label only at line 110.
    content = text(field(page, "I-1-2"))
    assert content.startswith("② 事務の内容")
    assert "個人住民税は、賦課期日（１月１日）時点に本市内に住所を有する個人又は" in content
    assert "（※２）セキュリティの観点により" in content
    # …and it is not left in the item printed just before it.
    assert "賦課期日" not in text(field(page, "I-1-1"))


def test_ten_systems_one_file_and_every_outsourcing_provision_and_transfer(page):
    systems = page.select('[id^="I-2-sys-"][id$="-1"]')
    names = [text(s) for s in systems]
    assert len(names) == 10
    assert "マイナポータル申請管理" in names[-1]
    assert "市税証明書コンビニ交付システム" in names[8]
    files = {m.group(1) for e in page.select('[id^="II-"]')
             if (m := re.fullmatch(r"II-([a-z-]+)-1", e["id"]))}
    assert files == {FILE}
    assert "個人住民税特定個人情報ファイル" in text(field(page, f"II-{FILE}-1").find_next_sibling())
    p = f"II-{FILE}-"
    itaku = {e["id"] for e in page.select(f'[id^="{p}4-itaku-"][id$="-0"]')}
    teikyo = {e["id"] for e in page.select(f'[id^="{p}5-teikyo-"][id$="-0"]')}
    iten = {e["id"] for e in page.select(f'[id^="{p}5-iten-"][id$="-0"]')}
    assert (len(itaku), len(teikyo), len(iten)) == (3, 5, 15)
    # 移転先4 keeps the source's own spelling (the 変更箇所 row spells it 高齢福祉部).
    assert "保健福祉局高齢者福祉部介護保険課" in text(field(page, f"{p}5-iten-kaigo-hoken-0"))


def test_vertical_saiitaku_label_does_not_lose_the_subcontract_items(page):
    # "再 / 委 / 託" is printed as three one-character lines; ⑦⑧⑨ follow in scrambled order.
    hoshu = f"II-{FILE}-4-itaku-hoshu"
    assert "富士通岡山市市税システム共同企業体" in text(field(page, f"{hoshu}-6"))
    assert selected(page, f"{hoshu}-re-7") == "再委託する"
    assert "委託先と法に基づく個人情報の取扱委託に関する覚書" in text(field(page, f"{hoshu}-re-8"))
    assert "ハードウェア・ソフトウェアの保守作業" in text(field(page, f"{hoshu}-re-9"))
    punch = f"II-{FILE}-4-itaku-data-punch"
    assert selected(page, f"{punch}-re-7") == "再委託しない"
    assert "空欄" in text(field(page, f"{punch}-re-8"))


def test_scattered_checkbox_grids(page):
    # ②入手方法: "[ ○ ] 紙 [ ○" + "] 電子記録媒体…" are two lines apart; その他 is far below.
    got = checked(page, f"II-{FILE}-3-2")
    assert got[:2] == ["紙", "電子記録媒体（フラッシュメモリを除く。）"]
    assert "フラッシュメモリ" not in got
    assert got[-1] == "その他（eLTAX、住民基本台帳ネットワークシステム、マイナポータル申請管理）"
    # 提供先2 ⑥提供方法: the grid's tail is printed after ⑦; eＬＴＡＸ keeps its mixed width.
    assert checked(page, f"II-{FILE}-5-teikyo-tokucho-gimusha-6") == ["紙", "その他（eＬＴＡＸ）"]
    # 委託事項2 ④: only フラッシュメモリ and 紙 are ticked.
    assert checked(page, f"II-{FILE}-4-itaku-data-punch-4") == ["フラッシュメモリ", "紙"]


def test_risk_selections_and_the_serious_incident(page):
    r1 = f"III-{FILE}-7-r1"
    assert selected(page, f"{r1}-1") == "政府機関ではない"
    assert selected(page, f"{r1}-4") == "十分に周知している"
    assert selected(page, f"{r1}-9") == "発生あり"
    assert "R6.3　旧システムから新システムへのデータ移行不備" in field(page, f"{r1}-9a").get_text()
    assert "今後、ハガキ出力前にはデータの妥当性の確認を行う。" in text(field(page, f"{r1}-9b"))
    sufficient = [e for e in page.select('div.field[id^="III-"]')
                  if text(e.find("dt")).startswith("リスクへの対策は十分か")]
    assert len(sufficient) == 22
    assert {text(e.select_one("p.selected")) for e in sufficient} == {"十分である"}


def test_attachments_the_source_does_not_contain_are_marked_lost(page):
    assert "別紙" in text(field(page, f"A2-{FILE}-1"))
    assert "含まれていません" in text(field(page, f"A2-{FILE}-1"))
    assert "含まれていません" in text(field(page, f"II-{FILE}-5-teikyo-joho-teikyo-nw-list"))
    assert "図" in text(field(page, "A1-1")) and "画像" in text(field(page, "A1-1"))


def test_every_change_row_is_there_and_the_undated_ones_stay_undated(page, changes):
    assert len(page.select('tr[id^="change-"]')) == 162
    assert len(changes.select('tr[id^="change-"]')) == 162
    # The last 28 rows carry no 変更日 in the source (merged cells): they are not given one.
    groups = changes.select("nav li")
    assert any("（28行）" in text(li) for li in groups)


def test_change_row_whose_cells_are_printed_before_the_table_caption(page):
    # Row 2 (平成28年1月1日, Ⅰ６．②): its 変更後 is printed at seed lines 3252-3273, before
    # "（別添３）変更箇所"; row 3's date 平成28年4月1日 sits between them.
    cells = row(page, 2)
    assert cells[0] == "平成28年1月1日"
    assert cells[2].startswith(fold("番号法　第19条（特定個人情報の提供の制限）第7号　別表第2"))
    assert cells[3].startswith(fold("【照会】番号法　第19条（特定個人情報の提供の制限）第7号　別表第2　27項"))
    assert cells[4:] == ["事後", "③その他の項目の変更であり事前の提出・公表が義務づけられない。"]
    three = row(page, 3)
    assert three[0] == "平成28年4月1日"
    assert three[3] == fold("②市民税担当課長　二宮　誠")


def test_change_rows_fused_on_one_line_are_split_into_cells(page):
    # "［　　］生活保護・社会福祉関係情報 ［  ○ ］生活保護・社会福祉関係情報 事後 記載の整理"
    cells = row(page, 61)
    assert cells[2:] == ["［ ］生活保護・社会福祉関係情報", "［ ○ ］生活保護・社会福祉関係情報",
                         "事後", "記載の整理"]
    # 委託事項3 ⑥: 株式会社両備システムズ → 未決定 (the body says 未定).
    assert row(page, 97)[2:4] == ["株式会社両備システムズ", "未決定"]
    assert "未定" in text(field(page, f"II-{FILE}-4-itaku-kyuho-nyuryoku-6"))


def test_the_draft_is_labelled_as_such(page):
    assert "案" in page.title.string
    assert "空欄" in text(field(page, "cover-published"))
    assert "令和7年4月1日" in text(field(page, "VI-1-1"))


def test_a_paragraph_keeps_the_full_width_space_it_opens_with(page):
    # The source indents each step of ②事務の内容 with a full-width space (seed 002, line 68);
    # the Markdown parser strips it from a paragraph's first line unless told otherwise.
    paragraphs = [p.get_text() for p in field(page, "I-1-2").select("p")]
    assert "\u3000給与支払報告書、公的年金等支払報告書、確定申告書、住民税申告書等を収集する。" in paragraphs
    assert "①課税資料の収集" in paragraphs  # a line without one stays as it is
