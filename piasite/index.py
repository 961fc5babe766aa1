"""Full-text search: index the staged site for substring search, writing `pagefind/`.

Runs between `write.stage` and `write.commit`, so a failed index leaves output/ untouched;
a rebuild writes into the staging folder only what changes in `pagefind/` (`IndexResult.scope`,
`bundle_changes`).
The templates decide what is searchable: every element with a `data-search` attribute (a JSON
record: kind, title, date, filters) is one search result, and its text — minus elements marked
`data-search-ignore` — is what a query can find (docs/search.md).

Pagefind cuts Japanese with a dictionary when indexing and with the browser's segmenter when
searching, and finds a word only from its start, so words inside longer words and compounds the
two cut differently were missed (shared/research/pagefind-japanese.md). Here each record's text
is normalised (`normalise`: NFKC, lower case, letters and digits only, a katakana word's final
ー dropped) and indexed as overlapping character bigrams, one per character position, written
as ASCII codes (`_code`) under a language Pagefind does not segment (`zxx`). The search page
searches a query's bigrams as a quoted phrase: consecutive positions, that is an exact
substring match. The index holds no readable text this way, so the records' own text is
written beside it (`text/<page>.json`) for the excerpts, with a manifest (`piasite.json`) from
the index's page ids to each result's address, kind and title.

piasite writes the index's files itself, in Pagefind 1.5.2's format (index_parts); Pagefind
makes the library the search page runs, from one run of its command over a page of one word.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import orjson

from . import index_parts, processes, routes
from .diagnostics import Diagnostic, Span, error
from .normalize import KEPT_BY_FOLDING
from .write import files_in, give_back_memory, load_pickle, save_pickle

BUNDLE = routes.PAGEFIND
ENTRY = "pagefind-entry.json"
MANIFEST = "piasite.json"
TEXTS = "text"
LANGUAGE = "zxx"
"""No language: Pagefind neither segments nor stems the ASCII bigram codes."""
NOT_APPLICABLE = "na"
"""A filter holding the names of the filters that do not apply to a record (docs/search.md)."""
KIND_FILTER = "種類"
CHUNK_SIZE = 2000
"""Locations per index chunk (Pagefind's default 20,000): a query loads one chunk per bigram,
so small chunks keep a query's download small (measured in docs/search.md)."""
UNUSED = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js", "pagefind-modular-ui.css",
          "pagefind-component-ui.js", "pagefind-component-ui.css", "pagefind-highlight.js",
          "pagefind-worker.js")
"""Pagefind's ready-made interfaces and its worker: search.js uses none of them (noWorker)."""
SIGNATURE = b"pagefind_dcd"
EXPORTS_AT_END = re.compile(r"export\s*\{[^{}]*\}\s*;?\s*$")
TIMEOUT_SECONDS = 600
PART_CHARS = 500_000
"""The most normalised characters of one part of the index (index_parts.write_part), which
holds about 60 bytes per character while it groups them; the parts are merged into one
bundle."""
MAX_INDEX_RUNS = 4
"""The most parts written at once (one per worker, `-j`), so a machine with many cores does
not hold many parts."""
ID_DIGITS = 10
"""Hexadecimal digits of a record's digest (`record_keys`) in its page id."""
_SPAN = Span(PurePosixPath(BUNDLE))


