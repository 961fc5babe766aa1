"""Every URL the site writes, in one table; the names content may not use come from it.

Each route is a pattern of path segments. A literal segment (`changes`, `feed.xml`) is a
name the site owns; a `{placeholder}` is filled from the content (a municipality's folder
name, a version id …). A content folder whose name equals a literal segment at its level, or
matches another placeholder's shape there, would write over a page of the site: the loader
reports it (E013) instead of building (`reserved`).

Pages and templates ask this module for URLs (`revision(muni, affair, rev)`, or `url.…` in a
template) and never spell `changes/`, `.json` or `diff/` themselves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
"""A name content chooses for a URL: a municipality, an assessment, a document, a system."""
REV_ID = re.compile(r"^\d{4}-\d{2}-\d{2}$")
"""A version id: the ISO date of its 公表日 (or a draft's first day of comment)."""

# What each placeholder stands for; a placeholder with a shape reserves every name of that
# shape among its siblings (a document may not be called 2025-12-12: that is a version).
_SHAPES = {"rev": REV_ID, "old": REV_ID, "new": REV_ID}


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    pattern: str
    """``/{muni}/{affair}/{rev}/``: a trailing ``/`` is a page (``…/index.html``)."""
    what: str
    """What the page is, in Japanese (shown when a content name collides with it)."""
    later: bool = False
    """Written after rendering (the search index): no rendered page is there."""
    planned: bool = False
    """Not written yet (a feature to come): the name is reserved so content cannot take it."""
    at_scale: bool = False
    """Written only for a site past a size (a list past prefectures.ONE_PAGE_MAX or
    compare.ITEM_PAGE_MAX, a sitemap past render.SITEMAP_MAX_URLS): the bundled site has
    none."""

    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.pattern.split("/") if s)

    def url(self, **params: str) -> str:
        out = self.pattern
        for k, v in params.items():
            out = out.replace("{" + k + "}", v)
        if "{" in out:
            raise KeyError(f"route {self.name}: missing parameters in {out}")
        return out


ROUTES = (
    Route("home", "/", "トップページ"),
    Route("municipality", "/{muni}/", "団体のページ"),
    Route("affair", "/{muni}/{affair}/", "評価書の現行版"),
    Route("revision", "/{muni}/{affair}/{rev}/", "版のページ"),
    Route("revision_json", "/{muni}/{affair}/{rev}.json", "版の全項目（JSON）"),
    Route("results", "/{muni}/{affair}/{rev}/results/", "意見募集の結果"),
    Route("comment_ics", "/{muni}/{affair}/{rev}/comment.ics", "意見募集期間のカレンダー"),
    Route("changes", "/{muni}/{affair}/changes/", "変更箇所の履歴"),
    Route("changes_csv", "/{muni}/{affair}/changes.csv", "変更箇所の履歴（CSV）"),
    Route("diff", "/{muni}/{affair}/diff/{old}..{new}/", "新旧対照表"),
    Route("diff_inline", "/{muni}/{affair}/diff/{old}..{new}/inline/", "新旧対照表（1列表示）"),
    Route("document", "/{muni}/{affair}/{doc}/", "評価書に添えられた資料"),
    Route("systems", "/systems/", "システム登録簿"),
    Route("system", "/systems/{system}/", "システム登録簿の項目"),
    Route("system_part", "/systems/{system}/{pref}/", "システム登録簿の項目の都道府県ごとのページ",
          at_scale=True),
    Route("comments", "/comments/", "パブリックコメントの一覧"),
    Route("comments_year", "/comments/{year}/", "結果公表済みのパブリックコメントの年ごとの一覧",
          at_scale=True),
    Route("search", "/search/", "検索"),
    Route("feed", "/feed.xml", "新着情報（Atom フィード）"),
    Route("sitemap", "/sitemap.xml", "サイトマップ"),
    Route("sitemap_part", "/sitemaps/{n}.xml", "サイトマップ（5万ページごと）", at_scale=True),
    Route("not_found", "/404.html", "「ページが見つかりません」のページ"),
    Route("schema", "/schema/revision.schema.json", "JSON のスキーマ"),
    Route("accessibility", "/accessibility/", "アクセシビリティのページ"),
    Route("accessibility_results", "/accessibility/results.json", "アクセシビリティの測定結果"),
    Route("static", "/static/{file}", "テーマの CSS・JavaScript"),
    Route("pagefind", "/pagefind/{file}", "検索用の索引", later=True),
    Route("compare", "/compare/", "評価書の比較"),
    Route("compare_overview_csv", "/compare/overview.csv", "評価書の比較の表（CSV）"),
    Route("compare_overview_part", "/compare/overview/{pref}/", "評価書の比較の都道府県ごとのページ",
          at_scale=True),
    Route("compare_family", "/compare/{family}/", "様式ごとの項目の比較の一覧"),
    Route("compare_item", "/compare/{family}/{item}/", "項目ごとの比較"),
    Route("compare_item_json", "/compare/{family}/{item}.json", "項目ごとの比較（JSON）"),
    Route("compare_item_part", "/compare/{family}/{item}/{pref}/",
          "項目ごとの比較の都道府県ごとのページ", at_scale=True),
    Route("compare_item_part_json", "/compare/{family}/{item}/{pref}.json",
          "項目ごとの比較の都道府県ごとのページ（JSON）", at_scale=True),
)
BY_NAME = MappingProxyType({r.name: r for r in ROUTES})

