"""Render the model into pages: {URL path: bytes}. No disk writes happen here."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
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

from . import diagram, export, feeds, views
from .diff import Diffs
from .filters import FILTERS
from .link import LinkIndex
from .model import Site
from .views import Crumb


@dataclass(frozen=True, slots=True)
class Theme:
    templates: tuple[Path, ...]
    """Template folders, the site's own theme first and the default theme last."""
    static: tuple[Path, ...]
    digest: str = ""
    """Hash of every template and asset: a theme edit re-renders every page."""


def find_theme(root: Path, name: str) -> Theme:
    base = Path(__file__).resolve().parent.parent / "themes" / "default"
    site_default = root / "themes" / "default"
    chosen = root / "themes" / name
    dirs = []
    for d in (chosen, site_default, base):
        if d.is_dir() and d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)
    h = hashlib.sha256()
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file():
                h.update(p.as_posix().encode() + b"\0" + p.read_bytes())
    return Theme(tuple(d / "templates" for d in dirs), tuple(d / "static" for d in dirs),
                 h.hexdigest())


@functools.lru_cache(maxsize=4)
def environment(theme: Theme) -> Environment:
    """One Jinja environment per theme state: the preview reuses its compiled templates."""
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

    def __init__(self, site: Site, theme: Theme, today: datetime.date, preview: bool = False):
        self.site = site
        self.links: LinkIndex | None = None
        self.env = environment(theme)
        self.today = today
        self.index = views.site_index(site)
        self.site_ctx = dict(title=site.config.title, description=site.config.description,
                             base_url=site.config.base_url, municipalities=self.index,
                             today=today.isoformat(), preview=preview,
                             diff=dict(new_label=site.config.diff_new_label,
                                       old_label=site.config.diff_old_label,
                                       new_first=site.config.diff_new_first))

    def page(self, template: str, url: str, title: str, crumbs: list[Crumb], **ctx) -> bytes:
        page = dict(url=url, title=title, crumbs=crumbs, **ctx.pop("page_extra", {}))
        ctx.setdefault("consult", None)
        html = self.env.get_template(template).render(site=self.site_ctx, page=page, **ctx)
        return html.encode("utf-8")


def _out_path(url: str) -> PurePosixPath:
    if url.endswith("/"):
        return PurePosixPath(url.lstrip("/")) / "index.html"
    return PurePosixPath(url.lstrip("/"))


@dataclass(frozen=True, slots=True)
class Job:
    """One page to render: its URL, a fingerprint of everything it shows, and how to make it."""

    url: str
    fingerprint: str
    make: Callable[[], bytes]


@dataclass
class Rendered:
    files: dict[PurePosixPath, bytes]
    fingerprints: dict[PurePosixPath, str]
    rendered: list[PurePosixPath]
    """Pages actually rendered this time (the rest were reused from the previous build)."""


def _fp(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str,
                                     sort_keys=True).encode()).hexdigest()


def jobs(site: Site, theme: Theme, today: datetime.date, diffs: Diffs | None = None,
         links: LinkIndex | None = None, preview: bool = False) -> list[Job]:
    """Every page of the site as a job, so a rebuild can re-render only what changed."""
    diffs = diffs or Diffs({}, {})
    links = links or LinkIndex({}, {}, {}, ())
    r = Renderer(site, theme, today, preview)
    r.links = links
    base = (theme.digest, repr(site.config), today.isoformat(), preview, repr(site.systems))
    home = Crumb("ホーム", "/")
    out: list[Job] = []

    def add(url: str, fingerprint: str, make: Callable[[], bytes]) -> None:
        out.append(Job(url, fingerprint, make))

    add("/", _fp(base, r.index), lambda: r.page("home.html", "/", site.config.title, []))
    for muni_idx, m in zip(r.index, site.municipalities, strict=True):
        add(m.url, _fp(base, muni_idx), functools.partial(
            r.page, "municipality.html", m.url, f"{m.full_name}の評価書", [home], muni=muni_idx))
        mcrumb = Crumb(m.full_name, m.url)
        for a in m.affairs:
            out.extend(_affair_jobs(r, base, m, a, diffs, home, mcrumb))
    add("/404.html", _fp(base), lambda: r.page("404.html", "/404.html", "ページが見つかりません",
                                              [home]))
    add("/search/", _fp(base), lambda: r.page("search.html", "/search/", "評価書の検索", [home],
                                              aliases=views.search_aliases(site.systems)))
    out.extend(_system_jobs(r, base, site, links, home))
    out.extend(_comment_list_jobs(r, base, site, home))
    schema = export.schema_bytes()
    add(export.SCHEMA_URL, _fp(schema.decode("utf-8")), lambda: schema)
    a11y, a11y_raw = export.accessibility_results()
    add("/accessibility/", _fp(base, a11y), functools.partial(
        r.page, "accessibility.html", "/accessibility/", "アクセシビリティ", [home],
        results=a11y, results_url=export.A11Y_RESULTS_URL if a11y else ""))
    if a11y:
        add(export.A11Y_RESULTS_URL, _fp(a11y), lambda: a11y_raw)
    return out


