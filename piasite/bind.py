"""Bind a version's values to its form: the form tree, with each item's value from the content.

A version gives values under the keys its form definition names (front matter), or free text
under `## … {#item-id}` headings (body). The binder walks the form, finds each item's value,
checks it against `schema.VALUE_TYPES[kind]`, and returns the items as an immutable tree
(lists become tuples, tables read-only mappings). It reports, with positions: a required item
that is missing (E103), a value of the wrong type (E102), keys and body sections the form does
not have (E101, E106), and ids under [lost], [labels] and [reconstructed] that are not items of
the form (E101). Whether a value is one of the form's choices is a rule: `check.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import schema
from .diagnostics import Diagnostic, Span, did_you_mean, error
from .model import (
    CONTAINER_KINDS,
    LOST_REASONS,
    VERSION_READINGS,
    Form,
    FormNode,
    Item,
    Reading,
    freeze,
)
from .routes import SLUG
from .source import SourceFile

SECTION_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*\{#([^\s{}]+)\}\s*$")


# --- body sections ------------------------------------------------------------------------


@dataclass
class Body:
    """The free text under one `## label {#id}` heading."""

    text: str
    span: Span
    heading: str


def split_body(src: SourceFile, body: str, body_line: int,
               diags: list[Diagnostic]) -> dict[str, Body]:
    """Cut a Markdown body into the sections headed `## label {#id}`."""
    sections: dict[str, Body] = {}
    current: str | None = None
    buf: list[str] = []

    def flush():
        if current is not None:
            sections[current].text = "\n".join(buf).strip("\n")

    for i, line in enumerate(body.split("\n")):
        m = SECTION_HEADING.match(line)
        lineno = body_line + i
        if m:
            flush()
            anchor = m.group(3)
            span = Span(src.path, lineno, 1)
            if anchor in sections:
                diags.append(error("E106", f"本文の項目「#{anchor}」が2回書かれています", span,
                                   related=(sections[anchor].span,)))
                current = None
            else:
                sections[anchor] = Body("", span, m.group(2))
                current = anchor
            buf = []
        elif current is None:
            if line.strip():
                diags.append(error("E107", "本文は「## 項目名 {#項目ID}」の見出しの下に書いてください",
                                   Span(src.path, lineno, 1)))
                # one diagnostic per stray block is enough
                current = "\0stray"
                sections[current] = Body("", Span(src.path, lineno, 1), "")
        else:
            buf.append(line)
    flush()
    sections.pop("\0stray", None)
    return sections


def merge_bodies(bodies: dict[str, Body], more: dict[str, Body],
                 diags: list[Diagnostic]) -> None:
    """Add a part file's sections to a version's (E106 for an id written twice)."""
    for anchor, b in more.items():
        if anchor in bodies:
            diags.append(error("E106", f"本文の項目「#{anchor}」が2回書かれています",
                               b.span, related=(bodies[anchor].span,)))
        else:
            bodies[anchor] = b


# --- binding ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marks:
    """What a version's front matter says about its items besides their values."""

    labels: Mapping[str, str]
    """Item id → the label as this document prints it."""
    lost: Mapping[str, str]
    """Item id → why the source lost the value (a LOST_REASONS key)."""
    absent: frozenset[str] = frozenset()
    """Items a reconstructed version did not have yet."""
    unknown: frozenset[str] = frozenset()
    """Items whose value a reconstructed version cannot know."""
    readings: Mapping[str, Reading] = field(default_factory=lambda: MappingProxyType({}))
    """Item id → why the value shown is a reading of the source ([readings])."""


@dataclass(frozen=True, slots=True)
class Bound:
    items: tuple[Item, ...]
    anchors: Mapping[str, Item]
    """Every item by its anchor."""


Where = schema.Where


def bind(form: Form, data: dict, bodies: dict[str, Body], marks: Marks, where: Where,
         diags: list[Diagnostic]) -> Bound:
    """The items of one version: `data` is its front matter, `where` positions a key in it."""
    binder = _Binder(form, data, where, bodies, marks, diags)
    items = [_mark(i, marks) for i in binder.bind()]
    by_anchor = {i.anchor: i for it in items for i in it.walk()}
    for a in sorted(set(marks.lost) - set(by_anchor)):
        diags.append(error("E101", f"「lost」の「{a}」は様式「{form.id}」の項目ではありません",
                           where(("lost", a)), hint=did_you_mean(a, by_anchor)))
    for a in sorted((marks.absent | marks.unknown) - set(by_anchor)):
        diags.append(error("E101", f"「reconstructed」の「{a}」は様式「{form.id}」の項目ではありません",
                           where(("reconstructed",)), hint=did_you_mean(a, by_anchor)))
    for a in sorted(set(marks.readings) - set(by_anchor)):
        diags.append(error("E101", f"「readings」の「{a}」は様式「{form.id}」の項目でも、"
                           f"{' / '.join(VERSION_READINGS)} / changes でもありません",
                           where(("readings", a)),
                           hint=did_you_mean(a, [*by_anchor, *VERSION_READINGS, "changes"])))
    for a in sorted(set(marks.labels) - set(by_anchor)):
        diags.append(error("E101", f"「labels」の「{a}」は様式「{form.id}」の項目ではありません",
                           where(("labels", a)), hint=did_you_mean(a, by_anchor)))
    texts = [a for a, i in by_anchor.items() if i.node.kind == "text"]
    for anchor, b in bodies.items():
        if anchor not in binder.used_bodies:
            diags.append(error("E106", f"本文の項目「#{anchor}」は様式「{form.id}」にありません",
                               b.span, hint=did_you_mean(anchor, texts)))
    return Bound(tuple(items), MappingProxyType(by_anchor))


