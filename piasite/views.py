"""Model -> read-only views for templates (zola's SerializingPage idea).

Templates get exactly what they show: labels, values, choices, links. They never see
the loader, the file system or the model's mutable parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup

from . import markdown
from .diff import RevisionDiff, Segment
from .link import LinkIndex
from .model import LOST_REASONS, Affair, ChangeRow, Item, Municipality, Revision, Site
from .normalize import PLACEHOLDERS
from .wareki import parse_date, to_wareki

_EMPTY = Markup("")


def svg_markup(svg: str) -> Markup:
    """Diagram SVG built by diagram.py, which escapes every text it puts in."""
    return Markup(svg)


def md(text: str, document: bool = False) -> Markup:
    """The single place where rendered Markdown becomes Markup (raw HTML is off)."""
    return Markup(markdown.render_document(text) if document else markdown.render(text))


@dataclass(frozen=True, slots=True)
class Choice:
    text: str
    """As printed in the 選択肢 list: ``2) 十分である``."""
    chosen: bool


@dataclass(frozen=True, slots=True)
class Check:
    label: str
    checked: bool
    detail: str = ""
    unit: str = ""
    """Printed after the parenthesised detail (件 for the 提供・移転 counts)."""


@dataclass(frozen=True, slots=True)
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

    @property
    def is_container(self) -> bool:
        return self.kind in ("section", "cover", "repeat", "instance")


@dataclass(frozen=True, slots=True)
class Context:
    """What field views need beyond the item: the registry links of this version."""

    rev: Revision | None = None
    links: LinkIndex | None = None

    def system(self, key: str):
        if self.rev is None or self.links is None:
            return None
        return self.links.system_for(self.rev, key)

    def text(self, value: str) -> Markup:
        html = markdown.render(value)
        if self.links is not None:
            html = link_mentions(html, self.links)
        return Markup(html)


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


def _field(item: Item, level: int, ctx: Context = Context()) -> FieldView:
    node = item.node
    base = dict(anchor=item.anchor, kind=node.kind, label=item.label,
                title=f"{node.no} {item.label}" if node.no else item.label,
                level=min(level, 6), heading=node.heading, hide_label=node.hide_label,
                absent=item.absent_in_version, unknown=item.unknown_in_version,
                lost=LOST_REASONS.get(item.lost, ""), missing=not item.present)
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
    empty = v is None or v == "" or v == [] or (isinstance(v, dict) and not v.get("rows"))
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
            if isinstance(el, dict):
                chosen[el["label"]] = el.get("detail", "")
            else:
                chosen[el] = ""
        labels = list(node.options) + [k for k in chosen if k not in node.options]
        # An empty list is a real answer (nothing ticked); only a missing value is "empty".
        return FieldView(**base, checks=tuple(
            Check(lb, lb in chosen, chosen.get(lb, ""), node.detail_unit if chosen.get(lb) else "")
            for lb in labels), empty=v is None)
    if node.kind == "list":
        labels = [el["label"] if isinstance(el, dict) else str(el) for el in v or ()]
        items = []
        for i, label in enumerate(labels):
            sysm = ctx.system(f"{item.anchor}#{i}") if node.systems else None
            items.append((f"{i + 1}." if node.numbered else "", label, sysm.url if sysm else ""))
        return FieldView(**base, items=tuple(items),
                         note_html=ctx.text(item.note) if item.note else Markup(""), empty=empty)
    if node.kind == "table":
        t = v if isinstance(v, dict) else {}
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


def row_view(row: ChangeRow) -> RowView:
    return RowView(index=row.index, date_text=row.date_text,
                   date_iso=row.date.iso() if row.date else "", item=row.item,
                   before=md(row.before), after=md(row.after), timing=row.timing,
                   reason=row.reason, field=row.field, layout=row.layout,
                   before_text=row.before, after_text=row.after, source_lines=row.source_lines,
                   clipped=row.clipped)


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
                  links: LinkIndex | None = None) -> RevisionView:
    ctx = Context(rev, links)
    cover: tuple[FieldView, ...] = ()
    sections = []
    for item in rev.items:
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
        reconstructed_basis_url=f"{affair.url}{rc.basis}/" if rc else "",
        not_applied=rc.not_applied if rc else (), applied=rc.applied if rc else (),
        cover=cover, sections=tuple(sections),
        changes=tuple(row_view(r) for r in rev.changes),
        revisions=revision_refs(affair),
        current_url=affair.current.url if affair.current else "",
        documents=tuple((p.title, f"{affair.url}{p.slug}/") for p in affair.pages
                        if p.revision in ("", rev.id)),
        diffs=tuple(d for d in diff_links or () if rev.id in (d.old_id, d.new_id)),
        unpublished=rev.unpublished,
        all_diffs=tuple(diff_links or ()),
        search=search_view(rev, affair, muni, links),
    )


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    url: str


def site_index(site: Site) -> list[dict]:
    """Municipalities and their assessments for the home and municipality pages."""
    out = []
    for m in site.municipalities:
        affairs = []
        for a in m.affairs:
            cur = a.current
            affairs.append(dict(slug=a.slug, url=a.url, name=a.name, title=a.title,
                                kind_name=a.kind_name, number=a.number,
                                current_label=revision_label(cur) if cur else "",
                                current_id=cur.id if cur else "",
                                current_url=cur.url if cur else "",
                                revisions=revision_refs(a), changes_url=f"{a.url}changes/",
                                n_changes=len(cur.changes) if cur else 0))
        out.append(dict(slug=m.slug, url=m.url, name=m.name, full_name=m.full_name,
                        prefecture=m.prefecture, code=m.code, agency=m.agency,
                        affairs=affairs))
    return out


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
                old_label=labels[d.old_id], new_label=labels[d.new_id],
                old_url=f"/{d.muni}/{d.affair}/{d.old_id}/",
                new_url=f"/{d.muni}/{d.affair}/{d.new_id}/",
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
    docs = {p.slug: (p.title, f"{affair.url}{p.slug}/") for p in affair.pages}
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
        contact=c.contact, how=c.how, language=c.language, without_form=c.without_form,
        required=c.required, results_handling=c.results_handling,
        personal_data=c.personal_data, channels=c.channels,
        notice=docs.get(c.notice), summary=docs.get(c.summary),
        draft_url=rev.url, draft_label=label, muni=muni.full_name,
        affair_title=affair.title, n_own_changes=len(own),
        changes_url=f"{affair.url}changes/", diff_url=diff_url,
        current_label=revision_label(cur) if cur is not None and cur is not rev else "",
        ics_url=f"{rev.url}comment.ics", results_url=f"{rev.url}results/",
        results_published=c.results_published.text if c.results_published else "",
        opinions=c.opinions, steps=steps)
