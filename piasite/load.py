"""Load site.toml and content/ into an immutable Site, with diagnostics for what is wrong.

This is the only stage that reads content/. It goes in four steps, one module each:

    discover.py   which files there are (walks content/ and forms/, checks their names)
    schema.py     what each TOML table may hold (one validator for every file)
    bind.py       a version's values bound to its form (the item tree)
    load.py       the model assembled from what passed (this module)

Every value keeps the Span it came from, so `check` can point at the line. Rules about the
content (check digits, dates that disagree, references between files) are `check.py`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from . import schema
from .bind import Marks, bind, bodies_of
from .config import load_config
from .diagnostics import Diagnostic, Span, did_you_mean, error
from .discover import AffairFiles, MunicipalityFiles, SiteFiles, VersionFiles, discover, rel
from .families import load_families
from .forms import read_form, shipped_forms
from .model import (
    FORM_KINDS,
    READING_CODE,
    READING_REASONS,
    ROW_READING_CELLS,
    VERSION_READINGS,
    Affair,
    ChangeRow,
    Channel,
    CommentPeriod,
    DocPage,
    Family,
    Form,
    Municipality,
    Opinion,
    Reading,
    Reconstruction,
    Revision,
    Site,
    SiteConfig,
    System,
)
from .source import (
    FrontMatterError,
    SourceFile,
    TomlDoc,
    escapes,
    parse_toml,
    read_source,
    split_front_matter,
)
from .wareki import parse_date


@dataclass(frozen=True, slots=True)
class Shared:
    """What every assessment is read and rendered against: settings, forms, the registry."""

    config: SiteConfig
    forms: Mapping[str, Form]
    systems: tuple[System, ...]
    families: Mapping[str, Family]


def load(root: Path) -> tuple[Site, list[Diagnostic]]:
    """Read a whole site folder; never raises for bad content."""
    shared, files, diags = load_shared(root)
    munis = []
    for mf in files.municipalities:
        m = municipality(root, mf, diags)
        if m is None:
            continue
        affairs = tuple(a for af in mf.affairs
                        if (a := load_affair(root, m.slug, af, shared.forms, diags)) is not None)
        munis.append(dataclasses.replace(m, affairs=affairs))
    return Site(config=shared.config, municipalities=tuple(munis), forms=shared.forms,
                systems=shared.systems, families=shared.families), diags


def load_shared(root: Path) -> tuple[Shared, SiteFiles, list[Diagnostic]]:
    """site.toml, the forms and their families, the systems registry — and which files the
    site has, so its assessments can then be read one at a time (`load_affair`)."""
    config, diags = load_config(root)
    files, found = discover(root)
    diags += found
    forms = load_forms(root, diags, files.forms)
    systems = tuple(s for p in files.systems if (s := _system(root, p, diags)) is not None)
    families, family_diags = load_families(root, forms)
    diags += family_diags
    return (Shared(config, MappingProxyType(forms), systems, MappingProxyType(families)), files,
            diags)


# --- reading files ------------------------------------------------------------------------


def _read_toml(root: Path, path: Path, diags: list[Diagnostic]) -> tuple[TomlDoc | None, SourceFile | None]:
    src, ds = read_source(root, rel(root, path))
    diags.extend(ds)
    if src is None:
        return None, None
    doc, err = parse_toml(src.text)
    if err is not None:
        diags.append(error("E001", f"TOML の構文エラー: {err.message}",
                           Span(src.path, err.line, err.col)))
        return None, src
    return doc, src


def _front_matter(src: SourceFile, what: str,
                  diags: list[Diagnostic]) -> tuple[TomlDoc, str, int] | None:
    """Split and parse a Markdown file's +++ front matter: (TOML, body, body's first line)."""
    try:
        fm, fm_line, body, body_line = split_front_matter(src.text)
    except FrontMatterError as exc:
        diags.append(error("E004", "フロントマター（+++ で囲んだ TOML）が閉じていません",
                           Span(src.path, exc.line, 1)))
        return None
    if fm is None:
        diags.append(error("E005", f"{what}のファイルは +++ で囲んだ TOML フロントマターで始めてください",
                           Span(src.path, 1, 1)))
        return None
    doc, err = parse_toml(fm, line_offset=fm_line - 1)
    if err is not None:
        diags.append(error("E001", f"TOML の構文エラー: {err.message}",
                           Span(src.path, err.line, err.col)))
        return None
    return doc, body, body_line


def _checked(doc: TomlDoc, src: SourceFile, table: schema.Table,
             diags: list[Diagnostic]) -> dict:
    """The document's values that passed `table` (every problem is a diagnostic)."""
    checked = schema.validate_doc(doc, src.path, table)
    diags.extend(checked.diagnostics)
    return checked.value if isinstance(checked.value, dict) else {}