def _comment_list_jobs(r: Renderer, base: tuple, site: Site, home: Crumb) -> list[Job]:
    """/comments/ (every consultation by status) and /feed.xml."""
    rows = []
    for m in site.municipalities:
        for a in m.affairs:
            for rev in a.revisions:
                if rev.comment is not None:
                    rows.append(views.consultation_view(rev, a, m, r.today))
    rows.sort(key=lambda c: (c["start_iso"], c["draft_url"]), reverse=True)
    groups = [(code, title, [c for c in rows if c["status"] == code])
              for code, title in (("open", "意見募集中"), ("before", "意見募集前"),
                                  ("closed", "意見募集終了（結果公表待ち）"),
                                  ("results", "結果公表済み"))]
    base_url = site.config.base_url
    return [
        Job("/comments/", _fp(base, rows), lambda: r.page(
            "comments.html", "/comments/", "パブリックコメント（意見募集）", [home], groups=groups)),
        Job("/feed.xml", _fp(base, [(rv.muni, rv.affair, rv.id, rv.digest) for rv in site.revisions()]),
            lambda: feeds.atom(site, base_url, views.revision_label)),
    ]


def _system_jobs(r: Renderer, base: tuple, site: Site, links: LinkIndex, home: Crumb) -> list[Job]:
    """/systems/ and one page per registry entry, with every assessment that uses it."""
    names = {(m.slug, a.slug): (m.full_name, a.title) for m in site.municipalities
             for a in m.affairs}
    labels = {(a.muni, a.slug, rv.id): views.revision_label(rv) for a in site.affairs()
              for rv in a.revisions}
    short = {m.slug: m.name for m in site.municipalities}
    entries = []
    for s in sorted(site.systems, key=lambda s: (s.scope != "national", s.scope, s.slug)):
        uses = [dict(muni=names[(u.muni, u.affair)][0], affair=names[(u.muni, u.affair)][1],
                     revision=labels[(u.muni, u.affair, u.revision)], current=u.current,
                     url=f"/{u.muni}/{u.affair}/{u.revision}/#{u.anchor}", number=u.number,
                     label=u.label)
                for u in links.uses.get(s.slug, ())]
        entries.append(dict(slug=s.slug, name=s.name, url=s.url, scope=s.scope,
                            scope_name=s.scope_name, operator=s.operator, aliases=s.aliases,
                            description=s.description, description_source=s.description_source,
                            related=[dict(name=links.systems[x].name, url=links.systems[x].url)
                                     for x in s.related if x in links.systems],
                            uses=uses,
                            n_assessments=len({(u["muni"], u["affair"]) for u in uses}),
                            search=views.system_search(
                                s.name, [short[u.muni] for u in links.uses.get(s.slug, ())])))
    out = [Job("/systems/", _fp(base, entries), lambda: r.page(
        "systems.html", "/systems/", "システム登録簿", [home], systems=entries))]
    crumb = Crumb("システム登録簿", "/systems/")
    for e in entries:
        out.append(Job(e["url"], _fp(base, e), functools.partial(
            r.page, "system.html", e["url"], f"{e['name']}｜システム登録簿", [home, crumb],
            system=e)))
    return out


