"""Render the model into pages: {URL path: bytes}. No disk writes happen here."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import hashlib
import importlib.resources
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from jinja2.runtime import Context, Macro
from jinja2.utils import internalcode
from markupsafe import Markup, escape

try:  # MarkupSafe 3: the C function its escape() wraps in a Markup
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - another MarkupSafe: its own escape(), slower
    _escape_inner = None

from . import compare, diagram, export, feeds, prefectures, routes, views
from .diff import Diffs
from .filters import FILTERS
from .link import LinkIndex
from .model import (
    FORM_KINDS,
    Affair,
    Family,
    Form,
    FormNode,
    Municipality,
    Site,
    SiteConfig,
    System,
)
from .pickling import Packed
from .summary import AffairSummary, SiteSummary
from .views import Crumb


@dataclass(frozen=True, slots=True)
class Theme:
    templates: tuple[Path, ...]
    """Template folders, the site's own theme first and the default theme last."""
    static: tuple[Path, ...]
    digest: str = ""
    """Hash of every template and asset: a theme edit re-renders every page."""
    overrides: tuple[ThemeFile, ...] = ()
    """Files of the site's own theme folders that change what the default theme gives."""
    compiled: str = ""
    """Where Jinja keeps the templates it compiled, from build to build ("": nowhere). A
    rebuild after one edit compiled its templates again: 0.1–0.2 s of 2.5 at 1,000
    versions."""


@dataclass(frozen=True, slots=True)
class ThemeFile:
    folder: str
    """The site's theme folder holding it, relative to the site: "themes/civic"."""
    path: str
    """Relative to that folder: "templates/base.html", "static/style.css"."""
    replaces: bool
    """True when the default theme has a file of that name; False for a file it adds."""


def default_theme_dir() -> Path:
    """The default theme shipped in the package (themes/default/ in this repository).

    A wheel installs it as piasite/themes/default/; the editable install maps the package
    piasite.themes onto the repository's themes/ folder (pyproject.toml).
    """
    # Path(): Jinja's FileSystemLoader needs a real folder, which an unzipped install gives.
    return Path(importlib.resources.files("piasite.themes")) / "default"


def is_folder(p: Path) -> bool:
    """Whether `p` is a folder; a name the file system refuses (too long …) is none."""
    try:
        return p.is_dir()
    except OSError:
        return False


def find_theme(root: Path, name: str, cache: Path | None = None) -> Theme:
    """The site's theme `name` and its own themes/default/ (if any) over the shipped default;
    its compiled templates kept in the build's `cache` folder, if given."""
    base = default_theme_dir()
    dirs = []
    # The repository's own site has themes/default/, which is the shipped default theme
    # itself: resolve() keeps it from being layered twice.
    for d in (root / "themes" / name, root / "themes" / "default", base):
        if is_folder(d) and d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)
    h = hashlib.sha256()
    files: dict[Path, list[Path]] = {}
    for layer, d in enumerate(dirs):
        files[d] = [p for p in sorted(d.rglob("*")) if p.is_file()]
        for p in files[d]:
            # By layer and place in it, not by absolute path: the same piasite installed in
            # another folder or environment reuses the build cache (it rebuilt everything).
            h.update(f"{layer}/{p.relative_to(d).as_posix()}".encode() + b"\0" + p.read_bytes())
    return Theme(tuple(d / "templates" for d in dirs), tuple(d / "static" for d in dirs),
                 h.hexdigest(), _overrides(root, dirs[:-1], base, files),
                 str(cache / "templates") if cache else "")


