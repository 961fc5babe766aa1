"""Across assessments: the key facts of every assessment in one table (/compare/), and one item
of a form side by side in every assessment whose form has it (/compare/<family>/<item>/).

Which version of an assessment is compared: its newest published text as written; where there is
none (only drafts, or only a reconstruction), its newest text as written — a draft is labelled
as one. A reconstruction is never compared: its values are inferred.

Which items get a comparison: every value item of the family's canonical edition except tables
(別紙 lists and record tables, long and document-specific), in families used by at least two
municipalities. An item inside a repeated group (a file's 保管場所, a 委託's 再委託の有無) is
compared across every entry of every assessment: the question is the same in each.

Values are shown as written; a value the form does not have, a blank one, one a reconstruction
cannot know and one the source lost are told apart (docs/compare.md).

Past ITEM_PAGE_MAX assessments of a family (and across prefectures), an item's
page counts and lists the prefectures, and each prefecture's entries have a page of their own
(`Part`).

A build makes each assessment's part of every comparison where it builds that assessment (a
`Record`, in a worker process: assessment.py); the comparison pages are then put together from
the records, one item page at a time, with the entries kept on disk (`EntryStore`) so that a
national site is never in memory whole.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import pickle
import sqlite3
import uuid
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from types import MappingProxyType

from . import prefectures, routes
from .link import LinkIndex
from .model import (
    FORM_KINDS,
    VALUE_KINDS,
    Affair,
    Family,
    Form,
    FormNode,
    Item,
    Municipality,
    Revision,
    thaw,
)
from .normalize import check_text
from .pickling import keys_interned, quick_pickle
from .prefectures import Prefecture
from .views import Context, FieldView, Place, field_view, item_places, revision_label

# --- URLs: from the route table ---------------------------------------------------------

INDEX_URL = routes.compare()
OVERVIEW_CSV_URL = routes.compare_overview_csv()
family_url = routes.compare_family
compare_url = routes.compare_item
compare_json_url = routes.compare_item_json
part_url = routes.compare_item_part
part_json_url = routes.compare_item_part_json


def block_id(muni: str, affair: str) -> str:
    """The id of one assessment's part of a comparison page."""
    return f"a-{muni}-{affair}"


# --- what is compared -----------------------------------------------------------------------

COMPARED_KINDS = VALUE_KINDS - {"table"}
MIN_MUNICIPALITIES = 2
"""A family gets item comparisons once assessments of this many municipalities use it."""
ITEM_PAGE_MAX = 500
"""An item's comparison lists up to this many assessments of its family on one page; past it
(across prefectures) the item's page counts and lists the prefectures, each with a page of
its own. Higher than prefectures.ONE_PAGE_MAX because the split makes a page and a JSON file
per prefecture of every compared item (at 1,000 versions, with 100 here, about 37,000 more
files), and a rebuild's cost grows with the files it compares: the 1,000-version benchmark
site's rebuild with nothing changed took 3.8 s instead of 1.3 s, one edit 5.2 s instead of
1.7 s. Unsplit, its item pages (429 assessments) are 0.5 MB at the median but up to 8 MB
(docs/compare.md)."""


def compared_revision(affair: Affair) -> Revision | None:
    """The newest published text as written, else the newest text as written (a draft)."""
    published = [r for r in affair.revisions if r.status == "published" and not r.reconstructed]
    if published:
        return published[-1]
    return affair.latest


def compared_kinds(kinds: Mapping[str, set[str]], families: Mapping[str, Family]) -> frozenset[str]:
    """The form kinds whose items are compared: used by MIN_MUNICIPALITIES municipalities or
    more (`kinds`: municipality → the kinds of its assessments)."""
    munis: dict[str, set[str]] = {}
    for muni, ks in kinds.items():
        for k in ks:
            munis.setdefault(k, set()).add(muni)
    return frozenset(k for k, ms in munis.items() if k in families and len(ms) >= MIN_MUNICIPALITIES)


@quick_pickle
@dataclass(frozen=True, slots=True)
class Assessment:
    """One assessment in a comparison: the version compared, as the pages name it."""

    muni: str
    muni_name: str
    """都道府県 and name: 北海道旭川市."""
    muni_url: str
    muni_code: str
    affair: str
    affair_name: str
    affair_title: str
    affair_url: str
    kind: str
    kind_name: str
    rev_id: str
    rev_url: str
    rev_label: str
    rev_status: str
    form_id: str
    form_yoshiki: str
    form_edition: str
    newer_draft: tuple[str, str] | None
    """(label, URL) of an open draft newer than the compared version."""
    pref: Prefecture
    """By the municipality's code (prefectures.of)."""

    @property
    def block(self) -> str:
        return block_id(self.muni, self.affair)

    @property
    def edition(self) -> str:
        return f"{self.form_yoshiki}（{self.form_edition}）"


