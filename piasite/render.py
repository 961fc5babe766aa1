"""Render the model into pages: {URL path: bytes}. No disk writes happen here."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
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

from . import diagram, export, feeds, routes, views
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
    env.globals["urls"] = routes.Urls  # templates ask the route table: {{ urls.search() }}
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
    # repr of plain values and frozen dataclasses is deterministic (dicts keep the order they
    # were built in) and much cheaper than JSON; an object without its own repr would only
    # make its page re-render every time, never be reused wrongly.
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _inputs(obj: object, *without: str) -> dict:
    """Every field of a model object but the named ones (its children, fingerprinted apart)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            if f.name not in without}


class _Jobs:
    """Collects the pages of one build. A page whose view data is cheap to make is
    fingerprinted by exactly what its template receives; a page of an assessment by the
    inputs of that assessment (its files' digests) and its URL from the route table."""

    def __init__(self, r: Renderer, theme: Theme):
        self.r = r
        self.out: list[Job] = []
        # What every template receives besides its own context.
        self.base = _fp(theme.digest, r.site_ctx)

    def page(self, template: str, url: str, title: str, crumbs: list[Crumb], **ctx) -> None:
        self.out.append(Job(url, _fp(self.base, template, url, title, crumbs, ctx),
                            functools.partial(self.r.page, template, url, title, crumbs, **ctx)))

    def add(self, url: str, fingerprint: str, make: Callable[[], bytes]) -> None:
        self.out.append(Job(url, _fp(fingerprint, url), make))

    def data(self, url: str, data: bytes) -> None:
        """A small file made up front: its bytes are its fingerprint."""
        self.out.append(Job(url, hashlib.sha256(data).hexdigest(), lambda: data))


def jobs(site: Site, theme: Theme, today: datetime.date, diffs: Diffs | None = None,
         links: LinkIndex | None = None, preview: bool = False) -> list[Job]:
    """Every page of the site as a job, so a rebuild can re-render only what changed."""
    diffs = diffs or Diffs({}, {})
    links = links or LinkIndex({}, {}, {}, ())
    r = Renderer(site, theme, today, preview)
    r.links = links
    out = _Jobs(r, theme)
    home = Crumb("ホーム", routes.home())

    out.page("home.html", routes.home(), site.config.title, [])
    for muni_idx, m in zip(r.index, site.municipalities, strict=True):
        out.page("municipality.html", m.url, f"{m.full_name}の評価書", [home], muni=muni_idx)
        mcrumb = Crumb(m.full_name, m.url)
        for a in m.affairs:
            _affair_jobs(out, site, m, a, diffs, home, mcrumb)
    out.page("404.html", routes.not_found(), "ページが見つかりません", [home])
    out.page("search.html", routes.search(), "評価書の検索", [home],
             aliases=views.search_aliases(site.systems))
    _system_jobs(out, site, links, home)
    _comment_list_jobs(out, site, home)
    out.data(routes.schema(), export.schema_bytes())
    a11y, a11y_raw = export.accessibility_results()
    out.page("accessibility.html", routes.accessibility(), "アクセシビリティ", [home],
             results=a11y, results_url=routes.accessibility_results() if a11y else "")
    if a11y:
        out.data(routes.accessibility_results(), a11y_raw)
    return out.out


def _comment_list_jobs(out: _Jobs, site: Site, home: Crumb) -> None:
    """/comments/ (every consultation by status) and /feed.xml."""
    r = out.r
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
    out.page("comments.html", routes.comments(), "パブリックコメント（意見募集）", [home],
             groups=groups)
    out.data(routes.feed(), feeds.atom(site, site.config.base_url, views.revision_label))


def _system_jobs(out: _Jobs, site: Site, links: LinkIndex, home: Crumb) -> None:
    """/systems/ and one page per registry entry, with every assessment that uses it."""
    names = {(m.slug, a.slug): (m.full_name, a.title) for m in site.municipalities
             for a in m.affairs}
    labels = {(a.muni, a.slug, rv.id): views.revision_label(rv) for a in site.affairs()
              for rv in a.revisions}
    entries = []
    for s in sorted(site.systems, key=lambda s: (s.scope != "national", s.scope, s.slug)):
        uses = [dict(muni=names[(u.muni, u.affair)][0], affair=names[(u.muni, u.affair)][1],
                     revision=labels[(u.muni, u.affair, u.revision)], current=u.current,
                     url=f"{routes.revision(u.muni, u.affair, u.revision)}#{u.anchor}",
                     number=u.number, label=u.label)
                for u in links.uses.get(s.slug, ())]
        entries.append(dict(slug=s.slug, name=s.name, url=s.url, scope=s.scope,
                            scope_name=s.scope_name, operator=s.operator, aliases=s.aliases,
                            description=s.description, description_source=s.description_source,
                            related=[dict(name=links.systems[x].name, url=links.systems[x].url)
                                     for x in s.related if x in links.systems],
                            uses=uses,
                            n_assessments=len({(u["muni"], u["affair"]) for u in uses})))
    out.page("systems.html", routes.systems(), "システム登録簿", [home], systems=entries)
    crumb = Crumb("システム登録簿", routes.systems())
    for e in entries:
        out.page("system.html", e["url"], f"{e['name']}｜システム登録簿", [home, crumb], system=e)


