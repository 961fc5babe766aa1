"""Every TOML table piasite reads, declared once, and the one validator that checks them.

A table is a `Table` of `Key`s: each key has a type, says whether it is required, and may
allow only some values. `validate` walks a parsed TOML value against its declaration and turns
every problem into a positioned diagnostic:

    E101  unknown key (with a "did you mean" hint)
    E102  wrong type
    E103  a required key is missing
    E104  a value that is not one of the allowed ones
    E301… a date that cannot be read (`Date` keys; codes from wareki.parse_date)

It returns the value without what was wrong: an unknown key or a bad value is left out of its
table, a bad element of an array of tables becomes None (so the others keep their position:
row numbers count from the file), and a table that lacks a required key is itself left out.
The loader builds the model from what is left, so a mistake is reported once and never crashes
a later stage.

The values of a version's form items (the keys the form definition gives) are bound by
`bind.py`, which checks each against `VALUE_TYPES[kind]` with this same validator.

To add a key: one entry here (and a field on the model class the loader fills from it);
see docs/schema.md.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType

from .diagnostics import Diagnostic, Severity, Span, did_you_mean, error, warning
from .model import (
    CHANNEL_KINDS,
    CLIPPABLE_CELLS,
    CONTAINER_KINDS,
    FORM_KINDS,
    LOST_REASONS,
    REVISION_STATUSES,
    SYSTEM_SCOPES,
    VALUE_KINDS,
)
from .source import TomlDoc
from .wareki import parse_date

KeyPath = tuple[str | int, ...]
Where = Callable[[KeyPath], Span]
"""Where a key path is written in its file."""


# --- types --------------------------------------------------------------------------------


class Type:
    """What a TOML value must be."""

    expected = ""
    """In Japanese, for messages: 文字列, 整数 …"""

    def fits(self, value: object) -> bool:
        """Whether `value` has this type's shape (its content is checked by the validator)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Str(Type):
    choices: tuple[str, ...] = ()
    """The only values allowed (E104 for another); empty = any string."""
    nonempty: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "空でない文字列" if self.nonempty else "文字列"

    def fits(self, value: object) -> bool:
        return isinstance(value, str)


