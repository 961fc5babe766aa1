"""The content model: immutable values that flow from `load` to every later stage.

Forms (様式) are data: a Form is a tree of FormNodes read from piasite/forms/*.toml.
A Revision binds a form to one version's content: its `items` mirror the form tree
with the values found in the content, each with the Span it came from.
"""

from __future__ import annotations

import copyreg
import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import routes
from .diagnostics import Span
from .pickling import quick_pickle
from .wareki import JDate


def freeze(value: object) -> object:
    """A parsed TOML value that cannot be changed: lists → tuples, tables → read-only maps."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    return value


def read_only(data: dict) -> MappingProxyType:
    """A read-only view of `data` (how a pickled frozen table comes back)."""
    return MappingProxyType(data)


def _reduce_mapping(m: MappingProxyType) -> tuple:
    return read_only, (dict(m),)


# Frozen values travel between worker processes and the build cache (pickle), which does not
# know read-only maps by itself.
copyreg.pickle(MappingProxyType, _reduce_mapping)


def thaw(value: object) -> object:
    """A frozen value as plain lists and dicts again (for JSON, and text that shows it)."""
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    return value


# Kinds of form node. "section"/"cover"/"repeat" hold children; the rest hold a value.
CONTAINER_KINDS = frozenset({"section", "cover", "repeat"})
VALUE_KINDS = frozenset({"text", "select", "check", "checks", "date", "list", "number", "table"})

# Why a value could not be taken from the source; the page explains each in Japanese.
LOST_REASONS = {
    "figure": "原本ではこの項目は図（画像）で示されており、文字として取り込めていません。",
    "attachment": "原本は別紙を参照していますが、その別紙は取り込んだ資料に含まれていません。",
    "clipped": "原本の表の枠で文字が切れており、続きは読み取れません。",
    "illegible": "原本の抽出結果が崩れており、この値は読み取れません。",
}

CLIPPABLE_CELLS = ("item", "before", "after", "timing", "reason")
"""The 変更箇所 cells a row's `clipped` may name."""

# Readings (解釈・推定): where the page shows something the source does not print, the content
# names why under [readings] (or a 変更箇所 row's `readings`). The reason is one of these codes,
# whose Japanese sentence the page prints, or the content author's own Japanese sentence.
READING_REASONS = {
    "draft-unstated": "原本は自らを「案」とは書いていません。公表日の記載がなく、意見の聴取などの手続を"
                      "今後行うこととして書いているため、公表前の案と読み取っています。",
    "edition-unknown": "この参考版の当時の様式の版は原本に書かれておらず、わかりません。"
                       "示している様式の版は元にした版のもので、この参考版の当時のものではありません。",
    "edition-older": "この参考版の当時の様式の版は原本に書かれていません。元にした版の変更箇所に"
                     "「様式変更に伴う項目追加」の行があるため、当時はそれより前の版の様式でしたが、"
                     "どの版かはわかりません。示している様式の版は、元にした版のものです。",
    "layout": "原本の抽出結果ではこの欄の文字の並びが崩れており、この値は崩れた並びから読み取った"
              "ものです。原本での確認が必要です。",
    "checks-partial": "原本の抽出結果ではこの欄の選択肢の並びが崩れています。ここに示したチェックは"
                      "崩れた並びから読み取ったもので、どの欄に付いたか決められない○もあるため、"
                      "ほかの欄のチェックの有無は読み取れません。",
    "date-block": "原本の抽出結果では、変更箇所の表の変更日がページごとにまとめて出ており、行と"
                  "並んでいません。各行の変更日は、そのページの変更日から読み取っています。",
    "date-order": "この行のあるページには異なる変更日が混じっています。この行の変更日は、ページ内の"
                  "変更日の並び順と記載の内容から推定したもので、確かではありません。",
}
READING_CODE = re.compile(r"[a-z][a-z0-9-]*")
"""A reason that looks like this must be a READING_REASONS code (a typo is not free text)."""
VERSION_READINGS = {"status": "版の状態（公表版・案）", "form": "様式の版"}
"""Keys of [readings] that are not item ids: what of the version they qualify."""
ROW_READING_CELLS = ("date", *CLIPPABLE_CELLS)
"""The 変更箇所 cells a row's `readings` (or [readings] changes) may name."""