@quick_pickle
@dataclass(frozen=True, slots=True)
class Entry:
    """One occurrence of a compared item in an assessment, as its comparison page shows it."""

    anchor: str
    form_id: str
    """The item's id in the assessment's own edition of the form."""
    label: str
    places: tuple[str, ...]
    """The repeated entries it sits in, named with their first words (委託事項2（…））."""
    context: tuple[str, ...]
    state: str
    value: object
    """As written (plain lists and dicts), for the JSON."""
    text: str
    """value_text: the value in one line."""
    keys: tuple[str, ...]
    """What a count of choices counts it under."""
    field: FieldView
    """The item as the assessment's page shows it."""


# A site's records repeat the same few hundred item ids: restored each from the pickle of
# its assessment's result, their keys were 6.6 MiB of the 1,000-version corpus's.
@quick_pickle(restore={"counts": keys_interned, "digests": keys_interned})
@dataclass(frozen=True, slots=True)
class Record:
    """One assessment's part of every comparison: its overview row and its compared items."""

    assessment: Assessment
    row: Row
    entries: Mapping[str, bytes]
    """Canonical item id → its occurrences in document order (only in compared kinds), pickled:
    a site's worth of them waits for the item pages in far less memory."""
    counts: Mapping[str, int]
    """Canonical item id → how many occurrences."""
    digests: Mapping[str, str]
    """Canonical item id → a digest of its entries: an unchanged item page is not rendered."""
    assessment_fp: str = ""
    row_fp: str = ""
    """Digests of the repr of `assessment` and of `row`, made once where the record is: the
    comparison pages are fingerprinted by them (repr of every row and assessment was 0.08 s
    of every rebuild at 1,000 versions)."""

    def stripped(self) -> Record:
        """Without its entries, which the EntryStore keeps (by digest) once added."""
        return dataclasses.replace(self, entries=MappingProxyType({}))


def _assessment(m: Municipality, a: Affair, rev: Revision) -> Assessment:
    draft = next((r for r in reversed(a.open_drafts) if r.id > rev.id), None)
    return Assessment(
        m.slug, m.full_name, m.url, m.code, a.slug, a.name, a.title, a.url, a.kind, a.kind_name,
        rev.id, rev.url, revision_label(rev), rev.status, rev.form.id, rev.form.yoshiki,
        rev.form.edition, (revision_label(draft), draft.url) if draft else None,
        prefectures.of(m.code, m.prefecture))


def record(m: Municipality, a: Affair, families: Mapping[str, Family], forms: Mapping[str, Form],
           compared: frozenset[str], links: LinkIndex | None) -> Record | None:
    """This assessment's row of the overview and its entries in every item comparison."""
    rev = compared_revision(a)
    if rev is None:
        return None
    who = _assessment(m, a, rev)
    places = item_places(rev)
    row = _row(who, a, rev, places, families)
    entries: dict[str, list[Entry]] = {}
    if rev.form.kind in compared:
        family = families[rev.form.kind]
        canonical = forms[family.canonical]
        # By id, once: Form.node walks the form, and this asks for every item of the version.
        wanted = {n.id: n for n in canonical.walk() if n.kind in COMPARED_KINDS}
        own = family.items.get(rev.form.id, {})
        ctx = Context(rev, links)
        for item in rev.walk():
            cid = own.get(item.node.id)
            if cid in wanted and item.node.kind in VALUE_KINDS:
                node = wanted[cid]
                place = places[item.anchor]
                st = state(item)
                entries.setdefault(cid, []).append(Entry(
                    item.anchor, item.node.id, item.label, place.entries, place.context, st, thaw(item.value) if st == "value" else None,
                    value_text(item), _choice_keys(item, node.kind),
                    field_view(item, 4, ctx)))
    blobs = {k: pickle.dumps(tuple(v), pickle.HIGHEST_PROTOCOL) for k, v in entries.items()}
    return Record(who, row, MappingProxyType(blobs),
                  MappingProxyType({k: len(v) for k, v in entries.items()}),
                  MappingProxyType({k: _digest(b) for k, b in blobs.items()}),
                  _digest(repr(who).encode()), _digest(repr(row).encode()))


