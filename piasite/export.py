"""Open data: one version as JSON (/<muni>/<affair>/<rev>.json) and the 変更箇所 as CSV.

Bytes from the model only, like the HTML pages. Values are exported as written in the
content (never the normalised forms used for search and diff alignment).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
from pathlib import Path, PurePosixPath

import orjson

from . import routes
from .model import LOST_REASONS, Affair, Item, Municipality, Reading, Revision, SiteConfig, thaw
from .views import CELL_NAMES, revision_label

# schema/revision.schema.json in this repository, installed as the package piasite.jsonschema.
SCHEMA_PATH = importlib.resources.files("piasite.jsonschema") / "revision.schema.json"
FORMAT_VERSION = 1

CSV_COLUMNS = ("変更日", "変更日(ISO)", "項目", "変更前の記載", "変更後の記載", "提出時期",
               "提出時期に係る説明", "項目ID", "原本の行", "原本で切れている列", "読み取り")
_CELL_NAMES = {"item": "項目", "before": "変更前の記載", "after": "変更後の記載", "timing": "提出時期",
               "reason": "提出時期に係る説明"}


def schema_bytes() -> bytes:
    return SCHEMA_PATH.read_bytes()


def json_bytes(data: object) -> bytes:
    """The site's JSON files (a version, an item's comparison): lists keep their
    (meaningful) order; object keys are sorted so equal input gives equal bytes. Compact.

    Written by orjson, made for this: for the strings, integers, booleans and lists a version
    holds, the bytes json.dumps writes (UTF-8, keys in code point order, the same escapes), in
    an eighth of the time; the site's JSON is a third of its bytes (700 MB at 1,000 versions).
    An integer past 64 bits, which orjson refuses and TOML may hold, goes to json.dumps.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                + "\n").encode("utf-8")


def _span(span) -> dict | None:
    return {"file": str(span.path), "line": span.line} if span is not None else None


def _reading(r: Reading | None) -> dict | None:
    if r is None:
        return None
    return {"code": r.code or None, "text": r.text, "source_lines": list(r.lines),
            "source": _span(r.span)}


def _items(items: tuple[Item, ...], parent: str | None, instance_of: bool = False) -> list[dict]:
    out: list[dict] = []
    for it in items:
        node = it.node
        instance = instance_of  # a repeat's children are its instances (one system, one file…)
        kind = "instance" if instance else node.kind
        value = None if instance or node.kind in ("section", "cover", "repeat") else thaw(it.value)
        if it.absent_in_version or it.unknown_in_version:
            value = None  # the page says so too: a reconstruction cannot know this value
        row = {
            "id": it.anchor,
            "form_id": node.id,
            "parent": parent,
            "label": it.label,
            "form_label": node.label,
            "number": "" if instance else node.no,
            "kind": kind,
            "value": value,
            "present": it.present,
            "lost": it.lost or None,
            "lost_reason": LOST_REASONS.get(it.lost) if it.lost else None,
            "absent_in_version": it.absent_in_version,
            "unknown_in_version": it.unknown_in_version,
            "reading": _reading(it.reading),
            "source": _span(it.span),
        }
        if instance:
            row["key"] = it.value if isinstance(it.value, str) else None
            row["system"] = it.explicit_system or None
        if it.note:
            row["note"] = it.note
        out.append(row)
        out.extend(_items(it.children, it.anchor, node.kind == "repeat" and not instance))
    return out


def _change(row) -> dict:
    return {
        "row": row.index,
        "date": row.date_text,
        "date_iso": row.date.iso() if row.date else None,
        "item": row.item,
        "field": row.field or None,
        "before": row.before,
        "after": row.after,
        "timing": row.timing,
        "reason": row.reason,
        "source_lines": list(row.source_lines),
        "layout": row.layout or None,
        "clipped": list(row.clipped),
        "readings": {cell: _reading(r) for cell, r in row.readings.items()},
        "source": _span(row.span),
    }