FORM_KINDS = {"kiso": "基礎項目評価書", "juten": "重点項目評価書", "zenkoumoku": "全項目評価書"}

REVISION_STATUSES = {"published": "公表", "draft": "案"}

CHANNEL_KINDS = ("post", "fax", "email", "online", "box", "other")
"""How a パブリックコメント opinion can be submitted (a channel's `kind`)."""


@dataclass(frozen=True, slots=True)
class Choices:
    options: tuple[str, ...]
    note: str = ""
    """Form text printed under the list (e.g. the 2)又は3)… remark of 様式2 IV-1)."""


@dataclass(frozen=True, slots=True)
class FormNode:
    id: str
    """Stable anchor id, e.g. ``I-1-3``; survives renumbering within and across editions."""
    kind: str
    label: str
    no: str = ""
    """Printed number as the form writes it: ``I``, ``1.``, ``①``."""
    key: str = ""
    """Dotted content key, relative to the enclosing repeat instance (or the revision)."""
    choices: Choices | None = None
    options: tuple[str, ...] = ()
    suffix: str = ""
    note_key: str = ""
    heading: bool = False
    hide_label: bool = False
    show_number: bool = False
    required: bool = True
    item_label: str = ""
    numbered: bool = True
    """For `list`: print "1." markers (False when items carry the source's own numbers)."""
    systems: bool = False
    """The items (a list) or instances (a repeat) are systems: link them to the registry."""
    counts: str = ""
    """For `number`: the id of the repeated group whose entries this declared count counts."""
    detail_unit: str = ""
    """For `checks`: printed after a box's parenthesised detail, as in 提供を行っている（57）件."""
    columns: tuple[str, ...] = ()
    """For `table`: default column headings when the content gives none."""
    children: tuple[FormNode, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.no} {self.label}" if self.no else self.label

    def walk(self) -> Iterator[FormNode]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass(frozen=True, slots=True)
class Form:
    id: str
    kind: str
    name: str
    title: str
    yoshiki: str
    edition: str
    nodes: tuple[FormNode, ...]
    choices: Mapping[str, Choices]
    path: str = ""
    digest: str = ""
    """Hash of the definition file: a version bound to an edited form is bound again."""

    def walk(self) -> Iterator[FormNode]:
        for n in self.nodes:
            yield from n.walk()

    def node(self, node_id: str) -> FormNode | None:
        return next((n for n in self.walk() if n.id == node_id), None)

    @property
    def tag(self) -> str:
        return f"[{self.edition} {self.yoshiki}]"


@dataclass(frozen=True, slots=True)
class Reading:
    """A value the page shows that the source does not print: why it was read that way."""

    key: str
    """What it qualifies: an item id, ``status``, ``form``, ``changes.<cell>`` or ``<cell>``."""
    text: str
    """The Japanese sentence the page prints (a code's sentence or the author's own)."""
    span: Span
    code: str = ""
    """The READING_REASONS code, empty when the content wrote its own sentence."""
    lines: tuple[int, ...] = ()
    """Lines of the source document the reading rests on."""


@dataclass(frozen=True, slots=True)
class Item:
    """One node of a revision's document: a form node bound to its value in the content."""

    node: FormNode
    anchor: str
    """Full id in the page: the node id, with repeat instance keys spliced in."""
    label: str
    """Label as this document prints it (the form's, unless the content overrides it)."""
    value: object = None
    """As written in the content, frozen: a string, number or bool, a tuple for an array and a
    read-only mapping for a table (export writes them back as JSON arrays and objects)."""
    present: bool = False
    """False when the content does not give this field at all."""
    span: Span | None = None
    note: str = ""
    """Extra text for `list` nodes (the ※ note under a system list)."""
    absent_in_version: bool = False
    """True when this version predates the item (a reconstructed older version)."""
    unknown_in_version: bool = False
    """True when a reconstructed version cannot know this item's value."""
    lost: str = ""
    """A LOST_REASONS key when the source lost this value (a diagram that was an image…)."""
    reading: Reading | None = None
    """Set when the value shown is a reading of the source, not what it prints."""
    explicit_system: str = ""
    """For a repeat instance that is a system: its `system = "slug"` registry reference."""
    children: tuple[Item, ...] = ()

    def walk(self) -> Iterator[Item]:
        return _walk((self,))