@dataclass
class IndexResult:
    pages: int = 0
    """Search records indexed (a page can hold more than one)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    reused: bool = False
    """The published bundle was made from the same records: it stays as it is."""
    scope: str = ""
    """What the staged bundle holds: "" the whole index; DELTA only the manifest and the
    delta, over the published base; nothing at all when `reused`."""


# --------------------------------------------------------------------------- normalisation
# The search page (themes/default/static/search.js, `normalise`) does exactly the same to
# the query and to the text it shows excerpts from; change both together.

_MARK_CLASS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a\uff9e\uff9f"
_HAS_MARK = re.compile(f"[{_MARK_CLASS}]")
_CLUSTER = re.compile(f".[{_MARK_CLASS}]*", re.S)
"""A character with the combining marks after it (ｶﾞ and カ+゛ compose to ガ under NFKC)."""
_LONG_VOWEL = re.compile(r"(?<=[ァ-ヶ])ー+(?![ァ-ヶー])")


def _fold_cluster(cluster: str) -> str:
    folded = "".join(c.lower() for c in unicodedata.normalize("NFKC", cluster))
    return folded.replace("\u2015", "ー")


class _Fold(dict):
    """Code point -> its NFKC form in lower case, computed once per character."""

    def __missing__(self, cp: int) -> str:
        self[cp] = value = _fold_cluster(chr(cp))
        return value


_FOLD = _Fold()
_MAY_FOLD = re.compile(f"[^{KEPT_BY_FOLDING}]+")
"""A run of characters `_FOLD` may change (normalize.KEPT_BY_FOLDING are those it keeps as
they are; tested on every one here too). Only the runs are looked up character by
character: one character in thirty of the benchmark's records, where translating the whole
text looked up every one (0.26 -> 0.12 s over 5 M)."""
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
"""What search drops: not a letter or a digit (Unicode L* or N*). `\\w` is one of them or _
(tested on every character); dropped by a regex in C rather than by `str.translate`, which
looks up every character (0.29 -> 0.14 s over 5 M)."""


def _fold_run(m: re.Match) -> str:
    return m.group().translate(_FOLD)


def normalise(text: str) -> str:
    """The text as search compares it: widths and case folded, punctuation and spaces gone.

    NFKC (ＣＳ → cs, ｶﾞ → ガ), lower case, ― → ー, a run of ー after a katakana letter removed
    when it ends the katakana word (サーバー → サーバ), then only letters and digits kept.
    """
    if _HAS_MARK.search(text):
        folded = "".join(_fold_cluster(m.group()) for m in _CLUSTER.finditer(text))
    else:
        folded = _MAY_FOLD.sub(_fold_run, text)
    return _NOT_LETTER_OR_DIGIT.sub("", _LONG_VOWEL.sub("", folded))


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_NO_TEXT = "zzzzz"
"""Beyond the last code point (U+10FFFF): the code of no character."""


def _code(cp: int) -> str:
    """Three base-36 digits below 35 × 36², else z and four digits: a prefix-free code.

    A text is indexed as one word per character, the code of it and the next one (the last
    character alone; index_parts.write_part). ASCII letters and digits pass Pagefind's search
    and the browser's word segmenter unchanged, and a code that never starts another makes a
    one-character query the prefix of exactly the bigrams that start with it."""
    if cp < 35 * 36 * 36:
        return _DIGITS[cp // 1296] + _DIGITS[cp // 36 % 36] + _DIGITS[cp % 36]
    return "z" + "".join(_DIGITS[cp // 36 ** k % 36] for k in (3, 2, 1, 0))


class _Codes(dict):
    def __missing__(self, cp: int) -> str:
        self[cp] = value = _code(cp)
        return value


_CODES = _Codes()


# --------------------------------------------------------------------------- records


@dataclass
class Record:
    """One search result: where it leads, what it is, and the text a query can find."""

    url: str
    kind: str
    title: str
    date: str = ""
    facts: str = ""
    """Shown under the title: 全項目評価書・案."""
    filters: dict[str, list[str]] = field(default_factory=dict)
    """Filter name -> values; a filter that does not apply to this record is absent."""
    anchors: list[tuple[str, str]] = field(default_factory=list)
    """(id, label) of the places inside the page a result can link to."""
    segments: list[tuple[int, str]] = field(default_factory=list)
    """(index into anchors or -1, text) in page order."""

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.segments)


_TOKEN = re.compile(
    r"(<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>)"
    r"|</([a-zA-Z][a-zA-Z0-9-]*)\s*>"
    r"|<([a-zA-Z][a-zA-Z0-9-]*)([^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*)>"
    r"|([^<]+)|<",
    re.S | re.I)
"""Group 1: a comment, script or style (skipped whole); 2: an end tag's name; 3 and 4: a start
tag's name and attributes; 5: text; else a lone "<"."""
_ATTR = re.compile(r"([^\s=/>]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_VOID, _BLOCK, _SKIP, _HEADING, _LABEL, _NOT_A_PLACE = 1, 2, 4, 8, 16, 32
_TAGS: dict[str, int] = {}
for _names, _bit in (
    ("area base br col embed hr img input link meta source track wbr", _VOID),
    ("address article aside blockquote br caption dd details dialog div dl dt fieldset "
     "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section "
     "summary table tbody td tfoot th thead tr ul", _BLOCK),
    # Never read as text: code, and drawings whose text the page repeats in a table.
    ("script style template svg noscript math", _SKIP),
    ("h1 h2 h3 h4 h5 h6", _HEADING | _LABEL),
    ("dt", _LABEL),
    # Elements whose id is not somewhere a result should land (a table's caption, a link).
    ("a abbr b caption code em i mark small span strong sub sup time", _NOT_A_PLACE),
):
    for _name in _names.split():
        _TAGS[_name] = _TAGS.get(_name, 0) | _bit
_SPACE = re.compile(r"\s+")
_LABEL_CHARS = 40
_NO_ATTRS: dict[str, str] = {}
# Flags of an open element.
_F_SKIP, _F_HEADING, _F_LABEL, _F_REGION = 1, 2, 4, 8


def _attrs(raw: str) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(raw):
        value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None \
            else m.group(4) or ""
        out[m.group(1).lower()] = html.unescape(value)
    return out


class _Region:
    """Text of one `data-search` element, cut at the places a result can link to.

    An element with an id is a place for the text inside it; a heading's id also covers what
    follows the heading, up to the end of the heading's parent (a form section's value).
    A place's label is its heading, the first `dt` inside it (a form item), its
    `data-search-label`, else its first block of text.
    """

    def __init__(self, record: Record) -> None:
        self.record = record
        self.anchor = -1
        self.space = False
        self.labels: list[list[str] | None] = []
        """Per anchor: text collected for its label; None once the label is final."""
        self.capture: int | None = None
        """Anchor whose heading or dt is open, collecting its label."""
        self.parts: list[tuple[int, list[str]]] = []
        """The text so far: (anchor, pieces) per run of text in one place."""

    def open_place(self, id_: str, label: str = "") -> None:
        self.record.anchors.append((id_, label))
        self.labels.append(None if label else [])
        self.anchor = len(self.record.anchors) - 1

    def finish_label(self, i: int, text: str) -> None:
        if self.labels[i] is None:
            return
        label = _SPACE.sub(" ", text).strip()
        if len(label) > _LABEL_CHARS:
            label = label[:_LABEL_CHARS] + "…"
        self.record.anchors[i] = (self.record.anchors[i][0], label)
        self.labels[i] = None

    def text(self, data: str) -> None:
        if "&" in data:
            data = html.unescape(data)
        if not data or data.isspace():
            self.space = self.space or bool(data)
            return
        data = _SPACE.sub(" ", data)
        anchor = self.anchor
        if self.space:
            data = " " + data.lstrip()
            self.space = False
            # A place without a heading is labelled by its first block of text.
            if anchor >= 0 and anchor != self.capture and self.labels[anchor]:
                self.finish_label(anchor, "".join(self.labels[anchor] or ()))
        if self.parts and self.parts[-1][0] == anchor:
            self.parts[-1][1].append(data)
        else:
            self.parts.append((anchor, [data.lstrip() if not self.parts else data]))
        if self.capture is not None:
            captured = self.labels[self.capture]
            if captured is not None:
                captured.append(data)
        if anchor >= 0 and anchor != self.capture:
            own = self.labels[anchor]
            if own is not None:
                own.append(data)

    def close(self) -> None:
        for i, buf in enumerate(self.labels):
            if buf is not None:
                self.finish_label(i, "".join(buf))
        self.record.segments = [(a, "".join(parts)) for a, parts in self.parts]
        if self.record.segments:
            a, t = self.record.segments[-1]
            self.record.segments[-1] = (a, t.rstrip())


_MARK = " data-search="
"""What starts a record's element."""
_MARK_BYTES = _MARK.encode()


def records_of(page: str, url: str) -> list[Record]:
    """The search records of one HTML page (most pages have none)."""
    out: list[Record] = []
    pos = page.find(_MARK)
    while pos >= 0:
        record, end = _read_region(page, page.rfind("<", 0, pos), url)
        if record is not None:
            out.append(record)
        pos = page.find(_MARK, end)
    # The title is searched too (it is the page's heading); search.js expects it first.
    for r in out:
        r.segments.insert(0, (-1, r.title + " "))
    return out


@functools.lru_cache(maxsize=20_000)
def _start_tag(text: str) -> tuple[str, int, bool, dict[str, str]]:
    """A start tag's name, its `_TAGS` bits, whether it is void or self-closed, and its
    attributes when the walk reads them (`_NO_ATTRS` else). Remembered by the tag's text:
    most tags recur (a td, a p with a class, an item's section in every version)."""
    tag, raw = _TOKEN.match(text).group(3, 4)  # type: ignore[union-attr]
    tag = tag.lower()
    info = _TAGS.get(tag, 0)
    attrs = _attrs(raw) if ("id=" in raw or "data-search" in raw or "hidden" in raw) \
        else _NO_ATTRS
    return tag, info, bool(info & _VOID) or raw.endswith("/"), attrs


@functools.lru_cache(maxsize=64)
def _same_tag(tag: str) -> re.Pattern[str]:
    """A start or end tag named `tag` (group 1: "/" for an end tag)."""
    return re.compile(rf"<(/?)(?i:{re.escape(tag)})(?=[\s/>])")


_UNTOKENISED = re.compile(r"<(?:!--|script\b|style\b)", re.I)
"""What `_TOKEN` reads as one token, whatever it holds."""
_VOID_BLOCKS = "|".join(name for name, info in _TAGS.items() if info & _VOID and info & _BLOCK)
_VOID_BLOCK = re.compile(rf"<(?:{_VOID_BLOCKS})(?=[\s/>])", re.I)
"""Void elements that part words (br, hr): inside a skipped element too, as the walk reads
them."""


def _skipped_end(page: str, tag: str, pos: int) -> tuple[int, bool] | None:
    """Where the element `tag` whose start tag ends at `pos` ends, and whether a `br` or an
    `hr` stands inside it: found by the element's name alone, in C. None where the walk must
    read it token by token: no end tag, or a comment, script or style inside (read whole by
    the walk, whatever tags they hold)."""
    depth = 1
    for m in _same_tag(tag).finditer(page, pos):
        if not m.group(1):  # the same element inside it, unless self-closed (<svg … />)
            gt = page.find(">", m.end())
            if gt < 0:
                return None
            depth += page[gt - 1] != "/"
            continue
        depth -= 1
        if depth:
            continue
        end = page.find(">", m.end())
        if end < 0 or page[m.end():end].strip() or _UNTOKENISED.search(page, pos, m.start()):
            return None
        return end + 1, _VOID_BLOCK.search(page, pos, m.start()) is not None
    return None


def _read_region(page: str, start: int, url: str) -> tuple[Record | None, int]:
    """The record of the `data-search` element at `start`, and where the element ends.

    An element the search skips (`data-search-ignore`, `hidden`, a drawing) is passed over
    to its end tag at once where it can be (`_skipped_end`), instead of token by token: on a
    version's page 41 % of the region's tokens are in such elements (each item's choices and
    its comparison link, the systems' drawing)."""
    region: _Region | None = None
    # Open elements: (tag, anchor to restore on close, flags, whether it is a block).
    stack: list[tuple[str, int, int, int]] = []
    skip = 0
    while True:
        for m in _TOKEN.finditer(page, start):
            kind = m.lastindex
            if kind == 5:  # text
                if not skip and region is not None:
                    data = m.group(5)
                    if data.isspace():  # between tags, most often: as _Region.text has it
                        region.space = True
                    else:
                        region.text(data)
                continue
            if kind == 4:  # a start tag
                tag, info, void, attrs = _start_tag(m.group())
                if void:
                    if info & _BLOCK and region is not None:
                        region.space = True
                    continue
                if skip:
                    stack.append((tag, 0, _F_SKIP, 0))
                    skip += 1
                    continue
                if region is None:  # the region's own element
                    region = _Region(_record(attrs["data-search"], url))
                    stack.append((tag, -1, _F_REGION, info & _BLOCK))
                    if attrs.get("id") and not info & _NOT_A_PLACE:
                        region.open_place(attrs["id"], attrs.get("data-search-label", ""))
                    continue
                saved = region.anchor
                flags = 0
                if attrs is not _NO_ATTRS or info & (_SKIP | _LABEL):
                    if info & _SKIP or "data-search-ignore" in attrs or "hidden" in attrs:
                        flags = _F_SKIP
                        skip += 1
                    elif attrs.get("id") and not info & _NOT_A_PLACE:
                        region.open_place(attrs["id"], attrs.get("data-search-label", ""))
                        if info & _HEADING:
                            flags = _F_HEADING
                    if info & _LABEL and not flags & _F_SKIP and region.capture is None:
                        target = region.anchor
                        if target >= 0 and region.labels[target] is not None and (
                                flags & _F_HEADING or tag == "dt"):
                            region.labels[target] = []
                            region.capture = target
                            flags |= _F_LABEL
                if info & _BLOCK:
                    region.space = True
                if flags & _F_SKIP:
                    passed = _skipped_end(page, tag, m.end())
                    if passed is not None:  # as if read: nothing inside counts but a br or hr
                        skip -= 1
                        region.space = region.space or passed[1]
                        start = passed[0]
                        break
                stack.append((tag, saved, flags, info & _BLOCK))
                continue
            if kind != 2:  # a comment, script or style, or a lone "<"
                if m.group() == "<" and not skip and region is not None:
                    region.text("<")
                continue
            tag = m.group(2).lower()
            if region is None or not stack:
                continue
            top = stack[-1]
            if top[0] == tag and not top[2]:  # most end tags: the element last opened, plain
                stack.pop()
                region.anchor = top[1]
                if top[3]:
                    region.space = True
                continue
            if top[0] != tag and not any(t[0] == tag for t in stack):
                continue  # a stray end tag
            while stack:
                t, saved, flags, block = stack.pop()
                if flags:
                    if flags & _F_SKIP:
                        skip -= 1
                        if t == tag:
                            break
                        continue
                    if flags & _F_LABEL and region.capture is not None:
                        i = region.capture
                        region.capture = None
                        region.finish_label(i, "".join(region.labels[i] or ()))
                    if flags & _F_REGION:
                        region.close()
                        return (region.record if region.record.segments else None), m.end()
                if not flags & _F_HEADING:  # a heading's place covers what follows it
                    region.anchor = saved
                if block:
                    region.space = True
                if t == tag:
                    break
        else:  # the page ended
            break
    if region is None:
        return None, len(page)
    region.close()
    return (region.record if region.record.segments else None), len(page)


def _record(attribute: str, page_url: str) -> Record:
    data = json.loads(attribute)
    filters = {str(k): [str(v) for v in vs] for k, vs in (data.get("filters") or {}).items()}
    return Record(url=str(data.get("url") or page_url), kind=str(data["kind"]),
                  title=str(data.get("title", "")), date=str(data.get("date", "")),
                  facts=str(data.get("facts", "")), filters=filters)


def page_url(rel: str) -> str:
    """`a/b/index.html` -> `/a/b/`; `404.html` -> `/404.html`."""
    if rel == "index.html":
        return "/"
    if rel.endswith("/index.html"):
        return "/" + rel[: -len("index.html")]
    return "/" + rel


def collect(site_dir: Path, cache_dir: Path | None = None) -> list[Record]:
    """Every search record of the site, in the order of the pages' paths."""
    return Collected(site_dir, cache_dir).records()


class Found(NamedTuple):
    """A record as the index plans with it, without its text."""

    page: str
    key: bytes
    """`record_keys`: the record's digest."""
    kind: str
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    length: int
    """Characters of its normalised text; 0: nothing searchable, not indexed."""


PageStamp = tuple[int, int, int]
"""A built page's size, mtime and inode: unchanged while the page is the file a build left (a
move into output/ keeps all three). Not `discover.Stamp`, which tells a source file unchanged."""


class Collected:
    """Every search record of a built site: for each (in the order of the pages' paths) what
    the index plans with (`found`), and the records themselves when asked for.

    With `cache_dir`, what each page holds is kept there by the page file's size, mtime and
    inode: a build leaves an unchanged page in output/ and moves a new one in (cache.settle,
    write.commit) without changing either, so only the pages it wrote anew are read (reading all of them was 22 s at 1,000 versions). The plan
    (`RECORDS_CACHE`) is small; the records with their text are kept apart, one file per
    top folder (`RECORDS_FOLDER`), read only when the index needs them and rewritten only
    where a page changed."""

    def __init__(self, site_dir: Path, cache_dir: Path | None = None,
                 pages: list[tuple[str, str]] | None = None, jobs: int = 1):
        self.site_dir = site_dir
        self.cache_dir = cache_dir
        self.where = dict(pages if pages is not None else self._pages())
        """Each HTML page ('/'-separated path in the site) -> the file to read it from."""
        # Made by other code (a piasite upgrade), the records may differ for the same page.
        before = self._load(cache_dir / RECORDS_CACHE) if cache_dir is not None else {}
        self.stamps: dict[str, PageStamp] = {}
        for rel, path in sorted(self.where.items()):
            st = os.stat(path)
            self.stamps[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
        todo = [(rel, self.where[rel]) for rel, stamp in self.stamps.items()
                if rel not in before or before[rel][0] != stamp]
        self.fresh: dict[str, tuple[list[Record], list[str]]] = {}
        """Pages read by this build and kept in memory: their records and normalised texts."""
        cached: dict[str, list[Found]] = {}
        """Pages read by this build's workers straight into the records cache."""
        if cache_dir is not None and jobs > 1 and len(todo) >= MIN_PAGES_FOR_WORKERS:
            cached = self._read_into_cache(todo, jobs)
        else:
            self.fresh = {rel: (records, texts) for rel, records, texts in
                          processes.map_in_order(_read_page, todo, jobs, MIN_PAGES_FOR_WORKERS)}
        self.found: list[Found] = []
        plan: dict[str, tuple[PageStamp, list[Found]]] = {}
        for rel, stamp in self.stamps.items():
            if rel in self.fresh:
                hit = (stamp, _found(rel, *self.fresh[rel]))
            elif rel in cached:
                hit = (stamp, cached[rel])
            else:
                hit = before[rel]
            plan[rel] = hit
            self.found.extend(hit[1])
        if cache_dir is not None and (plan.keys() != before.keys() or self.fresh or cached):
            save_pickle(cache_dir / RECORDS_CACHE, (_maker_digest(), plan))
            gone = before.keys() - plan.keys()
            self._save_records({_shard(rel) for rel in (*self.fresh, *gone)}
                               - {_shard(rel) for rel in cached})

    def _read_into_cache(self, todo: list[tuple[str, str]], jobs: int
                         ) -> dict[str, list[Found]]:
        """Read `todo` in worker processes, each saving the records-cache files of the
        folders it read (`_read_shard`): only what the index plans with comes back here, not
        the records (230 MB at 1,000 versions)."""
        by_shard: dict[str, list[tuple[str, str, PageStamp]]] = {}
        for rel, path in todo:
            by_shard.setdefault(_shard(rel), []).append((rel, path, self.stamps[rel]))
        live: dict[str, set[str]] = {}
        for rel in self.stamps:
            live.setdefault(_shard(rel), set()).add(rel)
        work = [(str(self._shard_file(shard)), _maker_digest(), pages, live[shard])
                for shard, pages in by_shard.items()]
        (self._shard_file("_")).parent.mkdir(parents=True, exist_ok=True)
        return {rel: found for rows in processes.map_in_order(_read_shard, work, jobs)
                for rel, found in rows}

    def _pages(self) -> list[tuple[str, str]]:
        top = str(self.site_dir)
        return [(rel, os.path.join(top, rel)) for rel in sorted(files_in(self.site_dir, BUNDLE))
                if rel.endswith(".html")]

    @staticmethod
    def _load(path: Path) -> dict:
        saved = load_pickle(path)
        if (isinstance(saved, tuple) and len(saved) == 2 and saved[0] == _maker_digest()
                and isinstance(saved[1], dict)):
            return saved[1]
        return {}

    def _shard_file(self, shard: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / RECORDS_FOLDER / f"{shard}.pickle"

    def _save_records(self, shards: set[str]) -> None:
        for shard in sorted(shards):
            path = self._shard_file(shard)
            kept = {rel: v for rel, v in self._load(path).items()
                    if rel in self.stamps and rel not in self.fresh}
            kept.update((rel, (self.stamps[rel], records, texts))
                        for rel, (records, texts) in self.fresh.items() if _shard(rel) == shard)
            if kept:
                save_pickle(path, (_maker_digest(), kept))
            else:
                path.unlink(missing_ok=True)

    def records(self, keys: set[bytes] | None = None) -> list[Record]:
        """The records (those with one of `keys`, or all), in site order, with their
        normalised texts kept for `texts`."""
        pages = list(dict.fromkeys(f.page for f in self.found if keys is None or f.key in keys))
        out: list[Record] = []
        for _, (records, _texts) in self._pages_read(pages, keep=True):
            wanted = record_keys(records) if keys is not None else None
            out.extend(r for i, r in enumerate(records) if wanted is None or wanted[i] in keys)
        return out

    def _pages_read(self, pages: list[str], keep: bool
                    ) -> Iterator[tuple[str, tuple[list[Record], list[str]]]]:
        """Each page's records and normalised texts: as this build read them, else from the
        records cache (or the page itself, when a cache file is lost). `keep` keeps them."""
        shards: dict[str, dict] = {}
        for rel in pages:
            got = self.fresh.get(rel)
            if got is None:
                shard = _shard(rel)
                if shard not in shards:
                    shards = {shard: self._load(self._shard_file(shard)) if self.cache_dir
                              else {}}  # pages come shard by shard: one in memory at a time
                hit = shards[shard].get(rel)
                if hit is not None and hit[0] == self.stamps[rel]:
                    got = (hit[1], hit[2])
                else:  # not kept (a lost cache file): the page is read again
                    _, records, texts = _read_page((rel, self.where[rel]))
                    got = (records, texts)
                if keep:
                    self.fresh[rel] = got
            yield rel, got

    def source(self) -> Source:
        """Every record, for indexing: a part at a time from the records cache, so that the
        site's records (230 MB at 1,000 versions) are not all in memory while Pagefind runs
        beside this process. Without a cache folder, from memory."""
        if self.cache_dir is not None:
            self.fresh.clear()  # saved in the records cache (__init__)
            give_back_memory()
        found = self.found

        def part(group: range) -> tuple[list[Record], list[str]]:
            if not group:
                return [], []
            pages = list(dict.fromkeys(found[i].page for i in group))
            records: list[Record] = []
            texts: list[str] = []
            for _, (rs, ts) in self._pages_read(pages, keep=False):
                records += rs
                texts += ts
            # A part may begin or end inside a page (index_parts.split cuts between
            # records): only the group's own records.
            first = group.start
            while first and found[first - 1].page == found[group.start].page:
                first -= 1  # the page's first record
            skip = group.start - first
            return records[skip:skip + len(group)], texts[skip:skip + len(group)]

        return Source([f.length for f in found], part, [f.key for f in found])

    def texts(self, records: list[Record]) -> list[str]:
        """The normalised text of each of `records` (as returned by `records`)."""
        by_id = {id(r): t for rs, ts in self.fresh.values() for r, t in zip(rs, ts, strict=True)}
        return [by_id[id(r)] if id(r) in by_id else normalise(r.text) for r in records]


MIN_PAGES_FOR_WORKERS = 200
"""Fewer pages to read than this are read in this process (starting workers costs about a
second); a cold build of 1,000 versions reads 4,900 pages, 30 s on one core."""


def _read_page(page: tuple[str, str]) -> tuple[str, list[Record], list[str]]:
    """A page's ('/'-separated path, file) records and their normalised texts."""
    rel, path = page
    raw = Path(path).read_bytes()
    # Most pages hold no record (3,402 of 4,864 at 1,000 versions, 69 % of the HTML's bytes):
    # looking in the bytes spares decoding them (reading and searching every page 2.1 -> 0.5 s).
    if _MARK_BYTES not in raw:
        return rel, [], []
    records = records_of(raw.decode("utf-8"), page_url(rel))
    return rel, records, [normalise(r.text) for r in records]


def _found(rel: str, records: list[Record], texts: list[str]) -> list[Found]:
    return [Found(rel, k, r.kind, _filters(r), len(t))
            for r, k, t in zip(records, record_keys(records), texts, strict=True)]


def _read_shard(work: tuple[str, str, list[tuple[str, str, PageStamp]], set[str]]
                ) -> list[tuple[str, list[Found]]]:
    """Read a folder's pages into its records-cache file (which keeps the records of its
    other pages that are still `live`), in a worker process; return what the index plans
    with of each page read."""
    path, maker, pages, live = work
    saved = load_pickle(Path(path))
    kept = (saved[1] if isinstance(saved, tuple) and len(saved) == 2 and saved[0] == maker
            and isinstance(saved[1], dict) else {})
    kept = {rel: v for rel, v in kept.items() if rel in live}
    out = []
    for rel, file, stamp in pages:
        _, records, texts = _read_page((rel, file))
        kept[rel] = (stamp, records, texts)
        out.append((rel, _found(rel, records, texts)))
    save_pickle(Path(path), (maker, kept))
    return out


def _shard(rel: str) -> str:
    """The records cache file a page's records are kept in: its top folder's."""
    top, _, rest = rel.partition("/")
    return top if rest else "_"


def _filters(r: Record) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((k, tuple(v)) for k, v in sorted(r.filters.items()))


# --------------------------------------------------------------------------- the bundle


def _page_filters(record: Record, all_filters: list[str]) -> list[tuple[str, str]]:
    """A record's filter values as the index holds them: its kind, its own filters, and `na`
    naming each of the site's filters it lacks (docs/search.md)."""
    filters = [(KIND_FILTER, record.kind)]
    filters += [(name, v) for name in sorted(record.filters) for v in record.filters[name]]
    filters += [(NOT_APPLICABLE, name) for name in all_filters if name not in record.filters]
    return filters


def _made_from(bundle: Path) -> str:
    """The records digest a published bundle's manifest names ("" if none)."""
    try:
        made = json.loads((bundle / MANIFEST).read_text(encoding="utf-8")).get("records", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return made if isinstance(made, str) else ""


class Source(NamedTuple):
    """The records an index is made of: each one's normalised length and digest
    (`record_keys`), and a consecutive group of them with their texts (`part`), read when
    their part of the index is written."""

    lengths: list[int]
    part: Callable[[range], tuple[list[Record], list[str]]]
    keys: list[bytes]

    @classmethod
    def of(cls, records: list[Record], texts: list[str] | None = None) -> Source:
        if texts is None:
            texts = [normalise(r.text) for r in records]
        return cls([len(t) for t in texts],
                   lambda g: (records[g.start:g.stop], texts[g.start:g.stop]),
                   record_keys(records))


def write_bundle(records: list[Record], bundle: Path, digest: str = "", runs: int = 1) -> str:
    """Index `records` into `bundle`: "" when the bundle is whole, else what went wrong.
    `digest` (records_digest) is kept in the manifest, to know the bundle again; `runs`:
    Pagefind runs at once."""
    made = _write_whole(Source.of(records), [(r.kind, _filters(r)) for r in records], bundle,
                        digest, runs)
    return made if isinstance(made, str) else ""


def _write_whole(source: Source, kinds: list[tuple[str, tuple]], bundle: Path,
                 digest: str, runs: int = 1) -> list[str | None] | str:
    """One index of every record (`kinds`: each one's kind and filters), its manifest the
    base's: each record's page id (None for one without searchable text), or what went
    wrong. `runs`: Pagefind runs at once (`_index`)."""
    names = _filter_names(f for _, f in kinds)
    made = _index(source, bundle, names, runs=runs)
    if isinstance(made, str):
        return made
    pages, ids = made
    _write_manifest(bundle, {"version": 1, "pages": pages, "chunks": _chunks(bundle),
                             "records": digest, "base": digest,
                             "filters": filter_counts(
                                 k for k, i in zip(kinds, ids, strict=True) if i)})
    return ids


def _index(source: Source, bundle: Path, all_filters: list[str], prefix: str = "r",
           runs: int = 1) -> tuple[dict[str, list], list[str | None]] | str:
    """Index the records of `source` into `bundle` and write their texts beside it.

    Pagefind makes the library (`_library`); piasite writes the index in parts of at most
    PART_CHARS characters, each part's records read only when it is written, merged into one
    bundle (index_parts). Up to `runs` parts are written at once; the merge takes them in
    order, so the bundle is the same whatever `runs` is. `prefix` starts every page id: a
    delta's ("d") never shares a base's ("r"). `all_filters` are the site's filter names (a
    record lacking one is marked `na`).

    Returns the manifest's pages (page id -> url, kind, title, date, length, facts) and each
    record's id (None for a record with no searchable text), or what went wrong.
    """
    ids = _page_ids(source, prefix)
    # Beside the bundle: nothing of it is left in a temporary folder elsewhere.
    with tempfile.TemporaryDirectory(prefix=".index-parts-", dir=bundle.parent) as tmp:
        lib = _library(Path(tmp) / "library")
        if isinstance(lib, str):
            return lib
        if not any(ids):  # nothing to search: Pagefind's index of its page of one word
            shutil.copytree(lib.folder, bundle, dirs_exist_ok=True)
            return {}, ids
        groups = index_parts.split(source.lengths, PART_CHARS)
        pages: dict[str, list] = {}
        # Moved into the bundle once it is whole: a failed index leaves no bundle.
        (Path(tmp) / TEXTS).mkdir()

        def run(k: int, group: range) -> index_parts.Part:
            records, texts = source.part(group)
            kept = [(ids[i], r, t) for i, r, t in zip(group, records, texts, strict=True) if t]
            for page_id, record, text in kept:
                pages[page_id] = [record.url, record.kind, record.title, record.date, len(text),
                                  record.facts]
                # orjson: json.dumps's compact bytes, in a fraction of the time (138 MB at
                # 1,000 versions).
                (Path(tmp) / TEXTS / f"{page_id}.json").write_bytes(
                    orjson.dumps({"a": record.anchors, "s": record.segments}))
            return index_parts.write_part(
                Path(tmp) / str(k), [i for i, _, _ in kept], [t for _, _, t in kept],
                [_page_filters(r, all_filters) for _, r, _ in kept], _CODES.__getitem__)

        with ThreadPoolExecutor(max(1, min(runs, MAX_INDEX_RUNS))) as runner:
            running = [runner.submit(run, k, group) for k, group in enumerate(groups)]
            try:
                parts = [future.result() for future in running]
            except OSError as exc:
                return f"索引を書けませんでした（{exc}）"
            finally:  # after a failed part, the parts not yet started are not written
                for future in running:
                    future.cancel()
        try:
            index_parts.merge(parts, lib, bundle, CHUNK_SIZE)
            os.replace(Path(tmp) / TEXTS, bundle / TEXTS)
        except OSError as exc:
            shutil.rmtree(bundle, ignore_errors=True)
            return f"索引の部分をまとめられませんでした（{exc}）"
    problem = bundle_problem(bundle, chunks=False)
    return problem or (dict(sorted(pages.items())), ids)


def _page_ids(source: Source, prefix: str) -> list[str | None]:
    """Each record's page id: `prefix` and the start of its digest, the same for the same
    record in every build (a number added to a second record of the same digest); None for a
    record with no text."""
    ids: list[str | None] = []
    taken: set[str] = set()
    for key, length in zip(source.keys, source.lengths, strict=True):
        if not length:
            ids.append(None)
            continue
        page_id = base = prefix + key.hex()[:ID_DIGITS]
        n = 1
        while page_id in taken:
            page_id = f"{base}-{n}"
            n += 1
        taken.add(page_id)
        ids.append(page_id)
    return ids


def _library(folder: Path) -> index_parts.Library | str:
    """Pagefind's run over a site of one page holding one word (`_NO_TEXT`, no character's
    code): the library the search page runs and the entry file (and, for a site with nothing
    to search, its whole index), without what the search page does not load; or what went
    wrong."""
    exe = executable()
    if exe is None:
        return "Pagefind の実行ファイルが見つかりません"
    site = folder.parent / "library-site"
    site.mkdir()
    (site / "empty.html").write_text(f"<html lang={LANGUAGE}><p>{_NO_TEXT}</p></html>",
                                     encoding="utf-8")
    # Only what piasite decides: no configuration file or PAGEFIND_* setting from outside.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    try:
        proc = subprocess.run(
            [str(exe), "--site", str(site), "--output-path", str(folder),
             "--force-language", LANGUAGE, "--quiet"],
            cwd=folder.parent, env=env, capture_output=True, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return f"終了コード {proc.returncode}: {tail[0]}"
    problem = bundle_problem(folder)
    if problem:
        return problem
    for name in UNUSED:
        (folder / name).unlink(missing_ok=True)
    # Pagefind's fragments hold only the codes: the search page never loads them.
    shutil.rmtree(folder / "fragment", ignore_errors=True)
    try:
        return index_parts.library(folder)
    except (index_parts.Unmergeable, OSError, EOFError, zlib.error, ValueError, KeyError,
            TypeError) as exc:
        return f"Pagefind の出力を読めませんでした（{exc}）"


def _write_manifest(bundle: Path, manifest: dict) -> None:
    (bundle / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _filter_names(filters: Iterable[tuple[tuple[str, tuple[str, ...]], ...]]) -> list[str]:
    return sorted({name for fs in filters for name, _ in fs})


def filter_counts(records: Iterable[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]]
                  ) -> dict[str, dict[str, int]]:
    """Filter name -> value -> indexed records with it, as the search page lists them, from
    each indexed record's kind and filters.

    Written by piasite rather than asked of Pagefind: with a delta index (index_site), the
    base still holds the superseded records, which Pagefind would count too."""
    counts: dict[str, dict[str, int]] = {}
    for kind, filters in records:
        for name, values in ((KIND_FILTER, (kind,)), *filters):
            row = counts.setdefault(name, {})
            for v in sorted(set(values)):
                row[v] = row.get(v, 0) + 1
    return {name: dict(sorted(row.items())) for name, row in sorted(counts.items())}


def _chunks(bundle: Path) -> list[list[str]]:
    """The first and last word of each index chunk, from Pagefind's meta file.

    Pagefind loads, for a word searched as a prefix, only the chunk whose range holds the word
    itself; the words that start with it may run on into the next chunks. The search page
    loads those too for a one-character query (search.js `prefixChunks`).
    """
    entry = json.loads((bundle / ENTRY).read_text(encoding="utf-8"))
    (language,) = entry["languages"].values()
    data = gzip.decompress((bundle / f"pagefind.{language['hash']}.pf_meta").read_bytes())
    meta, _ = _cbor(data, len(SIGNATURE))
    return [[chunk[0], chunk[1]] for chunk in meta[2]]


def _cbor(b: bytes, i: int):
    """Decode the CBOR value at `i` (what Pagefind's meta file uses): (value, next index)."""
    head = b[i]
    i += 1
    major, info = head >> 5, head & 31
    if major == 7:
        return {20: False, 21: True, 22: None}.get(info), i + {25: 2, 26: 4, 27: 8}.get(info, 0)
    if info < 24:
        n = info
    else:
        size = 1 << (info - 24)
        n, i = int.from_bytes(b[i:i + size], "big"), i + size
    if major in (0, 1):
        return (n if major == 0 else -1 - n), i
    if major in (2, 3):
        raw = b[i:i + n]
        return (raw.decode() if major == 3 else raw), i + n
    if major in (4, 5):
        out = []
        for _ in range(n * (2 if major == 5 else 1)):
            v, i = _cbor(b, i)
            out.append(v)
        return (out if major == 4 else dict(zip(out[::2], out[1::2], strict=True))), i
    return _cbor(b, i)  # a tag: its value


def entry_ok(bundle: Path) -> bool:
    """True when the bundle's entry file is non-empty valid JSON naming at least one language."""
    try:
        data = json.loads((bundle / ENTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("languages"))


def bundle_problem(bundle: Path, chunks: bool = True) -> str:
    """Why the bundle is incomplete, or "" when every file the search page loads is whole.

    Pagefind's fragments are not looked at (piasite removes them). `chunks=False` leaves the
    word chunks unread: a merged bundle's were just written from bytes piasite compressed
    itself (a failed write raises)."""
    if not entry_ok(bundle):
        return f"{ENTRY} が空か、JSON として読めません"
    for name in ("pagefind.js", "wasm.unknown.pagefind"):
        path = bundle / name
        if not path.is_file() or path.stat().st_size == 0:
            return f"{name} がないか空です"
    # The module's last statement is its export list: a cut-off file lacks it.
    if not EXPORTS_AT_END.search((bundle / "pagefind.js").read_text(encoding="utf-8", errors="replace")):
        return "pagefind.js が途中で切れています"
    files = [*bundle.glob("*.pf_meta"), *bundle.glob("filter/*.pf_filter"),
             *bundle.glob("wasm.*.pagefind")]
    if chunks:
        files += bundle.glob("index/*.pf_index")
    for path in sorted(files):
        try:
            gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error):
            return f"{path.relative_to(bundle).as_posix()} が途中で切れています"
    return ""


def executable() -> Path | None:
    """The Pagefind binary: the one PAGEFIND_BINARY_PATH names, else the plain one piasite
    depends on (`pagefind[bin]`) even when the extended one is installed beside it (as
    `pagefind.service` would prefer): piasite cuts Japanese itself, and the extended binary
    segments the codes again — a third more CPU, and an index of other bytes."""
    if os.environ.get("PAGEFIND_BINARY_PATH") is None:
        try:
            from pagefind_bin import get_executable as plain
        except ImportError:
            pass
        else:
            return Path(plain())
    from pagefind.service import get_executable

    return get_executable()


@functools.cache
def _maker_digest() -> str:
    """This module (normalisation, bigrams, chunk size), the one that writes the index's files
    and the Pagefind whose library and format they are."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pagefind = version("pagefind")
    except PackageNotFoundError:
        pagefind = ""
    return hashlib.sha256(Path(__file__).read_bytes() + Path(index_parts.__file__).read_bytes()
                          + pagefind.encode()).hexdigest()


def record_keys(records: list[Record]) -> list[bytes]:
    """What each record is, as a short digest of its repr (plain and ordered)."""
    return [hashlib.sha256(repr(r).encode()).digest()[:16] for r in records]


def records_digest(keys: list[bytes]) -> str:
    """Everything a bundle is made from: the records (`record_keys`) and the code that
    indexes them."""
    h = hashlib.sha256(_maker_digest().encode())
    for k in keys:
        h.update(k)
    return h.hexdigest()


RECORDS_CACHE = "search-records.pickle"
RECORDS_FOLDER = "search-records"
BASE_CACHE = "search-base.pickle"
DELTA = "delta"
"""The folder, inside the bundle, of the index of the records the base lacks."""
DELTA_SHARE = 0.05
"""The most of the site's searchable text (in characters) a delta may hold; beyond it the
base is made anew. Searching reads one more index's chunks per query while a delta exists."""


@dataclass
class _Delta:
    base: dict
    """The published bundle's manifest (its pages are the base's)."""
    new: set[bytes]
    """Keys of the records the base lacks: the delta indexes them."""
    drop: list[str]
    """Base pages no record of the site is any longer: the search page ignores them."""


def _plan_delta(previous: Path, found: list[Found], names: list[str],
                cache_dir: Path) -> _Delta | None:
    """How to index the site's records as the published base plus a delta, or None to index
    them all.

    The base's record keys are in the cache, under the base's digest and the filter names it
    was made with; without them (or with another piasite), or when the delta would hold more
    than DELTA_SHARE of the text, the whole index is made anew."""
    try:
        base = json.loads((previous / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    saved = load_pickle(cache_dir / BASE_CACHE)
    if not (isinstance(base, dict) and isinstance(saved, tuple) and len(saved) == 4
            and saved[0] == _maker_digest() and saved[1] == base.get("base")
            and saved[2] == names
            and isinstance(base.get("pages"), dict)):
        return None
    if not entry_ok(previous):
        return None
    in_base: dict[bytes, str] = saved[3]
    live: set[str] = set()
    new: set[bytes] = set()
    new_chars = 0
    total = 0
    for f in found:
        page_id = in_base.get(f.key)
        if page_id is not None and page_id in base["pages"]:
            live.add(page_id)
            total += base["pages"][page_id][4]
        elif f.length:
            new.add(f.key)
            new_chars += f.length
            total += f.length
    if new_chars > DELTA_SHARE * total:
        return None
    return _Delta(base, new, sorted(set(base["pages"]) - live))


def _write_delta(plan: _Delta, bundle: Path, collected: Collected, names: list[str],
                 digest: str) -> str:
    """The new records indexed into `bundle`'s delta folder and a manifest naming the
    published base and the delta; the base's files stay where they are: "" when whole, else
    what went wrong."""
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    manifest = {k: v for k, v in plan.base.items() if k not in ("bundles", "drop")}
    manifest.update(records=digest, filters=filter_counts(
        (f.kind, f.filters) for f in collected.found if f.length))
    if plan.new:
        new = collected.records(plan.new)
        made = _index(Source.of(new, collected.texts(new)), bundle / DELTA, names, prefix="d")
        if isinstance(made, str):
            return made
        pages, _ = made
        # The search page loads the base's library and WebAssembly for both (mergeIndex).
        for name in ("pagefind.js", "wasm.unknown.pagefind"):
            (bundle / DELTA / name).unlink(missing_ok=True)
        _write_manifest(bundle / DELTA, {"version": 1, "pages": pages,
                                         "chunks": _chunks(bundle / DELTA)})
        manifest["bundles"] = [f"/{BUNDLE}/{DELTA}/"]
    if plan.drop:
        manifest["drop"] = plan.drop
    _write_manifest(bundle, manifest)
    return ""


def index_site(site_dir: Path, previous: Path | None = None,
               cache_dir: Path | None = None,
               pages: list[tuple[str, str]] | None = None, jobs: int = 1) -> IndexResult:
    """Index every search record of the site staged in `site_dir` into `site_dir/pagefind/`.

    `pages` ('/'-separated path, file) are its HTML pages when `site_dir` holds only what
    changed (the others are read from output/); by default every page under `site_dir`.
    When `previous` (the published bundle) was made from the same records, it stays as it is
    and nothing is written: pages whose layout changed but whose searchable text did not (a
    template edit) leave the index as it was. When only a few records changed, the published
    index stays as the base and only the records it lacks are indexed, into a delta the
    search page merges (docs/search.md); only that delta and the manifest are written. The
    result's `scope` says which. `cache_dir` keeps the pages' records (`Collected`) and the
    base's record keys between builds; `jobs` worker processes read the pages it has not
    kept (a cold build reads them all), and as many Pagefind runs (at most MAX_INDEX_RUNS)
    index a large site's parts. Problems become the diagnostic E901; a bundle that
    fails its check is built once more, whole.
    """
    bundle = site_dir / BUNDLE
    collected = Collected(site_dir, cache_dir, pages, jobs)
    keys = [f.key for f in collected.found]
    digest = records_digest(keys)
    if previous is not None and _made_from(previous) == digest and not bundle_problem(previous):
        return IndexResult(len(keys), [], reused=True)
    names = _filter_names(f.filters for f in collected.found)
    plan = (_plan_delta(previous, collected.found, names, cache_dir)
            if previous is not None and cache_dir is not None else None)
    if plan is not None and not _write_delta(plan, bundle, collected, names, digest):
        return IndexResult(len(keys), [], scope=DELTA)
    source = collected.source()
    kinds = [(f.kind, f.filters) for f in collected.found]
    last = ""
    for _ in range(2):
        shutil.rmtree(bundle, ignore_errors=True)
        ids = _write_whole(source, kinds, bundle, digest, jobs)
        if isinstance(ids, str):
            last = ids
            continue
        if cache_dir is not None:
            save_pickle(cache_dir / BASE_CACHE, (
                _maker_digest(), digest, names,
                {k: i for k, i in zip(keys, ids, strict=True) if i}))
        return IndexResult(len(keys), [])
    return IndexResult(0, [error(
        "E901", f"検索用の索引（Pagefind）を作れませんでした（{last}）。", _SPAN,
        hint="pip install 'pagefind[bin]==1.5.2' で Pagefind を入れ直し、もう一度ビルドしてください。"
             "output/ は変更していません。")])


def bundle_changes(staged: Path, published: Path, result: IndexResult
                   ) -> tuple[list[str], list[str]]:
    """The files of `pagefind/` a commit moves in (manifests last: a reader who loads a new
    manifest finds every file it names) and those it deletes, as '/'-separated paths in the
    site, for what `index_site` staged in `staged/pagefind` over `published`."""
    if result.reused:
        return [], []
    scope = f"{result.scope}/" if result.scope else ""
    new = {f"{scope}{rel}" for rel in files_in(staged / BUNDLE / result.scope)}
    if scope:
        new.add(MANIFEST)
    old = ({f"{scope}{rel}" for rel in files_in(published / result.scope)}
           if (published / result.scope).is_dir() else set())
    # The delta has its own entry and manifest: a file's name, not its path, says which.
    last = {ENTRY, MANIFEST}
    moved = sorted(new, key=lambda rel: (rel.rpartition("/")[2] in last, rel == MANIFEST, rel))
    return ([f"{BUNDLE}/{rel}" for rel in moved], sorted(f"{BUNDLE}/{rel}" for rel in old - new))
