"""The systems registry: alias matching, false matches, diagnostics, pages and the diagram."""

from __future__ import annotations

import pytest
from helpers import REPO_ROOT, copy_site, soup, text

from piasite import pipeline
from piasite.link import link
from piasite.load import load

REV = "content/midori/juki/2025-12-12.md"


@pytest.fixture(scope="module")
def links():
    site, _ = load(REPO_ROOT)
    index, _ = link(site)
    return index


@pytest.mark.parametrize(("written", "slug"), [
    ("中間サーバー", "chukan-server"),
    ("中間サーバ", "chukan-server"),
    ("中間サーバ―", "chukan-server"),                        # U+2015 for ー
    ("中間サーバー・ソフトウェア", "chukan-server"),
    ("中間サーバー・プラットフォーム", "chukan-server-platform"),
    ("中間サーバー･プラットフォーム", "chukan-server-platform"),  # half-width ･
    ("住民基本台帳ネットワークシステム(※)", "juki-net"),
    ("住基ネット", "juki-net"),
    ("市町村CS", "shichoson-cs"),
    ("市町村ＣＳ", "shichoson-cs"),                           # full-width
    ("市町村コミュニケ―ションサーバー", "shichoson-cs"),
    ("都道府県サーバ", "todofuken-server"),
    ("都道府県サーバー", "todofuken-server"),
    ("証明書コンビニ交付システム", "conveni-koufu"),
    ("コンビニ証明書交付システム", "conveni-koufu"),
    ("バメントクラウド", "gov-cloud"),                         # the source's own typo
    ("ＬＧＷＡＮ", "lgwan"),
    ("情報提供システムネットワーク", "joho-teikyo-nws"),
    ("既存住基システム", "kizon-juki"),
    ("サービス検索・電子申請機能", "service-kensaku-denshi-shinsei"),
    ("マイナポータル申請管理", "service-kensaku-denshi-shinsei"),
])
def test_variants_resolve_to_one_entry(links, written, slug):
    assert links.resolve_label(written) == slug


def test_municipal_shinsei_kanri_is_not_the_national_portal(links):
    # 豊中市's own SaaS 申請管理システム is a different system from マイナポータル申請管理.
    assert links.resolve_label("申請管理システム") == "shinsei-kanri"
    assert links.resolve_label("マイナポータル申請管理") == "service-kensaku-denshi-shinsei"


@pytest.mark.parametrize("written", [
    "宛名システム",       # means different systems in 岡山市 and 豊中市
    "機構",               # an organisation, and inside 機構改革
    "住民基本台帳",
])
def test_false_matches_do_not_resolve(links, written):
    assert links.resolve_label(written) is None


def test_prose_links_first_mention_longest_first_and_never_inside_words(links):
    from piasite.views import link_mentions

    html = "<p>中間サーバー・プラットフォーム上の中間サーバーと中間サーバー。本市機構改革による課名修正</p>"
    out = link_mentions(html, links)
    assert out.count('href="/systems/chukan-server-platform/"') == 1
    assert out.count('href="/systems/chukan-server/"') == 1
    assert "機構改革" in out and "/systems/j" not in out


def test_a_field_text_links_the_mentions_of_the_registry_it_is_shown_with(links):
    # The linked text is kept for the assessment's other pages (views.Context.text); another
    # registry (the preview after an edit to content/systems/) links anew.
    import dataclasses

    from piasite import views

    text = "中間サーバー・プラットフォームへ送る。"
    first = views.Context(links=links).text(text)
    assert 'href="/systems/chukan-server-platform/"' in first
    assert views.Context(links=links).text(text) is first
    renamed = dataclasses.replace(links, systems={
        **links.systems, "chukan-server-platform": dataclasses.replace(
            links.systems["chukan-server-platform"], slug="renamed")})
    again = views.Context(links=renamed).text(text)
    assert 'href="/systems/renamed/"' in again and "chukan-server-platform" not in again
    views.forget()


def _diag(site, code):
    return [d for d in pipeline.check(site).diagnostics if d.code == code]


def test_unknown_system_reference_is_an_error(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "systems"))
    p = site / REV
    p.write_text(p.read_text(encoding="utf-8").replace(
        '  "中間サーバー",', '  { label = "中間サーバー", system = "chukan-servr" },', 1), encoding="utf-8")
    d = _diag(site, "E501")
    assert d and "chukan-servr" in d[0].message and "chukan-server" in (d[0].hint or "")
    assert str(d[0].span.path) == REV


def test_unmatched_label_is_a_warning_with_the_closest_entry(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "systems"))
    p = site / REV
    p.write_text(p.read_text(encoding="utf-8").replace('  "中間サーバー",', '  "中間サーバー群",', 1),
                 encoding="utf-8")
    d = _diag(site, "W502")
    assert d and "中間サーバー群" in d[0].message and "中間サーバー" in (d[0].hint or "")
    assert pipeline.check(site).ok


def test_alias_claimed_twice_is_an_error(tmp_path):
    site = copy_site(tmp_path / "site", ("midori", "systems"))
    p = site / "content/systems/bango-renkei.toml"
    p.write_text(p.read_text(encoding="utf-8").replace("aliases = []", 'aliases = ["住基ネット"]'),
                 encoding="utf-8")
    d = _diag(site, "E503")
    assert d and "住基ネット" in d[0].message


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("sys") / "site", ("midori", "systems"))
    assert pipeline.build(site, site / "output").wrote
    return site / "output"


def test_registry_pages_list_users_under_their_own_label(out):
    index = soup(out / "systems/index.html")
    names = [text(a) for a in index.select("main table th a")]
    assert "中間サーバー" in names and "住民基本台帳ネットワークシステム" in names
    page = soup(out / "systems/chukan-server/index.html")
    row = page.select_one("main table tbody tr")
    assert "群馬県みどり市" in text(row) and "5. 中間サーバー" in text(row)
    assert row.find("a")["href"] == "/midori/juki/2025-12-12/#I-1-3"


def test_system_list_links_to_the_registry(out):
    page = soup(out / "midori/juki/2025-12-12/index.html")
    hrefs = [a["href"] for a in page.select("#I-1-3 ol a")]
    assert len(hrefs) == 8 and "/systems/bango-renkei/" in hrefs


def test_diagram_has_a_text_alternative_and_a_table(out):
    page = soup(out / "midori/juki/2025-12-12/index.html")
    svg = page.select_one("svg.system-diagram")
    assert svg["role"] == "img" and svg.title and "システム" in svg.title.get_text()
    assert "システム8件" in svg.desc.get_text()
    rows = page.select_one(".system-map table").tbody.find_all("tr")
    assert len(rows) == 8
    assert "国・全国共通" in text(rows[4]) and "団体ごと" in text(rows[0])


def test_chukan_server_page_lists_all_five_assessments(built_site):
    page = soup(built_site / "systems/chukan-server/index.html")
    rows = page.select("main table tbody tr")
    munis = {text(r.find_all("td")[0]) for r in rows}
    assert munis == {"群馬県みどり市", "熊本県八代市", "北海道旭川市", "岡山県岡山市", "大阪府豊中市"}
    for r in rows:
        href = r.find("a")["href"]
        path, anchor = href.split("#")
        target = soup(built_site / path.lstrip("/") / "index.html")
        assert target.find(id=anchor) is not None, href
    index = soup(built_site / "systems/index.html")
    assert len(index.select("main table tbody tr")) == len(list((REPO_ROOT / "content/systems").glob("*.toml")))