def _key_spans(doc: TomlDoc, src: SourceFile) -> Mapping[str, Span]:
    where = schema.where_in(doc, src.path)
    return MappingProxyType({k: where((k,)) for k in doc.data})


# --- forms --------------------------------------------------------------------------------


_LOCAL_FORMS: dict[tuple[str, str], tuple[Form | None, tuple[Diagnostic, ...]]] = {}
"""A site's own forms read before, by path and text (the preview reloads on every save)."""


def load_forms(root: Path, diags: list[Diagnostic],
               local: tuple[Path, ...] | None = None) -> dict[str, Form]:
    """Shipped forms plus the site's own (forms/*.toml), e.g. an edition piasite lacks."""
    forms = dict(shipped_forms())
    if local is None:
        local = discover(root)[0].forms
    for p in local:
        src, ds = read_source(root, rel(root, p))
        diags.extend(ds)
        if src is None:
            continue
        key = (src.path.as_posix(), src.text)
        if key not in _LOCAL_FORMS:
            own: list[Diagnostic] = []
            doc, err = parse_toml(src.text)
            if err is not None:
                own.append(error("E001", f"TOML の構文エラー: {err.message}",
                                 Span(src.path, err.line, err.col)))
                form = None
            else:
                assert doc is not None
                form, found = read_form(doc, src.path, hashlib.sha256(src.text.encode()).hexdigest())
                own += found
            _LOCAL_FORMS[key] = (form, tuple(own))
            while len(_LOCAL_FORMS) > 32:
                del _LOCAL_FORMS[next(iter(_LOCAL_FORMS))]
        form, found_diags = _LOCAL_FORMS[key]
        diags.extend(found_diags)
        if form is not None:
            forms[form.id] = form
    return forms


# --- the systems registry -----------------------------------------------------------------


def _system(root: Path, p: Path, diags: list[Diagnostic]) -> System | None:
    """One registry entry: content/systems/<slug>.toml."""
    doc, src = _read_toml(root, p, diags)
    if doc is None or src is None:
        return None
    v = _checked(doc, src, schema.SYSTEM, diags)
    if not {"name", "scope", "operator"} <= set(v):
        return None
    return System(slug=p.stem, name=v["name"], scope=v["scope"], operator=v["operator"],
                  aliases=tuple(v.get("aliases", ())), span=Span(src.path),
                  description=v.get("description", ""),
                  description_source=v.get("description_source", ""),
                  related=tuple(v.get("related", ())), link_prose=v.get("link_prose", True))


# --- municipalities, assessments, documents -----------------------------------------------


def municipality(root: Path, mf: MunicipalityFiles, diags: list[Diagnostic]) -> Municipality | None:
    """A municipality's own settings (its assessments are read apart: `load_affair`)."""
    doc, src = _read_toml(root, mf.meta, diags)
    if doc is None or src is None:
        return None
    # Missing keys were reported; keep going so check lists the assessments' problems too.
    v = {"name": "", "prefecture": "", "code": "", "agency": "", "contact": "",
         **_checked(doc, src, schema.MUNICIPALITY, diags)}
    return Municipality(slug=mf.slug, name=v["name"], prefecture=v["prefecture"], code=v["code"],
                        agency=v["agency"], contact=v["contact"], affairs=(),
                        span=Span(src.path), key_spans=_key_spans(doc, src))