def _overrides(root: Path, own: list[Path], base: Path,
               files: Mapping[Path, list[Path]]) -> tuple[ThemeFile, ...]:
    """The site's theme files that change the output: a copy identical to the default is none."""
    out = []
    shadowed: set[str] = set()
    for d in own:
        for p in files[d]:
            rel = p.relative_to(d).as_posix()
            if not rel.startswith(("templates/", "static/")) or rel in shadowed:
                continue
            shadowed.add(rel)
            default = base / rel
            if default.is_file() and default.read_bytes() == p.read_bytes():
                continue
            folder = d.relative_to(root).as_posix() if d.is_relative_to(root) else str(d)
            out.append(ThemeFile(folder, rel, default.is_file()))
    return tuple(out)


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's environment, with `x.name` of a plain dict read as its key at once.

    Jinja reads `x.name` as the attribute and, when that raises AttributeError, as the key:
    most views are dicts, and raising that exception for each of their keys was 3 % of a
    build. A dict has no attribute but its type's (items, keys…), so for any other name the
    answer is the same; those names still take Jinja's way, copied from Jinja 3.1 rather
    than called (a call through super() doubled the cost of an object's attribute)."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


def _escaped(value) -> str:
    """markupsafe.escape for what a template writes out (`{{ x }}`): the same text, but a
    plain str. Jinja joins what it writes into the page at once; escape() made a Markup of
    each piece first, in Python (Markup.__new__ and escape were 4.6 % of a cold build, a
    string 0.42 -> 0.07 us)."""
    if type(value) is str:
        return _escape_inner(value)
    if type(value) is Markup:
        return value
    return escape(value)


class _Context(Context):
    """Jinja's template context, with a call of one of the templates' own macros made at
    once. Jinja looks at whatever a template calls for a `pass_context` mark (on the object,
    then on its `__call__`), which a macro never has: `_fields.html` draws each item with
    macros calling macros, and that look was 1.7 % of a cold 1,000-version build (the calls
    of a macro-heavy page 20 % quicker). Anything else is called as Jinja calls it."""

    @internalcode
    def call(__self, __obj, *args, **kwargs):
        if type(__obj) is not Macro:
            return Context.call(__self, __obj, *args, **kwargs)
        if kwargs:  # what Jinja passes along for context functions
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Context.call
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception")


class _Template(Template):
    """A template whose `{{ x }}` goes through `_escaped`: Jinja's compiled code calls the
    `escape` of the template's own module, and only for what it writes out."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        made = super().from_code(environment, code, globals, uptodate)
        if _escape_inner is not None:
            made.root_render_func.__globals__["escape"] = _escaped
        return made


@functools.lru_cache(maxsize=4)
def environment(theme: Theme) -> Environment:
    """One Jinja environment per theme state: the preview reuses its compiled templates."""
    loader = ChoiceLoader([
        FileSystemLoader([str(t) for t in theme.templates]),
        PrefixLoader({"!base": FileSystemLoader(str(theme.templates[-1]))}),
    ])
    compiled = None
    if theme.compiled:
        Path(theme.compiled).mkdir(parents=True, exist_ok=True)
        compiled = FileSystemBytecodeCache(theme.compiled)
    env = _Environment(loader=loader, autoescape=select_autoescape(["html", "xml"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, bytecode_cache=compiled)
    env.template_class = _Template
    env.context_class = _Context
    env.filters.update(FILTERS)
    env.globals["urls"] = routes.Urls  # templates ask the route table: {{ urls.search() }}
    return env


class Renderer:
    """Holds the Jinja environment and the site-wide context for one build."""

    def __init__(self, config: SiteConfig, theme: Theme, today: datetime.date,
                 preview: bool = False):
        self.config = config
        self.links: LinkIndex | None = None
        self.compare: Callable[[Form], Mapping[str, str]] = lambda form: {}
        """A version's form -> its items' comparison pages (compare.compare_links)."""
        self.env = environment(theme)
        self.today = today
        self.site_ctx = dict(title=config.title, description=config.description,
                             base_url=config.base_url, today=today.isoformat(), preview=preview,
                             diff=dict(new_label=config.diff_new_label,
                                       old_label=config.diff_old_label,
                                       new_first=config.diff_new_first))

    def page(self, template: str, url: str, title: str, crumbs: list[Crumb], **ctx) -> bytes:
        page = dict(url=url, title=title, crumbs=crumbs, **ctx.pop("page_extra", {}))
        ctx.setdefault("consult", None)
        html = self.env.get_template(template).render(site=self.site_ctx, page=page, **ctx)
        return html.encode("utf-8")

    def fragment(self, template: str, **ctx) -> Markup:
        """Part of a page, drawn once for pages that show it alike (`page` is not known)."""
        return Markup(self.env.get_template(template).render(site=self.site_ctx, **ctx))


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """A comparison item's page or JSON, as a worker process makes it (`make_items`): the
    item pages are most of the site-wide pages' work, and can use every core."""

    kind: str
    item: str
    url: str
    json: bool
    title: str
    crumbs: tuple[Crumb, ...]
    part: str = ""
    """A prefecture's page of a split comparison (its slug), or the item's own page."""


@dataclass(frozen=True, slots=True)
class Job:
    """One page to render: its URL, a fingerprint of everything it shows, and how to make it."""

    url: str
    fingerprint: str
    make: Callable[[], bytes]
    spec: ItemSpec | None = None
    """Set when a worker process can make it instead (`make_items`)."""


@dataclass(frozen=True, slots=True)
class Group:
    """Files one fingerprint covers — a compared item's page and JSON and its prefectures'
    pages and JSON — planned one by one (`plan`) only when the build cannot take them all
    as published: with the comparisons split by prefecture at 1,000 versions, planning and
    looking up 37,000 item files was a second of every rebuild that changed none of them."""

    fingerprint: str
    plan: Callable[[], list[Job]]


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


def _joined_fp(digests: Iterable[str]) -> str:
    """`_fp` of a list of hex digests, joined rather than repr'd: an item's entries are one
    digest per assessment, and repr of the 400 items' lists was most of an edit's
    fingerprinting at 1,000 versions."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _inputs(obj: object, *without: str) -> dict:
    """Every field of a model object but the named ones (its children, fingerprinted apart)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            if f.name not in without}


