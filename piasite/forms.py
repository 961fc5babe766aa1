"""Read form definitions (様式): piasite/forms/*.toml, and a site's own forms/*.toml.

A form file is data (see docs/forms.md), checked against `schema.FORM` and then as a tree:
node ids unique, each node under a section, a key on every value node, known choice lists.
A site's own form gets each mistake as a positioned diagnostic (E101–E104 from the schema,
E120 for the tree); a mistake in a shipped form is a piasite bug, so `shipped_forms` raises
FormError instead (tests load every shipped form).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import tomli

from . import schema
from .diagnostics import Diagnostic, Severity, error
from .model import CONTAINER_KINDS, VALUE_KINDS, Choices, Form, FormNode
from .source import TomlDoc

FORMS_DIR = Path(__file__).parent / "forms"


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


def read_form(doc: TomlDoc, path: PurePosixPath, digest: str = "") -> tuple[Form | None, list[Diagnostic]]:
    """One parsed form file as a Form tree, or None with the diagnostics saying why."""
    checked = schema.validate_doc(doc, path, schema.FORM)
    diags = list(checked.diagnostics)
    data: dict = checked.value or {}  # type: ignore[assignment]
    meta = data.get("form")
    if meta is None:
        return None, diags
    where = schema.where_in(doc, path)
    choices = {name: Choices(tuple(c["options"]), c.get("note", ""))
               for name, c in data.get("choices", {}).items()}

    def bad(i: int, message: str) -> None:
        diags.append(error("E120", f"様式の定義が正しくありません: {message}", where(("node", i))))

    by_id: dict[str, dict] = {}
    children: dict[str | None, list[str]] = {}
    for i, raw in enumerate(data.get("node", [])):
        if raw is None:  # reported by the schema
            continue
        nid, kind = raw["id"], raw["kind"]
        if nid in by_id:
            bad(i, f"節点の id「{nid}」が2つあります")
            continue
        if kind in VALUE_KINDS and not raw.get("key"):
            bad(i, f"値の節点「{nid}」に key がありません")
            continue
        ch = raw.get("choices")
        if kind == "select" and not isinstance(ch, list) and ch not in choices:
            bad(i, f"節点「{nid}」の選択肢「{ch}」が [choices] にありません")
            continue
        parent = _parent_id(nid, by_id)
        if parent is not None and by_id[parent]["kind"] not in CONTAINER_KINDS:
            bad(i, f"節点「{nid}」の親「{parent}」は節（section など）ではありません")
            continue
        by_id[nid] = raw
        children.setdefault(parent, []).append(nid)
    if any(d.severity is Severity.ERROR for d in diags):
        return None, diags

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
            heading=raw.get("heading", False),
            hide_label=raw.get("hide_label", False),
            show_number=raw.get("show_number", False),
            required=raw.get("required", True),
            item_label=raw.get("item_label", ""),
            numbered=raw.get("numbered", True),
            systems=raw.get("systems", False),
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
        path=path.as_posix(),
        digest=digest,
    ), diags


def parse_form(data: dict, path: str = "", digest: str = "") -> Form:
    """A form from already parsed TOML; raises FormError at its first mistake."""
    form, diags = read_form(TomlDoc(data, MappingProxyType({})), PurePosixPath(path), digest)
    problems = [d for d in diags if d.severity is Severity.ERROR]
    if form is None or problems:
        raise FormError(f"{path}: " + (problems[0].message if problems else "unreadable"))
    return form


@functools.cache
def shipped_forms() -> MappingProxyType[str, Form]:
    """All forms in piasite/forms/, keyed by form id."""
    forms = {}
    for p in sorted(FORMS_DIR.glob("*.toml")):
        raw = p.read_bytes()
        form = parse_form(tomli.loads(raw.decode("utf-8")), p.name, hashlib.sha256(raw).hexdigest())
        if form.id != p.stem:
            raise FormError(f"{p.name}: [form].id {form.id!r} differs from the file name")
        forms[form.id] = form
    return MappingProxyType(forms)
