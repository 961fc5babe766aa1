"""Every internal link and #anchor in the rendered site must resolve (E701).

Runs on the in-memory pages after `render` and before `write`, so a dangling link stops the
build and output/ stays as it was. A resident who follows a citation such as
`/midori/juki/2025-12-12/#I-1-3` must land on that item.

Internal links are root-relative (`/x/`), relative (`../x`, `#id`) or absolute under the site's
`base_url` (the sitemap and the feed). `/x/` means `x/index.html`. Files that a later step adds
(the Pagefind bundle under `pagefind/`) are not in memory yet and are taken on trust.
"""

from __future__ import annotations

import functools
import re
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from html import unescape
from pathlib import Path, PurePosixPath
from sys import intern
from urllib.parse import unquote, urljoin, urlsplit

from . import routes
from .diagnostics import Diagnostic, Span, error
from .model import Site
from .pickling import quick_pickle
from .routes import GENERATED_LATER, page_url

_LINK_ATTRS = {"href", "src", "action", "poster", "data"}
_XML_LINK = re.compile(r"<loc>([^<]*)</loc>|\bhref=\"([^\"]*)\"")


# Rendered pages are autoescaped: `<` and `>` never occur inside attribute values, so a regex
# over tags is exact here and several times faster than html.parser on the ~6 MB site.
_KEPT_NAME = r"(?i:id|href|src|action|poster|data|name)\s*="
_KEPT_TAG = re.compile(
    rf"<[a-zA-Z][^\s>]*+(?:\s++(?!{_KEPT_NAME})[^\s>]*+)*+\s+{_KEPT_NAME}[^>]*>")