class Jobs:
    """Collects the pages of one build. A page whose view data is cheap to make is
    fingerprinted by exactly what its template receives; a page of an assessment by the
    inputs of that assessment (its files' digests) and its URL from the route table."""

    def __init__(self, r: Renderer, theme: Theme, site_wide: tuple = ()):
        self.r = r
        self.out: list[Job] = []
        self.groups: list[Group] = []
        # What every template receives besides its own context, and what every page depends
        # on besides its own inputs (which form families are compared: the links on versions).
        self.base = _fp(theme.digest, r.site_ctx, site_wide)

    def group(self, fingerprint: str, plan: Callable[[Jobs], None]) -> None:
        """Files that `plan` adds, all covered by `fingerprint` (`Group`)."""
        def jobs() -> list[Job]:
            sub = copy.copy(self)
            sub.out, sub.groups = [], []
            plan(sub)
            return sub.out
        self.groups.append(Group(_fp(fingerprint, "group"), jobs))

    def all(self) -> list[Job]:
        """Every page, the groups' planned."""
        return self.out + [job for g in self.groups for job in g.plan()]

    def page(self, template: str, url: str, title: str, crumbs: list[Crumb], **ctx) -> None:
        self.out.append(Job(url, _fp(self.base, template, url, title, crumbs, ctx),
                            functools.partial(self.r.page, template, url, title, crumbs, **ctx)))

    def page_later(self, template: str, url: str, title: str, crumbs: list[Crumb],
                   inputs: object, ctx: Callable[[], dict]) -> None:
        """A page whose context is costly to make: fingerprinted by `inputs`, which stand for
        it, and made (`ctx`) only when the page is rendered."""
        self.out.append(Job(url, _fp(self.base, template, url, title, crumbs, inputs),
                            lambda: self.r.page(template, url, title, crumbs, **ctx())))

    def add(self, url: str, fingerprint: str, make: Callable[[], bytes],
            spec: ItemSpec | None = None) -> None:
        self.out.append(Job(url, _fp(fingerprint, url), make, spec))

    def data(self, url: str, data: bytes) -> None:
        """A small file made up front: its bytes are its fingerprint."""
        self.out.append(Job(url, hashlib.sha256(data).hexdigest(), lambda: data))


HOME = Crumb("ホーム", routes.home())


def jobs(site: Site, theme: Theme, today: datetime.date, diffs: Diffs | None = None,
         links: LinkIndex | None = None, preview: bool = False,
         a11y: tuple[dict | None, bytes] = (None, b"")) -> list[Job]:
    """Every page of a site held whole in memory (the preview, tests): each assessment's pages,
    then the site-wide pages made from their summaries — the same two steps a large build
    takes one assessment at a time, in worker processes (pipeline.py, assessment.py).

    `a11y` is the site's recorded accessibility results (export.accessibility_results).
    """
    diffs = diffs or Diffs({}, {})
    links = links or LinkIndex({}, {}, {}, ())
    compared = compare.compared_kinds({m.slug: {a.kind for a in m.affairs if a.revisions}
                                       for m in site.municipalities}, site.families)
    r = renderer(site.config, theme, today, preview, site.families, site.forms, compared, links)
    out = Jobs(r, theme, (repr(site.families), sorted(compared)))
    summaries = []
    for m in site.municipalities:
        for a in m.affairs:
            affair_jobs(out, m, a, diffs, links, site.systems)
            summaries.append(summarise(m, a, links, today, site.families, site.forms, compared))
    site_jobs(out, SiteSummary.assemble(site.municipalities, summaries, site.systems, links,
                                        site.families, site.forms, compared,
                                        compare.EntryStore()), a11y)
    return out.all()


def renderer(config: SiteConfig, theme: Theme, today: datetime.date, preview: bool,
             families: Mapping[str, Family], forms: Mapping[str, Form],
             compared: frozenset[str], links: LinkIndex) -> Renderer:
    r = Renderer(config, theme, today, preview)
    r.links = links
    r.compare = compare.compare_links(families, forms, compared)
    return r


def summarise(m: Municipality, a: Affair, links: LinkIndex, today: datetime.date,
              families: Mapping[str, Family], forms: Mapping[str, Form],
              compared: frozenset[str]) -> AffairSummary:
    """What the site-wide pages need from one assessment (no item text but its comparisons')."""
    mine = {(m.slug, a.slug)}
    mentions = {slug: Packed.of(ms) for slug, ms in views.mention_views(
        [x for v in links.mentions.values() for x in v if (x.muni, x.affair) in mine], a,
        m).items()}
    uses = MappingProxyType({k: us for k, v in links.uses.items()
                             if (us := tuple(u for u in v if (u.muni, u.affair) in mine))})
    labels = MappingProxyType({rv.id: views.revision_label(rv) for rv in a.revisions})
    return AffairSummary(
        muni=m.slug, slug=a.slug, title=a.title, index=views.affair_index(a),
        consultations=tuple(views.consultation_view(rev, a, m, today) for rev in a.revisions
                            if rev.comment is not None),
        feed=feeds.entries(m, a, views.revision_label),
        uses=uses,
        mentions=MappingProxyType({slug: p.digest for slug, p in mentions.items()}),
        blobs=MappingProxyType({p.digest: p.blob for p in mentions.values()}),
        labels=labels, kind=a.kind, has_versions=bool(a.revisions),
        compare=compare.record(m, a, families, forms, compared, links),
        uses_fp=_fp(a.slug, a.title, labels, uses))