def revision_data(rev: Revision, affair: Affair, muni: Municipality,
                  config: SiteConfig) -> dict:
    rc = rev.reconstructed
    pub = next((i for i in rev.walk() if i.node.key == "published"), None)
    return {
        "$schema": config.base_url + routes.schema(),
        "format_version": FORMAT_VERSION,
        "id": rev.id,
        "url": config.base_url + rev.url,
        "label": revision_label(rev),
        "title": rev.title or affair.title,
        "status": rev.status,
        "current": rev is affair.current,
        "published": {
            "text": str(pub.value) if pub is not None and pub.value else "",
            "iso": rev.published.iso() if rev.published else None,
        },
        "municipality": {
            "slug": muni.slug, "name": muni.name, "prefecture": muni.prefecture,
            "code": muni.code, "agency": muni.agency,
        },
        "affair": {
            "slug": affair.slug, "name": affair.name, "number": affair.number,
            "title": affair.title, "kind": affair.kind, "kind_name": affair.kind_name,
        },
        "form": {
            "id": rev.form.id, "kind": rev.form.kind, "title": rev.form.title,
            "yoshiki": rev.form.yoshiki, "edition": rev.form.edition,
            "tag_as_printed": rev.form.tag if rev.form_tag is None else rev.form_tag,
        },
        "provenance": {
            "source_document": rev.source or None,
            "content_file": str(rev.span.path),
            "changes_file": str(rev.changes_span.path) if rev.changes_span else None,
            "reconstructed": rc is not None,
            "reconstruction": None if rc is None else {
                "basis": rc.basis,
                "basis_url": config.base_url + routes.revision(rev.muni, rev.affair, rc.basis),
                "applied_rows": list(rc.applied),
                "not_applied": [{"row": i, "reason": why} for i, why in rc.not_applied],
            },
        },
        "lost_reasons": {k: LOST_REASONS[k] for k in sorted({i.lost for i in rev.walk()
                                                                if i.lost})},
        # The version's own readings: status, form (edition) and changes.<cell> (every row).
        "readings": {k: _reading(r) for k, r in rev.readings.items()},
        "items": _items(rev.items, None),
        "changes": [_change(r) for r in rev.changes],
    }


def revision_json(rev: Revision, affair: Affair, muni: Municipality, config: SiteConfig) -> bytes:
    return json_bytes(revision_data(rev, affair, muni, config))


def changes_csv(rev: Revision) -> bytes:
    """The 変更箇所 rows of `rev` (the changes page's version), one CSV row each.

    UTF-8 with a BOM: Excel otherwise opens Japanese CSV as Shift_JIS.
    """
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    table_wide = {k[8:]: r for k, r in rev.readings.items() if k.startswith("changes.")}
    for r in rev.changes:
        # A row read alone must say which of its cells are readings, the table-wide ones too.
        readings = {**table_wide, **r.readings}
        w.writerow((r.date_text, r.date.iso() if r.date else "", r.item, r.before,
                    r.after, r.timing, r.reason, r.field, " ".join(map(str, r.source_lines)),
                    "・".join(_CELL_NAMES[c] for c in r.clipped),
                    " ".join(f"{CELL_NAMES[c]}: {readings[c].text}"
                             for c in CELL_NAMES if c in readings)))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# The latest automated accessibility results of a site, measured on that site and committed
# beside it: the bundled site's are written by its test suite (tests/test_accessibility_results.py).
# They describe the pages they were measured on, so they are read from the site being built and
# never shipped with piasite: a site without a record of its own says that none was recorded.
A11Y_RESULTS_FILE = PurePosixPath("docs/accessibility-results.json")


def accessibility_results(root: Path) -> tuple[dict | None, bytes]:
    """(results, raw bytes) of the run recorded in the site `root`; (None, b"") when none was."""
    try:
        raw = (root / A11Y_RESULTS_FILE).read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None, b""
    return (data, raw) if isinstance(data, dict) else (None, b"")