"""A tag with an attribute the check keeps (and a few more: the name may stand inside another
attribute's value; `_ATTR` then reads the tag as it is). Most tags (a td, a p with a class)
have none, and the regex passes over them in C: a loop over every tag was 4 % of a build.
Possessive, a tag's words are not tried again after the lazy `[^>]*?` of the same match had
read them: a quarter quicker, the same tags."""
_ATTR = re.compile(r"""\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")


class _Page:
    """The ids and the (line, col, url) of every link-like attribute of one page."""

    def __init__(self, text: str) -> None:
        self.ids: set[str] = set()
        self.text = text
        self.links: list[tuple[int, str]] = []
        """(offset, url): the position is worked out only for a broken link."""
        for tag in _KEPT_TAG.finditer(text):
            ids, links = _read_tag(tag.group(0))
            if ids:
                self.ids.update(ids)
            if links:
                start = tag.start()
                for at, url in links:
                    self.links.append((start + at, url))


@functools.lru_cache(maxsize=20_000)
def _read_tag(raw: str) -> tuple[tuple[str, ...], tuple[tuple[int, str], ...]]:
    """One tag's ids and its links, each at its offset in the tag. Remembered by the tag's
    text: most tags recur from page to page (the menus, an item's heading and its links in
    every version of an assessment: 81 % of the kept tags of a sample of the 1,000-version
    site, 85 % over 1,500 pages of several assessments), and reading one anew costs many
    times a lookup of it."""
    ids: list[str] = []
    links: list[tuple[int, str]] = []
    is_a = raw[1:2] in ("a", "A") and raw[2:3] in (" ", "\t", "\n", ">")
    for m in _ATTR.finditer(raw):
        name = m.group(1).lower()
        if name == "id" or (name == "name" and is_a):
            ids.append(_value(m))
        elif name in _LINK_ATTRS:
            links.append((m.start() + 1, _value(m)))
    return tuple(ids), tuple(links)


def _value(m: re.Match) -> str:
    return unescape(m.group(2) if m.group(2) is not None else
                    m.group(3) if m.group(3) is not None else m.group(4))


Sources = dict[str, tuple[Span, Mapping[str, Span]]]


def _revision_ids(rev) -> dict[str, Span]:
    """HTML id on a version's page → where that item or 変更箇所 row is written."""
    out = {i.anchor: i.span for i in rev.walk() if i.span is not None}
    out.update({f"change-{row.index}": row.span for row in rev.changes})
    return out


def sources(site: Site | None) -> tuple[Sources, dict[str, Span]]:
    """Exact page URL → (its source file, id → finer span); and URL prefix → source file."""
    exact: Sources = {}
    prefix: dict[str, Span] = {}
    if site is None:
        return exact, prefix
    for s in site.systems:
        exact[s.url] = (s.span, {})
    for m in site.municipalities:
        exact[m.url] = (m.span, {})
        for a in m.affairs:
            prefix[a.url] = a.span
            cur, latest = a.current, a.latest
            if cur is not None:  # the affair's own page shows its current version
                exact[a.url] = (cur.span, _revision_ids(cur))
            if latest is not None and latest.changes_span is not None:
                exact[routes.changes(a.muni, a.slug)] = (latest.changes_span, {
                    f"change-{row.index}": row.span for row in latest.changes})
            for d in a.pages:
                exact[routes.document(a.muni, a.slug, d.slug)] = (d.span, {})
            for r in a.revisions:
                exact[r.url] = (r.span, _revision_ids(r))
    return exact, prefix


_ID = re.compile(r"""\sid=["']([^"']+)["']""")


def _ids_before(text: str, offset: int) -> Iterator[str]:
    """The ids of the elements that start before `offset`, nearest first. Read backwards from
    there: the id that places a link is most often the next one up, and finding every id of
    a version page first, for the few links it has to place, was 0.7 % of a build."""
    end = offset + 3
    while (at := text.rfind("id=", 0, end)) > 0:
        m = _ID.match(text, at - 1)
        if m is not None:
            yield m.group(1)
        end = at + 2


def _span_for(url: str, path: PurePosixPath, text: str, offset: int,
              sources: tuple[Sources, dict[str, Span]]) -> Span:
    """The source of the page, narrowed to the item or row the link sits in when known."""
    exact, prefix = sources
    if url in exact:
        span, ids = exact[url]
        if ids:
            # the nearest enclosing-or-preceding element whose id names an item or a row
            for found in _ids_before(text, offset):
                if found in ids:
                    return ids[found]
        return span
    best = max((k for k in prefix if url.startswith(k)), key=len, default=None)
    if best is not None:
        return prefix[best]
    line = text.count("\n", 0, offset) + 1
    return Span(path, line, offset - text.rfind("\n", 0, offset))


def check_links(files: Mapping[PurePosixPath, bytes], site: Site | None = None) -> list[Diagnostic]:
    """E701 for every link or #anchor in `files` that points at nothing in `files`."""
    base = site.config.base_url.rstrip("/") if site is not None else ""
    scans = {path: scan(path, data) for path, data in files.items()
             if path.suffix in (".html", ".xml")}
    names = {str(p): p for p in files}
    diags, _ = check_scans(scans, names, lambda t: scans[t].ids, base, sources(site))
    return diags


class Links:
    """A page's links, (offset, url) pairs kept as an array of offsets and a tuple of urls,
    interned: pages repeat the same urls (the menu, the breadcrumbs), and the build holds the
    links of every site-wide page until the link check — tens of thousands once comparisons
    are split by prefecture; about 70 bytes a link less than as pairs."""

    __slots__ = ("offsets", "urls")

    def __init__(self, offsets: array, urls: tuple[str, ...]):
        self.offsets = offsets
        self.urls = urls

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, str]]) -> Links:
        offsets, urls = array("q"), []
        for offset, url in pairs:
            offsets.append(offset)
            urls.append(intern(url))
        return cls(offsets, tuple(urls))

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return zip(self.offsets, self.urls, strict=True)

    def __len__(self) -> int:
        return len(self.urls)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Links) and self.urls == other.urls
                and self.offsets == other.offsets)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        # The urls interned again where unpickled: another process's copies are new strings.
        return (_links, (self.offsets.tobytes(), self.urls))


def _links(offsets: bytes, urls: tuple[str, ...]) -> Links:
    out = array("q")
    out.frombytes(offsets)
    return Links(out, tuple(map(intern, urls)))


@dataclass(frozen=True, slots=True)
class Scan:
    """One page's ids and links, and its text for placing a broken link."""

    path: PurePosixPath
    ids: frozenset[str]
    links: Links | tuple[tuple[int, str], ...]
    """(offset, url) pairs: the position is worked out only for a broken link."""
    text: str
    file: Path | None = None
    """Where the page is written, when `text` was not kept: read only to place a broken link."""

    def full_text(self) -> str:
        if self.text or self.file is None:
            return self.text
        return self.file.read_text(encoding="utf-8", errors="replace")


def scan(path: PurePosixPath, data: bytes) -> Scan:
    """The ids and links of an HTML page or an XML file (the sitemap, the feed); of any other
    file (JSON, CSV, CSS), none."""
    if path.suffix not in (".html", ".xml"):
        return Scan(path, frozenset(), (), "")
    text = data.decode("utf-8", "replace")
    if path.suffix == ".xml":
        links = Links.of((m.start(), unescape(m.group(1) or m.group(2)))
                         for m in _XML_LINK.finditer(text))
        return Scan(path, frozenset(), links, text)
    page = _Page(text)
    return Scan(path, frozenset(map(intern, page.ids)), Links.of(page.links), text)