def site_jobs(out: Jobs, s: SiteSummary, a11y: tuple[dict | None, bytes] = (None, b"")) -> None:
    """The pages made from every assessment's summary: home, municipalities, registry,
    comments, feed, comparisons, search, and the fixed pages (`a11y`: the site's recorded
    accessibility results, export.accessibility_results)."""
    r = out.r
    index = [dict(views.municipality_index(m), affairs=[a.index for a in affairs])
             for m, affairs in s.munis]
    out.page("home.html", routes.home(), r.config.title, [], municipalities=index)
    for muni_idx, (m, _) in zip(index, s.munis, strict=True):
        out.page("municipality.html", m.url, f"{m.full_name}の評価書", [HOME], muni=muni_idx)
    out.page("404.html", routes.not_found(), "ページが見つかりません", [HOME])
    out.page("search.html", routes.search(), "評価書の検索", [HOME],
             aliases=views.search_aliases(s.systems))
    _system_jobs(out, s)
    _comment_list_jobs(out, s)
    out.data(routes.schema(), export.schema_bytes())
    _compare_jobs(out, s)
    a11y_data, a11y_raw = a11y
    out.page("accessibility.html", routes.accessibility(), "アクセシビリティ", [HOME],
             results=a11y_data, results_url=routes.accessibility_results() if a11y_data else "")
    if a11y_data:
        out.data(routes.accessibility_results(), a11y_raw)


def _comment_list_jobs(out: Jobs, s: SiteSummary) -> None:
    """/comments/ (every consultation by status) and /feed.xml."""
    rows = [c for _, affairs in s.munis for a in affairs for c in a.consultations]
    rows.sort(key=lambda c: (c["start_iso"], c["draft_url"]), reverse=True)
    groups = [(code, title, [c for c in rows if c["status"] == code])
              for code, title in (("open", "意見募集中"), ("before", "意見募集前"),
                                  ("closed", "意見募集終了（結果公表待ち）"),
                                  ("results", "結果公表済み"))]
    # Finished consultations accumulate year after year: past prefectures.ONE_PAGE_MAX they
    # are listed by the year their period began, a page each.
    years: list[dict] = []
    done = groups[-1][2]
    if len(done) > prefectures.ONE_PAGE_MAX:
        by_year: dict[str, list[dict]] = {}
        for c in done:
            by_year.setdefault(c["start_iso"][:4], []).append(c)
        crumb = Crumb("パブリックコメント（意見募集）", routes.comments())
        for year, items in by_year.items():  # newest first, as `rows`
            url = routes.comments_year(year)
            years.append(dict(year=year, url=url, n=len(items)))
            out.page("comments_year.html", url, f"結果公表済みのパブリックコメント（{year}年）",
                     [HOME, crumb], year=year, items=items)
        groups[-1] = (*groups[-1][:2], [])
    out.page("comments.html", routes.comments(), "パブリックコメント（意見募集）", [HOME],
             groups=groups, years=years, n_done=len(done))
    out.data(routes.feed(), feeds.atom(out.r.config, (e for _, affairs in s.munis
                                                       for a in affairs for e in a.feed)))


