"""Model -> read-only views for templates (zola's SerializingPage idea).

Templates get exactly what they show: labels, values, choices, links. They never see
the loader, the file system or the model's mutable parts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from markupsafe import Markup

from . import markdown, prefectures, routes
from .diff import RevisionDiff, Segment
from .link import LinkIndex
from .model import (
    LOST_REASONS,
    VALUE_KINDS,
    VERSION_READINGS,
    Affair,
    ChangeRow,
    Item,
    Municipality,
    Reading,
    Revision,
    Site,
)
from .normalize import PLACEHOLDERS
from .pickling import quick_pickle
from .wareki import parse_date, to_wareki

_EMPTY = Markup("")


def svg_markup(svg: str) -> Markup:
    """Diagram SVG built by diagram.py, which escapes every text it puts in."""
    return Markup(svg)


def md(text: str, document: bool = False) -> Markup:
    """The single place where rendered Markdown becomes Markup (raw HTML is off)."""
    return Markup(markdown.render_document(text) if document else markdown.render(text))


@quick_pickle
@dataclass(frozen=True, slots=True)
class Choice:
    text: str
    """As printed in the 選択肢 list: ``2) 十分である``."""
    chosen: bool


@quick_pickle
@dataclass(frozen=True, slots=True)
class Check:
    label: str
    checked: bool
    detail: str = ""
    unit: str = ""
    """Printed after the parenthesised detail (件 for the 提供・移転 counts)."""


@quick_pickle
@dataclass(frozen=True, slots=True)
class ReadingView:
    """A reading as the page prints it: next to the value, 「（読み取り）」 and why."""

    text: str
    lines: tuple[int, ...] = ()
    code: str = ""


def reading_view(reading: Reading | None) -> ReadingView | None:
    return None if reading is None else ReadingView(reading.text, reading.lines, reading.code)


# Not frozen: a version page makes one per item, and a frozen dataclass's __init__ sets each
# of its 27 fields through object.__setattr__ (3.6 us a view, against 0.7 us; 1 % of a cold
# build). Hashed as before (unsafe_hash): nothing changes a view once it is made.
@quick_pickle
@dataclass(slots=True, unsafe_hash=True)
class FieldView:
    anchor: str
    kind: str
    title: str
    """Number and label as a heading: ``1. 対象人数``."""
    label: str
    level: int
    heading: bool = False
    hide_label: bool = False
    html: Markup = _EMPTY
    value: str = ""
    """Plain value for selects, dates and numbers."""
    suffix: str = ""
    empty: bool = False
    missing: bool = False
    absent: bool = False
    unknown: bool = False
    lost: str = ""
    """Japanese explanation of why the source lost this value."""
    reading: ReadingView | None = None
    """Why the value shown is a reading of the source (not printed as such there)."""
    choices: tuple[Choice, ...] = ()
    choices_note: str = ""
    checks: tuple[Check, ...] = ()
    checked: bool = False
    items: tuple[tuple[str, str, str], ...] = ()
    """(marker, label, registry URL or "") of list values."""
    system_url: str = ""
    system_name: str = ""
    """For a repeat instance that is a system: its registry entry."""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    caption: str = ""
    note_html: Markup = _EMPTY
    children: tuple[FieldView, ...] = ()
    compare_url: str = ""
    """The comparison of this item across assessments (/compare/…), where there is one."""

    @property
    def is_container(self) -> bool:
        return self.kind in ("section", "cover", "repeat", "instance")


@dataclass(frozen=True, slots=True)
class Context:
    """What field views need beyond the item: the registry links of this version."""

    rev: Revision | None = None
    links: LinkIndex | None = None
    compare: Mapping[str, str] | None = None
    """Form item id -> its comparison page (compare.compare_links)."""

    def compare_url(self, node_id: str) -> str:
        return self.compare.get(node_id, "") if self.compare else ""

    def system(self, key: str):
        if self.rev is None or self.links is None:
            return None
        return self.links.system_for(self.rev, key)

    def text(self, value: str) -> Markup:
        html = markdown.render(value)
        if self.links is None:
            return Markup(html)
        if _LINKED_BY[0] is not self.links:  # another registry: other links
            forget()
            _LINKED_BY[0] = self.links
        out = _LINKED.get(html)
        if out is None:
            out = _LINKED[html] = Markup(link_mentions(html, self.links))
        return out


_LINKED: dict[str, Markup] = {}
"""A field's HTML with its system mentions linked, by the HTML, for the registry in
`_LINKED_BY` (held, so it is that very object): three quarters of the texts an assessment's
pages show recur (a version's text in the next version, on the comparison records), and
linking the mentions was 2.6 % of a build's CPU."""
_LINKED_BY: list[LinkIndex | None] = [None]


def forget() -> None:
    """Empty the cache above (a build, between assessments)."""
    _LINKED.clear()
    _LINKED_BY[0] = None


_TAG_SPLIT = re.compile(r"(<[^>]+>)")


def link_mentions(html: str, links: LinkIndex) -> str:
    """Link the first mention of each registry system in a field's text (never inside a link)."""
    parts = _TAG_SPLIT.split(html)
    seen: set[str] = set()
    in_link = 0
    pattern = links.prose and links.find_mentions
    if not pattern:
        return html
    for i, part in enumerate(parts):
        if part.startswith("<"):
            if part.startswith("<a "):
                in_link += 1
            elif part.startswith("</a"):
                in_link -= 1
            continue
        if in_link or not part:
            continue
        out, pos = [], 0
        for start, end, slug in links.find_mentions(part):
            if slug in seen:
                continue
            seen.add(slug)
            sysm = links.systems[slug]
            out.append(part[pos:start])
            out.append(f'<a class="system-mention" href="{sysm.url}">{part[start:end]}</a>')
            pos = end
        if out:
            out.append(part[pos:])
            parts[i] = "".join(out)
    return "".join(parts)


def field_view(item: Item, level: int, ctx: Context = Context()) -> FieldView:
    """One item as a page shows it (a comparison page shows it the same way)."""
    return _field(item, level, ctx)


def _field(item: Item, level: int, ctx: Context = Context()) -> FieldView:
    node = item.node
    base = dict(anchor=item.anchor, kind=node.kind, label=item.label,
                title=f"{node.no} {item.label}" if node.no else item.label,
                level=min(level, 6), heading=node.heading, hide_label=node.hide_label,
                absent=item.absent_in_version, unknown=item.unknown_in_version,
                lost=LOST_REASONS.get(item.lost, ""), reading=reading_view(item.reading),
                missing=not item.present,
                compare_url=ctx.compare_url(node.id) if node.kind in VALUE_KINDS else "")
    if node.kind in ("section", "cover"):
        return FieldView(**base, children=tuple(_field(c, level + 1, ctx) for c in item.children))
    if node.kind == "repeat":
        insts = []
        for inst in item.children:
            sysm = ctx.system(inst.anchor) if node.systems else None
            insts.append(FieldView(
                anchor=inst.anchor, kind="instance", title=inst.label, label=inst.label,
                level=min(level + 1, 6),
                system_url=sysm.url if sysm else "", system_name=sysm.name if sysm else "",
                children=tuple(_field(c, level + 2, ctx) for c in inst.children)))
        return FieldView(**base, children=tuple(insts))
    v = item.value
    empty = v is None or v == "" or v == () or (isinstance(v, Mapping) and not v.get("rows"))
    if node.kind == "text":
        return FieldView(**base, html=ctx.text(v) if isinstance(v, str) and v else Markup(""),
                         empty=empty)
    if node.kind == "select":
        opts = node.choices.options if node.choices else ()
        value = str(v or "")
        if node.show_number and value in opts:
            value = f"{opts.index(value) + 1}) {value}"
        return FieldView(**base, value=value, empty=empty,
                         choices=tuple(Choice(f"{i}) {o}", o == v) for i, o in enumerate(opts, 1)),
                         choices_note=node.choices.note if node.choices else "")
    if node.kind == "check":
        return FieldView(**base, checked=bool(v), empty=v is None)
    if node.kind == "checks":
        chosen: dict[str, str] = {}
        for el in v or ():
            if isinstance(el, Mapping):
                chosen[el["label"]] = el.get("detail", "")
            else:
                chosen[el] = ""
        labels = list(node.options) + [k for k in chosen if k not in node.options]
        # An empty list is a real answer (nothing ticked); only a missing value is "empty".
        return FieldView(**base, checks=tuple(
            Check(lb, lb in chosen, chosen.get(lb, ""), node.detail_unit if chosen.get(lb) else "")
            for lb in labels), empty=v is None)
    if node.kind == "list":
        labels = [el["label"] if isinstance(el, Mapping) else str(el) for el in v or ()]
        items = []
        for i, label in enumerate(labels):
            sysm = ctx.system(f"{item.anchor}#{i}") if node.systems else None
            items.append((f"{i + 1}." if node.numbered else "", label, sysm.url if sysm else ""))
        return FieldView(**base, items=tuple(items),
                         note_html=ctx.text(item.note) if item.note else Markup(""), empty=empty)
    if node.kind == "table":
        t = v if isinstance(v, Mapping) else {}
        rows = tuple(tuple(r) for r in t.get("rows", ()))
        return FieldView(**base, columns=tuple(t.get("columns", node.columns)), rows=rows,
                         caption=t.get("caption", ""), empty=not rows,
                         note_html=md(t["note"]) if t.get("note") else Markup(""))
    # date, number
    return FieldView(**base, value="" if v is None else str(v), suffix=node.suffix, empty=empty)


@dataclass(frozen=True, slots=True)
class RowView:
    index: int
    date_text: str
    date_iso: str
    item: str
    before: Markup
    after: Markup
    timing: str
    reason: str
    field: str
    layout: str
    before_text: str
    after_text: str
    source_lines: tuple[int, ...]
    clipped: tuple[str, ...] = ()
    readings: dict[str, ReadingView] = field(default_factory=dict)
    """Cells whose value is a reading of this row (the table-wide ones are on the version)."""


def row_view(row: ChangeRow) -> RowView:
    return RowView(index=row.index, date_text=row.date_text,
                   date_iso=row.date.iso() if row.date else "", item=row.item,
                   before=md(row.before), after=md(row.after), timing=row.timing,
                   reason=row.reason, field=row.field, layout=row.layout,
                   before_text=row.before, after_text=row.after, source_lines=row.source_lines,
                   clipped=row.clipped,
                   readings={c: reading_view(r) for c, r in row.readings.items()})


CELL_NAMES = {"date": "変更日", "item": "項目", "before": "変更前の記載", "after": "変更後の記載",
              "timing": "提出時期", "reason": "提出時期に係る説明"}
"""The 変更箇所 columns as the table heads them."""


@dataclass(frozen=True, slots=True)
class ReadingRef:
    """One reading of a version, for the list that leads a resident to each of them."""

    what: str
    href: str
    reading: ReadingView


def reading_refs(rev: Revision) -> tuple[ReadingRef, ...]:
    """Every reading of `rev` in page order: the version's own, its items', its rows'."""
    out = []
    for key in VERSION_READINGS:
        if key in rev.readings:
            out.append(ReadingRef(VERSION_READINGS[key], "#version-readings",
                                  reading_view(rev.readings[key])))
    def walk(items, where: str):
        for item in items:
            if item.reading is not None:
                no = f"{item.node.no} " if item.node.no else ""
                out.append(ReadingRef(f"{where}{no}{item.label}", f"#{item.anchor}",
                                      reading_view(item.reading)))
            if item.node.kind == "repeat":
                # Name the instance (システム4 …): the same item recurs in each.
                for inst in item.children:
                    walk(inst.children, f"{where}{inst.label} ")
            else:
                walk(item.children, where)

    walk(rev.items, "")
    for key, r in rev.readings.items():
        if key.startswith("changes.") and rev.changes:  # no table, nothing to point at
            out.append(ReadingRef(f"変更箇所のすべての行の{CELL_NAMES[key[8:]]}", "#changes",
                                  reading_view(r)))
    for row in rev.changes:
        for cell, r in row.readings.items():
            out.append(ReadingRef(f"変更箇所 {row.index} 行目の{CELL_NAMES[cell]}",
                                  f"#change-{row.index}", reading_view(r)))
    return tuple(out)


@quick_pickle
@dataclass(frozen=True, slots=True)
class RevisionRef:
    id: str
    url: str
    label: str
    """e.g. 令和7年12月12日公表版."""
    status: str
    current: bool
    reconstructed: bool


@dataclass(frozen=True, slots=True)
class RevisionView:
    id: str
    url: str
    muni_name: str
    muni_full_name: str
    muni_url: str
    affair_name: str
    affair_title: str
    affair_url: str
    affair_number: int
    kind_name: str
    form_title: str
    form_tag: str
    yoshiki: str
    edition: str
    status: str
    is_current: bool
    label: str
    published_text: str
    published_iso: str
    source: str
    reconstructed_basis: str = ""
    reconstructed_basis_url: str = ""
    reconstructed_basis_label: str = ""
    drafts: tuple[tuple[str, str], ...] = ()
    """(label, url) of drafts newer than the version in force, for a pointer on every version."""
    title: str = ""
    """評価書名 as this version's cover prints it."""
    not_applied: tuple[tuple[int, str], ...] = ()
    applied: tuple[int, ...] = ()
    cover: tuple[FieldView, ...] = ()
    sections: tuple[FieldView, ...] = ()
    changes: tuple[RowView, ...] = ()
    revisions: tuple[RevisionRef, ...] = field(default=())
    current_url: str = ""
    documents: tuple[tuple[str, str], ...] = ()
    """(title, url) of accompanying documents for this version."""
    diffs: tuple[DiffLink, ...] = ()
    """新旧対照表 pages that involve this version."""
    unpublished: bool = False
    all_diffs: tuple[DiffLink, ...] = ()
    search: SearchView = field(default_factory=lambda: SearchView())
    """Its search record for revision.html (docs/search.md)."""
    status_reading: ReadingView | None = None
    """Why the version is called a draft (or published) when the source does not say so."""
    form_reading: ReadingView | None = None
    """Why the 様式 edition shown is not printed by this version (a reconstruction)."""
    changes_readings: tuple[tuple[str, ReadingView], ...] = ()
    """(column name, reading) of 変更箇所 cells that are readings in every row."""
    readings: tuple[ReadingRef, ...] = ()
    """Every reading of the version, for the list near the top of the page."""
    json_url: str = ""
    """This version as data."""
    changes_url: str = ""
    """The assessment's 変更箇所 history."""
    csv_url: str = ""
    """The assessment's 変更箇所 as CSV."""


# --- search (docs/search.md) ------------------------------------------------------------
# Each searchable part of a page carries one record in its `data-search` attribute; the index
# stage (index.py) reads the records and the text inside them.

_KIND_FILTER = {"kiso": "基礎", "juten": "重点", "zenkoumoku": "全項目"}


def search_record(kind: str, title: str, filters: dict[str, list[str]], date: str = "",
                  facts: str = "", url: str = "") -> dict:
    """One search result as the index reads it. The title is searched with the text, so it is
    made of what the page shows (its heading and version line). A filter left out of
    `filters` does not apply to this result: choosing a value for it does not hide the result."""
    record: dict = {"kind": kind, "title": title, "filters": filters}
    if date:
        record["date"] = date
    if facts:
        record["facts"] = facts
    if url:
        record["url"] = url
    return record


def _affair_filters(muni: Municipality, affair: Affair, status: str) -> dict[str, list[str]]:
    return {"団体": [muni.name], "事務": [affair.name],
            "評価書の種類": [_KIND_FILTER.get(affair.kind, affair.kind_name)], "状態": [status]}


@dataclass(frozen=True, slots=True)
class SearchView:
    """Whether a version page is searchable, and its record."""

    indexed: bool = False
    """Only the version in force and open drafts are searchable; older ones are not."""
    record: dict = field(default_factory=dict)


def _searchable(rev: Revision, affair: Affair) -> bool:
    return not rev.reconstructed and any(rev is r for r in (affair.current, *affair.open_drafts))


def search_view(rev: Revision, affair: Affair, muni: Municipality,
                links: LinkIndex | None) -> SearchView:
    if not _searchable(rev, affair):
        return SearchView()
    slugs: list[str] = []
    if links is not None:
        for (m, a, rid, _key), slug in links.resolved.items():
            if (m, a, rid) == (rev.muni, rev.affair, rev.id) and slug not in slugs:
                slugs.append(slug)
    systems = sorted(links.systems[s].name for s in slugs if links and s in links.systems)
    status = "案" if rev.status == "draft" else "公表中"
    filters = _affair_filters(muni, affair, status) | {"システム": systems}
    return SearchView(True, search_record(
        "評価書", f"{muni.full_name} {affair.title}（{revision_label(rev)}）", filters,
        date=rev.published.iso() if rev.published else rev.id,
        facts=f"{affair.kind_name}・{status}"))


def system_search(name: str, munis: list[str]) -> dict:
    """A registry page: the municipalities whose assessments name the system, and itself."""
    return search_record("システム", name,
                         {"団体": sorted(set(munis)), "システム": [name]})


def document_search(doc, affair: Affair, muni: Municipality) -> dict | None:
    """A document published with a version that is searchable (or with the assessment)."""
    owner = next((r for r in affair.revisions if r.id == doc.revision), None)
    if doc.revision and (owner is None or not _searchable(owner, affair)):
        return None
    if owner is None:  # a document of the whole assessment has no 状態 of its own
        filters = _affair_filters(muni, affair, "")
        del filters["状態"]
        return search_record("関連資料", f"{doc.title}｜{muni.full_name} {affair.title}", filters)
    status = "案" if owner.status == "draft" else "公表中"
    return search_record(
        "関連資料", f"{doc.title}｜{muni.full_name} {affair.title}（{revision_label(owner)}）",
        _affair_filters(muni, affair, status), date=owner.id)


def search_aliases(systems) -> list[list[str]]:
    """Each registry system's name and aliases, for the search box to search them as one."""
    return [[s.name, *s.aliases] for s in systems if s.aliases]


def revision_label(rev: Revision) -> str:
    when = to_wareki(parse_date(rev.id)[0].date())  # type: ignore[union-attr]
    if rev.reconstructed:
        return f"{when}時点の参考版（復元）"
    if rev.status == "draft":
        # A draft's id is the day its comment period opens (its 公示); without a period it is
        # only the date the content was taken at.
        return f"{when}公表の案" if rev.comment else f"{when}時点の案"
    if rev.published is None:
        # The document gives no 公表日: the version's date is not one, so do not call it that.
        return f"{when}時点の版（公表日の記載なし）"
    return f"{when}公表版"


def revision_refs(affair: Affair) -> tuple[RevisionRef, ...]:
    cur = affair.current
    return tuple(
        RevisionRef(id=r.id, url=r.url, label=revision_label(r), status=r.status,
                    current=r is cur, reconstructed=r.reconstructed is not None)
        for r in reversed(affair.revisions))


@dataclass(frozen=True, slots=True)
class DiffLink:
    url: str
    old_label: str
    new_label: str
    old_id: str
    new_id: str
    n_changed: int


def revision_view(rev: Revision, affair: Affair, muni: Municipality,
                  diff_links: list[DiffLink] | None = None,
                  links: LinkIndex | None = None,
                  compare: Mapping[str, str] | None = None,
                  items: bool = True) -> RevisionView:
    """A version as its page shows it. `items=False` leaves out the form's items (`cover`,
    `sections`), for a page that shows only the version's header and its 変更箇所."""
    ctx = Context(rev, links, compare)
    cover: tuple[FieldView, ...] = ()
    sections = []
    for item in rev.items if items else ():
        if item.node.kind == "cover":
            cover = _field(item, 2, ctx).children
        else:
            sections.append(_field(item, 2, ctx))
    pub = next((i for i in rev.walk() if i.node.key == "published"), None)
    rc = rev.reconstructed
    form_tag = rev.form.tag if rev.form_tag is None else rev.form_tag
    return RevisionView(
        id=rev.id, url=rev.url, muni_name=muni.name, muni_full_name=muni.full_name,
        muni_url=muni.url, affair_name=affair.name, affair_title=affair.title,
        affair_url=affair.url, affair_number=affair.number, kind_name=affair.kind_name,
        form_title=rev.form.title, form_tag=form_tag, yoshiki=rev.form.yoshiki,
        edition=rev.form.edition, status=rev.status, is_current=rev is affair.current,
        label=revision_label(rev),
        published_text=str(pub.value) if pub and pub.value else "",
        published_iso=rev.published.iso() if rev.published else "",
        source=rev.source,
        reconstructed_basis=rc.basis if rc else "",
        reconstructed_basis_label=next((revision_label(r) for r in affair.revisions
                                        if rc and r.id == rc.basis), ""),
        drafts=tuple((revision_label(r), r.url) for r in affair.open_drafts if r is not rev),
        title=rev.title or affair.title,
        reconstructed_basis_url=routes.revision(rev.muni, rev.affair, rc.basis) if rc else "",
        not_applied=rc.not_applied if rc else (), applied=rc.applied if rc else (),
        cover=cover, sections=tuple(sections),
        changes=tuple(row_view(r) for r in rev.changes),
        revisions=revision_refs(affair),
        current_url=affair.current.url if affair.current else "",
        documents=tuple((p.title, routes.document(affair.muni, affair.slug, p.slug))
                        for p in affair.pages if p.revision in ("", rev.id)),
        diffs=tuple(d for d in diff_links or () if rev.id in (d.old_id, d.new_id)),
        unpublished=rev.unpublished,
        all_diffs=tuple(diff_links or ()),
        search=search_view(rev, affair, muni, links),
        status_reading=reading_view(rev.readings.get("status")),
        form_reading=reading_view(rev.readings.get("form")),
        changes_readings=tuple((CELL_NAMES[k[8:]], reading_view(r))
                               for k, r in rev.readings.items() if k.startswith("changes.")),
        readings=reading_refs(rev),
        json_url=routes.revision_json(rev.muni, rev.affair, rev.id),
        changes_url=routes.changes(affair.muni, affair.slug),
        csv_url=routes.changes_csv(affair.muni, affair.slug),
    )


@dataclass(frozen=True, slots=True)
class Place:
    """Where an item sits in its document, as a reader would name it."""

    title: str
    """Printed number and label: ``⑦ 再委託の有無　※``."""
    context: tuple[str, ...]
    """The sections and repeated entries around it, outermost first:
    ``Ⅱ 特定個人情報ファイルの概要``, ``特定個人情報ファイル1（住民記録情報ファイル）`` …"""
    instances: tuple[str, ...] = ()
    """Only the repeated entries: ``特定個人情報ファイル1``, ``委託事項2``."""
    entries: tuple[str, ...] = ()
    """The same entries named with their first words: ``委託事項2（課税資料のデータパンチ）``."""


_NAME_CHARS = 24


def item_places(rev: Revision) -> dict[str, Place]:
    """Every item's title and context, by anchor (one pass over the version)."""
    out: dict[str, Place] = {}

    def visit(items, context: tuple[str, ...], instances: tuple[str, ...],
              entries: tuple[str, ...], in_repeat: bool):
        for it in items:
            if in_repeat:
                # An entry of a repeated group is named by its label and its own first words.
                name = next((c.value for c in it.children if c.node.kind == "text"
                             and isinstance(c.value, str) and c.value.strip()), "")
                name = name.strip().split("\n")[0]
                if len(name) > _NAME_CHARS:
                    name = name[:_NAME_CHARS] + "…"
                title = f"{it.label}（{name}）" if name else it.label
                out[it.anchor] = Place(title, context, instances, entries)
                visit(it.children, (*context, title), (*instances, it.label), (*entries, title),
                      False)
                continue
            node = it.node
            title = f"{node.no} {it.label}" if node.no else it.label
            out[it.anchor] = Place(title, context, instances, entries)
            if it.children:
                # A repeated group's own unnumbered heading (委託事項) repeats its entries' labels.
                inner = context if node.kind == "repeat" and not node.no else (*context, title)
                visit(it.children, inner, instances, entries, node.kind == "repeat")

    visit(rev.items, (), (), (), False)
    return out


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str


def site_index(site: Site) -> list[dict]:
    """Municipalities and their assessments for the home and municipality pages."""
    return [dict(municipality_index(m), affairs=[affair_index(a) for a in m.affairs])
            for m in site.municipalities]


def municipality_index(m: Municipality) -> dict:
    return dict(slug=m.slug, url=m.url, name=m.name, full_name=m.full_name,
                prefecture=m.prefecture, code=m.code, agency=m.agency)


def affair_index(a: Affair) -> dict:
    """One assessment as the home and municipality pages list it."""
    cur = a.current
    return dict(slug=a.slug, url=a.url, name=a.name, title=a.title,
                kind_name=a.kind_name, number=a.number,
                current_label=revision_label(cur) if cur else "",
                current_id=cur.id if cur else "",
                current_url=cur.url if cur else "",
                revisions=revision_refs(a), changes_url=routes.changes(a.muni, a.slug),
                n_changes=len(cur.changes) if cur else 0)


def _fold(fields) -> list[dict]:
    """Changed items as rows; runs of unchanged items folded into one (略) row."""
    rows: list[dict] = []
    for f in fields:
        if f.status == "unchanged":
            if rows and rows[-1]["kind"] == "fold":
                rows[-1]["fields"].append(f)
            else:
                rows.append(dict(kind="fold", fields=[f]))
        else:
            rows.append(dict(kind="change", field=f))
    return rows


def diff_view(d: RevisionDiff, labels: dict[str, str]) -> dict:
    return dict(url=d.url, old_id=d.old_id, new_id=d.new_id,
                inline_url=routes.diff_inline(d.muni, d.affair, d.old_id, d.new_id),
                old_label=labels[d.old_id], new_label=labels[d.new_id],
                old_url=routes.revision(d.muni, d.affair, d.old_id),
                new_url=routes.revision(d.muni, d.affair, d.new_id),
                rows=_fold(d.fields), changed=d.changed,
                n_changed=d.count("changed"), n_added=d.count("added"),
                n_removed=d.count("removed"), n_unknown=d.count("unknown"),
                n_same=d.count("unchanged"))


def row_marks(row: RowView, marks: tuple[tuple[Segment, ...], tuple[Segment, ...]]) -> dict:
    """Inline marks between a 変更箇所 row's 変更前 and 変更後, as on the diff pages."""
    before, after = row.before_text, row.after_text
    return dict(before=marks[0], after=marks[1], same=bool(before) and before == after,
                added=before.strip() in PLACEHOLDERS or not before)


def row_diff_targets(affair: Affair, diffs: list[RevisionDiff]) -> dict[int, str]:
    """変更箇所 row index -> its place in a 新旧対照表, where a diff covers the row's date."""
    cur = affair.current
    if cur is None:
        return {}
    out = {}
    for row in cur.changes:
        if not row.field or row.date is None:
            continue
        for d in diffs:
            hit = next((f for f in d.changed
                        if f.anchor == row.field or f.anchor.startswith(row.field + "-")), None)
            if hit is not None and d.old_id < row.date.iso() <= d.new_id:
                out[row.index] = f"{d.url}#d-{hit.anchor}"
                if d.new_id == row.date.iso():
                    break
    return out


_MAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _mail_parts(line: str) -> tuple[str, str, str]:
    """A contact line as (before, e-mail address, after): the address becomes a mailto link."""
    m = _MAIL.search(line)
    return (line[:m.start()], m.group(0), line[m.end():]) if m else (line, "", "")


def consultation_view(rev: Revision, affair: Affair, muni: Municipality, today,
                      diffs: list[RevisionDiff] | None = None) -> dict | None:
    """Everything a participant needs about a draft's comment period, at a glance."""
    from . import consultation

    c = rev.comment
    if c is None:
        return None
    st = consultation.status(c, today)
    cur = affair.current
    diff_url = next((d.url for d in diffs or () if cur is not None
                     and {d.old_id, d.new_id} == {cur.id, rev.id}), "")
    own = [r for r in rev.changes if not r.date or (r.date and r.date.iso() >= rev.id)]
    steps = []
    for anchor, label in (("VI-3-1", "第三者点検"), ("VI-4-1", "個人情報保護委員会への提出"),
                          ("cover-published", "公表")):
        it = rev.item(anchor)
        value = str(it.value) if it is not None and it.value else ""
        steps.append(dict(label=label, value=value))
    docs = {p.slug: (p.title, routes.document(affair.muni, affair.slug, p.slug))
            for p in affair.pages}
    label = revision_label(rev)
    about = f"{muni.full_name} {affair.title}（{label}）"
    filters = _affair_filters(muni, affair, "案")
    return dict(
        search_take_part=search_record("意見募集", f"{about} 意見の出し方", filters,
                                       date=rev.id, url=f"{rev.url}#take-part"),
        search_results=search_record("意見募集", f"{about} 意見募集の結果", filters,
                                     date=rev.id),
        status=st.code, status_label=st.label, days_left=st.days_left,
        start=c.start.text, start_iso=c.start.iso(), end=c.end.text, end_iso=c.end.iso(),
        period_text=c.period_text or f"{c.start.text}～{c.end.text}", theme=c.theme,
        contact=tuple(_mail_parts(line) for line in c.contact), how=c.how,
        language=c.language, without_form=c.without_form,
        required=c.required, results_handling=c.results_handling,
        personal_data=c.personal_data,
        # Each channel with only what the notice prints under it (paragraphs apart); an
        # address or number printed elsewhere stays in the contact block, where it is written.
        channels=tuple(dict(label=ch.label, email=ch.email, url=ch.url,
                            paragraphs=tuple(p.strip() for p in ch.text.split("\n\n") if p.strip()))
                       for ch in c.channels),
        notice=docs.get(c.notice), summary=docs.get(c.summary),
        draft_url=rev.url, draft_label=label, muni=muni.full_name,
        affair_title=affair.title, n_own_changes=len(own),
        changes_url=routes.changes(affair.muni, affair.slug), diff_url=diff_url,
        current_label=revision_label(cur) if cur is not None and cur is not rev else "",
        ics_url=routes.comment_ics(rev.muni, rev.affair, rev.id),
        results_url=routes.results(rev.muni, rev.affair, rev.id),
        results_published=c.results_published.text if c.results_published else "",
        opinions=c.opinions, steps=steps)


# --- across assessments: system mentions, comparisons (compare.py) --------------------------


def mention_views(mentions, affair: Affair, muni: Municipality) -> dict[str, list[dict]]:
    """An assessment's mentions of each system, as a system page lists them (slug → items)."""
    revs = {r.id: r for r in affair.revisions}
    places: dict[str, dict[str, Place]] = {}
    out: dict[str, list[dict]] = {}
    for m in mentions:
        rev = revs[m.revision]
        if m.revision not in places:
            places[m.revision] = item_places(rev)
        place = places[m.revision][m.anchor]
        out.setdefault(m.slug, []).append(dict(
            muni=muni.full_name, affair=affair.title, affair_url=affair.url,
            revision=m.revision, label=revision_label(rev), url=rev.url, current=m.current,
            item=dict(title=place.title, context=" › ".join(place.context),
                      url=f"{rev.url}#{m.anchor}", before=m.before, written=m.written,
                      after=m.after)))
    return out


def mention_groups(mentions: list[dict]) -> list[dict]:
    """A system's mentions (mention_views) grouped by assessment, then version, in document
    order."""
    groups: dict[tuple[str, str], dict] = {}
    for m in mentions:
        g = groups.setdefault((m["muni"], m["affair_url"]), dict(
            muni=m["muni"], affair=m["affair"], url=m["affair_url"], versions={}))
        v = g["versions"].setdefault(m["revision"], dict(
            label=m["label"], url=m["url"], current=m["current"], items=[]))
        v["items"].append(m["item"])
    out = []
    for g in groups.values():
        vs = sorted(g["versions"].values(), key=lambda v: not v["current"])
        out.append(dict(g, versions=vs, n_items=sum(len(v["items"]) for v in vs)))
    return out


def compare_item_view(comp, item_id: str, entries: list, counts: list[dict], part=None) -> dict:
    """One item across assessments: each assessment's entries, and the count of each choice.

    `entries` are (index into comp.assessments, compare.Entry); `counts`, compare.choice_counts.
    A split comparison (`comp.parts`) shows on the item's page the counts and the prefectures,
    and on each prefecture's page (`part`) that part's entries.
    """
    from . import compare

    node = comp.node(item_id)
    family = comp.family.id
    out = dict(
        id=item_id, title=node.title, label=node.label, kind=node.kind,
        context=" › ".join(comp.form_context[item_id]), family=comp.name,
        family_url=compare.family_url(family), edition=comp.form.edition,
        n_entries=len(entries), part=None, parts=[], blocks=[], missing=[],
        json_url=(compare.compare_json_url(family, item_id) if part is None
                  else compare.part_json_url(family, item_id, part.pref.slug)))
    repeated = any(e.places for _, e in entries)
    if comp.parts and part is None:
        shares = compare.shares(comp, item_id, (i for i, _ in entries))
        per_part = {sh.part.pref: [] for sh in shares}
        members = {i: sh.part.pref for sh in shares for i in sh.part.members}
        for i, e in entries:
            per_part[members[i]].append((i, e))
        return out | dict(
            repeated=repeated, n_assessments=sum(sh.assessments for sh in shares),
            n_missing=sum(sh.missing for sh in shares),
            counts=[dict(choice=x["choice"], listed=x["listed"], n=x["n"],
                         n_assessments=len(x["assessments"])) for x in counts],
            parts=[dict(name=sh.part.pref.name,
                        url=compare.part_url(family, item_id, sh.part.pref.slug),
                        assessments=sh.assessments, entries=sh.entries, missing=sh.missing,
                        counts=[(x["choice"], x["n"]) for x in compare.choice_counts(
                            comp, item_id, per_part[sh.part.pref]) if x["n"]])
                   for sh in shares])
    by: dict[int, list] = {}
    for i, entry in entries:
        by.setdefault(i, []).append(entry)
    blocks = []
    for i, c in enumerate(comp.assessments):
        found = by.get(i)
        if not found:
            continue
        shown = []
        for e in found:
            shown.append(dict(place=" › ".join(e.places), url=f"{c.rev_url}#{e.anchor}",
                              label=e.label if e.label != node.label else "", field=e.field))
        blocks.append(dict(
            id=c.block, muni=c.muni_name, affair=c.affair_title, affair_url=c.affair_url,
            label=c.rev_label, url=c.rev_url, draft=c.rev_status == "draft",
            edition="" if c.form_id == comp.form.id else c.edition,
            newer_draft=c.newer_draft, entries=shown))
    return out | dict(
        blocks=blocks, repeated=repeated, n_assessments=len(blocks),
        part=None if part is None else dict(
            name=part.pref.name, whole_url=compare.compare_url(family, item_id)),
        counts=[dict(choice=x["choice"], listed=x["listed"], n=x["n"],
                     assessments=[dict(name=f"{c.muni_name} {c.affair_title}",
                                       href=f"#{c.block}", n=n) for c, n in x["assessments"]])
                for x in counts],
        missing=[f"{c.muni_name} {c.affair_title}（{c.form_yoshiki}・{c.form_edition}）"
                 for c in compare.missing_form(comp, item_id, part)])


def compare_family_view(comp) -> dict:
    """The list of a family's compared items, under the form's top-level parts."""
    from . import compare

    parts: list[dict] = []
    for n in comp.nodes:
        ctx = comp.form_context[n.id]
        top = ctx[0] if ctx else n.title
        if not parts or parts[-1]["title"] != top:
            parts.append(dict(title=top, items=[]))
        parts[-1]["items"].append(dict(title=n.title, context=" › ".join(ctx[1:]),
                                       url=compare.compare_url(comp.family.id, n.id),
                                       n=comp.counts[n.id]))
    # A national family has tens of thousands of assessments: past prefectures.ONE_PAGE_MAX
    # they are not listed here but on the overview's pages, one per prefecture.
    listed = not prefectures.split([c.pref for c in comp.assessments])
    return dict(name=comp.name, edition=comp.form.edition, parts=parts,
                n_assessments=len(comp.assessments),
                assessments=[dict(name=f"{c.muni_name} {c.affair_title}", url=c.rev_url,
                                  label=c.rev_label, edition=c.edition)
                             for c in comp.assessments] if listed else [])