@quick_pickle
@dataclass(frozen=True, slots=True)
class Outbound:
    """A link to a file another part of the build writes: checked once every file is known."""

    raw: str
    targets: tuple[str, ...]
    """Output files the link may mean, in the order they are tried."""
    fragment: str
    span: Span
    here: str


def folder(name: str) -> str:
    """The first two folders of an output file's path ('/'-separated): `a/b` of `a/b/c/x.html`,
    `a` of `a/x.html`, '' of `x.html`. What a rebuild compares first to learn whether a file
    that moved may be one an assessment links to (`AffairResult.target_folders`)."""
    return "/".join(name.split("/", 2)[:2]) if name.count("/") >= 2 else name.rpartition("/")[0]


def check_scans(scans: Mapping[PurePosixPath, Scan], names: Mapping[str, PurePosixPath | str],
                ids_of, base: str, srcs, local: bool = False,
                memo: dict[tuple[str, str], tuple | None] | None = None,
                waiting: AbstractSet[str] = frozenset(),
                later: list[tuple[PurePosixPath, int, str]] | None = None
                ) -> tuple[list[Diagnostic], list[Outbound]]:
    """E701 for the broken links of `scans`.

    `names` are the files this check knows, `ids_of(path)` the ids of one of them. With
    `local`, a link to a file not in `names` is not judged here but returned as an Outbound,
    for the caller to check once the whole site is written (one assessment is built alone);
    each target once, at its first place. With `later`, a link to a file not in `names`, or
    into a page of `waiting` (known, its ids not yet), is not judged but added there as
    (path, offset, url), for a check once they are known (the site-wide pages are checked
    as they are made). `memo` keeps links resolved from call to call.
    """
    diags: list[Diagnostic] = []
    outbound: list[Outbound] = []
    seen: set[tuple] = set()
    memo = {} if memo is None else memo
    outbound_seen: set[tuple] = set()
    for path, sc in scans.items():
        here = page_url(path)
        is_xml = path.suffix == ".xml"
        for offset, raw in sc.links:
            # A root-relative link means the same on every page: resolve it once.
            key = ("", raw) if raw.startswith("/") and not is_xml else (here, raw)
            if key not in memo:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[key] = locate(raw, here, base, is_xml)
            where = memo[key]
            if where is None or where is _RESOLVES or (seen and (path, raw) in seen):
                continue
            targets, frag = where
            for name in targets:  # a loop, not next(genexpr): a link is checked in 0.2 us
                if name in names:
                    break
            else:
                name = None
            target = None if name is None else names[name]
            if later is not None and (name is None or (name in waiting
                                                       and _needs_ids(name, frag))):
                later.append((path, offset, raw))
                continue
            if target is None and local:
                seen.add((path, raw))
                # One check of a target for the whole assessment: its pages repeat the same
                # links (the menu, the registry, the comparisons).
                if (targets, frag) in outbound_seen:
                    continue
                outbound_seen.add((targets, frag))
                outbound.append(Outbound(raw, targets, frag,
                                         _span_for(here, path, sc.full_text(), offset, srcs),
                                         here))
                continue
            problem = judge(target, frag, ids_of)
            if problem is None:
                # For good: files are only added, and their ids stay. The menus' and the
                # registry's links repeat on every page.
                memo[key] = _RESOLVES
                continue
            seen.add((path, raw))
            diags.append(broken(here, raw, problem,
                                _span_for(here, path, sc.full_text(), offset, srcs)))
    return diags, outbound


_RESOLVES = ((), "")
"""What `memo` keeps for a link found to resolve: it is not looked at again."""
MEMO_SIZE = 50_000
"""Links `check_scans` keeps resolved. The menus' links repeat on every page; most others do
not (the comparison and system pages link to each assessment's items): remembering every one
held 170 MB at 1,000 versions."""


def broken(here: str, raw: str, problem: str, span: Span) -> Diagnostic:
    return error("E701", f"ページ「{here}」のリンク「{raw}」の{problem}", span,
                 hint="テンプレートや本文のリンク先・#項目ID を確かめてください。output/ は変更していません。")


_NEEDS_PARSING = re.compile(r"[%?\\\s]|/\.")
"""What only urlsplit/urljoin/unquote get right: escapes, a query, dot segments, spaces."""


def _under_base(url: str, base: str) -> str | None:
    """`url`, written absolute under the site's base URL, as a root-relative path; None when
    it is not written so."""
    if base and (url == base or url.startswith(base + "/")):
        return url[len(base):] or "/"
    return None