def _system_jobs(out: Jobs, s: SiteSummary) -> None:
    """/systems/ and one page per registry entry, with every assessment that uses it and every
    item that names it.

    The pages are fingerprinted by the assessments that list each system (their municipality
    and their `uses_fp`), and their lists of uses are made only for a page that is rendered:
    making and fingerprinting every use was 0.14 s of a rebuild at 1,000 versions that
    renders none of these pages."""
    names = {(m.slug, a.slug): (m.full_name, a.title) for m, affairs in s.munis for a in affairs}
    links = s.links
    short = {m.slug: m.name for m, _ in s.munis}
    pref = {m.slug: prefectures.of(m.code, m.prefecture) for m, _ in s.munis}
    # System slug -> (municipality, assessment, what stands for all a page shows of it) of each
    # assessment listing it, in the site's order.
    listing: dict[str, list[tuple[str, str, str]]] = {}
    for m, affairs in s.munis:
        m_fp = _fp(m)
        for a in affairs:
            for slug in a.uses:
                listing.setdefault(slug, []).append((m.slug, a.slug, m_fp + a.uses_fp))

    @functools.cache
    def labels() -> dict[tuple[str, str, str], str]:
        return {(m.slug, a.slug, rid): label for m, affairs in s.munis for a in affairs
                for rid, label in a.labels.items()}

    @functools.cache
    def uses_of(slug: str) -> list[dict]:
        return [dict(muni=names[(u.muni, u.affair)][0], affair=names[(u.muni, u.affair)][1],
                     revision=labels()[(u.muni, u.affair, u.revision)], current=u.current,
                     url=f"{routes.revision(u.muni, u.affair, u.revision)}#{u.anchor}",
                     number=u.number, label=u.label)
                for u in links.uses.get(slug, ())]

    @functools.cache
    def uses_in(slug: str) -> dict[str, list[dict]]:
        """Prefecture slug -> its uses of the system, in one pass."""
        out: dict[str, list[dict]] = {}
        for u, d in zip(links.uses.get(slug, ()), uses_of(slug), strict=True):
            out.setdefault(pref[u.muni].slug, []).append(d)
        return out

    heads = []
    for sy in sorted(s.systems, key=lambda x: (x.scope != "national", x.scope, x.slug)):
        listers = listing.get(sy.slug, [])
        heads.append(dict(slug=sy.slug, name=sy.name, url=sy.url, scope=sy.scope,
                          scope_name=sy.scope_name, operator=sy.operator, aliases=sy.aliases,
                          description=sy.description, description_source=sy.description_source,
                          related=[dict(name=links.systems[x].name, url=links.systems[x].url)
                                   for x in sy.related if x in links.systems],
                          n_assessments=len({names[(m, a)] for m, a, _ in listers}),
                          n_mentioning=len(s.mentions.get(sy.slug, ())),
                          link_prose=sy.link_prose,
                          search=views.system_search(sy.name, [short[m] for m, _, _ in listers])))
    out.page_later("systems.html", routes.systems(), "システム登録簿", [HOME],
                   [(h, _joined_fp(k for _, _, k in listing.get(h["slug"], ()))) for h in heads],
                   lambda: dict(systems=[dict(h, uses=uses_of(h["slug"])) for h in heads]))
    crumb = Crumb("システム登録簿", routes.systems())
    for h in heads:
        slug = h["slug"]
        # Each assessment that names the system: (municipality, assessment, digest).
        named = s.mentions.get(slug, [])
        # Every assessment the page shows: those listing it, then those only naming it.
        on_page = list(dict.fromkeys([(u.muni, u.affair) for u in links.uses.get(slug, ())]
                                     + [(m, a) for m, a, _ in named]))
        split = prefectures.split([pref[m] for m, _ in on_page])
        # Fingerprinted by the digests; the items are read from the store only when made.
        digests = [d for _, _, d in named]
        listers = listing.get(slug, [])
        if not split:
            out.page_later("system.html", h["url"], f"{h['name']}｜システム登録簿",
                           [HOME, crumb], (h, _joined_fp(k for _, _, k in listers), digests),
                           lambda h=h, digests=digests: _system_page(
                               dict(h, uses=uses_of(h["slug"])), s, digests, None))
            continue
        # Each prefecture's listers and mentions, in one pass (a national system's page has
        # tens of thousands of rows and 47 prefectures).
        listers_of: dict[str, list[tuple[str, str, str]]] = {}
        for x in listers:
            listers_of.setdefault(pref[x[0]].slug, []).append(x)
        named_of: dict[str, list[str]] = {}
        for m, _, d in named:
            named_of.setdefault(pref[m].slug, []).append(d)
        shares = []
        for p, _ in split:
            mine, theirs = named_of.get(p.slug, []), listers_of.get(p.slug, [])
            shares.append(dict(name=p.name, url=routes.system_part(slug, p.slug),
                               n_assessments=len({names[(m, a)] for m, a, _ in theirs}),
                               n_mentioning=len(mine)))
            part = dict(name=p.name, url=shares[-1]["url"])
            # Not searched (its system page is): no search text, and unchanged by an edit in
            # another prefecture.
            entry = {k: v for k, v in h.items() if k != "search"} | dict(
                n_assessments=shares[-1]["n_assessments"], n_mentioning=len(mine), part=part)
            out.page_later("system.html", part["url"], f"{h['name']}（{p.name}）｜システム登録簿",
                           [HOME, crumb, Crumb(h["name"], h["url"])],
                           (entry, _joined_fp(k for _, _, k in theirs), mine),
                           lambda entry=entry, mine=mine, p=p: _system_page(
                               dict(entry, uses=uses_in(entry["slug"]).get(p.slug, [])), s, mine, None))
        head = dict(h, uses=[], n_on_page=len(on_page))
        out.page_later("system.html", h["url"], f"{h['name']}｜システム登録簿", [HOME, crumb],
                       (head, shares), functools.partial(_system_page, head, s, [], shares))


def _system_page(entry: dict, s: SiteSummary, digests: list[str],
                 parts: list[dict] | None) -> dict:
    """A system's page: every assessment listing or naming it, or (`parts`) the prefectures'
    pages of a large site; or one prefecture's (`entry["part"]`)."""
    return dict(system=dict(entry, mentions=views.mention_groups(s.mention_items(digests)),
                            parts=parts or [], part=entry.get("part")))