PAGEFIND = BY_NAME["pagefind"].segments()[0]
"""The folder the search index is written into, after rendering."""
GENERATED_LATER = tuple(dict.fromkeys(f"{r.segments()[0]}/" for r in ROUTES if r.later))
"""Output folders written after rendering (the search index): links into them are trusted."""


# --- URLs ---------------------------------------------------------------------------------


def home() -> str:
    return BY_NAME["home"].url()


def municipality(muni: str) -> str:
    return BY_NAME["municipality"].url(muni=muni)


def affair(muni: str, affair: str) -> str:
    return BY_NAME["affair"].url(muni=muni, affair=affair)


def revision(muni: str, affair: str, rev: str) -> str:
    return BY_NAME["revision"].url(muni=muni, affair=affair, rev=rev)


def revision_json(muni: str, affair: str, rev: str) -> str:
    return BY_NAME["revision_json"].url(muni=muni, affair=affair, rev=rev)


def results(muni: str, affair: str, rev: str) -> str:
    return BY_NAME["results"].url(muni=muni, affair=affair, rev=rev)


def comment_ics(muni: str, affair: str, rev: str) -> str:
    return BY_NAME["comment_ics"].url(muni=muni, affair=affair, rev=rev)


def changes(muni: str, affair: str) -> str:
    return BY_NAME["changes"].url(muni=muni, affair=affair)


def changes_csv(muni: str, affair: str) -> str:
    return BY_NAME["changes_csv"].url(muni=muni, affair=affair)


def diff(muni: str, affair: str, old: str, new: str) -> str:
    return BY_NAME["diff"].url(muni=muni, affair=affair, old=old, new=new)


def diff_inline(muni: str, affair: str, old: str, new: str) -> str:
    return BY_NAME["diff_inline"].url(muni=muni, affair=affair, old=old, new=new)


def document(muni: str, affair: str, doc: str) -> str:
    return BY_NAME["document"].url(muni=muni, affair=affair, doc=doc)


def systems() -> str:
    return BY_NAME["systems"].url()


def system(slug: str) -> str:
    return BY_NAME["system"].url(system=slug)


def system_part(slug: str, pref: str) -> str:
    return BY_NAME["system_part"].url(system=slug, pref=pref)


def comments() -> str:
    return BY_NAME["comments"].url()


def comments_year(year: str) -> str:
    return BY_NAME["comments_year"].url(year=year)


def search() -> str:
    return BY_NAME["search"].url()


def feed() -> str:
    return BY_NAME["feed"].url()


def sitemap() -> str:
    return BY_NAME["sitemap"].url()


def sitemap_part(n: str) -> str:
    return BY_NAME["sitemap_part"].url(n=n)


def not_found() -> str:
    return BY_NAME["not_found"].url()


def schema() -> str:
    return BY_NAME["schema"].url()


def accessibility() -> str:
    return BY_NAME["accessibility"].url()


def accessibility_results() -> str:
    return BY_NAME["accessibility_results"].url()


def static(file: str) -> str:
    return BY_NAME["static"].url(file=file)


def compare() -> str:
    return BY_NAME["compare"].url()


def compare_overview_csv() -> str:
    return BY_NAME["compare_overview_csv"].url()


def compare_overview_part(pref: str) -> str:
    return BY_NAME["compare_overview_part"].url(pref=pref)


def compare_family(family: str) -> str:
    return BY_NAME["compare_family"].url(family=family)


def compare_item(family: str, item: str) -> str:
    return BY_NAME["compare_item"].url(family=family, item=item)


def compare_item_json(family: str, item: str) -> str:
    return BY_NAME["compare_item_json"].url(family=family, item=item)


def compare_item_part(family: str, item: str, pref: str) -> str:
    return BY_NAME["compare_item_part"].url(family=family, item=item, pref=pref)


def compare_item_part_json(family: str, item: str, pref: str) -> str:
    return BY_NAME["compare_item_part_json"].url(family=family, item=item, pref=pref)