def _walk(items: tuple[Item, ...]) -> Iterator[Item]:
    """`items` and everything under them, each before its children (a version is walked ten
    times in a build: a stack instead of nested generators, 241 -> 88 ns an item)."""
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        yield item
        if item.children:
            stack.extend(reversed(item.children))


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One row of the 変更箇所 table, as the document prints it."""

    index: int
    date_text: str
    date: JDate | None
    item: str
    before: str
    after: str
    timing: str
    reason: str
    span: Span
    field: str = ""
    """Curated field id this row changes (``II-1-2``), empty when it maps to none."""
    source_lines: tuple[int, ...] = ()
    layout: str = ""
    """How the source printed the row when that differs from the six columns: ``shifted``."""
    clipped: tuple[str, ...] = ()
    """Cells the source cut off at the table's edge (``after``): the page says the rest is lost."""
    # dataclasses.field, spelled out: this class has its own attribute named `field`
    key_spans: Mapping[str, Span] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    """Where each key of the row is written, for diagnostics on one cell."""
    readings: Mapping[str, Reading] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))
    """Cells (ROW_READING_CELLS) whose value is a reading, not printed as such in the row."""

    def at(self, key: str) -> Span:
        return self.key_spans.get(key, self.span)


@dataclass(frozen=True, slots=True)
class Reconstruction:
    """Provenance of a version that was rebuilt, not published as such."""

    basis: str
    """Revision id whose 変更箇所 rows were applied in reverse."""
    applied: tuple[int, ...]
    """Indexes (1-based) of the basis revision's 変更箇所 rows that were applied."""
    not_applied: tuple[tuple[int, str], ...]
    """(row index, reason) for rows that could not be applied."""
    span: Span


@dataclass(frozen=True, slots=True)
class Channel:
    """One way to submit an opinion, as the municipality's notice words it."""

    kind: str
    """post | fax | email | online | box | other."""
    label: str
    text: str = ""
    email: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Opinion:
    summary: str
    """意見の概要."""
    response: str
    """市の考え方."""
    reflected: str = ""
    """評価書への反映."""


@dataclass(frozen=True, slots=True)
class CommentPeriod:
    """A draft's パブリックコメント: dates, how to take part, and (later) the results."""

    start: JDate
    end: JDate
    span: Span
    period_text: str = ""
    """The period as the notice writes it."""
    theme: str = ""
    contact: tuple[str, ...] = ()
    how: str = ""
    language: str = ""
    without_form: str = ""
    required: tuple[str, ...] = ()
    results_handling: str = ""
    personal_data: str = ""
    channels: tuple[Channel, ...] = ()
    notice: str = ""
    """Slug of the accompanying document holding the whole notice."""
    summary: str = ""
    """Slug of the resident-facing 概要, where the municipality wrote one."""
    short_reason: str = ""
    """Why the period is shorter than 30 days (silences W802)."""
    results_published: JDate | None = None
    opinions: tuple[Opinion, ...] = ()