def _compare_jobs(out: Jobs, s: SiteSummary) -> None:
    """/compare/ (every assessment's key facts, and as CSV), and for each family used by two
    municipalities or more, its list of items and one page (and JSON) per item."""
    r = out.r
    base_url = r.config.base_url
    records = [a.compare for _, affairs in s.munis for a in affairs if a.compare is not None]
    rows = [rec.row for rec in records]
    comps = s.comparisons
    kinds = sorted({a.kind for _, affairs in s.munis for a in affairs})
    families = [dict(name=comps[k].name if k in comps else FORM_KINDS.get(k, k),
                     url=compare.family_url(k) if k in comps else "",
                     n=sum(1 for _, affairs in s.munis for a in affairs if a.kind == k),
                     n_munis=sum(1 for _, affairs in s.munis if any(a.kind == k for a in affairs)),
                     n_items=len(comps[k].nodes) if k in comps else 0)
                for k in kinds]
    # The rows' digest once, for the page and its CSV.
    rows_fp = _joined_fp(rec.row_fp for rec in records)
    ctx = dict(rows=rows, facts=compare.FACTS, families=families, parts=[], part=None,
               csv_url=compare.OVERVIEW_CSV_URL, minimum=compare.MIN_MUNICIPALITIES)
    crumb = Crumb("評価書の比較", compare.INDEX_URL)
    split = prefectures.split([r.compared.pref for r in rows])
    for p, members in split:
        # A prefecture's rows, on a page of their own: a national overview would be 60 MB.
        mine = [rows[i] for i in members]
        url = routes.compare_overview_part(p.slug)
        ctx["parts"].append(dict(name=p.name, url=url, n=len(mine)))
        part_ctx = dict(ctx, rows=mine, parts=[], part=dict(name=p.name))
        out.page_later("compare.html", url, f"評価書の比較（{p.name}）", [HOME, crumb],
                       (_joined_fp(records[i].row_fp for i in members),
                        {k: v for k, v in part_ctx.items() if k != "rows"}),
                       lambda part_ctx=part_ctx: part_ctx)
    if split:
        ctx = dict(ctx, rows=[], n_rows=len(rows))
    out.page_later("compare.html", compare.INDEX_URL, "評価書の比較", [HOME],
                   (rows_fp, {k: v for k, v in ctx.items() if k != "rows"}), lambda: ctx)
    out.add(compare.OVERVIEW_CSV_URL, _fp(out.base, rows_fp, base_url),
            lambda: compare.overview_csv(rows, base_url))
    for kind, comp in comps.items():
        furl = compare.family_url(kind)
        out.page("compare_family.html", furl, f"{comp.name}の項目ごとの比較", [HOME, crumb],
                 family=views.compare_family_view(comp))
        fcrumb = Crumb(f"{comp.name}の項目", furl)
        # What an item page shows of each assessment besides the item, and the item's entries
        # (by their digests): an edit re-renders only the comparisons of the items it changed.
        titles = [n.title for n in comp.nodes]
        ffp = _fp(out.base, _joined_fp(comp.fps), titles)
        # A prefecture's page shows only its own assessments: an edit elsewhere leaves it be.
        pfps = {p.pref.slug: _fp(out.base, p.pref, _joined_fp(comp.fps[i] for i in p.members),
                                 titles) for p in comp.parts}
        # An item's files, all of them, depend on nothing but these and the item's entries.
        gfp = _fp(ffp, comp.parts, base_url)
        for n in comp.nodes:
            ifp = _fp(ffp, n.id, _joined_fp(comp.digests[n.id]))
            out.group(_fp(gfp, ifp), functools.partial(
                _item_jobs, comp=comp, kind=kind, n=n, ifp=ifp, pfps=pfps,
                crumbs=(HOME, crumb, fcrumb)))


def _item_jobs(out: Jobs, comp: compare.FamilyComparison, kind: str, n: FormNode, ifp: str,
               pfps: Mapping[str, str], crumbs: tuple[Crumb, ...]) -> None:
    """Item `n`'s page and JSON, and past the split, its prefectures' (`Jobs.group`)."""
    r = out.r
    base_url = r.config.base_url
    views_ = ItemViews(comp, n.id, base_url)
    title = f"{n.title}｜{comp.name}の項目の比較"
    specs = [
        (ItemSpec(kind, n.id, compare.compare_url(kind, n.id), False, title, crumbs),
         _fp(ifp, "item")),
        (ItemSpec(kind, n.id, compare.compare_json_url(kind, n.id), True, "", ()),
         _fp(ifp, "json", base_url))]
    icrumb = Crumb(n.title, compare.compare_url(kind, n.id))
    digests = comp.digests[n.id]
    has = (i for i, d in enumerate(digests) if d)  # an entry's assessment: a digest
    for sh in compare.shares(comp, n.id, has) if comp.parts else ():
        slug = sh.part.pref.slug
        pfp = _fp(pfps[slug], n.id, _joined_fp([digests[i] for i in sh.part.members]))
        specs += [
            (ItemSpec(kind, n.id, compare.part_url(kind, n.id, slug), False,
                      f"{n.title}（{sh.part.pref.name}）｜{comp.name}の項目の比較",
                      (*crumbs, icrumb), slug), _fp(pfp, "item")),
            (ItemSpec(kind, n.id, compare.part_json_url(kind, n.id, slug), True, "", (),
                      slug), _fp(pfp, "json", base_url))]
    for spec, fp in specs:
        out.add(spec.url, fp,
                lambda spec=spec, views_=views_: item_file(r, spec, views_(spec.part)), spec)