def affair_kind(root: Path, af: AffairFiles) -> str | None:
    """The kind an assessment's _affair.toml declares, if it declares a valid one (read before
    the assessment is built; its mistakes are reported when it is)."""
    doc, src = _read_toml(root, af.meta, [])
    if doc is None or src is None:
        return None
    return _checked(doc, src, schema.AFFAIR, []).get("kind")


def load_affair(root: Path, muni: str, af: AffairFiles, forms: Mapping[str, Form],
                diags: list[Diagnostic]) -> Affair | None:
    """One assessment with every version and accompanying document in it."""
    doc, src = _read_toml(root, af.meta, diags)
    if doc is None or src is None:
        return None
    v = _checked(doc, src, schema.AFFAIR, diags)
    if "kind" not in v:
        return None
    v = {"name": "", "number": 0, "title": "", **v}
    revisions = [r for vf in af.versions
                 if (r := _version(root, muni, af.slug, v["kind"], vf, forms, diags)) is not None]
    pages = tuple(d for p in af.pages if (d := _document(root, p, diags)) is not None)
    return Affair(slug=af.slug, muni=muni, name=v["name"], number=v["number"], title=v["title"],
                  kind=v["kind"], revisions=tuple(sorted(revisions, key=lambda r: r.id)),
                  span=Span(src.path), pages=pages,
                  version_ids=tuple(vf.id for vf in af.versions))


def _document(root: Path, p: Path, diags: list[Diagnostic]) -> DocPage | None:
    """A document that came with the assessment: content/<muni>/<affair>/_pages/<slug>.md."""
    src, ds = read_source(root, rel(root, p))
    diags.extend(ds)
    if src is None:
        return None
    parsed = _front_matter(src, "資料", diags)
    if parsed is None:
        return None
    doc, body, body_line = parsed
    v = _checked(doc, src, schema.DOCUMENT, diags)
    if "title" not in v:
        return None
    return DocPage(slug=p.stem, title=v["title"], body=body, span=Span(src.path),
                   revision=v.get("revision", ""), source=v.get("source", ""),
                   body_line=body_line, digest=hashlib.sha256(src.text.encode()).hexdigest(),
                   key_spans=_key_spans(doc, src))


# --- versions -----------------------------------------------------------------------------


_REVISIONS: dict[tuple, tuple[Revision | None, tuple[Diagnostic, ...]]] = {}
"""Versions loaded before, keyed by everything their loading reads: the bytes of their files,
the affair's kind and every form's definition (a version names its form by id, and an E105
lists the ids). The preview reloads the whole site on every save, and binding a long 全項目
version to its form is most of that time."""
_REVISIONS_KEPT = 64


def forget() -> None:
    """Empty the cache above (a build, between assessments)."""
    _REVISIONS.clear()


