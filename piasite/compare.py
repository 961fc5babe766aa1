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
cannot know and one the source lost are told apart (docs/compare.md). The whole stage is one pass
over the compared versions: linear in the size of the site.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import routes
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
    Site,
    thaw,
)
from .normalize import check_text
from .views import Place, item_places, revision_label

# --- URLs: from the route table ---------------------------------------------------------

INDEX_URL = routes.compare()
OVERVIEW_CSV_URL = routes.compare_overview_csv()
family_url = routes.compare_family
compare_url = routes.compare_item
compare_json_url = routes.compare_item_json


def block_id(muni: str, affair: str) -> str:
    """The id of one assessment's part of a comparison page."""
    return f"a-{muni}-{affair}"


# --- what is compared -----------------------------------------------------------------------

COMPARED_KINDS = VALUE_KINDS - {"table"}
MIN_MUNICIPALITIES = 2
"""A family gets item comparisons once assessments of this many municipalities use it."""


def compared_revision(affair: Affair) -> Revision | None:
    """The newest published text as written, else the newest text as written (a draft)."""
    published = [r for r in affair.revisions if r.status == "published" and not r.reconstructed]
    if published:
        return published[-1]
    return affair.latest


@dataclass(frozen=True, slots=True)
class Compared:
    """One assessment in a comparison: the version compared."""

    muni: Municipality
    affair: Affair
    rev: Revision
    places: Mapping[str, Place]

    @property
    def block(self) -> str:
        return block_id(self.muni.slug, self.affair.slug)

    @property
    def newer_draft(self) -> Revision | None:
        """An open draft newer than the compared version, for a pointer."""
        return next((r for r in reversed(self.affair.open_drafts) if r.id > self.rev.id), None)


@dataclass(frozen=True, slots=True)
class FamilyComparison:
    family: Family
    form: Form
    """The canonical edition: ids, labels and order of the compared items."""
    nodes: tuple[FormNode, ...]
    """Compared items in the form's order."""
    form_context: Mapping[str, tuple[str, ...]]
    """Canonical item id -> the form's sections around it."""
    assessments: tuple[Compared, ...]
    entries: Mapping[str, tuple[tuple[int, Item], ...]]
    """Canonical item id -> (index into assessments, item) for every occurrence, in order."""

    @property
    def name(self) -> str:
        return f"{FORM_KINDS.get(self.family.id, self.family.id)}（{self.form.yoshiki}）"

    def node(self, item_id: str) -> FormNode:
        return next(n for n in self.nodes if n.id == item_id)


def _form_context(form: Form) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}

    def visit(nodes, ctx):
        for n in nodes:
            out[n.id] = ctx
            # A repeated group's unnumbered heading (委託事項) is kept: it names what repeats.
            visit(n.children, (*ctx, n.title))

    visit(form.nodes, ())
    return out


def comparisons(site: Site) -> dict[str, FamilyComparison]:
    """Every family that at least two municipalities use, with its items' occurrences."""
    by_family: dict[str, list[Compared]] = {}
    for m in site.municipalities:
        for a in m.affairs:
            rev = compared_revision(a)
            if rev is None or rev.form.kind not in site.families:
                continue
            by_family.setdefault(rev.form.kind, []).append(Compared(m, a, rev, item_places(rev)))
    out: dict[str, FamilyComparison] = {}
    for kind, assessments in sorted(by_family.items()):
        if len({c.muni.slug for c in assessments}) < MIN_MUNICIPALITIES:
            continue
        family = site.families[kind]
        form = site.forms[family.canonical]
        nodes = tuple(n for n in form.walk() if n.kind in COMPARED_KINDS)
        wanted = {n.id for n in nodes}
        entries: dict[str, list[tuple[int, Item]]] = {n.id: [] for n in nodes}
        for i, c in enumerate(assessments):
            own = family.items.get(c.rev.form.id, {})
            for item in c.rev.walk():
                cid = own.get(item.node.id)
                if cid in wanted and item.node.kind in VALUE_KINDS:
                    entries[cid].append((i, item))
        out[kind] = FamilyComparison(family, form, nodes, _form_context(form), tuple(assessments),
                                     {k: tuple(v) for k, v in entries.items()})
    return out


def compare_links(site: Site, comps: Mapping[str, FamilyComparison]) -> Callable[[Form], Mapping[str, str]]:
    """For a version's form: its item id -> the comparison of that item (where there is one)."""
    cache: dict[str, Mapping[str, str]] = {}

    def for_form(form: Form) -> Mapping[str, str]:
        hit = cache.get(form.id)
        if hit is None:
            comp = comps.get(form.kind)
            hit = {}
            if comp is not None:
                wanted = {n.id for n in comp.nodes}
                hit = {own: compare_url(form.kind, cid)
                       for own, cid in comp.family.items.get(form.id, {}).items() if cid in wanted}
            cache[form.id] = hit
        return hit

    return for_form


def missing_form(comp: FamilyComparison, item_id: str) -> list[Compared]:
    """Assessments whose edition of the form has no counterpart of the item."""
    return [c for c in comp.assessments
            if item_id not in set(comp.family.items.get(c.rev.form.id, {}).values())]


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


