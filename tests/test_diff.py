"""新旧対照表: items align by id, changed 字句 are marked as a reader would underline them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import copy_site, soup, text

from piasite import diff, pipeline
from piasite.diff import inline_diff
from piasite.load import load

HERE = Path(__file__).parent


def changed(segs, op):
    return [s.text.strip() for s in segs if s.op == op]


@pytest.mark.parametrize(("old", "new", "deleted", "inserted"), [
    ("又は", "若しくは", ["又は"], ["若しくは"]),
    ("令和5年7月1日 時点", "令和7年11月1日 時点", ["令和5年7月1日"], ["令和7年11月1日"]),
    ("本人又は本人の代理人から書面により行い、", "本人若しくはその代理人から書面又は電子申請により行い、",
     ["又は本人の"], ["若しくはその", "又は電子申請"]),
    ("第19条第7号", "第19条第8号", ["7"], ["8"]),
    ("市民課長 斎藤 典之", "市民課長 藤生 智子", ["斎藤 典之"], ["藤生 智子"]),
    # a term replaced by another is marked whole, not around the character they share
    ("通知カードを送付する", "個人番号通知書を送付する", ["通知カード"], ["個人番号通知書"]),
    # no one-character island (の) left between two changes
    ("住民基本台帳の作成", "住民票の記載事項", ["住民基本台帳の作成"], ["住民票の記載事項"]),
    ("６１、６２、６３", "６３", ["６１、６２、"], []),
])
def test_inline_diff_marks_whole_words(old, new, deleted, inserted):
    left, right = inline_diff(old, new)
    assert changed(left, "delete") == deleted
    assert changed(right, "insert") == inserted
    assert "".join(s.text for s in left) == old and "".join(s.text for s in right) == new


def test_a_very_long_text_is_compared_whole():
    # more than the 49,149 bytes Sudachi accepts at once, without a 。 to cut at
    old = "".join(chr(0x4E00 + i) for i in range(20_000)) + "を作成する"
    left, right = inline_diff(old, old.replace("作成", "調製"))
    assert changed(left, "delete") == ["作成"] and changed(right, "insert") == ["調製"]
    assert "".join(s.text for s in left) == old


def test_texts_are_cut_as_sudachi_cuts_them_whole():
    # _words cuts a text sentence by sentence (each sentence once, for the text and its
    # edited self): the words must be those of the whole text, on every 変更箇所 text of the
    # bundled site.
    from sudachipy import Dictionary, SplitMode

    site, _ = load(HERE.parent)
    texts = {t for a in site.affairs() for rev in a.revisions for row in rev.changes
             for t in (row.before, row.after) if "。" in t.rstrip("。")}
    assert len(texts) > 200
    whole = Dictionary(dict="core").tokenizer(SplitMode.B)
    diff.forget()
    for t in sorted(texts):
        assert diff._words(t) == [m.surface() for m in whole.tokenize(t)], t


def test_the_compiled_matcher_marks_what_difflib_marks(monkeypatch):
    # diff.py aligns with cydifflib where it has a wheel and with difflib elsewhere: a site
    # must show the same 新旧対照表 on either, so every changed 変更箇所 row and every version
    # pair of the bundled site is compared both ways.
    import difflib

    pytest.importorskip("cydifflib")
    assert diff.SequenceMatcher is not difflib.SequenceMatcher
    site, _ = load(HERE.parent)
    texts = {(row.before, row.after) for a in site.affairs() for rev in a.revisions
             for row in rev.changes if row.before != row.after}
    for a in site.affairs():
        for old, new in diff.pairs(a):
            old_items = {it.anchor: diff.item_text(it) for it, _ in diff._leaves(old.items)}
            texts |= {(old_items[it.anchor], t) for it, _ in diff._leaves(new.items)
                      if it.anchor in old_items
                      and (t := diff.item_text(it)) != old_items[it.anchor]}
    assert len(texts) > 500
    compiled = {t: inline_diff(*t) for t in sorted(texts)}
    monkeypatch.setattr(diff, "SequenceMatcher", difflib.SequenceMatcher)
    marked = [t for t in sorted(texts) if inline_diff(*t) != compiled[t]]
    assert marked == []
    assert sum(any(s.op != "equal" for s in compiled[t][1]) for t in texts) > 400


def test_placeholder_before_means_everything_is_new():
    left, right = inline_diff("—", "項目の追加")
    assert changed(right, "insert") == ["項目の追加"] and not changed(left, "delete")


@pytest.fixture(scope="module")
def midori(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("diff") / "site")
    out = site / "output"
    assert pipeline.build(site, out, now="2025-12-20").wrote
    return out


DIFF = "midori/juki/diff/2023-08-18..2025-12-12/index.html"


def test_midori_date_change_marks_the_date_only(midori):
    row = soup(midori / DIFF).find(id="d-II-1-2")
    new, old = row.find_all("td")
    assert [text(i) for i in new.find_all("ins")] == ["追加： 令和7年11月1日"]
    assert [text(d) for d in old.find_all("del")] == ["削除： 令和5年7月1日"]
    assert "時点" in text(new) and "時点" not in text(new.ins)


def test_midori_added_system_and_added_items(midori):
    page = soup(midori / DIFF)
    ins = page.find(id="d-I-1-3").find_all("td")[0].ins
    assert "8. 番号連携システム" in text(ins)
    for anchor in ("IV-8-2", "IV-11-1", "IV-11-3"):
        new, old = page.find(id=f"d-{anchor}").find_all("td")
        assert text(old) == "（新設）" and new.ins is not None


def test_columns_captions_and_summary(midori):
    page = soup(midori / DIFF)
    table = page.select_one("table.diff")
    assert "傍線部分は変更部分" in text(table.caption)
    heads = [text(th) for th in table.thead.find_all("th")]
    assert heads[1].startswith("変更後") and heads[2].startswith("変更前")
    assert all(th.get("scope") == "col" for th in table.thead.find_all("th"))
    summary = page.select_one(".diff-summary")
    assert "変更された項目は 8件" in text(summary)
    links = [a["href"] for a in summary.select(".changed-list a")]
    assert "#d-II-1-2" in links and all(page.find(id=h[1:]) for h in links)
    folded = page.select("tr.folded details")
    assert folded and "変更のない項目" in text(folded[0].summary)


def test_single_column_reading(midori):
    page = soup(midori / DIFF.replace("index.html", "inline/index.html"))
    sections = page.select("section.inline-change")
    assert len(sections) == 8 and not page.find("table")


def test_diff_linked_from_revisions_and_changes_page(midori):
    for rel in ("midori/juki/2025-12-12/index.html", "midori/juki/2023-08-18/index.html",
                "midori/juki/changes/index.html"):
        hrefs = [a["href"] for a in soup(midori / rel).find_all("a", href=True)]
        assert "/midori/juki/diff/2023-08-18..2025-12-12/" in hrefs, rel
    row = soup(midori / "midori/juki/changes/index.html").find(id="change-21")
    assert row.find("a", string="新旧対照表で見る")["href"].endswith("#d-II-1-2")
    assert [text(i) for i in row.find_all("ins")] == ["追加： 令和7年11月1日"]


def test_changes_page_notes_rows_whose_before_and_after_are_the_same(midori):
    row = soup(midori / "midori/juki/changes/index.html").find(id="change-9")
    assert "変更前と変更後の記載が同一です" in text(row) and not row.find("ins")


@pytest.fixture(scope="module")
def repeat_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("rs") / "site"
    shutil.copytree(HERE / "sites" / "repeat", site)
    result = pipeline.build(site, site / "output")
    assert result.wrote, [str(d) for d in result.diagnostics]
    return site


def test_items_align_by_id_not_by_position(repeat_site):
    # 2024: [kizon, conveni]; 2025: [chukan, kizon]: kizon moved from システム1 to システム2.
    page = soup(repeat_site / "output/testcity/juki/diff/2024-04-01..2025-07-01/index.html")
    assert page.find(id="d-I-2-sys-kizon-1") is None  # its name did not change
    kizon = page.find(id="d-I-2-sys-kizon-2")
    assert [text(i) for i in kizon.find_all("ins")] == ["追加： 又は照会"]
    removed = page.find(id="d-I-2-sys-conveni-1")
    assert "（削る）" in text(removed.find_all("td")[0])
    added = page.find(id="d-I-2-sys-chukan-1")
    assert "（新設）" in text(added.find_all("td")[1])
    assert "比較不能" in text(page.find(id="d-I-2-sys-conveni-2"))


def test_unchanged_pairs_are_not_recomputed(tmp_path):
    site = copy_site(tmp_path / "site")
    first = pipeline.build(site, site / "output")
    assert first.diffs_computed > 0
    page = (site / "output" / DIFF).read_bytes()
    second = pipeline.build(site, site / "output")
    assert second.wrote and second.diffs_computed == 0
    assert (site / "output" / DIFF).read_bytes() == page


def test_asahikawa_system_rename_is_marked_as_one_word(tmp_path):
    site = copy_site(tmp_path / "site", ("asahikawa",))
    # A count written inside a ticked box is part of the item: 59 → 60 must show in the diff.
    draft = site / "content/asahikawa/juki/2025-07-01/index.md"
    before = 'provision_status = [{ label = "提供を行っている", detail = "59" }'
    draft.write_text(draft.read_text(encoding="utf-8").replace(
        before, before.replace("59", "60")), encoding="utf-8")
    assert pipeline.build(site, site / "output").wrote
    page = soup(site / "output/asahikawa/juki/diff/2023-12-29..2025-07-01/index.html")
    new, old = page.find(id="d-I-2-sys-chukan-server-1").find_all("td")
    assert [text(i) for i in new.find_all("ins")] == ["追加： サーバー"]
    assert [text(d) for d in old.find_all("del")] == ["削除： サーバ"]
    assert "変更された項目は" in text(page.select_one(".diff-summary"))
    new, old = page.find(id="d-II-juki-5-has").find_all("td")
    assert text(new).startswith("提供を行っている（") and text(new).endswith("）件、移転を行っている（61）件")
    assert [text(i) for i in new.find_all("ins")] == ["追加： 60"]
    assert [text(d) for d in old.find_all("del")] == ["削除： 59"]