class ItemViews:
    """What an item's pages and JSON show — the item's own, or a prefecture's part of a split
    comparison — from its entries, read from the store once and each made once (for the page
    and its JSON)."""

    def __init__(self, comp: compare.FamilyComparison, item: str, base_url: str):
        self.comp, self.item, self.base_url = comp, item, base_url
        self.entries: list[tuple[int, compare.Entry]] | None = None
        self.made: dict[str, dict] = {}

    def __call__(self, part: str = "") -> dict:
        hit = self.made.get(part)
        if hit is None:
            comp, item = self.comp, self.item
            if self.entries is None:
                # The whole item's, even for a part: its own page comes from the same batch.
                self.entries = comp.entries(item)
            p = comp.part(part) if part else None
            entries = self.entries
            if p is not None:
                members = frozenset(p.members)
                entries = [(i, e) for i, e in entries if i in members]
            counts = compare.choice_counts(comp, item, entries)
            hit = self.made[part] = dict(
                page=views.compare_item_view(comp, item, entries, counts, p),
                data=compare.item_data(comp, item, self.base_url, entries, counts, p))
        return hit


def item_file(r: Renderer, spec: ItemSpec, view: dict) -> bytes:
    if spec.json:
        return export.json_bytes(view["data"])
    return r.page("compare_item.html", spec.url, spec.title, list(spec.crumbs),
                  item=view["page"])


def make_items(r: Renderer, comp: compare.FamilyComparison, specs: list[ItemSpec],
               rows: Mapping[str, tuple[tuple[int, str], ...]], store: Path
               ) -> Iterator[bytes]:
    """The files of `specs` (items of `comp`'s family), as `_compare_jobs` makes them, in a
    worker process, one at a time: each item's entries (`rows`: item -> the parent's
    EntryStore.rows) are read from the store at `store` (the parent's, committed). An item's
    page at 1,000 versions is up to 8 MB: a batch's files held together were most of what a
    worker took."""
    entries = compare.EntryStore(store)
    try:
        for item, found in rows.items():
            entries.set_rows(comp.family.id, item, found)
        comp = dataclasses.replace(comp, store=entries)
        views_: dict[str, ItemViews] = {}
        for spec in specs:
            if spec.item not in views_:
                views_.clear()  # a batch holds an item's files together: one item's at a time
                views_[spec.item] = ItemViews(comp, spec.item, r.config.base_url)
            yield item_file(r, spec, views_[spec.item](spec.part))
    finally:
        entries.close()


def affair_jobs(out: Jobs, m: Municipality, a: Affair, diffs: Diffs, links: LinkIndex,
                systems: tuple[System, ...]) -> None:
    """Every page of one assessment: its versions, 新旧対照表, 変更箇所, documents, data."""
    r = out.r
    home, mcrumb = HOME, Crumb(m.full_name, m.url)
    acrumb = Crumb(a.title, a.url)
    adiffs = [d for k, d in sorted(diffs.pairs.items()) if k[:2] == (m.slug, a.slug)]
    labels = {rv.id: views.revision_label(rv) for rv in a.revisions}
    dlinks = [views.DiffLink(d.url, labels[d.old_id], labels[d.new_id], d.old_id, d.new_id,
                             len(d.changed)) for d in adiffs]
    # Everything an assessment's pages show: the site's templates and settings, the registry,
    # this municipality and assessment, and the digests of its versions' and documents'
    # files. An edit to one version re-renders this assessment's pages and nothing else.
    afp = _fp(out.base, repr(systems), _inputs(m, "affairs"),
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
                          affair=affair_ctx, links=dlinks,
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
        def seen(rev=rev):
            rv = views.revision_view(rev, a, m, dlinks, links, r.compare(rev.form))
            return rv, diagram.graph(rev, links), r.fragment("_sections.html", rev=rv)

        if rev is a.current:
            # Shown twice (its own page and the assessment's): its view, its diagram and its
            # form's sections are made once.
            seen = functools.cache(seen)

        def make_rev(rev=rev, url=rev.url, alias=False, seen=seen):
            rv, g, sections = seen()
            if alias:
                title = f"{a.title}（現行版・{rv.label}）｜{m.full_name}"
                return r.page("revision.html", url, title, [home, mcrumb], rev=rv,
                              canonical=rev.url, graph=_graph_view(g, a, m),
                              consult=about_draft(rev.id), sections=sections)
            title = f"{a.title}（{rv.label}）｜{m.full_name}"
            return r.page("revision.html", url, title, [home, mcrumb, acrumb], rev=rv,
                          canonical=rev.url, graph=_graph_view(g, a, m),
                          consult=about_draft(rev.id), sections=sections)

        out.add(rev.url, afp, make_rev)
        out.add(routes.revision_json(m.slug, a.slug, rev.id), _fp(afp, r.config),
                functools.partial(export.revision_json, rev, a, m, r.config))
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
                              revision_url=owner.url if owner else "",
                              search=views.document_search(doc, a, m)),
                          consult=about_draft(doc.revision))

        out.add(url, afp, make_doc)
    cur = a.latest
    if cur is not None:
        changes = routes.changes(m.slug, a.slug)

        def make_changes():
            rv = views.revision_view(cur, a, m, dlinks, items=False)
            marks = diffs.rows.get((m.slug, a.slug, cur.id), ())
            groups = _group_rows(rv.changes, marks, views.row_diff_targets(a, adiffs))
            return r.page("changes.html", changes,
                          f"{a.title} 変更箇所の履歴｜{m.full_name}",
                          [home, mcrumb, acrumb], rev=rv, groups=groups,
                          consult=about_draft(cur.id))

        out.add(changes, afp, make_changes)
        out.data(routes.changes_csv(m.slug, a.slug), export.changes_csv(cur))


