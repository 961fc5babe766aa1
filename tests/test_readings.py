"""Readings (解釈・推定): what the page shows that the source does not print says so.

Issue 17's findings, each as a resident meets it on the built site (the page, the 変更箇所
page, the JSON and CSV), the `[readings]` diagnostics a staff member gets for a mistake, and
the note every reading leaves in `piasite check` for a reviewer.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, copy_site, field, soup, text

from piasite import pipeline
from piasite.diagnostics import Severity

OKAYAMA = "okayama/kojin-juminzei/2025-04-01"
YATSUSHIRO = "yatsushiro/juki/2025-07-11"
ASAHIKAWA_DRAFT = "asahikawa/juki/2025-07-01"


def page_of(built_site: Path, rev: str):
    return soup(built_site / rev / "index.html")


def data_of(built_site: Path, rev: str) -> dict:
    return json.loads((built_site / f"{rev}.json").read_text(encoding="utf-8"))


def plain(el) -> str:
    """What a sighted reader sees of `el`: its text run together, without screen-reader-only
    words (the 追加：/削除： of a diff), whitespace folded."""
    el = copy.copy(el)
    for hidden in el.select(".vh"):
        hidden.decompose()
    return " ".join(el.get_text("").split())


def readings_next_to(el) -> list[str]:
    """The reading notes under `el`, as a reader sees each line (「（読み取り）」 and the reason)."""
    return [plain(p) for p in el.select("p.reading")]


def ticked(page, anchor: str) -> list[str]:
    return [text(li).split(" ", 1)[1] for li in field(page, anchor).select("ul.checks li")
            if li.select_one(".box")["aria-label"] == "チェックあり"]


# --- 岡山市: the draft status is a reading ------------------------------------------------


def test_okayama_says_that_calling_it_a_draft_is_a_reading(built_site):
    page = page_of(built_site, OKAYAMA)
    assert "令和7年4月1日時点の案" in text(page.select_one(".version-line"))
    (note,) = readings_next_to(page.select_one("#version-readings"))
    assert note.startswith("（読み取り）「案」としていること：原本は自らを「案」とは書いていません。")
    assert "公表日の記載がなく" in note and "25・3230 行目" in note
    data = data_of(built_site, OKAYAMA)
    assert data["status"] == "draft"
    assert data["readings"]["status"]["code"] == "draft-unstated"
    assert data["readings"]["status"]["source_lines"] == [25, 3230]


# --- 岡山市 システム3〜6 ③: ticks that cannot be placed are not shown as ticks ----------------


@pytest.mark.parametrize(("system", "kept"), [
    ("image-kanri", ["その他（eLTAX、国税連携支援システム）"]),
    ("kokuzei-renkei", ["その他（eLTAX、イメージ管理システム）"]),  # not 税務 (lone ○, l.359)
    ("kyotsu-kiban", ["その他（中間サーバー、庁内各業務システム）"]),
    ("chukan-server", ["情報提供ネットワークシステム", "庁内連携システム"]),  # not 宛名システム等
])
def test_okayama_ticks_that_cannot_be_placed_are_marked_unreadable(built_site, system, kept):
    page = page_of(built_site, OKAYAMA)
    anchor = f"I-2-sys-{system}-3"
    assert ticked(page, anchor) == kept
    (note,) = readings_next_to(field(page, anchor))
    assert "ほかの欄のチェックの有無は読み取れません" in note
    item = next(i for i in data_of(built_site, OKAYAMA)["items"] if i["id"] == anchor)
    assert item["reading"]["code"] == "checks-partial"


def test_okayama_other_systems_connections_say_they_need_checking(built_site):
    page = page_of(built_site, OKAYAMA)
    for system in ("atena", "juminzei", "eltax", "juki-net", "conveni-kofu", "mynaportal"):
        (note,) = readings_next_to(field(page, f"I-2-sys-{system}-3"))
        assert "原本での確認が必要です" in note, system


def test_every_reading_of_a_version_is_listed_near_the_top(built_site):
    page = page_of(built_site, OKAYAMA)
    listing = page.select_one("details.readings-list")
    assert "原本に書かれていない読み取り（11件）" in text(listing.summary)
    links = {a["href"]: text(a) for a in listing.select("a")}
    assert links["#version-readings"] == "版の状態（公表版・案）"
    assert links["#I-2-sys-kokuzei-renkei-3"] == "システム4 ③ 他のシステムとの接続"
    for href in links:
        assert page.find(id=href[1:]) is not None, href


# --- 旭川市: each channel says only what the notice prints under it ------------------------


def test_asahikawa_channels_show_what_the_notice_prints_under_each(built_site):
    section = page_of(built_site, ASAHIKAWA_DRAFT).select_one("section.consultation")
    channels = {text(li.strong): li for li in section.select("ul.channels li")}
    assert text(channels["(1) 郵送又は持参"]) == "(1) 郵送又は持参"
    assert text(channels["(2) ファクシミリ送信"]) == "(2) ファクシミリ送信"
    for label in ("(3) 電子メール（Ｅメール）送信", "(4) 電子申請"):
        assert channels[label].find("a") is None, label  # the notice gives no address there
        assert "旭川市ホームページの意見提出手続のページ" in text(channels[label])
    assert "表から氏名、住所等が見えないようにしてください" in text(channels["(5) その他"])
    # The address, FAX and e-mail are in the contact block (３), placed before the channels (４).
    address = section.find("address")
    assert "〒０７０－８５２５" in text(address) and "ＦＡＸ：（０１６６）２４－６９６７" in text(address)
    assert address.select_one('a[href="mailto:simin@city.asahikawa.lg.jp"]')
    assert section.find_all(["address", "ul"]).index(address) < \
        section.find_all(["address", "ul"]).index(section.select_one("ul.channels"))
    assert not section.select('a[href^="https://www.city.asahikawa"]')


# --- reconstructed versions: the 様式 edition shown is not theirs ---------------------------


@pytest.mark.parametrize(("rev", "edition", "words", "code"), [
    ("midori/juki/2023-08-18", "令和7年5月", "「様式変更に伴う項目追加」の行があるため、当時はそれより前の版の様式",
     "edition-older"),
    ("asahikawa/juki/2023-12-29", "令和6年10月", "当時の様式の版は原本に書かれておらず、わかりません",
     "edition-unknown"),
])
def test_reconstructed_versions_say_their_edition_is_not_known(built_site, rev, edition, words,
                                                              code):
    page = page_of(built_site, rev)
    assert f"（{edition}）" in text(page.select_one(".version-line"))
    (note,) = readings_next_to(page.select_one("#version-readings"))
    assert note.startswith(f"（読み取り）様式の版（{edition}）：") and words in note
    assert data_of(built_site, rev)["readings"]["form"]["code"] == code


# --- 八代市: the 提供・移転 counts and the 変更日 ------------------------------------------


def test_yatsushiro_counts_read_from_a_scrambled_layout_say_so(built_site):
    page = page_of(built_site, YATSUSHIRO)
    item = field(page, "II-juki-5-1")
    assert "提供を行っている（57）件" in text(item) and "移転を行っている（16）件" in text(item)
    (note,) = readings_next_to(item)
    assert "崩れた並びから読み取ったもの" in note and "1016・1036・1049・3886 行目" in note
    data = next(i for i in data_of(built_site, YATSUSHIRO)["items"] if i["id"] == "II-juki-5-1")
    assert data["reading"]["code"] == "layout"


def test_yatsushiro_change_dates_are_readings(built_site):
    table_note = "変更日：原本の抽出結果では、変更箇所の表の変更日がページごとにまとめて出ており"
    version = page_of(built_site, YATSUSHIRO)
    assert any(table_note in n for n in readings_next_to(version.select_one(".changes-section")))
    # Row 8 sits on a page whose dates differ: it says so in its own 変更日 cell.
    row8 = version.find(id="change-8").select_one("td")
    assert text(row8.find("time")) == "平成31年1月31日"
    assert "ページ内の変更日の並び順と記載の内容から推定" in " ".join(readings_next_to(row8))
    changes = soup(built_site / "yatsushiro/juki/changes/index.html")
    assert any(table_note in n for n in readings_next_to(changes.find("main")))
    assert "（読み取り）変更日：" in plain(changes.find(id="change-8"))
    for n in (16, 29):  # pages of one date: the table-wide note covers them
        assert not changes.find(id=f"change-{n}").select("p.reading")
    data = data_of(built_site, YATSUSHIRO)
    assert data["readings"]["changes.date"]["code"] == "date-block"
    assert data["changes"][7]["readings"]["date"]["code"] == "date-order"
    assert data["changes"][15]["readings"] == {}
    rows = list(csv.DictReader(io.StringIO(
        (built_site / "yatsushiro/juki/changes.csv").read_text(encoding="utf-8-sig"))))
    for n in (8, 16, 29):
        assert rows[n - 1]["読み取り"].startswith("変更日: "), n
    assert "並び順" in rows[7]["読み取り"] and "並び順" not in rows[15]["読み取り"]


# --- line wraps joined as the source's text runs -------------------------------------------


def test_yatsushiro_wrapped_parenthesis_is_one_paragraph(built_site):
    paras = [plain(p) for p in field(page_of(built_site, YATSUSHIRO), "II-juki-3-5-2").select("p")]
    assert "２ 通知カード又は個人番号カードその他の本人確認書類により適正な本人確認を行う（上記⑤の２、４）" \
        in paras
    assert "４）" not in paras


@pytest.mark.parametrize(("changes", "row", "joined"), [
    ("asahikawa/juki/changes/index.html", 58, "３７.旧氏　漢字、３８．旧氏　外字数"),
    ("toyonaka/juki/changes/index.html", 32,
     "（住民記録システム→市町村ＣＳ又は電子記録媒体→個人番号カード管理システム（機構））。"),
])
def test_change_rows_keep_a_wrapped_phrase_whole(built_site, changes, row, joined):
    after = soup(built_site / changes).find(id=f"change-{row}").select("td.diff-text")[1]
    assert " ".join(joined.split()) in plain(after)


# --- check: every reading is a note with its position; notes never fail --strict -----------


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "piasite", *args], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8")


def test_check_lists_every_reading_with_its_position():
    proc = _run("check", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    notes = [line for line in lines if ": note[I101]: " in line]
    summary = next(line for line in lines if line.startswith("エラー "))
    assert summary.endswith(f"、読み取り {len(notes)} 件")
    assert len(notes) == 44
    for line in notes:
        assert re.match(r"^content/\S+:\d+:\d+: note\[I101\]: .+は原本に書かれていない読み取りです", line)
    okayama = "content/okayama/kojin-juminzei/2025-04-01/index.md"
    status_line = (REPO_ROOT / okayama).read_text(encoding="utf-8").split("\n").index(
        'status = { reason = "draft-unstated", lines = [25, 3230] }') + 1
    assert any(line.startswith(f"{okayama}:{status_line}:1: note[I101]: 版の状態（公表版・案）")
               for line in notes)
    assert sum("変更箇所 8 行目の「date」" in line for line in notes) == 1


def test_notes_do_not_make_strict_fail(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(REPO_ROOT / "tests/sites/invalid/_base", site)
    rev = site / "content/midori/juki/2025-12-12.md"
    own_words = "公表日の欄の文字がかすれており、日付は前後の記載から読んだ。"
    rev.write_text(rev.read_text(encoding="utf-8").replace(
        "\n+++\n", f'\n\n[readings]\n"II-1-2" = "layout"\n'
        f'status = {{ reason = "{own_words}", lines = [20] }}\n+++\n', 1), encoding="utf-8")
    proc = _run("check", "--site", ".", "--strict", cwd=site)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("note[I101]") == 2
    assert "エラー 0 件、警告 0 件、読み取り 2 件" in proc.stderr
    built = _run("build", "--site", ".", "--strict", "--now", "2025-12-20", cwd=site)
    assert built.returncode == 0, built.stderr
    page = soup(site / "output/midori/juki/2025-12-12/index.html")
    item = field(page, "II-1-2")
    assert "（読み取り）原本の抽出結果ではこの欄の文字の並びが崩れており" in readings_next_to(item)[0]
    # The content's own sentence is printed as written, with the lines it rests on.
    assert readings_next_to(page.select_one("#version-readings")) == [
        f"（読み取り）「公表版」としていること：{own_words}（取込元の資料の 20 行目）"]
    data = json.loads((site / "output/midori/juki/2025-12-12.json").read_text(encoding="utf-8"))
    assert data["readings"]["status"] == {"code": None, "text": own_words, "source_lines": [20],
                                          "source": data["readings"]["status"]["source"]}


# --- [readings] mistakes: positioned diagnostics, never a traceback -------------------------

REV = "content/midori/juki/2025-12-12.md"
CHANGES = "content/midori/juki/2025-12-12.changes.toml"

# (id, file, the line written, code, part of the message)
MISTAKES = [
    ("unknown-item", REV, '"II-9-9" = "layout"', "E101", "II-9-9"),
    ("not-a-reason", REV, '"II-1-2" = 3', "E102", "理由"),
    ("bad-lines", REV, '"II-1-2" = { reason = "layout", lines = ["139"] }', "E102", "lines"),
    ("no-reason", REV, '"II-1-2" = { lines = [139] }', "E103", "reason"),
    ("empty-reason", REV, '"II-1-2" = ""', "E103", "理由が空"),
    ("unknown-code", REV, '"II-1-2" = "layuot"', "E104", "layuot"),
    ("unknown-key", REV, '"II-1-2" = { reason = "layout", line = [139] }', "E101", "line"),
    ("changes-not-a-table", REV, 'changes = "date-block"', "E102", "readings.changes"),
    ("changes-unknown-cell", REV, 'changes = { day = "date-block" }', "E101", "day"),
    ("row-not-a-table", CHANGES, 'readings = "date-order"', "E102", "readings"),
    ("row-unknown-cell", CHANGES, 'readings = { day = "date-order" }', "E101", "day"),
    ("row-wrong-type", CHANGES, 'readings = { date = 1 }', "E102", "date"),
]


@pytest.mark.parametrize("case", MISTAKES, ids=[c[0] for c in MISTAKES])
def test_a_reading_mistake_points_at_its_line(tmp_path, case):
    _, rel, written, code, words = case
    site = copy_site(tmp_path / "site")
    path = site / rel
    src = path.read_text(encoding="utf-8")
    if rel == REV:
        src = src.replace("\n[labels]\n", f"\n[readings]\n{written}\n\n[labels]\n", 1)
    else:  # into the first row, after its date
        src = src.replace('date = "平成27年8月25日"\n', f'date = "平成27年8月25日"\n{written}\n', 1)
    path.write_text(src, encoding="utf-8")
    line = src.split("\n").index(written) + 1
    result = pipeline.check(site)
    found = [d for d in result.diagnostics if d.code == code and str(d.span.path) == rel]
    assert found, [str(d) for d in result.diagnostics if d.severity is Severity.ERROR]
    assert found[0].span.line == line, str(found[0])
    assert words in found[0].message and found[0].severity is Severity.ERROR
    if code == "E104":
        assert "layout" in (found[0].hint or "")


def test_readings_that_are_not_a_table(tmp_path):
    site = copy_site(tmp_path / "site")
    path = site / REV
    src = path.read_text(encoding="utf-8").replace(
        'status = "published"\n', 'status = "published"\nreadings = "layout"\n', 1)
    path.write_text(src, encoding="utf-8")
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E102")
    assert (str(d.span.path), d.span.line) == (REV, src.split("\n").index('readings = "layout"') + 1)