class Urls:
    """The URL functions for templates: ``{{ url.changes_csv(muni, affair) }}``."""

    home = staticmethod(home)
    municipality = staticmethod(municipality)
    affair = staticmethod(affair)
    revision = staticmethod(revision)
    revision_json = staticmethod(revision_json)
    results = staticmethod(results)
    comment_ics = staticmethod(comment_ics)
    changes = staticmethod(changes)
    changes_csv = staticmethod(changes_csv)
    diff = staticmethod(diff)
    diff_inline = staticmethod(diff_inline)
    document = staticmethod(document)
    systems = staticmethod(systems)
    system = staticmethod(system)
    system_part = staticmethod(system_part)
    comments = staticmethod(comments)
    comments_year = staticmethod(comments_year)
    search = staticmethod(search)
    feed = staticmethod(feed)
    sitemap = staticmethod(sitemap)
    sitemap_part = staticmethod(sitemap_part)
    not_found = staticmethod(not_found)
    schema = staticmethod(schema)
    accessibility = staticmethod(accessibility)
    accessibility_results = staticmethod(accessibility_results)
    static = staticmethod(static)
    compare = staticmethod(compare)
    compare_overview_csv = staticmethod(compare_overview_csv)
    compare_overview_part = staticmethod(compare_overview_part)
    compare_family = staticmethod(compare_family)
    compare_item = staticmethod(compare_item)
    compare_item_json = staticmethod(compare_item_json)
    compare_item_part = staticmethod(compare_item_part)
    compare_item_part_json = staticmethod(compare_item_part_json)


def output_path(url: str) -> PurePosixPath:
    """The file a URL is written to: ``/a/b/`` → ``a/b/index.html``."""
    return PurePosixPath(output_name(url))


def output_name(url: str) -> str:
    """`output_path` as a string, made without pathlib (asked for every page of a site)."""
    name = url.lstrip("/")
    if url.endswith("/"):
        name += "index.html"
    if "//" in name or name.startswith("./") or "/./" in name:
        return str(PurePosixPath(name))  # what pathlib makes of it
    return name


def page_url(path: PurePosixPath | str) -> str:
    """The URL an output file is served at (`a/b/index.html` → `/a/b/`)."""
    s = "/" + str(path)
    return s[: -len("index.html")] if s.endswith("/index.html") else s


# --- reserved names -----------------------------------------------------------------------


def _file_segments(route: Route) -> tuple[str, ...]:
    """The route's output path as segments: ``/`` is ``index.html``, ``/x/`` is ``x/index.html``."""
    return output_path(route.pattern).parts


def _is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1


@functools.cache
def reserved(level: tuple[str, ...], placeholder: str) -> Mapping[str, str]:
    """Literal names the site writes beside `placeholder` under the path `level`.

    `level` is the placeholders above (``("muni", "affair")`` for a document), `placeholder`
    the one content fills (``doc``). Returns {name: what the site writes there}.
    """
    out: dict[str, str] = {}
    for r in ROUTES:
        segs = _file_segments(r)
        if len(segs) <= len(level):
            continue
        if tuple(s[1:-1] if _is_placeholder(s) else None for s in segs[:len(level)]) != level:
            continue
        seg = segs[len(level)]
        if seg == "{" + placeholder + "}":
            continue
        if not _is_placeholder(seg) and "{" not in seg:
            out.setdefault(seg, r.what)
    return MappingProxyType(out)  # cached: shared by every caller


def collides(level: tuple[str, ...], placeholder: str, name: str) -> str | None:
    """What `name` would overwrite if content used it for `placeholder`; None when it is free."""
    hit = reserved(level, placeholder).get(name)
    if hit is not None:
        return hit
    return next((what for shape, what in _shaped(level, placeholder) if shape.match(name)), None)


@functools.cache
def _shaped(level: tuple[str, ...], placeholder: str) -> tuple[tuple[re.Pattern, str], ...]:
    """The other placeholders beside `placeholder` whose names have a shape (a version's date):
    a content name of that shape would be taken for one of them."""
    out = []
    for r in ROUTES:
        segs = _file_segments(r)
        if len(segs) <= len(level):
            continue
        if tuple(s[1:-1] if _is_placeholder(s) else None for s in segs[:len(level)]) != level:
            continue
        seg = segs[len(level)]
        if _is_placeholder(seg) and seg != "{" + placeholder + "}":
            shape = _SHAPES.get(seg[1:-1])
            if shape is not None:
                out.append((shape, r.what))
    return tuple(out)


TOP_LEVEL = tuple(sorted(reserved((), "muni")))
"""Names the site uses at the top (``search``, ``feed.xml`` …): no municipality may take one."""
IN_MUNICIPALITY = tuple(sorted(reserved(("muni",), "affair")))
"""Names the site uses inside a municipality: no assessment (事務) folder may take one."""
IN_AFFAIR = tuple(sorted(reserved(("muni", "affair"), "doc")))
"""Names the site uses inside an assessment (``changes``, ``diff`` …): no document may take one
(nor a name shaped like a version id)."""