@dataclass(frozen=True, slots=True)
class Revision:
    id: str
    """ISO date: the 公表日, or for a draft the day its comment period opens."""
    muni: str
    affair: str
    form: Form
    status: str
    """``published`` or ``draft`` (案)."""
    published: JDate | None
    items: tuple[Item, ...]
    changes: tuple[ChangeRow, ...]
    span: Span
    source: str = ""
    """The source document this content was taken from (provenance)."""
    reconstructed: Reconstruction | None = None
    changes_span: Span | None = None
    digest: str = ""
    """Hash of this version's source files and its form's definition: equal digests render
    equal pages."""
    unpublished: bool = False
    """Staff's working copy: shown by `piasite serve`, never by a production build."""
    form_tag: str | None = None
    """The 様式 tag as the document prints it ("" when it prints none); None = the form's."""
    title: str = ""
    """評価書名 as this version's cover prints it (a draft's （案）), when it differs."""
    comment: CommentPeriod | None = None
    anchors: Mapping[str, Item] = field(default_factory=lambda: MappingProxyType({}))
    """Every item by its anchor (built once at load: check and diff look items up often)."""
    readings: Mapping[str, Reading] = field(default_factory=lambda: MappingProxyType({}))
    """Readings of the version itself: ``status``, ``form`` and ``changes.<cell>`` (a cell of
    every 変更箇所 row). Item readings are on the items, row readings on the rows."""

    def all_readings(self) -> Iterator[Reading]:
        """Every reading of this version: its own, its items', its 変更箇所 rows'."""
        yield from self.readings.values()
        for item in self.walk():
            if item.reading is not None:
                yield item.reading
        for row in self.changes:
            yield from row.readings.values()

    @property
    def url(self) -> str:
        return routes.revision(self.muni, self.affair, self.id)

    def walk(self) -> Iterator[Item]:
        return _walk(self.items)

    def item(self, anchor: str) -> Item | None:
        if self.anchors:
            return self.anchors.get(anchor)
        return next((i for i in self.walk() if i.anchor == anchor), None)

    def value(self, anchor: str) -> object:
        it = self.item(anchor)
        return it.value if it else None


@dataclass(frozen=True, slots=True)
class DocPage:
    """A document that accompanies an assessment (a notice, a handout, a summary)."""

    slug: str
    title: str
    body: str
    """Markdown."""
    span: Span
    revision: str = ""
    """The version it belongs to, if any."""
    source: str = ""
    body_line: int = 1
    digest: str = ""
    key_spans: Mapping[str, Span] = field(default_factory=lambda: MappingProxyType({}))
    """Where each front-matter key is written, for diagnostics on one key."""

    def at(self, key: str) -> Span:
        return self.key_spans.get(key, self.span)


@dataclass(frozen=True, slots=True)
class Affair:
    slug: str
    muni: str
    name: str
    """事務の名称."""
    number: int
    """評価書番号."""
    title: str
    """評価書名."""
    kind: str
    """kiso | juten | zenkoumoku."""
    revisions: tuple[Revision, ...]
    """Oldest first."""
    span: Span
    pages: tuple[DocPage, ...] = ()
    version_ids: tuple[str, ...] = ()
    """Every version found in the folder, also those that could not be loaded (their errors
    are reported already): a reference to one of them is not a reference to nothing."""

    @property
    def url(self) -> str:
        return routes.affair(self.muni, self.slug)

    @property
    def kind_name(self) -> str:
        return FORM_KINDS.get(self.kind, self.kind)

    @property
    def current(self) -> Revision | None:
        """The version in force: the newest published one, preferring a published text to a
        reconstruction; a draft only when nothing else exists."""
        pub = [r for r in self.revisions if r.status == "published"]
        real = [r for r in pub if not r.reconstructed]
        if real:
            return real[-1]
        if pub:
            return pub[-1]
        return self.revisions[-1] if self.revisions else None

    @property
    def latest(self) -> Revision | None:
        """The newest document as written (a published text or a draft, not a reconstruction):
        its 変更箇所 table is the fullest history."""
        docs = [r for r in self.revisions if not r.reconstructed]
        return docs[-1] if docs else self.current

    @property
    def open_drafts(self) -> tuple[Revision, ...]:
        """Drafts newer than the version in force."""
        cur = self.current
        return tuple(r for r in self.revisions
                     if r.status == "draft" and (cur is None or r.id > cur.id))


