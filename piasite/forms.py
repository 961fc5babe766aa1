"""Read the form definitions (様式) shipped in piasite/forms/*.toml.

A form file is data (see docs/forms.md). Mistakes in it are piasite bugs, so they raise
FormError instead of becoming content diagnostics; tests load every shipped form.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from types import MappingProxyType

from .model import CONTAINER_KINDS, VALUE_KINDS, Choices, Form, FormNode

FORMS_DIR = Path(__file__).parent / "forms"

_NODE_KEYS = {
    "id", "kind", "label", "no", "key", "choices", "options", "suffix", "note_key",
    "heading", "hide_label", "show_number", "required", "item_label", "numbered", "columns",
    "systems", "counts", "detail_unit",
}


class FormError(Exception):
    """A shipped form definition is malformed."""


def _parent_id(node_id: str, known: dict[str, dict]) -> str | None:
    parts = node_id.split("-")
    while len(parts) > 1:
        parts = parts[:-1]
        cand = "-".join(parts)
        if cand in known:
            return cand
    return None


def parse_form(data: dict, path: str = "") -> Form:
    """Turn one parsed form file into a Form tree."""
    meta = data.get("form") or {}
    for k in ("id", "kind", "name", "title", "yoshiki", "edition"):
        if not isinstance(meta.get(k), str):
            raise FormError(f"{path}: [form].{k} missing")
    choices = {
        name: Choices(tuple(c["options"]), c.get("note", ""))
        for name, c in (data.get("choices") or {}).items()
    }
    raw_nodes: list[dict] = data.get("node") or []
    by_id: dict[str, dict] = {}
    children: dict[str | None, list[str]] = {}
    for raw in raw_nodes:
        unknown = set(raw) - _NODE_KEYS
        if unknown:
            raise FormError(f"{path}: node {raw.get('id')}: unknown keys {sorted(unknown)}")
        nid = raw.get("id")
        if not nid or nid in by_id:
            raise FormError(f"{path}: missing or duplicate node id {nid!r}")
        kind = raw.get("kind")
        if kind not in CONTAINER_KINDS | VALUE_KINDS:
            raise FormError(f"{path}: node {nid}: unknown kind {kind!r}")
        if kind in VALUE_KINDS and not raw.get("key"):
            raise FormError(f"{path}: node {nid}: value node needs a key")
        if kind == "select" and raw.get("choices") not in choices and not isinstance(
            raw.get("choices"), list
        ):
            raise FormError(f"{path}: node {nid}: unknown choices {raw.get('choices')!r}")
        by_id[nid] = raw
        parent = _parent_id(nid, by_id)
        if parent is not None and by_id[parent]["kind"] not in CONTAINER_KINDS:
            raise FormError(f"{path}: node {nid}: parent {parent} is not a section")
        children.setdefault(parent, []).append(nid)

    def build(nid: str) -> FormNode:
        raw = by_id[nid]
        ch = raw.get("choices")
        ch_obj = Choices(tuple(ch)) if isinstance(ch, list) else choices.get(ch) if ch else None
        return FormNode(
            id=nid,
            kind=raw["kind"],
            label=raw.get("label", ""),
            no=raw.get("no", ""),
            key=raw.get("key", ""),
            choices=ch_obj,
            options=tuple(raw.get("options", ())),
            suffix=raw.get("suffix", ""),
            note_key=raw.get("note_key", ""),
            heading=bool(raw.get("heading", False)),
            hide_label=bool(raw.get("hide_label", False)),
            show_number=bool(raw.get("show_number", False)),
            required=bool(raw.get("required", True)),
            item_label=raw.get("item_label", ""),
            numbered=bool(raw.get("numbered", True)),
            systems=bool(raw.get("systems", False)),
            counts=raw.get("counts", ""),
            detail_unit=raw.get("detail_unit", ""),
            columns=tuple(raw.get("columns", ())),
            children=tuple(build(c) for c in children.get(nid, ())),
        )

    return Form(
        id=meta["id"],
        kind=meta["kind"],
        name=meta["name"],
        title=meta["title"],
        yoshiki=meta["yoshiki"],
        edition=meta["edition"],
        nodes=tuple(build(n) for n in children.get(None, ())),
        choices=MappingProxyType(choices),
        path=path,
    )


@functools.cache
def shipped_forms() -> MappingProxyType[str, Form]:
    """All forms in piasite/forms/, keyed by form id."""
    forms = {}
    for p in sorted(FORMS_DIR.glob("*.toml")):
        with p.open("rb") as f:
            form = parse_form(tomllib.load(f), p.name)
        if form.id != p.stem:
            raise FormError(f"{p.name}: [form].id {form.id!r} differs from the file name")
        forms[form.id] = form
    return MappingProxyType(forms)