def _mark(item: Item, marks: Marks) -> Item:
    """Flag items a reconstructed version cannot know, values the source lost, and values
    that are readings of the source.

    Neither of the first two is "absent": the item exists in this version, its value just
    cannot be shown.
    """
    children = tuple(_mark(c, marks) for c in item.children)
    if item.anchor in marks.readings:
        item = dataclasses.replace(item, reading=marks.readings[item.anchor])
    if item.anchor in marks.unknown:
        return dataclasses.replace(item, children=children, absent_in_version=False,
                                   unknown_in_version=True)
    if marks.lost.get(item.anchor) in LOST_REASONS:
        return dataclasses.replace(item, children=children, absent_in_version=False,
                                   lost=marks.lost[item.anchor])
    return dataclasses.replace(item, children=children) if children != item.children else item


class _Binder:
    """Walk a form tree over one version's values, collecting diagnostics."""

    def __init__(self, form: Form, data: dict, where: Where, bodies: dict[str, Body],
                 marks: Marks, diags: list[Diagnostic]):
        self.form, self.data, self.where, self.bodies = form, data, where, bodies
        self.labels = marks.labels
        # Items that need no value: not in the version yet, unknowable, or lost by the source.
        self.absent = marks.absent | marks.unknown | set(marks.lost)
        self.diags = diags
        self.used_bodies: set[str] = set()
        self.known_paths: set[tuple] = set()
        """Every key path the form gives (and their tables): the rest are unknown keys."""
        self.value_paths: set[tuple] = set()
        """Key paths of values: checked whole by the schema validator, not key by key here."""

    def bind(self) -> list[Item]:
        items = [self._node(n, n.id, self.data, ()) for n in self.form.nodes]
        self._unknown_keys(self.data, ())
        return items

    @staticmethod
    def _lookup(ctx: dict, key: str) -> tuple[bool, object, tuple]:
        cur: object = ctx
        parts = tuple(key.split("."))
        for p in parts:
            if not isinstance(cur, dict) or p not in cur:
                return False, None, parts
            cur = cur[p]
        return True, cur, parts

    def _register(self, prefix: tuple, parts: tuple) -> None:
        full = (*prefix, *parts)
        for i in range(1, len(full) + 1):
            self.known_paths.add(full[:i])

    def _unknown_keys(self, table: dict, prefix: tuple) -> None:
        meta = schema.VERSION.keys
        for k, v in table.items():
            path = (*prefix, k)
            if (not prefix and k in meta) or path in self.value_paths:
                continue
            if path not in self.known_paths:
                siblings = [str(p[-1]) for p in self.known_paths
                            if len(p) == len(path) and p[:-1] == prefix]
                if not prefix:
                    siblings += sorted(meta)
                self.diags.append(error("E101", f"不明なキー{schema.display(path)}です",
                                        self.where(path), hint=did_you_mean(k, siblings)))
            elif isinstance(v, dict):
                self._unknown_keys(v, path)
            elif isinstance(v, list):
                for i, el in enumerate(v):
                    if isinstance(el, dict) and (*path, i) in self.known_paths:
                        self._unknown_keys(el, (*path, i))

    def _node(self, node: FormNode, anchor: str, ctx: dict, prefix: tuple) -> Item:
        label = self.labels.get(anchor, node.label)
        if node.kind in CONTAINER_KINDS and node.kind != "repeat":
            children = tuple(self._node(c, anchor + c.id[len(node.id):], ctx, prefix)
                             for c in node.children)
            return Item(node=node, anchor=anchor, label=label, present=True, children=children)
        if node.kind == "repeat":
            return self._repeat(node, anchor, label, ctx, prefix)
        return self._value(node, anchor, label, ctx, prefix)

    def _repeat(self, node: FormNode, anchor: str, label: str, ctx: dict, prefix: tuple) -> Item:
        found, value, parts = self._lookup(ctx, node.key)
        self._register(prefix, parts)
        span = self.where((*prefix, *parts))
        absent = anchor in self.absent
        if not found:
            if node.required and not absent:
                self.diags.append(error("E103", f"必須の項目「{node.title}」（{node.key}）がありません",
                                        span))
            return Item(node=node, anchor=anchor, label=label, span=span, absent_in_version=absent)
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.diags.append(error("E102", f"「{node.key}」は [[{node.key}]] の表の配列で書いてください",
                                    span))
            self.value_paths.add((*prefix, *parts))
            return Item(node=node, anchor=anchor, label=label, span=span, present=True)
        instances = []
        seen: dict[str, Span] = {}
        for i, inst in enumerate(value):
            instances.append(self._instance(node, anchor, inst, i, (*prefix, *parts, i), seen))
        return Item(node=node, anchor=anchor, label=label, span=span, present=True,
                    children=tuple(instances))

    def _instance(self, node: FormNode, anchor: str, inst: dict, i: int, ipath: tuple,
                  seen: dict[str, Span]) -> Item:
        """One entry of a repeated group (one system, one file …), keyed by its `id`."""
        ispan = self.where(ipath)
        self.known_paths.add((*ipath, "id"))
        key = inst.get("id")
        if not isinstance(key, str) or not SLUG.match(key):
            self.diags.append(error(
                "E103", f"「{node.key}」の各要素には英小文字の「id」が必要です（並べ替えても変わらない識別子）",
                ispan))
            key = str(i + 1)
        if key in seen:
            self.diags.append(error("E202", f"「{node.key}」の id「{key}」が重複しています", ispan,
                                    related=(seen[key],)))
        seen[key] = ispan
        ref = ""
        if node.systems:
            self.known_paths.add((*ipath, "system"))
            ref = inst.get("system", "")
            if not isinstance(ref, str):
                self.diags.append(error("E102", "「system」は登録簿のスラッグ（文字列）です",
                                        self.where((*ipath, "system"))))
                ref = ""
        ianchor = f"{anchor}-{key}"
        children = tuple(self._node(c, ianchor + c.id[len(node.id):], inst, ipath)
                         for c in node.children)
        return Item(node=node, anchor=ianchor, label=f"{node.item_label}{i + 1}", value=key,
                    present=True, span=ispan, children=children, explicit_system=ref)

    def _value(self, node: FormNode, anchor: str, label: str, ctx: dict, prefix: tuple) -> Item:
        found, value, parts = self._lookup(ctx, node.key)
        self._register(prefix, parts)
        path = (*prefix, *parts)
        span = self.where(path)
        from_body = False
        body = self.bodies.get(anchor)
        if body is not None:
            self.used_bodies.add(anchor)
            if node.kind != "text":
                self.diags.append(error("E106", f"「#{anchor}」は文章の項目ではないため本文に書けません",
                                        body.span))
            elif found:
                self.diags.append(error("E106", f"「{node.title}」がフロントマター（{node.key}）と本文の両方にあります",
                                        body.span, related=(span,)))
            else:
                found, value, span, from_body = True, body.text, body.span, True
        note = self._note(node, ctx, prefix)
        absent = anchor in self.absent
        if not found:
            if node.required and not absent:
                self.diags.append(error(
                    "E103", f"必須の項目「{node.title}」（{node.key}）がありません", span,
                    hint="原本で空欄の項目は空の文字列 \"\" で書いてください"))
            return Item(node=node, anchor=anchor, label=label, span=span, note=note,
                        absent_in_version=absent)
        if not from_body:
            value = self._typed(node, value, path)
        return Item(node=node, anchor=anchor, label=label, value=value, present=True, span=span,
                    note=note, absent_in_version=absent)

    def _note(self, node: FormNode, ctx: dict, prefix: tuple) -> str:
        """The free-text ※ note a list item may carry under its own key (`note_key`)."""
        if not node.note_key:
            return ""
        found, value, parts = self._lookup(ctx, node.note_key)
        self._register(prefix, parts)
        if not found:
            return ""
        self.value_paths.add((*prefix, *parts))
        checked = schema.validate(value, schema.Str(), self.where, at=(*prefix, *parts))
        self.diags.extend(checked.diagnostics)
        return checked.value if checked.clean else ""  # type: ignore[return-value]

    def _typed(self, node: FormNode, value: object, path: tuple) -> object:
        """The value checked against its kind's type, frozen; None when it is unusable."""
        self.value_paths.add(path)
        checked = schema.validate(value, schema.VALUE_TYPES[node.kind], self.where, at=path,
                                  name=f"「{node.title}」（{node.key}）")
        self.diags.extend(checked.diagnostics)
        if not checked.clean:
            return None
        if node.kind == "table":
            t: Mapping = checked.value  # type: ignore[assignment]
            cols = t.get("columns", node.columns)
            widths = {len(r) for r in t["rows"]}
            if cols and widths - {len(cols)}:
                self.diags.append(error("E102", f"「{node.title}」の行の列数が見出し（{len(cols)}列）と合いません",
                                        self.where(path)))
        return freeze(checked.value)


def bodies_of(src: SourceFile, body: str, body_line: int, parts: list[SourceFile],
              diags: list[Diagnostic]) -> dict[str, Body]:
    """A version's body sections: the main file's, then each part file's in name order."""
    bodies = split_body(src, body, body_line, diags)
    for part in parts:
        merge_bodies(bodies, split_body(part, part.text, 1, diags), diags)
    return bodies