def _consultation_jobs(out: Jobs, afp: str, m, a, draft, consult: dict, home: Crumb,
                       mcrumb: Crumb, acrumb: Crumb) -> None:
    """The draft's results page and its calendar file."""
    r = out.r
    dcrumb = Crumb(views.revision_label(draft), draft.url)
    url = routes.results(m.slug, a.slug, draft.id)
    out.add(url, afp, lambda: r.page(
        "results.html", url, f"意見募集の結果 {a.title}（{consult['draft_label']}）｜{m.full_name}",
        [home, mcrumb, acrumb, dcrumb], consult=consult))
    out.data(routes.comment_ics(m.slug, a.slug, draft.id),
             feeds.ics(draft, a, m, r.config.base_url))


def _graph_view(g, a, m) -> dict:
    desc = (f"{m.full_name}の{a.title}が記載するシステム{len(g.nodes)}件と、評価書に書かれた接続"
            f"{len(g.edges)}件。同じ内容を下の表でも示しています。")
    return dict(svg=views.svg_markup(diagram.svg(g, f"{a.title}のシステム構成", desc)) if g.nodes
                else "", nodes=[dict(n=n, neighbours=g.neighbours(n.slug)) for n in g.nodes],
                n_edges=len(g.edges))


def render(site: Site, theme: Theme, today: datetime.date, diffs: Diffs | None = None,
           links: LinkIndex | None = None, previous: Rendered | None = None,
           preview: bool = False, a11y: tuple[dict | None, bytes] = (None, b"")) -> Rendered:
    """Render every page; with `previous`, reuse pages whose fingerprint did not change."""
    files: dict[PurePosixPath, bytes] = {}
    fps: dict[PurePosixPath, str] = {}
    rendered: list[PurePosixPath] = []
    for job in jobs(site, theme, today, diffs, links, preview, a11y):
        path = routes.output_path(job.url)
        if path in files:  # content names that collide are refused by the loader (E013)
            raise RuntimeError(f"two pages render to {path}")
        if previous is not None and previous.fingerprints.get(path) == job.fingerprint:
            files[path] = previous.files[path]
        else:
            files[path] = job.make()
            rendered.append(path)
        fps[path] = job.fingerprint
    files.update(sitemaps(site.config.base_url, files))
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


SITEMAP_MAX_URLS = 50_000
"""The sitemaps protocol's limit for one file (sitemaps.org): past it, /sitemap.xml is an index
of /sitemaps/<n>.xml, each of this many URLs (at most; about 5 MB, under the 50 MB limit)."""


def sitemaps(base: str, pages: Iterable[PurePosixPath | str]) -> dict[PurePosixPath, bytes]:
    """Every HTML page but the 404 page, as absolute URLs: /sitemap.xml, or for a site past
    SITEMAP_MAX_URLS pages, an index of sitemaps of that many."""
    not_found = routes.output_name(routes.not_found())
    urls = []
    for name in sorted(map(str, pages)):
        if not name.endswith(".html") or name == not_found:
            continue
        urls.append(f"  <url><loc>{feeds.escape(base + routes.page_url(name))}</loc></url>")
    top = routes.output_path(routes.sitemap())
    if len(urls) <= SITEMAP_MAX_URLS:
        return {top: _sitemap_xml("urlset", urls)}
    out = {}
    listed = []
    for n, i in enumerate(range(0, len(urls), SITEMAP_MAX_URLS), 1):
        url = routes.sitemap_part(str(n))
        out[routes.output_path(url)] = _sitemap_xml("urlset", urls[i:i + SITEMAP_MAX_URLS])
        listed.append(f"  <sitemap><loc>{feeds.escape(base + url)}</loc></sitemap>")
    out[top] = _sitemap_xml("sitemapindex", listed)
    return out


def _sitemap_xml(root: str, lines: list[str]) -> bytes:
    body = "\n".join(lines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}\n</{root}>\n"
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