def _affair_jobs(r: Renderer, base: tuple, m, a, diffs, home: Crumb, mcrumb: Crumb) -> list[Job]:
    out: list[Job] = []
    acrumb = Crumb(a.title, a.url)
    adiffs = [d for k, d in sorted(diffs.pairs.items()) if k[:2] == (m.slug, a.slug)]
    labels = {rv.id: views.revision_label(rv) for rv in a.revisions}
    links = [views.DiffLink(d.url, labels[d.old_id], labels[d.new_id], d.old_id, d.new_id,
                            len(d.changed)) for d in adiffs]
    # Everything an assessment's pages show about its other versions: an edit to one version
    # re-renders this assessment's pages and nothing else.
    afp = _fp(base, m.full_name, a.name, a.title, a.number, a.kind,
              [(rv.id, rv.digest) for rv in a.revisions], [p.digest for p in a.pages])
    affair_ctx = dict(title=a.title, url=a.url, muni=m.full_name)
    # The newest draft with a comment period: its status box tops every page of that draft.
    draft = next((rv for rv in reversed(a.revisions) if rv.status == "draft" and rv.comment), None)
    consult = views.consultation_view(draft, a, m, r.today, adiffs) if draft else None

    def about_draft(*ids: str) -> dict | None:
        return consult if draft is not None and draft.id in ids else None

    if draft is not None:
        out.extend(_consultation_jobs(r, afp, m, a, draft, consult, home, mcrumb, acrumb))
    for d in adiffs:
        def make_diff(d=d):
            dv = views.diff_view(d, labels)
            title = f"新旧対照表 {a.title}（{dv['new_label']}と{dv['old_label']}）｜{m.full_name}"
            return r.page("diff.html", d.url, title, [home, mcrumb, acrumb], diff=dv,
                          affair=affair_ctx, links=links,
                          consult=about_draft(d.old_id, d.new_id))

        def make_inline(d=d):
            return r.page("diff_inline.html", f"{d.url}inline/",
                          f"変更箇所のみ（1列表示） {a.title}｜{m.full_name}",
                          [home, mcrumb, acrumb, Crumb("新旧対照表", d.url)],
                          diff=views.diff_view(d, labels), affair=affair_ctx,
                          consult=about_draft(d.old_id, d.new_id))

        out.append(Job(d.url, _fp(afp, "diff", d.url), make_diff))
        out.append(Job(f"{d.url}inline/", _fp(afp, "inline", d.url), make_inline))
    for rev in a.revisions:
        def make_rev(rev=rev, url=rev.url, alias=False):
            rv = views.revision_view(rev, a, m, links, r.links)
            g = diagram.graph(rev, r.links)
            if alias:
                title = f"{a.title}（現行版・{rv.label}）｜{m.full_name}"
                return r.page("revision.html", url, title, [home, mcrumb], rev=rv,
                              canonical=rev.url, graph=_graph_view(g, a, m),
                              consult=about_draft(rev.id))
            title = f"{a.title}（{rv.label}）｜{m.full_name}"
            return r.page("revision.html", url, title, [home, mcrumb, acrumb], rev=rv,
                          canonical=rev.url, graph=_graph_view(g, a, m),
                          consult=about_draft(rev.id))

        out.append(Job(rev.url, _fp(afp, "rev", rev.id), make_rev))
        out.append(Job(export.json_url(rev), _fp(afp, "json", rev.id, m.code, m.agency),
                       functools.partial(export.revision_json, rev, a, m, r.site.config)))
        if rev is a.current:
            out.append(Job(a.url, _fp(afp, "current", rev.id),
                           functools.partial(make_rev, rev, a.url, True)))
    for doc in a.pages:
        def make_doc(doc=doc):
            url = f"{a.url}{doc.slug}/"
            owner = next((rv for rv in a.revisions if rv.id == doc.revision), None)
            return r.page("document.html", url, f"{doc.title}｜{a.title}｜{m.full_name}",
                          [home, mcrumb, acrumb], doc=dict(
                              title=doc.title, html=views.md(doc.body, document=True),
                              source=doc.source,
                              revision_label=views.revision_label(owner) if owner else "",
                              revision_url=owner.url if owner else "",
                              search=views.document_search(doc, a, m)),
                          consult=about_draft(doc.revision))

        out.append(Job(f"{a.url}{doc.slug}/", _fp(afp, "doc", doc.slug), make_doc))
    cur = a.latest
    if cur is not None:
        def make_changes():
            rv = views.revision_view(cur, a, m, links)
            marks = diffs.rows.get((m.slug, a.slug, cur.id), ())
            groups = _group_rows(rv.changes, marks, views.row_diff_targets(a, adiffs))
            return r.page("changes.html", f"{a.url}changes/",
                          f"{a.title} 変更箇所の履歴｜{m.full_name}",
                          [home, mcrumb, acrumb], rev=rv, groups=groups,
                          consult=about_draft(cur.id))

        out.append(Job(f"{a.url}changes/", _fp(afp, "changes"), make_changes))
        out.append(Job(export.csv_url(a), _fp(afp, "csv", cur.id),
                       functools.partial(export.changes_csv, cur)))
    return out


