"""Render the model into pages: {URL path: bytes}. No disk writes happen here."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape as xml_escape

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)

from . import views
from .diff import RevisionDiff
from .filters import FILTERS
from .model import Site
from .views import Crumb


@dataclass(frozen=True, slots=True)
class Theme:
    templates: tuple[Path, ...]
    """Template folders, the site's own theme first and the default theme last."""
    static: tuple[Path, ...]


def find_theme(root: Path, name: str) -> Theme:
    base = Path(__file__).resolve().parent.parent / "themes" / "default"
    site_default = root / "themes" / "default"
    chosen = root / "themes" / name
    dirs = []
    for d in (chosen, site_default, base):
        if d.is_dir() and d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)
    return Theme(tuple(d / "templates" for d in dirs), tuple(d / "static" for d in dirs))


def environment(theme: Theme) -> Environment:
    loader = ChoiceLoader([
        FileSystemLoader([str(t) for t in theme.templates]),
        PrefixLoader({"!base": FileSystemLoader(str(theme.templates[-1]))}),
    ])
    env = Environment(loader=loader, autoescape=select_autoescape(["html", "xml"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


class Renderer:
    """Holds the Jinja environment and the site-wide context for one build."""

    def __init__(self, site: Site, theme: Theme, today: datetime.date):
        self.site = site
        self.env = environment(theme)
        self.today = today
        self.index = views.site_index(site)
        self.site_ctx = dict(title=site.config.title, description=site.config.description,
                             base_url=site.config.base_url, municipalities=self.index,
                             today=today.isoformat(),
                             diff=dict(new_label=site.config.diff_new_label,
                                       old_label=site.config.diff_old_label,
                                       new_first=site.config.diff_new_first))

    def page(self, template: str, url: str, title: str, crumbs: list[Crumb], **ctx) -> bytes:
        page = dict(url=url, title=title, crumbs=crumbs, **ctx.pop("page_extra", {}))
        html = self.env.get_template(template).render(site=self.site_ctx, page=page, **ctx)
        return html.encode("utf-8")


def _out_path(url: str) -> PurePosixPath:
    if url.endswith("/"):
        return PurePosixPath(url.lstrip("/")) / "index.html"
    return PurePosixPath(url.lstrip("/"))


def render(site: Site, theme: Theme, today: datetime.date,
           diffs: Mapping[tuple[str, str, str, str], RevisionDiff] | None = None,
           ) -> dict[PurePosixPath, bytes]:
    """Render every page of the site; returns output path -> bytes."""
    diffs = diffs or {}
    r = Renderer(site, theme, today)
    pages: dict[PurePosixPath, bytes] = {}
    home = Crumb("ホーム", "/")

    def add(url: str, data: bytes) -> None:
        path = _out_path(url)
        if path in pages:  # two pages claiming one URL is a piasite bug, caught by tests
            raise RuntimeError(f"two pages render to {path}")
        pages[path] = data

    add("/", r.page("home.html", "/", site.config.title, []))
    for muni_idx, m in zip(r.index, site.municipalities, strict=True):
        add(m.url, r.page("municipality.html", m.url, f"{m.full_name}の評価書",
                          [home], muni=muni_idx))
        mcrumb = Crumb(m.full_name, m.url)
        for a in m.affairs:
            acrumb = Crumb(a.title, a.url)
            adiffs = [d for k, d in sorted(diffs.items()) if k[:2] == (m.slug, a.slug)]
            labels = {rv.id: views.revision_label(rv) for rv in a.revisions}
            links = [views.DiffLink(d.url, labels[d.old_id], labels[d.new_id], d.old_id, d.new_id,
                                    len(d.changed)) for d in adiffs]
            for d in adiffs:
                dv = views.diff_view(d, labels)
                title = f"新旧対照表 {a.title}（{dv['new_label']}と{dv['old_label']}）｜{m.full_name}"
                add(d.url, r.page("diff.html", d.url, title, [home, mcrumb, acrumb], diff=dv,
                                  affair=dict(title=a.title, url=a.url, muni=m.full_name),
                                  links=links))
                add(f"{d.url}inline/", r.page(
                    "diff_inline.html", f"{d.url}inline/", f"変更箇所のみ（1列表示） {a.title}｜{m.full_name}",
                    [home, mcrumb, acrumb, Crumb("新旧対照表", d.url)], diff=dv,
                    affair=dict(title=a.title, url=a.url, muni=m.full_name)))
            for rev in a.revisions:
                rv = views.revision_view(rev, a, m, links)
                title = f"{a.title}（{rv.label}）｜{m.full_name}"
                add(rev.url, r.page("revision.html", rev.url, title, [home, mcrumb, acrumb],
                                    rev=rv, canonical=rev.url))
                if rev is a.current:
                    add(a.url, r.page("revision.html", a.url, f"{a.title}（現行版・{rv.label}）｜{m.full_name}",
                                      [home, mcrumb], rev=rv, canonical=rev.url))
            for doc in a.pages:
                url = f"{a.url}{doc.slug}/"
                owner = next((rv for rv in a.revisions if rv.id == doc.revision), None)
                add(url, r.page("document.html", url, f"{doc.title}｜{a.title}｜{m.full_name}",
                                [home, mcrumb, acrumb], doc=dict(
                                    title=doc.title, html=views.md(doc.body, document=True),
                                    source=doc.source,
                                    revision_label=views.revision_label(owner) if owner else "",
                                    revision_url=owner.url if owner else "")))
            cur = a.current
            if cur is not None:
                url = f"{a.url}changes/"
                rv = views.revision_view(cur, a, m, links)
                groups = _group_rows(rv.changes, views.row_diff_targets(a, adiffs))
                add(url, r.page("changes.html", url, f"{a.title} 変更箇所の履歴｜{m.full_name}",
                                [home, mcrumb, acrumb], rev=rv, groups=groups))
    add("/404.html", r.page("404.html", "/404.html", "ページが見つかりません", [home]))
    pages[PurePosixPath("sitemap.xml")] = _sitemap(site, pages)
    return pages


def _group_rows(rows, targets: Mapping[int, str]) -> list[dict]:
    groups: dict[str, dict] = {}
    for row in rows:
        g = groups.setdefault(row.date_text, dict(date_text=row.date_text, date_iso=row.date_iso,
                                                  rows=[]))
        g["rows"].append(dict(row=row, marks=views.row_marks(row), diff_url=targets.get(row.index, "")))
    return sorted(groups.values(), key=lambda g: g["date_iso"], reverse=True)


def _sitemap(site: Site, pages: Mapping[PurePosixPath, bytes]) -> bytes:
    base = site.config.base_url
    urls = []
    for path in sorted(pages, key=str):
        s = str(path)
        if not s.endswith(".html") or s == "404.html":
            continue
        url = "/" + (s[: -len("index.html")] if s.endswith("index.html") else s)
        urls.append(f"  <url><loc>{xml_escape(base + url)}</loc></url>")
    body = "\n".join(urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}\n</urlset>\n"
    ).encode()


def static_files(theme: Theme) -> dict[PurePosixPath, bytes]:
    """Theme assets under /static/, the site's own theme overriding the default."""
    out: dict[PurePosixPath, bytes] = {}
    for d in reversed(theme.static):
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file():
                out[PurePosixPath("static") / p.relative_to(d).as_posix()] = p.read_bytes()
    return out
