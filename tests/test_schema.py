"""One schema for every table: mistakes at their line, a frozen model, caches that see every edit.

Each test makes the mistake (or the edit) a staff member would make in a copy of the みどり市
content and looks at what they get back: the diagnostic at its line, or the page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath

import pytest
from helpers import copy_site

from piasite import pipeline
from piasite.diagnostics import Severity
from piasite.forms import FORMS_DIR
from piasite.load import load
from piasite.serve import Preview

REV = "content/midori/juki/2025-12-12.md"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(tmp_path / "site", ("midori",))


def errors(site: Path) -> list[str]:
    return [str(d) for d in pipeline.check(site).diagnostics if d.severity is Severity.ERROR]


def line_of(path: Path, text: str) -> int:
    """The first line of `path` that starts with `text`."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))


def test_a_typo_in_site_toml_is_named_with_the_key_it_meant(site: Path):
    toml = site / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("new_label =", "new_lable ="),
                    encoding="utf-8")
    line = next(i for i, t in enumerate(toml.read_text(encoding="utf-8").split("\n"), 1)
                if t.startswith("new_lable"))
    d = next(d for d in pipeline.check(site).diagnostics if d.code == "E101")
    assert str(d) == f"site.toml:{line}:1: error[E101]: 不明なキー「diff.new_lable」です"
    assert d.hint == "「new_label」の誤りではありませんか"


MY_FORM = """\
[form]
id = "kiso-mine"
kind = "kiso"
name = "基礎項目評価書"
title = "特定個人情報保護評価書(基礎項目評価書)"
yoshiki = "様式2"
edition = "令和9年1月"

[[node]]
id = "I"
kind = "section"
label = "関連情報"

[[node]]
id = "I-1"
kind = "text"
key = "affair"
labl = "事務の名称"

[[node]]
id = "I-1"
kind = "text"
key = "affair2"

[[node]]
id = "I-2"
kind = "select"
key = "how"
choices = "nowhere"
"""


def test_a_site_form_with_mistakes_gets_them_at_their_lines(site: Path):
    # Before, any mistake in a site's own form was one E120 at line 1 without saying where.
    form = site / "forms" / "kiso-mine.toml"
    form.parent.mkdir()
    form.write_text(MY_FORM, encoding="utf-8")
    found = [e for e in errors(site) if e.startswith("forms/")]
    assert found == [
        "forms/kiso-mine.toml:18:1: error[E101]: 不明なキー「node」の2番目の「labl」です",
        "forms/kiso-mine.toml:20:1: error[E120]: 様式の定義が正しくありません: 節点の id「I-1」が2つあります",
        "forms/kiso-mine.toml:25:1: error[E120]: 様式の定義が正しくありません: "
        "節点「I-2」の選択肢「nowhere」が [choices] にありません",
    ], found


def test_editing_a_site_form_shows_in_the_preview(site: Path):
    form = site / "forms" / "kiso-r7-05.toml"  # the site's own copy overrides the shipped form
    form.parent.mkdir()
    shutil.copy(FORMS_DIR / "kiso-r7-05.toml", form)
    preview = Preview(site, "2026-01-15")
    preview.rebuild()
    page = PurePosixPath("midori/juki/2025-12-12/index.html")
    assert "事務の名称" in preview.read(page).decode()
    form.write_text(form.read_text(encoding="utf-8").replace(
        'label = "事務の名称"', 'label = "事務の名前（様式の改訂）"', 1), encoding="utf-8")
    preview.rebuild()
    assert not preview.errors
    assert "事務の名前（様式の改訂）" in preview.read(page).decode()
    assert page.as_posix() in preview.last_changed


def test_the_model_cannot_be_changed_after_loading(site: Path):
    loaded, _ = load(site)
    rev = next(r for r in loaded.revisions() if r.id == "2025-12-12")
    systems = next(i for i in rev.walk() if i.node.key == "related.systems")
    assert isinstance(systems.value, tuple)
    with pytest.raises(TypeError):
        systems.value[0] = "書き換え"  # type: ignore[index]
    again, _ = load(site)  # a second load (the preview's) sees the same values
    same = next(r for r in again.revisions() if r.id == "2025-12-12")
    assert next(i for i in same.walk() if i.node.key == "related.systems").value == systems.value


def test_an_exported_version_keeps_arrays_and_tables_as_written(site: Path, tmp_path: Path):
    from piasite.export import revision_data

    loaded, _ = load(site)
    m = loaded.municipalities[0]
    a = m.affairs[0]
    rev = next(r for r in a.revisions if r.id == "2025-12-12")
    data = json.loads(json.dumps(revision_data(rev, a, m, loaded.config)))
    values = {i["form_id"]: i["value"] for i in data["items"]}
    assert isinstance(values["I-1-3"], list) and "中間サーバー" in values["I-1-3"]


def test_each_rule_reports_once(site: Path):
    muni = site / "content/midori/_municipality.toml"
    muni.write_text(muni.read_text(encoding="utf-8").replace('code = "102121"', 'code = "102122"'),
                    encoding="utf-8")
    page = site / "content/midori/juki/_pages/memo.md"
    page.parent.mkdir()
    page.write_text('+++\ntitle = "メモ"\nrevision = "2024-01-01"\n+++\n本文\n', encoding="utf-8")
    rev = site / REV
    rev.write_text(rev.read_text(encoding="utf-8").replace('published = "令和7年12月12日"',
                                                           'published = "令和7年12月11日"'),
                   encoding="utf-8")
    diags = pipeline.check(site).diagnostics
    codes = [d.code for d in diags if d.code in ("E203", "W204", "E109")]
    assert sorted(codes) == ["E109", "E203", "W204"], [str(d) for d in diags]
    by_code = {d.code: d for d in diags}
    assert (str(by_code["E203"].span.path), by_code["E203"].span.line) == (
        "content/midori/_municipality.toml", line_of(muni, 'code = "102122"'))
    assert by_code["E109"].span.line == line_of(page, 'revision = "2024-01-01"')
    assert by_code["W204"].span.line == line_of(rev, 'published = "令和7年12月11日"')


def test_a_comment_period_on_a_published_version_is_an_error(site: Path):
    rev = site / REV
    head, end = rev.read_text(encoding="utf-8").split("\n+++\n", 1)
    rev.write_text(f'{head}\n[comment]\nstart = "令和7年11月1日"\nend = "令和7年12月1日"\n+++\n{end}',
                   encoding="utf-8")
    found = errors(site)
    assert found == [f"{REV}:{line_of(rev, '[comment]')}:1: error[E803]: "
                     '[comment]（意見募集）は案の版（status = "draft"）にだけ書けます'], found