@quick_pickle  # the survey's memo (cache.FileMemo) reads back every one per rebuild
@dataclass(frozen=True, slots=True)
class Municipality:
    slug: str
    name: str
    prefecture: str
    code: str
    """全国地方公共団体コード (6 digits, with check digit)."""
    agency: str
    affairs: tuple[Affair, ...]
    span: Span
    contact: str = ""
    key_spans: Mapping[str, Span] = field(default_factory=lambda: MappingProxyType({}))
    """Where each key of _municipality.toml is written, for diagnostics on one key."""

    @property
    def url(self) -> str:
        return routes.municipality(self.slug)

    def at(self, key: str) -> Span:
        return self.key_spans.get(key, self.span)

    @property
    def full_name(self) -> str:
        return f"{self.prefecture}{self.name}"


SYSTEM_SCOPES = {
    "national": "国・全国共通のシステム",
    "shared": "共通のシステムを各団体が使うもの",
    "local": "団体ごとのシステム（種類）",
}


@dataclass(frozen=True, slots=True)
class System:
    """One entry of the systems registry (content/systems/<slug>.toml)."""

    slug: str
    name: str
    scope: str
    """national | shared | local (a category: each municipality has its own instance)."""
    operator: str
    aliases: tuple[str, ...]
    span: Span
    description: str = ""
    description_source: str = ""
    related: tuple[str, ...] = ()
    link_prose: bool = True
    """Link mentions of this system in free text (off where a name is too generic)."""

    @property
    def url(self) -> str:
        return routes.system(self.slug)

    @property
    def scope_name(self) -> str:
        return SYSTEM_SCOPES.get(self.scope, self.scope)


@dataclass(frozen=True, slots=True)
class Family:
    """The editions of one form (様式) whose items are compared across assessments.

    Read from piasite/forms/families/<kind>.toml (or the site's forms/families/); see
    docs/forms.md. The comparison uses the canonical edition's item ids, labels and order.
    """

    id: str
    """The forms' kind: kiso | juten | zenkoumoku (the URL's /compare/<id>/)."""
    canonical: str
    """Form id whose items the comparison pages are named after."""
    items: Mapping[str, Mapping[str, str]]
    """Form id -> {value item id in that form -> canonical item id}, for every form of the kind;
    an item without a counterpart is left out."""
    span: Span | None = None
    """The family file, when there is one."""

    def item_for(self, form_id: str, node_id: str) -> str | None:
        return self.items.get(form_id, {}).get(node_id)


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str = "マイナンバー保護評価書 公開サイト"
    base_url: str = "http://localhost:8000"
    theme: str = "default"
    now: str = ""
    """Fixed "today" (ISO date) for reproducible builds; empty = the real date."""
    diff_new_label: str = "変更後"
    diff_old_label: str = "変更前"
    diff_new_first: bool = True
    """新旧対照表 column order: the new text on the left, as national practice prints it."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Site:
    config: SiteConfig
    municipalities: tuple[Municipality, ...]
    forms: Mapping[str, Form] = field(default_factory=lambda: MappingProxyType({}))
    systems: tuple[System, ...] = ()
    families: Mapping[str, Family] = field(default_factory=lambda: MappingProxyType({}))
    """Form kind -> the editions compared item by item (piasite/families.py)."""

    def affairs(self) -> Iterator[Affair]:
        for m in self.municipalities:
            yield from m.affairs

    def public(self) -> Site:
        """This site without content marked unpublished (what a production build publishes)."""
        munis = []
        for m in self.municipalities:
            affairs = []
            for a in m.affairs:
                revs = tuple(r for r in a.revisions if not r.unpublished)
                if revs:
                    kept = {r.id for r in revs}
                    pages = tuple(p for p in a.pages if not p.revision or p.revision in kept)
                    affairs.append(dataclasses.replace(a, revisions=revs, pages=pages))
            if affairs:
                munis.append(dataclasses.replace(m, affairs=tuple(affairs)))
        return dataclasses.replace(self, municipalities=tuple(munis))

    def revisions(self) -> Iterator[Revision]:
        for a in self.affairs():
            yield from a.revisions