@dataclass(frozen=True, slots=True)
class Int(Type):
    expected = "整数"

    def fits(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Bool(Type):
    expected = "「true」か「false」"

    def fits(self, value: object) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Date(Type):
    """A date written as text: 和暦 or ISO (`令和7年7月1日`, `2025-07-01`), to the day."""

    iso: bool = False
    """Only YYYY-MM-DD (site.toml's `now`)."""
    empty_ok: bool = False
    """"" is allowed too (and means no date)."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "「YYYY-MM-DD」の形の日付の文字列" if self.iso else "日付の文字列"

    def fits(self, value: object) -> bool:
        return isinstance(value, str)


@dataclass(frozen=True, slots=True)
class Array(Type):
    of: Type

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.of.expected}の配列"

    def fits(self, value: object) -> bool:
        return isinstance(value, list)


@dataclass(frozen=True, slots=True)
class Key:
    type: Type
    required: bool = False
    doc: str = ""
    """What the key means (English, for readers of this file)."""


@dataclass(frozen=True, slots=True)
class Table(Type):
    keys: Mapping[str, Key] = field(default_factory=dict)
    open: bool = False
    """Keys not declared here are kept as they are, unchecked (a version's front matter: its
    form items are bound by `bind.py`, which reports the unknown ones)."""
    expected = "表（テーブル）"

    def fits(self, value: object) -> bool:
        return isinstance(value, dict)


@dataclass(frozen=True, slots=True)
class Map(Type):
    """A table whose keys are names chosen by the content (item ids), each value of one type."""

    of: Type
    expected = "表（テーブル）"

    def fits(self, value: object) -> bool:
        return isinstance(value, dict)


@dataclass(frozen=True, slots=True)
class OneOf(Type):
    """The first option whose shape fits decides (a list element: a string or a table)."""

    options: tuple[Type, ...]
    described: str = ""
    """What the value is, for messages, where the options' names would not say it."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.described or "または".join(o.expected for o in self.options)

    def fits(self, value: object) -> bool:
        return any(o.fits(value) for o in self.options)


def req(t: Type, doc: str = "") -> Key:
    return Key(t, True, doc)


def opt(t: Type, doc: str = "") -> Key:
    return Key(t, False, doc)


def table(keys: dict[str, Key], open: bool = False) -> Table:
    return Table(MappingProxyType(keys), open)


# --- the tables ---------------------------------------------------------------------------

SITE = table({
    "title": opt(Str(), "the site's name, in every page's title"),
    "description": opt(Str(), "one sentence on the home page"),
    "base_url": opt(Str(), "absolute URL of the deployed site (feed, sitemap, canonical links)"),
    "theme": opt(Str(), "folder under themes/"),
    "now": opt(Date(iso=True, empty_ok=True), "fixed 'today' for reproducible builds"),
    "diff": opt(table({
        "new_label": opt(Str(nonempty=True), "新旧対照表 heading of the new text (変更後)"),
        "old_label": opt(Str(nonempty=True), "heading of the old text (変更前)"),
        "new_first": opt(Bool(), "the new text in the left column"),
    })),
})
"""site.toml."""

MUNICIPALITY = table({
    "name": req(Str(), "団体名"),
    "prefecture": req(Str(), "都道府県"),
    "code": req(Str(), "全国地方公共団体コード (check digit: check.py, E203)"),
    "agency": req(Str(), "評価実施機関名"),
    "contact": opt(Str()),
})
"""content/<muni>/_municipality.toml."""

AFFAIR = table({
    "name": req(Str(), "事務の名称"),
    "number": req(Int(), "評価書番号"),
    "title": req(Str(), "評価書名"),
    "kind": req(Str(choices=tuple(FORM_KINDS)), "評価書の種類"),
})
"""content/<muni>/<affair>/_affair.toml."""

DOCUMENT = table({
    "title": req(Str()),
    "revision": opt(Str(), "the version it came with (check.py: E109 when there is none)"),
    "source": opt(Str(), "provenance: the document it was taken from"),
})
"""Front matter of an accompanying document, content/<muni>/<affair>/_pages/<slug>.md."""

SYSTEM = table({
    "name": req(Str()),
    "scope": req(Str(choices=tuple(SYSTEM_SCOPES))),
    "operator": req(Str()),
    "aliases": opt(Array(Str()), "other written forms, matched with width and spacing folded"),
    "description": opt(Str()),
    "description_source": opt(Str()),
    "related": opt(Array(Str()), "slugs of related systems (link.py: E501 for an unknown one)"),
    "link_prose": opt(Bool(), "link mentions of the system in free text"),
})
"""content/systems/<slug>.toml."""

READINGS = Map(OneOf((Str(), table({}, open=True)),
                     '理由（文字列）か { reason = "…", lines = [行, …] } の表'))
"""Names → a reading: a reason (code or sentence) or { reason, lines } (load.py reads it)."""

CHANGE_ROW = table({
    "date": req(Str(), "変更日 as written (read by check.py)"),
    "item": req(Str(), "項目"),
    "before": req(Str(), "変更前の記載"),
    "after": req(Str(), "変更後の記載"),
    "timing": opt(Str(), "提出時期"),
    "reason": opt(Str(), "提出時期に係る説明"),
    "field": opt(Str(), "the item id the row changes (check.py: E108)"),
    "source_lines": opt(Array(Int()), "lines in the source document"),
    "layout": opt(Str(), "how the source printed the row: shifted"),
    "clipped": opt(Array(Str(choices=CLIPPABLE_CELLS)), "cells the source cut off"),
    "readings": opt(READINGS, "cell → a reading of the source (load.py reads each)"),
})
"""One 変更箇所 row."""

CHANGES = table({"changes": opt(Array(CHANGE_ROW))})
"""<rev>.changes.toml (or <rev>/changes.toml): [[changes]] rows in the document's order."""

CHANNEL = table({
    "kind": opt(Str(choices=CHANNEL_KINDS)),
    "label": req(Str()),
    "text": opt(Str()),
    "email": opt(Str()),
    "url": opt(Str()),
})

OPINION = table({
    "summary": req(Str(), "意見の概要"),
    "response": req(Str(), "市の考え方"),
    "reflected": opt(Str(), "評価書への反映"),
})

COMMENT = table({
    "start": req(Date()),
    "end": req(Date()),
    "period": opt(Str(), "the period as the notice writes it"),
    "theme": opt(Str()),
    "notice": opt(Str(), "_pages/ slug of the whole notice"),
    "summary": opt(Str(), "_pages/ slug of the resident-facing 概要"),
    "contact": opt(Array(Str())),
    "how": opt(Str()),
    "language": opt(Str()),
    "without_form": opt(Str()),
    "required": opt(Array(Str())),
    "results_handling": opt(Str()),
    "personal_data": opt(Str()),
    "short_reason": opt(Str(), "why the period is shorter than 30 days (W802)"),
    "channels": opt(Array(CHANNEL)),
    "results": opt(table({
        "published": opt(Date(empty_ok=True), "結果の公表日"),
        "opinions": opt(Array(OPINION)),
    })),
})
"""A draft's [comment]: its パブリックコメント."""

RECONSTRUCTED = table({
    "basis": req(Str(), "the version whose rows were applied in reverse (check.py: E109)"),
    "applied": opt(Array(Int()), "1-based row numbers in the basis's changes file"),
    "not_applied": opt(Array(table({"row": req(Int()), "reason": req(Str())}))),
    "absent": opt(Array(Str()), "items this version did not have yet"),
    "unknown": opt(Array(Str()), "items whose value cannot be known"),
})

VERSION = table({
    "form": req(Str(), "form id: piasite/forms/ or the site's forms/ (load.py: E105)"),
    "status": opt(Str(choices=tuple(REVISION_STATUSES))),
    "source": opt(Str(), "provenance: the document this was taken from"),
    "form_tag": opt(Str(), "the 様式 tag as printed"),
    "title": opt(Str(), "評価書名 as this version prints it"),
    "unpublished": opt(Bool(), "staff's working copy: shown by serve only"),
    "labels": opt(Map(Str()), "item id → the label as this document prints it"),
    "lost": opt(Map(Str(choices=tuple(LOST_REASONS))), "item id → why the source lost it"),
    "reconstructed": opt(RECONSTRUCTED),
    "comment": opt(COMMENT),
    "readings": opt(READINGS, "item id, status, form or changes → a reading of the source"),
}, open=True)
"""A version's front matter: these keys, plus the values under its form's keys (bind.py)."""

FORM_NODE = table({
    "id": req(Str()),
    "kind": req(Str(choices=tuple(sorted(CONTAINER_KINDS | VALUE_KINDS)))),
    "label": opt(Str()),
    "no": opt(Str()),
    "key": opt(Str()),
    "choices": opt(OneOf((Str(), Array(Str())))),
    "options": opt(Array(Str())),
    "suffix": opt(Str()),
    "note_key": opt(Str()),
    "heading": opt(Bool()),
    "hide_label": opt(Bool()),
    "show_number": opt(Bool()),
    "required": opt(Bool()),
    "item_label": opt(Str()),
    "numbered": opt(Bool()),
    "columns": opt(Array(Str())),
    "systems": opt(Bool()),
    "counts": opt(Str()),
    "detail_unit": opt(Str()),
})
"""One [[node]] of a form (docs/forms.md lists what each attribute means)."""

FORM = table({
    "form": req(table({
        "id": req(Str()),
        "kind": req(Str(choices=tuple(FORM_KINDS))),
        "name": req(Str()),
        "title": req(Str()),
        "yoshiki": req(Str()),
        "edition": req(Str()),
    })),
    "choices": opt(Map(table({"options": req(Array(Str())), "note": opt(Str())}))),
    "node": opt(Array(FORM_NODE)),
})
"""A form definition: piasite/forms/<id>.toml, or a site's own forms/<id>.toml."""

FAMILY = table({
    "family": req(table({
        "canonical": req(Str(), "the form id whose item ids, labels and order name the pages"),
    })),
    "map": opt(Map(Map(Str())), "form id → {its item id → the canonical item id, or \"\"}"),
})
"""A form kind's item correspondences: piasite/forms/families/<kind>.toml, or a site's own
forms/families/<kind>.toml (what each id must name is checked in families.py)."""

PRIVACY_ALLOWLIST = table({
    "allow": opt(Array(table({
        "path": req(Str(), "relative to the site folder"),
        "line": req(Int()),
        "number": req(Str()),
        "reason": req(Str(), "why it is not a 個人番号 (privacy.py: E603 when blank)"),
    }))),
})
"""content/_privacy-allowlist.toml."""

_LIST_ELEMENT = table({"label": req(Str()), "system": opt(Str()), "detail": opt(Str())})

VALUE_TYPES: Mapping[str, Type] = MappingProxyType({
    "text": Str(),
    "date": Str(),
    "select": Str(),
    "check": Bool(),
    "number": OneOf((Int(), Str())),
    "checks": Array(OneOf((Str(), _LIST_ELEMENT))),
    "list": Array(OneOf((Str(), _LIST_ELEMENT))),
    "table": table({
        "columns": opt(Array(Str())),
        "rows": req(Array(Array(Str()))),
        "caption": opt(Str()),
        "note": opt(Str()),
    }),
})
"""The value of a form item of each kind (docs/content.md says how each is written)."""


# --- the validator ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checked:
    value: object
    """The value without what was wrong (None when nothing of it could be kept; a table that
    lacks a required key is kept with what it has, for the caller to decide)."""
    ok: bool
    """False when the value itself is unusable (wrong type, or a table missing a required key)."""
    diagnostics: tuple[Diagnostic, ...]

    @property
    def clean(self) -> bool:
        """No error anywhere in the value."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


_ACTUAL = ((bool, "「true」か「false」"), (int, "整数"), (float, "小数"), (str, "文字列"),
           (list, "配列"), (dict, "表"), (datetime.datetime, "日時"), (datetime.date, "日付"),
           (datetime.time, "時刻"))
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _actual(value: object) -> str:
    if value == "":
        return "空の文字列"
    return next((name for t, name in _ACTUAL if isinstance(value, t)), type(value).__name__)


def display(path: KeyPath, name: str | None = None, root: int = 0) -> str:
    """A key path as staff read it: 「comment.channels」の2番目の「kind」.

    With `name`, the first `root` parts are shown as that name instead.
    """
    parts: list[str] = [name] if name else []
    keys: list[str] = []
    for p in path[root:] if name else path:
        if isinstance(p, int):
            if keys:
                parts.append("「" + ".".join(keys) + "」")
                keys = []
            parts.append(f"{p + 1}番目")
        else:
            keys.append(p)
    if keys:
        parts.append("「" + ".".join(keys) + "」")
    return "の".join(parts) if parts else "「（ファイル全体）」"


class _Validator:
    def __init__(self, where: Callable[[KeyPath], Span], name: str | None, root: KeyPath):
        self.where = where
        self.name = name
        self.root = root
        self.diags: list[Diagnostic] = []

    def show(self, path: KeyPath) -> str:
        return display(path, self.name, len(self.root))

    def wrong(self, path: KeyPath, t: Type, value: object) -> tuple[bool, None]:
        hint = None
        if isinstance(value, datetime.date | datetime.time) and isinstance(t, Str | Date):
            hint = '日付は "令和7年4月1日" や "2025-04-01" のように引用符で囲んで書きます'
        self.diags.append(error("E102", f"{self.show(path)}は{t.expected}で書いてください"
                                f"（{_actual(value)}が書かれています）", self.where(path), hint=hint))
        return False, None

    def check(self, value: object, t: Type, path: KeyPath) -> tuple[bool, object]:
        if isinstance(t, OneOf):
            t = next((o for o in t.options if o.fits(value)), t)
        if not t.fits(value):
            return self.wrong(path, t, value)
        if isinstance(t, Str):
            return self.string(value, t, path)  # type: ignore[arg-type]
        if isinstance(t, Date):
            return self.date(value, t, path)  # type: ignore[arg-type]
        if isinstance(t, Array):
            return self.array(value, t, path)  # type: ignore[arg-type]
        if isinstance(t, Map):
            return self.map(value, t, path)  # type: ignore[arg-type]
        if isinstance(t, Table):
            return self.table(value, t, path)  # type: ignore[arg-type]
        return True, value

    def string(self, value: str, t: Str, path: KeyPath) -> tuple[bool, object]:
        if t.nonempty and not value:
            return self.wrong(path, t, value)
        if t.choices and value not in t.choices:
            self.diags.append(error(
                "E104", f"{self.show(path)}の値「{value}」は使えません（{' / '.join(t.choices)} のいずれかです）",
                self.where(path), hint=did_you_mean(value, t.choices)))
            return False, None
        return True, value

    def date(self, value: str, t: Date, path: KeyPath) -> tuple[bool, object]:
        if t.empty_ok and value == "":
            return True, value
        if t.iso:
            try:
                ok = bool(_ISO_DAY.match(value)) and bool(datetime.date.fromisoformat(value))
            except ValueError:
                ok = False
            if not ok:
                self.diags.append(error("E301", f"{self.show(path)}は YYYY-MM-DD の日付です: 「{value}」",
                                        self.where(path)))
            return ok, value if ok else None
        jd, problems = parse_date(value)
        for p in problems:
            make = error if p.severity == "error" else warning
            self.diags.append(make(p.code, f"{self.show(path)}: {p.message}", self.where(path)))
        if jd is not None and jd.day is None:
            self.diags.append(error("E301", f"{self.show(path)}は日まで書いてください", self.where(path)))
            return False, None
        if jd is not None and jd.year >= datetime.MAXYEAR:  # its next day (a period's end) is none
            self.diags.append(error("E302", f"{self.show(path)}: 「{value}」の年は範囲外です",
                                    self.where(path)))
            return False, None
        return jd is not None, value if jd is not None else None

    def array(self, value: list, t: Array, path: KeyPath) -> tuple[bool, object]:
        out = []
        ok = True
        for i, el in enumerate(value):
            el_ok, el_value = self.check(el, t.of, (*path, i))
            out.append(el_value if el_ok else None)
            ok = ok and el_ok
        # An array of tables keeps its good elements in place (rows are numbered from the
        # file); an array of plain values is only usable whole.
        if not ok and not isinstance(t.of, Table):
            return False, None
        return True, out

    def map(self, value: dict, t: Map, path: KeyPath) -> tuple[bool, object]:
        out = {}
        for k, el in value.items():
            el_ok, el_value = self.check(el, t.of, (*path, k))
            if el_ok:
                out[k] = el_value
        return True, out

    def table(self, value: dict, t: Table, path: KeyPath) -> tuple[bool, object]:
        out = {}
        ok = True
        for k, el in value.items():
            key = t.keys.get(k)
            if key is None:
                if t.open:
                    out[k] = el
                else:
                    self.diags.append(error("E101", f"不明なキー{self.show((*path, k))}です",
                                            self.where((*path, k)), hint=did_you_mean(k, t.keys)))
                continue
            el_ok, el_value = self.check(el, key.type, (*path, k))
            if el_ok:
                out[k] = el_value
            elif key.required:
                ok = False
        for k, key in t.keys.items():
            if key.required and k not in value:
                self.diags.append(error("E103", f"必須のキー{self.show((*path, k))}がありません",
                                        self.where(path)))
                ok = False
        return ok, out


def validate(value: object, t: Type, where: Callable[[KeyPath], Span], *, at: KeyPath = (),
             name: str | None = None) -> Checked:
    """Check `value` (found at key path `at`) against `t`; `where` positions a key path.

    `name` replaces the key path `at` in messages (a form item's label and key).
    """
    v = _Validator(where, name, at)
    ok, cleaned = v.check(value, t, at)
    return Checked(cleaned, ok, tuple(v.diags))


def where_in(doc: TomlDoc, path: PurePosixPath) -> Callable[[KeyPath], Span]:
    """Positions in a parsed TOML file (or front matter): a key path → its Span."""
    def where(keys: KeyPath) -> Span:
        line, col = doc.pos(keys)
        return Span(path, line, col)
    return where


def validate_doc(doc: TomlDoc, path: PurePosixPath, t: Table) -> Checked:
    """Check a whole TOML document (a file, or a front matter) against its table."""
    return validate(doc.data, t, where_in(doc, path))