def locate(raw: str, here: str, base: str, absolute_only: bool) -> tuple[tuple[str, ...], str] | None:
    """The output files a link may mean and its #fragment; None when it leaves the site (or
    points into files a later step adds)."""
    url = raw.strip()
    site = _under_base(url, base)
    if site is not None:
        url = site
    elif absolute_only:
        return None
    if url.startswith("/") and not url.startswith("//") and not _NEEDS_PARSING.search(url):
        # The common link (a page's path from the route table, maybe #an-item): the same
        # answer as below without urljoin's work, which a site of thousands of pages feels.
        path, _, frag = url.partition("#")
        rel = path.lstrip("/")
        if rel.startswith(GENERATED_LATER):
            return None
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        return (rel, rel + "/index.html"), frag
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None  # mailto:, tel:, another site (the CSP and markdown tests police javascript:)
    path = unquote(urljoin(here, parts.path)) if parts.path else here
    if path.lstrip("/").startswith(GENERATED_LATER):
        return None
    rel = path.lstrip("/")
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    return (rel, rel + "/index.html"), unquote(parts.fragment)


def urls_of(names: Iterable[str]) -> set[str]:
    """Every root-relative URL `locate` reads as one of these output files (no fragment)."""
    out = set()
    for name in names:
        out.add("/" + name)
        if name == "index.html" or name.endswith("/index.html"):
            folder = name[: -len("index.html")]
            out.add("/" + folder)
            if folder:
                out.add("/" + folder.rstrip("/"))
    return out


_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def _may_reach(raw: str, urls: set[str] | None, base: str) -> bool:
    """Whether the link may lead to one of `urls` (None: to any file of the site), or cannot
    be told so without resolving it."""
    url = raw.strip()
    url = _under_base(url, base) or url
    if url.startswith("#"):
        return False  # into the page itself, which is as it was
    if url.startswith("/") and not url.startswith("//"):
        return bool(_NEEDS_PARSING.search(url)) or urls is None or url.partition("#")[0] in urls
    return not (url.startswith("//") or _SCHEME.match(url))  # relative: resolve it


@dataclass(frozen=True, slots=True)
class Reach:
    """What a page's links can lead to, told once (kept with a published page)."""

    paths: bytes
    """The URLs (no fragment) of its plain root-relative links, sorted, one per line and
    compressed (`urls` gives them back): one blob rather than a set of them. The site cache
    keeps one per site-wide page and every rebuild reads and writes them (as sets, 9 of its
    10 MB at 1,000 versions: 0.15 s of an edit), while a rebuild asks only when a page's ids
    moved; and a cold build holds them all until it stores them (8.4 MiB as text at 1,000
    versions: a comparison item page leads to every version it compares). (A URL with a
    newline in it is no file's URL: split in two, it can only make a page checked again.)"""
    odd: bool
    """Some link can be told only by resolving it (relative, escaped, a query)."""

    def touches(self, urls: set[str]) -> bool:
        """Whether a link may lead to one of `urls` (`urls_of`)."""
        return self.odd or (bool(self.paths) and not urls.isdisjoint(self.urls()))

    def urls(self) -> list[str]:
        """The URLs of `paths`, sorted."""
        return zlib.decompress(self.paths).decode().split("\n") if self.paths else []


def reach(links: Iterable[tuple[int, str]], base: str) -> Reach:
    paths = set()
    odd = False
    for _, raw in links:
        if not _may_reach(raw, None, base):
            continue
        url = raw.strip()
        url = _under_base(url, base) or url
        if url.startswith("/") and not _NEEDS_PARSING.search(url):
            paths.add(url.partition("#")[0])
        else:
            odd = True
    return Reach(zlib.compress("\n".join(sorted(paths)).encode()) if paths else b"", odd)


def reaching(sc: Scan, urls: set[str], base: str, known: Reach | None = None) -> Scan | None:
    """`sc` with only the links that may lead to one of `urls` (`urls_of`), or that cannot
    be told so without resolving them; None when no link is left. `known`: the page's
    `reach`, which answers most pages without reading their links."""
    if known is not None and not known.touches(urls):
        return None
    links = tuple(link for link in sc.links if _may_reach(link[1], urls, base))
    return Scan(sc.path, sc.ids, links, sc.text, sc.file) if links else None


def _needs_ids(name: str, frag: str) -> bool:
    """Whether a link to the file `name` with this fragment is judged by the page's ids."""
    return bool(frag) and not frag.startswith(":~:") and name.endswith(".html") and frag != "top"


def judge(target: PurePosixPath | str | None, frag: str, ids_of) -> str | None:
    """None when the link resolves; else what is missing, in Japanese. `target` as `names`
    of `check_scans` give it: a path, or the name of a page the build did not make anew."""
    if target is None:
        return "リンク先のページ・ファイルがありません"
    if not _needs_ids(str(target), frag):
        return None
    if frag not in ids_of(target):
        return f"「#{frag}」がリンク先のページにありません"
    return None