def _digest(blob: bytes) -> str:
    # 128 bits, as Packed: a digest is kept for every compared item of every assessment
    # (120,000 at 1,000 versions), and sha256's 64 hex digits took 4 MiB more.
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


# --- the comparisons, across assessments ----------------------------------------------------


class EntryStore:
    """Every record's entries by item, in a small database beside the build (not in memory):
    an item page reads only its own entries. The summaries' system mentions wait there too
    (summary.AffairSummary.mentions), for the system pages, and the links of the site-wide
    pages (cache.SitePage.links), for the link check of a rebuild.

    Entries are kept by their digest and the database stays from build to build, so a record
    taken from the build cache comes without its entries (`Record.stripped`): reading 600 KB
    of entries per assessment back from the cache was most of a rebuild's unpickling. The
    database's token is part of the build cache's key: a new database rebuilds everything."""

    def __init__(self, path: Path | None = None):
        self.path = path
        try:
            self.db, self.token = _open_store(path)
        except sqlite3.DatabaseError:  # a damaged cache: made anew (and everything rebuilt)
            assert path is not None
            path.unlink(missing_ok=True)
            self.db, self.token = _open_store(path)
        self.index: dict[tuple[str, str], tuple[array[int], list[str]]] = {}
        """(family, item) -> the seq and the digest of each record that has the item, in two
        lists (a tuple per record: 120,000 of them, 7.5 MiB at 1,000 versions)."""
        self.others: set[str] = set()
        """The digests of the other blobs the build refers to (`refer`)."""

    def add(self, family: str, seq: int, rec: Record) -> None:
        self.put({rec.digests[item]: blob for item, blob in rec.entries.items()})
        for item, digest in rec.digests.items():
            seqs, digests = self.index.setdefault((family, item), (array("q"), []))
            seqs.append(seq)
            digests.append(digest)

    def put(self, blobs: Mapping[str, bytes]) -> None:
        """Blobs by digest (a record's entries, a page's links, the mentions of a summary no
        worker stored)."""
        if blobs:
            self.db.executemany(_INSERT, blobs.items())

    def refer(self, digests: Iterable[str]) -> None:
        """Keep these blobs too when the store forgets those no build refers to."""
        self.others.update(digests)

    def blobs(self, digests: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted = sorted(set(digests))
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            found.update(self.db.execute(
                f"SELECT digest, data FROM blob WHERE digest IN ({','.join('?' * len(part))})",
                part))
        return found

    def unpack(self, digest: str) -> object:
        """One blob `put` added, unpickled."""
        return pickle.loads(self.blobs([digest])[digest])

    def entries(self, family: str, item: str) -> list[tuple[int, tuple[Entry, ...]]]:
        wanted = self.rows(family, item)
        found = self.blobs(d for _, d in wanted)
        return [(seq, pickle.loads(found[d])) for seq, d in wanted]

    def rows(self, family: str, item: str) -> tuple[tuple[int, str], ...]:
        """(seq, digest) of each record that has the item, in order (what `entries` reads)."""
        seqs, digests = self.index.get((family, item), ((), ()))
        return tuple(sorted(zip(seqs, digests, strict=True)))

    def set_rows(self, family: str, item: str, rows: Iterable[tuple[int, str]]) -> None:
        """The item's `rows` as another EntryStore on the same database gave them."""
        rows = list(rows)
        self.index[(family, item)] = (array("q", [s for s, _ in rows]), [d for _, d in rows])

    def commit(self) -> None:
        """Make the entries added so far readable to other processes (`render.make_items`)."""
        self.db.commit()

    def referred(self) -> set[str]:
        """The digests of the blobs the records and summaries added since opening refer to."""
        return {d for _, digests in self.index.values() for d in digests} | self.others

    def close(self) -> None:
        self.db.commit()
        self.db.close()


STORE = "compare.sqlite"
"""The EntryStore's file in the build's cache folder."""
_INSERT = "INSERT OR IGNORE INTO blob VALUES (?, ?)"


def put_blobs(path: Path, blobs: Mapping[str, bytes]) -> bool:
    """Add blobs by digest to the store at `path`, which the build opened (EntryStore); False
    when it did not open one. Called by the worker that built an assessment
    (summary.AffairSummary.stored): its comparison entries (240 MB at 1,000 versions) and
    system mentions then never travel to the parent."""
    if not path.is_file():
        return False
    # Workers add theirs side by side: each waits for the other's short write.
    db = sqlite3.connect(str(path), timeout=120)
    try:
        db.execute("PRAGMA synchronous = OFF")
        db.executemany(_INSERT, blobs.items())
        db.commit()
    finally:
        db.close()
    return True


def _open_store(path: Path | None) -> tuple[sqlite3.Connection, str]:
    db = sqlite3.connect(str(path) if path else ":memory:")
    # A cache: not worth waiting for the disk (hundreds of MB at 1,000 versions); a store a
    # crash damaged is made anew.
    db.execute("PRAGMA synchronous = OFF")
    db.execute("CREATE TABLE IF NOT EXISTS blob (digest TEXT PRIMARY KEY, data BLOB)")
    db.execute("CREATE TABLE IF NOT EXISTS meta (token TEXT)")
    row = db.execute("SELECT token FROM meta").fetchone()
    if row is None:
        row = (uuid.uuid4().hex,)
        db.execute("INSERT INTO meta VALUES (?)", row)
        db.commit()
    return db, row[0]


PRUNE_SHARE = 0.25
"""How many entries no record refers to (as a share of those referred) the store keeps
before it forgets them."""


def prune_entries(path: Path, keep: set[str]) -> bool:
    """Forget the entries of the store at `path` that no digest of `keep` names (after a
    build is published: its records are then all the build cache can give); True if it did.

    Only once the forgotten would be more than PRUNE_SHARE of the kept: forgetting lists
    every live digest to the database (0.2 s at 1,000 versions), and an edit leaves a few
    stale entries behind, not worth it every build."""
    db, _ = _open_store(path)
    try:
        (count,) = db.execute("SELECT count(*) FROM blob").fetchone()
        if count <= len(keep) * (1 + PRUNE_SHARE):
            return False
        db.execute("CREATE TEMP TABLE live (digest TEXT PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((d,) for d in keep))
        db.execute("DELETE FROM blob WHERE digest NOT IN (SELECT digest FROM live)")
        db.commit()
        return True
    finally:
        db.close()


@dataclass(frozen=True, slots=True)
class Part:
    """One prefecture's share of a family's assessments: its item pages of their own."""

    pref: Prefecture
    members: tuple[int, ...]
    """Indices into FamilyComparison.assessments, in the site's order."""


def split_by_prefecture(assessments: tuple[Assessment, ...]) -> tuple[Part, ...]:
    """The parts an item's comparison is split into (prefectures.split), or none."""
    return tuple(Part(p, m) for p, m in prefectures.split([a.pref for a in assessments],
                                                          ITEM_PAGE_MAX))


@dataclass(frozen=True, slots=True)
class FamilyComparison:
    family: Family
    form: Form
    """The canonical edition: ids, labels and order of the compared items."""
    nodes: tuple[FormNode, ...]
    """Compared items in the form's order."""
    form_context: Mapping[str, tuple[str, ...]]
    """Canonical item id -> the form's sections around it."""
    assessments: tuple[Assessment, ...]
    fps: tuple[str, ...]
    """Each assessment's `Record.assessment_fp`."""
    counts: Mapping[str, int]
    """Canonical item id -> how many entries it has across assessments."""
    digests: Mapping[str, tuple[str, ...]]
    """Canonical item id -> each assessment's digest of its entries (or "")."""
    seqs: tuple[int, ...]
    """Each assessment's position in the store."""
    store: EntryStore
    parts: tuple[Part, ...] = ()
    """The prefectures an item's comparison is split into (split_by_prefecture), or none."""
    editions: Mapping[str, tuple[frozenset[str], tuple[int, ...]]] = field(
        init=False, repr=False, compare=False)
    """Form id -> (the canonical ids its items correspond to, the indices of the assessments
    written in it): a family has a few editions and may have tens of thousands of
    assessments, so `lacking` asks each edition, not each assessment."""

    def __post_init__(self) -> None:
        by: dict[str, list[int]] = {}
        for i, c in enumerate(self.assessments):
            by.setdefault(c.form_id, []).append(i)
        object.__setattr__(self, "editions", MappingProxyType({
            form_id: (frozenset(self.family.items.get(form_id, {}).values()), tuple(ix))
            for form_id, ix in by.items()}))

    @property
    def name(self) -> str:
        return f"{FORM_KINDS.get(self.family.id, self.family.id)}（{self.form.yoshiki}）"

    def node(self, item_id: str) -> FormNode:
        return next(n for n in self.nodes if n.id == item_id)

    def part(self, slug: str) -> Part:
        return next(p for p in self.parts if p.pref.slug == slug)

    def entries(self, item_id: str) -> list[tuple[int, Entry]]:
        """(index into assessments, entry) of every occurrence, in order."""
        index = {seq: i for i, seq in enumerate(self.seqs)}
        return [(index[seq], e) for seq, es in self.store.entries(self.family.id, item_id)
                for e in es]


def _form_context(form: Form) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}

    def visit(nodes, ctx):
        for n in nodes:
            out[n.id] = ctx
            # A repeated group's unnumbered heading (委託事項) is kept: it names what repeats.
            visit(n.children, (*ctx, n.title))

    visit(form.nodes, ())
    return out


_get = MappingProxyType.get


def _proxy(m: Mapping) -> MappingProxyType:
    return m if type(m) is MappingProxyType else MappingProxyType(m)


def comparisons(records: Iterable[tuple[int, Record]], families: Mapping[str, Family],
                forms: Mapping[str, Form], compared: frozenset[str],
                store: EntryStore) -> dict[str, FamilyComparison]:
    """Every compared family, with its assessments in the site's order. `records` are
    (position in the store, record), their entries already in `store`."""
    by_family: dict[str, list[tuple[int, Record]]] = {}
    for seq, rec in records:
        if rec.assessment.kind in compared:
            by_family.setdefault(rec.assessment.kind, []).append((seq, rec))
    out: dict[str, FamilyComparison] = {}
    for kind, recs in sorted(by_family.items()):
        family = families[kind]
        form = forms[family.canonical]
        nodes = tuple(n for n in form.walk() if n.kind in COMPARED_KINDS)
        # Items × records (300 × 714 at 1,000 versions, every rebuild): looked up by map.
        n_recs = len(recs)
        all_counts = [_proxy(r.counts) for _, r in recs]
        all_digests = [_proxy(r.digests) for _, r in recs]
        counts = {n.id: sum(map(_get, all_counts, repeat(n.id, n_recs), repeat(0, n_recs)))
                  for n in nodes}
        digests = {n.id: tuple(map(_get, all_digests, repeat(n.id, n_recs), repeat("", n_recs)))
                   for n in nodes}
        assessments = tuple(r.assessment for _, r in recs)
        out[kind] = FamilyComparison(family, form, nodes, _form_context(form), assessments,
                                     tuple(r.assessment_fp for _, r in recs),
                                     MappingProxyType(counts), MappingProxyType(digests),
                                     tuple(seq for seq, _ in recs), store,
                                     split_by_prefecture(assessments))
    return out


def compare_links(families: Mapping[str, Family], forms: Mapping[str, Form],
                  compared: frozenset[str]) -> Callable[[Form], Mapping[str, str]]:
    """For a version's form: its item id -> the comparison of that item (where there is one)."""
    cache: dict[str, Mapping[str, str]] = {}

    def for_form(form: Form) -> Mapping[str, str]:
        hit = cache.get(form.id)
        if hit is None:
            hit = {}
            if form.kind in compared:
                family = families[form.kind]
                wanted = {n.id for n in forms[family.canonical].walk()
                          if n.kind in COMPARED_KINDS}
                hit = {own: compare_url(form.kind, cid)
                       for own, cid in family.items.get(form.id, {}).items() if cid in wanted}
            cache[form.id] = hit
        return hit

    return for_form


def lacking(comp: FamilyComparison, item_id: str) -> list[int]:
    """Indices of the assessments whose edition of the form has no counterpart of the item,
    in order."""
    return sorted(i for ids, members in comp.editions.values() if item_id not in ids
                  for i in members)


def missing_form(comp: FamilyComparison, item_id: str, part: Part | None = None
                 ) -> list[Assessment]:
    """Assessments (of `part`) whose edition of the form has no counterpart of the item."""
    members = None if part is None else frozenset(part.members)
    return [comp.assessments[i] for i in lacking(comp, item_id)
            if members is None or i in members]


# --- how a value reads ------------------------------------------------------------------------

NOT_IN_FORM = "様式にない項目"
BLANK = "記載なし"
UNKNOWN = "不明（復元した参考版）"
ABSENT = "この版にはない項目"
LOST = "原本から読み取れない"
NOTHING_CHECKED = "チェックなし"


def state(item: Item) -> str:
    """value | blank | unknown | absent | lost."""
    if item.absent_in_version:
        return "absent"
    if item.unknown_in_version:
        return "unknown"
    v = item.value
    empty = v is None or v == "" or (isinstance(v, Mapping) and not v.get("rows"))
    if item.node.kind == "list" and not v:
        empty = True
    if empty:
        return "lost" if item.lost else "blank"
    return "value"


_STATE_TEXT = {"blank": BLANK, "unknown": UNKNOWN, "absent": ABSENT, "lost": LOST}


def value_text(item: Item) -> str:
    """The value in one line, as written (a ticked box with its detail; list labels joined)."""
    st = state(item)
    if st != "value":
        return _STATE_TEXT[st]
    node, v = item.node, item.value
    if node.kind == "checks":
        return "、".join(check_text(el, node.detail_unit) for el in v) or NOTHING_CHECKED  # type: ignore[union-attr]
    if node.kind == "check":
        return "チェックあり" if v else NOTHING_CHECKED
    if node.kind == "list":
        return "、".join(el["label"] if isinstance(el, Mapping) else str(el) for el in v)  # type: ignore[union-attr]
    text = str(v)
    return f"{text} {node.suffix}" if node.suffix and node.kind != "date" else text


def _choice_keys(item: Item, kind: str) -> tuple[str, ...]:
    """What a count of choices counts one entry under (`kind`: the compared item's)."""
    if kind not in ("select", "checks", "check"):
        return ()
    st = state(item)
    if st != "value" and not (kind == "check" and st == "blank"):
        return (_STATE_TEXT[st],)
    if kind == "checks":
        return tuple(el["label"] if isinstance(el, Mapping) else str(el)
                     for el in item.value) or (NOTHING_CHECKED,)  # type: ignore[union-attr]
    if kind == "check":
        return ("チェックあり" if item.value else NOTHING_CHECKED,)
    return (str(item.value),)


def choice_counts(comp: FamilyComparison, item_id: str,
                  entries: list[tuple[int, Entry]]) -> list[dict]:
    """For a selection item: each choice, how many entries chose it and which assessments.

    Choices as the form lists them, then anything else written (shown as written), then
    blanks; a checkbox list counts each ticked box."""
    node = comp.node(item_id)
    if node.kind not in ("select", "checks", "check"):
        return []
    if node.kind == "select":
        order = list(node.choices.options if node.choices else ())
    elif node.kind == "checks":
        order = list(node.options)
    else:
        order = ["チェックあり", NOTHING_CHECKED]
    tally: dict[str, dict[int, int]] = {o: {} for o in order}
    for i, entry in entries:
        for k in entry.keys:
            per = tally.setdefault(k, {})
            per[i] = per.get(i, 0) + 1
    return [dict(choice=k, listed=k in order, n=sum(per.values()),
                 assessments=[(comp.assessments[i], n) for i, n in sorted(per.items())])
            for k, per in tally.items()]


# --- the overview -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fact:
    key: str
    title: str
    items: Mapping[str, str]
    """Form kind -> the canonical item id holding the fact (a kind not listed lacks it)."""
    count: bool = False
    """Show how many entries the item has (システムの数), not their values."""


FACTS = (
    Fact("persons", "対象人数", {"kiso": "II-1-1", "juten": "I-1-3", "zenkoumoku": "I-1-3"}),
    Fact("handlers", "取扱者数（500人以上か）", {"kiso": "II-2-1"}),
    Fact("threshold", "しきい値判断の結果", {"kiso": "III-1", "juten": "V-1-2", "zenkoumoku": "VI-1-2"}),
    Fact("incident", "重大事故の発生", {"kiso": "II-3-1", "juten": "III-7-r-2",
                                     "zenkoumoku": "III-7-r1-9"}),
    Fact("outsourcing", "委託の件数", {"juten": "II-4-2", "zenkoumoku": "II-4-count"}),
    Fact("resub", "再委託の有無", {"juten": "II-4-itaku-sai-4", "zenkoumoku": "II-4-itaku-re-7"}),
    Fact("provision", "提供・移転の件数", {"juten": "II-5-1", "zenkoumoku": "II-5-has"}),
    Fact("systems", "システムの数", {"kiso": "I-1-3", "juten": "I-2-sys", "zenkoumoku": "I-2-sys"},
         count=True),
)
"""The facts a resident compares, and where each form states them. The questions differ between
forms (重大事故: 基礎 asks about the past year and 特定個人情報, 重点・全項目 the past three years
and 個人情報); the overview says so under its table."""

_LIST_PLACES = 3
"""A value written in more places than this shows their number instead of their names."""


@quick_pickle
@dataclass(frozen=True, slots=True)
class Group:
    text: str
    """The value as written (or what stands for its absence)."""
    url: str
    """The first item holding it."""
    places: tuple[str, ...] = ()
    """The entries holding it (特定個人情報ファイル1の委託事項2), when the item repeats."""
    n: int = 1

    @property
    def where(self) -> str:
        """（特定個人情報ファイル1、特定個人情報ファイル2）, or （5件） for many places."""
        return _where(self)


@quick_pickle
@dataclass(frozen=True, slots=True)
class Cell:
    groups: tuple[Group, ...] = ()
    note: str = ""
    """Stands for the value when there is none: 様式にない項目, 記載なし, 公表版なし …"""

    @property
    def text(self) -> str:
        """One line, for the CSV: the same words as the page."""
        if not self.groups:
            return self.note
        return "、".join(g.text + g.where for g in self.groups)


def _where(g: Group) -> str:
    if not g.places:
        return ""
    if len(g.places) > _LIST_PLACES:
        return f"（{len(g.places)}件）"
    return f"（{'、'.join(g.places)}）"


@quick_pickle
@dataclass(frozen=True, slots=True)
class Row:
    compared: Assessment
    kind_name: str
    form: str
    """様式4（令和6年10月）."""
    version: str
    facts: Mapping[str, Cell]
    published: Cell
    published_version: str


def _own_ids(families: Mapping[str, Family], form: Form) -> dict[str, list[str]]:
    """Canonical id -> this form's ids that correspond to it."""
    fam = families.get(form.kind)
    out: dict[str, list[str]] = {}
    for own, cid in (fam.items.get(form.id, {}) if fam else {}).items():
        out.setdefault(cid, []).append(own)
    return out


def _cell(c: Assessment, places: Mapping[str, Place], items: list[Item], fact: Fact) -> Cell:
    if not items:
        return Cell(note=BLANK)
    if fact.count:
        it = items[0]
        n = len(it.children) if it.node.kind == "repeat" else len(it.value or [])  # type: ignore[arg-type]
        if n == 0 and state(it) != "value" and it.node.kind != "repeat":
            return Cell(note=value_text(it))
        return Cell((Group(f"{n}件", f"{c.rev_url}#{it.anchor}"),))
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(value_text(it), []).append(it)
    repeated = any(places[it.anchor].instances for it in items)
    return Cell(tuple(
        Group(text, f"{c.rev_url}#{its[0].anchor}",
              tuple("の".join(places[it.anchor].instances) for it in its) if repeated else (),
              len(its))
        for text, its in groups.items()))


def _row(c: Assessment, a: Affair, rev: Revision, places: Mapping[str, Place],
         families: Mapping[str, Family]) -> Row:
    """The assessment's row of the overview (/compare/)."""
    own = _own_ids(families, rev.form)
    by_node: dict[str, list[Item]] = {}
    for it in rev.walk():
        by_node.setdefault(it.node.id, []).append(it)
    facts = {}
    for f in FACTS:
        cid = f.items.get(rev.form.kind)
        ids = own.get(cid, []) if cid else []
        if f.count and cid and not ids and rev.form.node(cid) is not None:
            ids = [cid]  # a repeated group is no value item: it has no correspondence
        items = [it for i in ids for it in by_node.get(i, ())]
        facts[f.key] = _cell(c, places, items, f) if ids else Cell(note=NOT_IN_FORM)
    pub = [r for r in a.revisions if r.status == "published"]
    if pub:
        p = pub[-1]
        it = p.item("cover-published")
        if it is None:
            published = Cell(note=NOT_IN_FORM)
        else:
            published = Cell((Group(value_text(it), f"{p.url}#{it.anchor}"),))
        published_version = revision_label(p)
    else:
        published, published_version = Cell(note="公表版なし（案のみ）"), ""
    return Row(c, a.kind_name, f"{rev.form.yoshiki}（{rev.form.edition}）", revision_label(rev),
               MappingProxyType(facts), published, published_version)


CSV_COLUMNS = ("団体", "全国地方公共団体コード", "事務", "評価書の種類", "様式", "比較に使った版", "版のURL",
               *(f.title for f in FACTS), "最新の公表版", "公表日")


def overview_csv(rows: list[Row], base_url: str) -> bytes:
    """The overview table, one row per assessment. UTF-8 with a BOM (Excel reads it as such)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        c = r.compared
        w.writerow((c.muni_name, c.muni_code, c.affair_name, r.kind_name, r.form, r.version,
                    base_url + c.rev_url, *(r.facts[f.key].text for f in FACTS),
                    r.published_version, r.published.text))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# --- one item as data ------------------------------------------------------------------------

def _pref_data(pref: Prefecture) -> dict:
    return {"code": pref.code, "name": pref.name, "slug": pref.slug}


def item_data(comp: FamilyComparison, item_id: str, base_url: str,
              entries: list[tuple[int, Entry]], counts: list[dict],
              part: Part | None = None) -> dict:
    """An item's comparison as data: every assessment's entries; for a split comparison
    (`comp.parts`), the counts and the prefectures' parts, and each part's entries apart."""
    node = comp.node(item_id)
    head = {
        "family": comp.family.id,
        "canonical_form": comp.form.id,
        "item": item_id,
        "url": base_url + (compare_url(comp.family.id, item_id) if part is None
                           else part_url(comp.family.id, item_id, part.pref.slug)),
        "number": node.no,
        "label": node.label,
        "kind": node.kind,
        "form_context": list(comp.form_context[item_id]),
    }
    if comp.parts and part is None:
        return head | {
            "choices": [{"choice": x["choice"], "listed_in_form": x["listed"], "entries": x["n"]}
                        for x in counts],
            "parts": [{"prefecture": _pref_data(sh.part.pref),
                       "url": base_url + part_url(comp.family.id, item_id, sh.part.pref.slug),
                       "data": base_url + part_json_url(comp.family.id, item_id,
                                                        sh.part.pref.slug),
                       "assessments": sh.assessments, "entries": sh.entries,
                       "not_in_form": sh.missing}
                      for sh in shares(comp, item_id, (i for i, _ in entries))],
        }
    by_assessment: dict[int, list[Entry]] = {}
    for i, entry in entries:
        by_assessment.setdefault(i, []).append(entry)
    assessments = []
    for i, c in enumerate(comp.assessments):
        if i not in by_assessment:
            continue
        assessments.append({
            "municipality": {"slug": c.muni, "name": c.muni_name, "code": c.muni_code},
            "affair": {"slug": c.affair, "name": c.affair_name, "title": c.affair_title},
            "version": {"id": c.rev_id, "label": c.rev_label, "status": c.rev_status,
                        "url": base_url + c.rev_url, "form": c.form_id},
            "entries": [{
                "id": e.anchor,
                "form_id": e.form_id,
                "url": f"{base_url}{c.rev_url}#{e.anchor}",
                "label": e.label,
                "context": list(e.context),
                "state": e.state,
                "value": e.value,
                "text": e.text,
            } for e in by_assessment[i]],
        })
    out = head | {
        "choices": [{"choice": x["choice"], "listed_in_form": x["listed"], "entries": x["n"],
                     "assessments": [{"municipality": c.muni_name, "affair": c.affair_name,
                                      "entries": n} for c, n in x["assessments"]]}
                    for x in counts],
        "assessments": assessments,
        "not_in_form": [{"municipality": c.muni_name, "affair": c.affair_name,
                         "form": c.form_id} for c in missing_form(comp, item_id, part)],
    }
    if part is not None:
        out |= {"prefecture": _pref_data(part.pref),
                "whole": base_url + compare_json_url(comp.family.id, item_id)}
    return out


@dataclass(frozen=True, slots=True)
class Share:
    """A part of a split comparison of one item, as the item's page lists it."""

    part: Part
    assessments: int
    """How many of the part's assessments have the item."""
    entries: int
    missing: int
    """How many of the part's assessments have a form without the item."""


def shares(comp: FamilyComparison, item_id: str, with_entries: Iterable[int]) -> list[Share]:
    """The parts of a split comparison that have a page for the item: those with an entry
    (`with_entries`: the index of each entry's assessment) or an assessment whose form lacks
    the item. The item's pages ask with its entries; the build, before reading them, with
    the assessments whose digest of the item is not empty (the same ones)."""
    per: dict[int, int] = {}
    for i in with_entries:
        per[i] = per.get(i, 0) + 1
    lack = frozenset(lacking(comp, item_id))
    out = []
    for p in comp.parts:
        have = [per[i] for i in p.members if i in per]
        missing = sum(1 for i in p.members if i in lack)
        if have or missing:
            out.append(Share(p, len(have), sum(have), missing))
    return out