def _digest(root: Path, files: tuple[Path, ...]) -> str:
    """Hash of a version's files: equal digests render equal pages (and reuse a loaded version)."""
    digest = hashlib.sha256()
    for p in files:
        if p.is_file() and not escapes(root, rel(root, p)):
            digest.update(p.name.encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


def _version(root: Path, muni: str, affair: str, kind: str, vf: VersionFiles,
             forms: Mapping[str, Form], diags: list[Diagnostic]) -> Revision | None:
    """`_read_version`, reused while nothing it reads has changed."""
    digest = _digest(root, vf.files)
    if any(f.is_symlink() for f in vf.files):  # a link's target can change without its bytes
        rev, own = _read_version(root, muni, affair, kind, vf, forms, digest)
        diags.extend(own)
        return rev
    key = (str(root), muni, affair, kind, vf, digest,
           tuple(sorted((f.id, f.digest) for f in forms.values())))
    hit = _REVISIONS.get(key)
    if hit is None:
        hit = _REVISIONS[key] = _read_version(root, muni, affair, kind, vf, forms, digest)
        while len(_REVISIONS) > _REVISIONS_KEPT:
            del _REVISIONS[next(iter(_REVISIONS))]
    diags.extend(hit[1])
    return hit[0]


def _read_version(root: Path, muni: str, affair: str, kind: str, vf: VersionFiles,
                  forms: Mapping[str, Form],
                  digest: str) -> tuple[Revision | None, tuple[Diagnostic, ...]]:
    """One version: its front matter checked, its values bound to its form, its 変更箇所 read."""
    diags: list[Diagnostic] = []
    src, ds = read_source(root, rel(root, vf.index))
    diags.extend(ds)
    parsed = _front_matter(src, "版", diags) if src is not None else None
    if src is None or parsed is None:
        return None, tuple(diags)
    doc, body, body_line = parsed
    where = schema.where_in(doc, src.path)
    meta = _checked(doc, src, schema.VERSION, diags)
    form = _form(meta, forms, kind, where, diags)
    if form is None:
        return None, tuple(diags)
    parts = [p for part in vf.parts if (p := _read_part(root, part, diags)) is not None]
    bodies = bodies_of(src, body, body_line, parts, diags)
    recon = meta.get("reconstructed")
    own_readings, item_readings = _readings(meta.get("readings", {}), where, diags)
    marks = Marks(labels=meta.get("labels", {}), lost=meta.get("lost", {}),
                  absent=frozenset(recon.get("absent", ())) if recon else frozenset(),
                  unknown=frozenset(recon.get("unknown", ())) if recon else frozenset(),
                  readings=MappingProxyType(item_readings))
    bound = bind(form, doc.data, bodies, marks, where, diags)
    changes, changes_span = _changes(root, vf.changes, diags)
    rev = Revision(
        id=vf.id, muni=muni, affair=affair, form=form,
        status=meta.get("status", "published"), published=_published(bound.anchors),
        items=bound.items, changes=changes, span=Span(src.path), source=meta.get("source", ""),
        reconstructed=_reconstruction(recon, where(("reconstructed",))),
        changes_span=changes_span,
        digest=hashlib.sha256(f"{digest}\0{form.digest}".encode()).hexdigest(),
        unpublished=meta.get("unpublished", False), form_tag=meta.get("form_tag"),
        title=meta.get("title", ""), comment=_comment(meta.get("comment"), where(("comment",))),
        anchors=bound.anchors, readings=MappingProxyType(own_readings))
    return rev, tuple(diags)


def _read_part(root: Path, p: Path, diags: list[Diagnostic]) -> SourceFile | None:
    src, ds = read_source(root, rel(root, p))
    diags.extend(ds)
    return src


def _form(meta: dict, forms: Mapping[str, Form], kind: str, where: schema.Where,
          diags: list[Diagnostic]) -> Form | None:
    """The form a version names (E105 when there is no such form or it is of another kind)."""
    form_id = meta.get("form")
    if form_id is None:  # missing or not a string: reported by the schema
        return None
    form = forms.get(form_id)
    if form is None:
        diags.append(error("E105", f"様式「{form_id}」は定義されていません（{', '.join(forms)}）",
                           where(("form",)), hint=did_you_mean(form_id, forms)))
        return None
    if form.kind != kind:
        diags.append(error("E105", f"様式「{form_id}」は{FORM_KINDS[form.kind]}の様式ですが、"
                           f"_affair.toml の kind は「{kind}」です", where(("form",))))
    return form


def _published(anchors: Mapping) -> object:
    """The 公表日 the version states (the item keyed `published`), when it is a date."""
    item = next((i for i in anchors.values() if i.node.key == "published"), None)
    if item is None or not isinstance(item.value, str) or not item.value:
        return None
    return parse_date(item.value)[0]


def _reconstruction(raw: dict | None, span: Span) -> Reconstruction | None:
    if raw is None:
        return None
    return Reconstruction(raw["basis"], tuple(raw.get("applied", ())),
                          tuple((x["row"], x["reason"]) for x in raw.get("not_applied", ())
                                if x is not None), span)


def _comment(raw: dict | None, span: Span) -> CommentPeriod | None:
    """A draft's [comment] table: the パブリックコメント period and how to take part."""
    if raw is None:
        return None
    results = raw.get("results", {})
    published = results.get("published")
    return CommentPeriod(
        start=parse_date(raw["start"])[0], end=parse_date(raw["end"])[0],  # type: ignore[arg-type]
        span=span, period_text=raw.get("period", ""), theme=raw.get("theme", ""),
        contact=tuple(raw.get("contact", ())), how=raw.get("how", ""),
        language=raw.get("language", ""), without_form=raw.get("without_form", ""),
        required=tuple(raw.get("required", ())), results_handling=raw.get("results_handling", ""),
        personal_data=raw.get("personal_data", ""),
        channels=tuple(Channel(kind=ch.get("kind", "other"), label=ch["label"],
                               text=ch.get("text", ""), email=ch.get("email", ""),
                               url=ch.get("url", ""))
                       for ch in raw.get("channels", ()) if ch is not None),
        notice=raw.get("notice", ""), summary=raw.get("summary", ""),
        short_reason=raw.get("short_reason", ""),
        results_published=parse_date(published)[0] if published else None,
        opinions=tuple(Opinion(op["summary"], op["response"], op.get("reflected", ""))
                       for op in results.get("opinions", ()) if op is not None))


def _changes(root: Path, path: Path | None,
             diags: list[Diagnostic]) -> tuple[tuple[ChangeRow, ...], Span | None]:
    """A 変更箇所 file: one [[changes]] table per row, as the document prints it."""
    if path is None or not path.is_file():
        return (), None
    doc, src = _read_toml(root, path, diags)
    if doc is None or src is None:
        return (), None
    rows = _checked(doc, src, schema.CHANGES, diags).get("changes", ())
    where = schema.where_in(doc, src.path)
    out = []
    for i, row in enumerate(rows):
        if row is None:  # its problems were reported; the other rows keep their numbers
            continue
        written = doc.data["changes"][i]
        out.append(ChangeRow(
            index=i + 1, date_text=row["date"], date=parse_date(row["date"])[0] if row["date"] else None,
            item=row["item"], before=row["before"], after=row["after"],
            timing=row.get("timing", ""), reason=row.get("reason", ""), span=where(("changes", i)),
            field=row.get("field", ""), source_lines=tuple(row.get("source_lines", ())),
            layout=row.get("layout", ""), clipped=tuple(row.get("clipped", ())),
            readings=MappingProxyType(_cell_readings(
                row.get("readings", {}), f"変更箇所 {i + 1} 行目の「readings」",
                lambda *sub, i=i: where(("changes", i, "readings", *sub)), diags) or {}),
            key_spans=_RowSpans(where, i, tuple(written))))
    return tuple(out), Span(src.path)


class _RowSpans(Mapping):
    """Where each key of a 変更箇所 row is written, worked out when a diagnostic asks: a
    build asks for few of the rows' keys (working out all of them was 1 % of a build)."""

    __slots__ = ("_keys", "_row", "_where")

    def __init__(self, where: schema.Where, row: int, keys: tuple[str, ...]) -> None:
        self._where, self._row, self._keys = where, row, keys

    def __getitem__(self, key: str) -> Span:
        if key not in self._keys:
            raise KeyError(key)
        return self._where(("changes", self._row, key))

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)