def _affair_jobs(out: _Jobs, site: Site, m, a, diffs, home: Crumb, mcrumb: Crumb) -> None:
    r = out.r
    acrumb = Crumb(a.title, a.url)
    adiffs = [d for k, d in sorted(diffs.pairs.items()) if k[:2] == (m.slug, a.slug)]
    labels = {rv.id: views.revision_label(rv) for rv in a.revisions}
    links = [views.DiffLink(d.url, labels[d.old_id], labels[d.new_id], d.old_id, d.new_id,
                            len(d.changed)) for d in adiffs]
    # Everything an assessment's pages show: the site's templates and settings, the registry,
    # this municipality and assessment, and the digests of its versions' and documents'
    # files. An edit to one version re-renders this assessment's pages and nothing else.
    afp = _fp(out.base, repr(site.systems), _inputs(m, "affairs"),
              _inputs(a, "revisions", "pages"), [(rv.id, rv.digest) for rv in a.revisions],
              [p.digest for p in a.pages])
    affair_ctx = dict(title=a.title, url=a.url, muni=m.full_name)
    # Each draft with a comment period: its status box tops every page of that draft (the
    # newer draft's, on a page about two of them).
    consults = {rv.id: views.consultation_view(rv, a, m, r.today, adiffs)
                for rv in a.revisions if rv.status == "draft" and rv.comment}

    def about_draft(*ids: str) -> dict | None:
        return next((consults[i] for i in sorted(ids, reverse=True) if i in consults), None)

    for rv in a.revisions:
        if rv.id in consults:
            _consultation_jobs(out, afp, m, a, rv, consults[rv.id], home, mcrumb, acrumb)
    for d in adiffs:
        def make_diff(d=d):
            dv = views.diff_view(d, labels)
            title = f"新旧対照表 {a.title}（{dv['new_label']}と{dv['old_label']}）｜{m.full_name}"
            return r.page("diff.html", d.url, title, [home, mcrumb, acrumb], diff=dv,
                          affair=affair_ctx, links=links,
                          consult=about_draft(d.old_id, d.new_id))

        inline = routes.diff_inline(m.slug, a.slug, d.old_id, d.new_id)

        def make_inline(d=d, inline=inline):
            return r.page("diff_inline.html", inline,
                          f"変更箇所のみ（1列表示） {a.title}｜{m.full_name}",
                          [home, mcrumb, acrumb, Crumb("新旧対照表", d.url)],
                          diff=views.diff_view(d, labels), affair=affair_ctx,
                          consult=about_draft(d.old_id, d.new_id))

        out.add(d.url, afp, make_diff)
        out.add(inline, afp, make_inline)
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

        out.add(rev.url, afp, make_rev)
        out.add(routes.revision_json(m.slug, a.slug, rev.id), _fp(afp, site.config),
                functools.partial(export.revision_json, rev, a, m, r.site.config))
        if rev is a.current:
            out.add(a.url, _fp(afp, rev.id), functools.partial(make_rev, rev, a.url, True))
    for doc in a.pages:
        url = routes.document(m.slug, a.slug, doc.slug)

        def make_doc(doc=doc, url=url):
            owner = next((rv for rv in a.revisions if rv.id == doc.revision), None)
            return r.page("document.html", url, f"{doc.title}｜{a.title}｜{m.full_name}",
                          [home, mcrumb, acrumb], doc=dict(
                              title=doc.title, html=views.md(doc.body, document=True),
                              source=doc.source,
                              revision_label=views.revision_label(owner) if owner else "",
                              revision_url=owner.url if owner else ""),
                          consult=about_draft(doc.revision))

        out.add(url, afp, make_doc)
    cur = a.latest
    if cur is not None:
        changes = routes.changes(m.slug, a.slug)

        def make_changes():
            rv = views.revision_view(cur, a, m, links)
            marks = diffs.rows.get((m.slug, a.slug, cur.id), ())
            groups = _group_rows(rv.changes, marks, views.row_diff_targets(a, adiffs))
            return r.page("changes.html", changes,
                          f"{a.title} 変更箇所の履歴｜{m.full_name}",
                          [home, mcrumb, acrumb], rev=rv, groups=groups,
                          consult=about_draft(cur.id))

        out.add(changes, afp, make_changes)
        out.data(routes.changes_csv(m.slug, a.slug), export.changes_csv(cur))


def _consultation_jobs(out: _Jobs, afp: str, m, a, draft, consult: dict, home: Crumb,
                       mcrumb: Crumb, acrumb: Crumb) -> None:
    """The draft's results page and its calendar file."""
    r = out.r
    dcrumb = Crumb(views.revision_label(draft), draft.url)
    url = routes.results(m.slug, a.slug, draft.id)
    out.add(url, afp, lambda: r.page(
        "results.html", url, f"意見募集の結果 {a.title}（{consult['draft_label']}）｜{m.full_name}",
        [home, mcrumb, acrumb, dcrumb], consult=consult))
    out.data(routes.comment_ics(m.slug, a.slug, draft.id),
             feeds.ics(draft, a, m, r.site.config.base_url))


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
        path = routes.output_path(job.url)
        if path in files:  # content names that collide are refused by the loader (E013)
            raise RuntimeError(f"two pages render to {path}")
        if previous is not None and previous.fingerprints.get(path) == job.fingerprint:
            files[path] = previous.files[path]
        else:
            files[path] = job.make()
            rendered.append(path)
        fps[path] = job.fingerprint
    files[routes.output_path(routes.sitemap())] = _sitemap(site, files)
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
    not_found = routes.output_path(routes.not_found())
    urls = []
    for path in sorted(pages, key=str):
        if path.suffix != ".html" or path == not_found:
            continue
        urls.append(f"  <url><loc>{xml_escape(base + routes.page_url(path))}</loc></url>")
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
                out[routes.output_path(routes.static(p.relative_to(d).as_posix()))] = p.read_bytes()
    return out