def _consultation_jobs(r: Renderer, afp: str, m, a, draft, consult: dict, home: Crumb,
                       mcrumb: Crumb, acrumb: Crumb) -> list[Job]:
    """The draft's results page and its calendar file."""
    dcrumb = Crumb(views.revision_label(draft), draft.url)
    url = f"{draft.url}results/"
    return [
        Job(url, _fp(afp, "results", draft.id), lambda: r.page(
            "results.html", url, f"意見募集の結果 {a.title}（{consult['draft_label']}）｜{m.full_name}",
            [home, mcrumb, acrumb, dcrumb], consult=consult)),
        Job(f"{draft.url}comment.ics", _fp(afp, "ics", draft.id, r.site.config.base_url),
            lambda: feeds.ics(draft, a, m, r.site.config.base_url)),
    ]


def _graph_view(g, a, m) -> dict:
    desc = (f"{m.full_name}の{a.title}が記載するシステム{len(g.nodes)}件と、評価書に書かれた接続"
            f"{len(g.edges)}件。同じ内容を下の表でも示しています。")
    return dict(svg=views.svg_markup(diagram.svg(g, f"{a.title}のシステム構成", desc)) if g.nodes
                else "", nodes=[dict(n=n, neighbours=g.neighbours(n.slug)) for n in g.nodes],
                n_edges=len(g.edges))


def render(site: Site, theme: Theme, today: datetime.date, diffs: Diffs | None = None,
           links: LinkIndex | None = None, previous: Rendered | None = None,
           preview: bool = False) -> Rendered:
    """Render every page; with `previous`, reuse pages whose fingerprint did not change."""
    files: dict[PurePosixPath, bytes] = {}
    fps: dict[PurePosixPath, str] = {}
    rendered: list[PurePosixPath] = []
    for job in jobs(site, theme, today, diffs, links, preview):
        path = _out_path(job.url)
        if path in files:  # two pages claiming one URL is a piasite bug, caught by tests
            raise RuntimeError(f"two pages render to {path}")
        if previous is not None and previous.fingerprints.get(path) == job.fingerprint:
            files[path] = previous.files[path]
        else:
            files[path] = job.make()
            rendered.append(path)
        fps[path] = job.fingerprint
    files[PurePosixPath("sitemap.xml")] = _sitemap(site, files)
    files.update(static_files(theme))
    return Rendered(files, fps, rendered)


def _group_rows(rows, marks, targets: Mapping[int, str]) -> list[dict]:
    groups: dict[str, dict] = {}
    for row in rows:
        g = groups.setdefault(row.date_text, dict(date_text=row.date_text, date_iso=row.date_iso,
                                                  rows=[]))
        g["rows"].append(dict(row=row, marks=views.row_marks(row, marks[row.index - 1]),
                              diff_url=targets.get(row.index, "")))
    # Newest first; rows the document prints without a 変更日 come first (a draft's own rows).
    return sorted(groups.values(), key=lambda g: g["date_iso"] or "9999", reverse=True)


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