# --- readings -----------------------------------------------------------------------------
# The schema checks that [readings] (and a row's `readings`) maps names to a string or a table;
# what a reading may say (a reason code or a sentence, the source lines) is read here.


def _readings(raw: Mapping, where: schema.Where,
              diags: list[Diagnostic]) -> tuple[dict[str, Reading], dict[str, Reading]]:
    """A version's [readings]: (readings of the version itself, readings by item id).

    Keys are item ids, `status`, `form` (VERSION_READINGS) or `changes`, a table of
    変更箇所 cells whose reading holds for every row. Item ids are checked once the
    form is bound (bind.py, E101 there).
    """
    own: dict[str, Reading] = {}
    items: dict[str, Reading] = {}
    for key, value in raw.items():
        if key == "changes":
            cells = _cell_readings(value, "「readings.changes」",
                                   lambda *sub: where(("readings", "changes", *sub)), diags)
            own.update({f"changes.{c}": dataclasses.replace(r, key=f"changes.{c}")
                        for c, r in (cells or {}).items()})
            continue
        reading = _reading(value, key, where(("readings", key)), f"「readings」の「{key}」",
                           diags)
        if reading is not None:
            (own if key in VERSION_READINGS else items)[key] = reading
    return own, items


def _cell_readings(value: object, what: str, span_at,
                   diags: list[Diagnostic]) -> dict[str, Reading] | None:
    """`{ date = "…", after = "…" }`: readings of 変更箇所 cells; None when it is malformed."""
    if not isinstance(value, Mapping):
        diags.append(error("E102", f"{what}は {{ 列名 = \"理由\" }} の表です", span_at(),
                           hint="使える列名: " + " / ".join(ROW_READING_CELLS)))
        return None
    out = {}
    ok = True
    for cell, v in value.items():
        if cell not in ROW_READING_CELLS:
            diags.append(error("E101", f"{what}の列名「{cell}」は使えません", span_at(cell),
                               hint="使える列名: " + " / ".join(ROW_READING_CELLS)))
            ok = False
            continue
        reading = _reading(v, cell, span_at(cell), f"{what}の「{cell}」", diags)
        if reading is None:
            ok = False
        else:
            out[cell] = reading
    return out if ok else None