def choice_counts(comp: FamilyComparison, item_id: str) -> list[dict]:
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
    for i, item in comp.entries[item_id]:
        st = state(item)
        if st != "value" and not (node.kind == "check" and st == "blank"):
            keys = [_STATE_TEXT[st]]
        elif node.kind == "checks":
            keys = [el["label"] if isinstance(el, Mapping) else str(el) for el in item.value] or [NOTHING_CHECKED]  # type: ignore[union-attr]
        elif node.kind == "check":
            keys = ["チェックあり" if item.value else NOTHING_CHECKED]
        else:
            keys = [str(item.value)]
        for k in keys:
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


@dataclass(frozen=True, slots=True)
class Row:
    compared: Compared
    kind_name: str
    form: str
    """様式4（令和6年10月）."""
    version: str
    facts: Mapping[str, Cell]
    published: Cell
    published_version: str


def _own_ids(site: Site, form: Form) -> dict[str, list[str]]:
    """Canonical id -> this form's ids that correspond to it."""
    fam = site.families.get(form.kind)
    out: dict[str, list[str]] = {}
    for own, cid in (fam.items.get(form.id, {}) if fam else {}).items():
        out.setdefault(cid, []).append(own)
    return out


def _cell(c: Compared, items: list[Item], fact: Fact) -> Cell:
    if not items:
        return Cell(note=BLANK)
    if fact.count:
        it = items[0]
        n = len(it.children) if it.node.kind == "repeat" else len(it.value or [])  # type: ignore[arg-type]
        if n == 0 and state(it) != "value" and it.node.kind != "repeat":
            return Cell(note=value_text(it))
        return Cell((Group(f"{n}件", f"{c.rev.url}#{it.anchor}"),))
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(value_text(it), []).append(it)
    repeated = any(c.places[it.anchor].instances for it in items)
    return Cell(tuple(
        Group(text, f"{c.rev.url}#{its[0].anchor}",
              tuple("の".join(c.places[it.anchor].instances) for it in its) if repeated else (),
              len(its))
        for text, its in groups.items()))


def overview(site: Site) -> list[Row]:
    """One row per assessment, in the site's order."""
    rows = []
    own_cache: dict[str, dict[str, list[str]]] = {}
    for m in site.municipalities:
        for a in m.affairs:
            rev = compared_revision(a)
            if rev is None:
                continue
            c = Compared(m, a, rev, item_places(rev))
            own = own_cache.get(rev.form.id)
            if own is None:
                own = own_cache[rev.form.id] = _own_ids(site, rev.form)
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
                facts[f.key] = _cell(c, items, f) if ids else Cell(note=NOT_IN_FORM)
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
            rows.append(Row(c, a.kind_name, f"{rev.form.yoshiki}（{rev.form.edition}）",
                            revision_label(rev), facts, published, published_version))
    return rows


CSV_COLUMNS = ("団体", "全国地方公共団体コード", "事務", "評価書の種類", "様式", "比較に使った版", "版のURL",
               *(f.title for f in FACTS), "最新の公表版", "公表日")


def overview_csv(rows: list[Row], base_url: str) -> bytes:
    """The overview table, one row per assessment. UTF-8 with a BOM (Excel reads it as such)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        c = r.compared
        w.writerow((c.muni.full_name, c.muni.code, c.affair.name, r.kind_name, r.form, r.version,
                    base_url + c.rev.url, *(r.facts[f.key].text for f in FACTS),
                    r.published_version, r.published.text))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# --- one item as data ------------------------------------------------------------------------

def item_data(comp: FamilyComparison, item_id: str, base_url: str) -> dict:
    node = comp.node(item_id)
    by_assessment: dict[int, list[Item]] = {}
    for i, item in comp.entries[item_id]:
        by_assessment.setdefault(i, []).append(item)
    assessments = []
    for i, c in enumerate(comp.assessments):
        if i not in by_assessment:
            continue
        assessments.append({
            "municipality": {"slug": c.muni.slug, "name": c.muni.full_name, "code": c.muni.code},
            "affair": {"slug": c.affair.slug, "name": c.affair.name, "title": c.affair.title},
            "version": {"id": c.rev.id, "label": revision_label(c.rev), "status": c.rev.status,
                        "url": base_url + c.rev.url, "form": c.rev.form.id},
            "entries": [{
                "id": it.anchor,
                "form_id": it.node.id,
                "url": f"{base_url}{c.rev.url}#{it.anchor}",
                "label": it.label,
                "context": list(c.places[it.anchor].context),
                "state": state(it),
                "value": thaw(it.value) if state(it) == "value" else None,
                "text": value_text(it),
            } for it in by_assessment[i]],
        })
    return {
        "family": comp.family.id,
        "canonical_form": comp.form.id,
        "item": item_id,
        "url": base_url + compare_url(comp.family.id, item_id),
        "number": node.no,
        "label": node.label,
        "kind": node.kind,
        "form_context": list(comp.form_context[item_id]),
        "choices": [{"choice": x["choice"], "listed_in_form": x["listed"], "entries": x["n"],
                     "assessments": [{"municipality": c.muni.full_name, "affair": c.affair.name,
                                      "entries": n} for c, n in x["assessments"]]}
                    for x in choice_counts(comp, item_id)],
        "assessments": assessments,
        "not_in_form": [{"municipality": c.muni.full_name, "affair": c.affair.name,
                         "form": c.rev.form.id} for c in missing_form(comp, item_id)],
    }


def item_json(comp: FamilyComparison, item_id: str, base_url: str) -> bytes:
    data = item_data(comp, item_id, base_url)
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")