def _reading(value: object, key: str, span: Span, what: str,
             diags: list[Diagnostic]) -> Reading | None:
    """One reading: a reason (code or sentence), or `{ reason = "…", lines = [行, …] }`."""
    lines: object = ()
    if isinstance(value, Mapping):
        for k in value:
            if k not in ("reason", "lines"):
                diags.append(error("E101", f"{what}の不明なキー「{k}」です", span,
                                   hint=did_you_mean(k, ("reason", "lines"))))
                return None
        lines = value.get("lines", ())
        if not (isinstance(lines, list | tuple) and all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in lines)):
            diags.append(error("E102", f"{what}の「lines」は原本の行番号（正の整数）の配列です", span))
            return None
        if "reason" not in value:
            diags.append(error("E103", f"{what}に必須のキー「reason」がありません", span))
            return None
        value = value["reason"]
    if not isinstance(value, str):
        diags.append(error("E102", f"{what}は理由（文字列）か {{ reason = \"…\", lines = [行, …] }} です",
                           span))
        return None
    reason = value.strip()
    if not reason:
        diags.append(error("E103", f"{what}の理由が空です", span,
                           hint="理由の記号: " + " / ".join(READING_REASONS)))
        return None
    if READING_CODE.fullmatch(reason):
        if reason not in READING_REASONS:
            diags.append(error("E104", f"{what}の理由「{reason}」は理由の記号にありません", span,
                               hint="理由の記号: " + " / ".join(READING_REASONS)
                               + "（または日本語の文で書きます）"))
            return None
        return Reading(key, READING_REASONS[reason], span, code=reason, lines=tuple(lines))
    return Reading(key, reason, span, lines=tuple(lines))
