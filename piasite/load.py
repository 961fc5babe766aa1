"""Load site.toml and content/ into an immutable Site, with diagnostics for what is wrong.

This is the only stage that reads content/. Layout:

    content/<muni>/_municipality.toml
    content/<muni>/<affair>/_affair.toml
    content/<muni>/<affair>/<rev>.md              TOML front matter (+++) + Markdown body
    content/<muni>/<affair>/<rev>.changes.toml    its 変更箇所 rows (optional)
    content/<muni>/<affair>/<rev>/index.md        …or a folder: index.md, changes.toml and
                                                  further body-only *.md parts

Every value keeps the Span it came from, so `check` can point at the line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from . import lgcode
from .config import load_config, suggest
from .diagnostics import Diagnostic, Span, error, warning
from .families import load_families
from .forms import FormError, parse_form, shipped_forms
from .model import (
    CLIPPABLE_CELLS,
    CONTAINER_KINDS,
    FORM_KINDS,
    LOST_REASONS,
    READING_CODE,
    READING_REASONS,
    ROW_READING_CELLS,
    SYSTEM_SCOPES,
    VERSION_READINGS,
    Affair,
    ChangeRow,
    Channel,
    CommentPeriod,
    DocPage,
    Form,
    FormNode,
    Item,
    Municipality,
    Opinion,
    Reading,
    Reconstruction,
    Revision,
    Site,
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
    symlink_error,
)
from .wareki import parse_date

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REV_ID = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECTION_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*\{#([^\s{}]+)\}\s*$")
RESERVED_DIRS = {"systems"}

_REVISION_META = {"form", "status", "source", "form_tag", "labels", "reconstructed", "lost",
                  "unpublished", "title", "comment", "readings"}
_STATUSES = {"published": "公表", "draft": "案"}
_CHANGE_KEYS = {"date", "item", "before", "after", "timing", "reason", "field", "source_lines",
                "layout", "clipped", "readings"}


def load(root: Path) -> tuple[Site, list[Diagnostic]]:
    """Read a site folder; never raises for bad content."""
    config, diags = load_config(root)
    forms = _load_forms(root, diags)
    munis = []
    content = root / "content"
    if not content.is_dir():
        diags.append(error("E010", "content/ フォルダがありません", Span(PurePosixPath("content"))))
    else:
        for d in sorted(p for p in content.iterdir() if p.is_dir()):
            if _refused(root, d, diags):
                continue
            if d.name in RESERVED_DIRS or d.name.startswith((".", "_")):
                continue
            m = _load_municipality(root, d, forms, diags)
            if m is not None:
                munis.append(m)
    systems = _load_systems(root, diags)
    families, family_diags = load_families(root, forms)
    diags += family_diags
    return Site(config=config, municipalities=tuple(munis), forms=MappingProxyType(forms),
                systems=systems, families=MappingProxyType(families)), diags


_SYSTEM_KEYS = {"name": str, "scope": str, "operator": str, "aliases": list, "description": str,
                "description_source": str, "related": list, "link_prose": bool}


def _load_systems(root: Path, diags: list[Diagnostic]) -> tuple[System, ...]:
    """The systems registry: content/systems/<slug>.toml."""
    folder = root / "content" / "systems"
    if not folder.is_dir():
        return ()
    out = []
    for p in sorted(folder.glob("*.toml")):
        doc, src = _read_toml(root, p, diags)
        if doc is None:
            continue
        if not SLUG.match(p.stem):
            diags.append(error("E011", f"システムのファイル名「{p.stem}」は英小文字・数字・ハイフンで書いてください",
                               Span(src.path)))
            continue
        v = _check_keys(doc, src.path, _SYSTEM_KEYS, {"name", "scope", "operator"}, diags)
        if not {"name", "scope", "operator"} <= set(v):
            continue
        if v["scope"] not in SYSTEM_SCOPES:
            line, col = doc.pos(("scope",))
            diags.append(error("E104", f"「scope」は {' / '.join(SYSTEM_SCOPES)} のいずれかです",
                               Span(src.path, line, col)))
            continue
        for k in ("aliases", "related"):
            if not all(isinstance(x, str) for x in v.get(k, [])):
                line, col = doc.pos((k,))
                diags.append(error("E102", f"「{k}」は文字列の配列です", Span(src.path, line, col)))
                v[k] = []
        out.append(System(slug=p.stem, name=v["name"], scope=v["scope"], operator=v["operator"],
                          aliases=tuple(v.get("aliases", ())), span=Span(src.path),
                          description=v.get("description", ""),
                          description_source=v.get("description_source", ""),
                          related=tuple(v.get("related", ())),
                          link_prose=v.get("link_prose", True)))
    return tuple(out)


def _load_forms(root: Path, diags: list[Diagnostic]) -> dict[str, Form]:
    """Shipped forms plus the site's own (forms/*.toml), e.g. an edition piasite lacks."""
    forms = dict(shipped_forms())
    local = root / "forms"
    if local.is_dir():
        for p in sorted(local.glob("*.toml")):
            doc, src = _read_toml(root, p, diags)
            if doc is None:
                continue
            try:
                form = parse_form(doc.data, src.path.as_posix())
            except FormError as exc:
                diags.append(error("E120", f"様式の定義が正しくありません: {exc}", Span(src.path)))
                continue
            forms[form.id] = form
    return forms


def _refused(root: Path, p: Path, diags: list[Diagnostic]) -> bool:
    """A symlink out of content/ is reported (E007) and neither listed nor read."""
    if p.is_symlink() and escapes(root, _rel(root, p)):
        diags.append(symlink_error(_rel(root, p)))
        return True
    return False


def _rel(root: Path, p: Path) -> PurePosixPath:
    return PurePosixPath(p.relative_to(root).as_posix())


def _read_toml(root: Path, path: Path, diags: list[Diagnostic]) -> tuple[TomlDoc | None, SourceFile | None]:
    src, ds = read_source(root, _rel(root, path))
    diags.extend(ds)
    if src is None:
        return None, None
    doc, err = parse_toml(src.text)
    if err is not None:
        diags.append(error("E001", f"TOML の構文エラー: {err.message}",
                           Span(src.path, err.line, err.col)))
        return None, src
    return doc, src


def _check_keys(doc: TomlDoc, path: PurePosixPath, schema: Mapping[str, type | tuple],
                required: set[str], diags: list[Diagnostic], prefix: tuple = ()) -> dict:
    """Validate a flat table against {key: type}; return the valid values."""
    table = doc.data
    for p in prefix:
        table = table[p]
    out = {}
    for k, v in table.items():
        line, col = doc.pos((*prefix, k))
        span = Span(path, line, col)
        if k not in schema:
            diags.append(error("E101", f"不明なキー「{k}」です", span, hint=suggest(k, schema)))
        elif not isinstance(v, schema[k]) or (isinstance(v, bool) and schema[k] is int):
            diags.append(error("E102", f"「{k}」の型が違います（{_type_name(schema[k])}が必要です）",
                               span))
        else:
            out[k] = v
    for k in sorted(required - set(table)):
        line, col = doc.pos(prefix) if prefix else (1, 1)
        diags.append(error("E103", f"必須のキー「{k}」がありません", Span(path, line, col)))
    return out


def _type_name(t) -> str:
    names = {str: "文字列", int: "整数", bool: "真偽値（true / false）", list: "配列", dict: "表"}
    if isinstance(t, tuple):
        return "または".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def _load_municipality(root: Path, d: Path, forms: Mapping[str, Form],
                       diags: list[Diagnostic]) -> Municipality | None:
    rel = _rel(root, d)
    if not SLUG.match(d.name):
        diags.append(error("E011", f"団体のフォルダ名「{d.name}」は英小文字・数字・ハイフンで書いてください",
                           Span(rel)))
        return None
    mfile = d / "_municipality.toml"
    if not mfile.is_file():
        diags.append(error("E010", f"{rel}/_municipality.toml がありません", Span(rel)))
        return None
    doc, src = _read_toml(root, mfile, diags)
    if doc is None:
        return None
    schema = {"name": str, "prefecture": str, "code": str, "agency": str, "contact": str}
    v = _check_keys(doc, src.path, schema, {"name", "prefecture", "code", "agency"}, diags)
    # Missing keys were reported; keep going so check lists the assessments' problems too.
    v = {"name": "", "prefecture": "", "code": "", "agency": "", **v}
    problem = lgcode.problem(v["code"]) if v["code"] else None
    if problem:
        line, col = doc.pos(("code",))
        diags.append(error("E203", problem, Span(src.path, line, col)))
    affairs = []
    for a in sorted(p for p in d.iterdir() if p.is_dir()):
        if _refused(root, a, diags) or a.name.startswith((".", "_")):
            continue
        aff = _load_affair(root, d.name, a, forms, diags)
        if aff is not None:
            affairs.append(aff)
    return Municipality(slug=d.name, name=v["name"], prefecture=v["prefecture"], code=v["code"],
                        agency=v["agency"], contact=v.get("contact", ""),
                        affairs=tuple(affairs), span=Span(src.path))


def _load_affair(root: Path, muni: str, d: Path, forms: Mapping[str, Form],
                 diags: list[Diagnostic]) -> Affair | None:
    rel = _rel(root, d)
    if not SLUG.match(d.name):
        diags.append(error("E011", f"事務のフォルダ名「{d.name}」は英小文字・数字・ハイフンで書いてください",
                           Span(rel)))
        return None
    afile = d / "_affair.toml"
    if not afile.is_file():
        diags.append(error("E010", f"{rel}/_affair.toml がありません", Span(rel)))
        return None
    doc, src = _read_toml(root, afile, diags)
    if doc is None:
        return None
    schema = {"name": str, "number": int, "title": str, "kind": str}
    v = _check_keys(doc, src.path, schema, set(schema), diags)
    if "kind" not in v:
        return None
    v = {"name": "", "number": 0, "title": "", **v}
    if v["kind"] not in FORM_KINDS:
        line, col = doc.pos(("kind",))
        diags.append(error("E104", f"「kind」は {' / '.join(FORM_KINDS)} のいずれかです: 「{v['kind']}」",
                           Span(src.path, line, col)))
        return None

    seen: dict[str, PurePosixPath] = {}
    revisions = []
    entries = []
    for p in sorted(d.iterdir()):
        if _refused(root, p, diags):
            continue
        if p.name.startswith((".", "_")) or p.name.endswith(".changes.toml"):
            continue
        if p.is_file() and p.suffix == ".md":
            entries.append((p.stem, p, None))
        elif p.is_dir():
            entries.append((p.name, p / "index.md", p))
        else:
            diags.append(warning("W012", f"使われないファイルです: 「{p.name}」", Span(_rel(root, p))))
    for rev_id, index, folder in entries:
        rel_index = _rel(root, index)
        if not REV_ID.match(rev_id) or parse_date(rev_id)[0] is None:
            diags.append(error("E201", f"版のファイル名「{rev_id}」は公表日の YYYY-MM-DD にしてください",
                               Span(rel_index)))
            continue
        if rev_id in seen:
            diags.append(error("E202", f"版「{rev_id}」が2つあります", Span(rel_index),
                               related=(Span(seen[rev_id]),)))
            continue
        if not index.is_file():
            diags.append(error("E010", f"{rel_index} がありません", Span(rel_index)))
            continue
        seen[rev_id] = rel_index
        rev = _load_revision_cached(root, muni, d.name, rev_id, index, folder, v["kind"], forms,
                                    diags)
        if rev is not None:
            revisions.append(rev)
    pages = _load_pages(root, d / "_pages", set(seen), diags)
    return Affair(slug=d.name, muni=muni, name=v["name"], number=v["number"], title=v["title"],
                  kind=v["kind"], revisions=tuple(sorted(revisions, key=lambda r: r.id)),
                  span=Span(src.path), pages=pages)


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


_PAGE_RESERVED = {"changes", "diff", "comments"}


def _load_pages(root: Path, folder: Path, rev_ids: set[str],
                diags: list[Diagnostic]) -> tuple[DocPage, ...]:
    """Documents that accompany an assessment: content/<muni>/<affair>/_pages/<slug>.md."""
    if not folder.is_dir():
        return ()
    pages = []
    for p in sorted(folder.glob("*.md")):
        src, ds = read_source(root, _rel(root, p))
        diags.extend(ds)
        if src is None:
            continue
        if not SLUG.match(p.stem) or p.stem in _PAGE_RESERVED or REV_ID.match(p.stem):
            diags.append(error("E011", f"資料のファイル名「{p.stem}」は英小文字・数字・ハイフンで、"
                               "日付や changes / diff 以外にしてください", Span(src.path)))
            continue
        parsed = _front_matter(src, "資料", diags)
        if parsed is None:
            continue
        doc, body, body_line = parsed
        v = _check_keys(doc, src.path, {"title": str, "revision": str, "source": str}, {"title"},
                        diags)
        if "title" not in v:
            continue
        rev = v.get("revision", "")
        if rev and rev not in rev_ids:
            line, col = doc.pos(("revision",))
            diags.append(error("E109", f"資料が属する版「{rev}」がありません", Span(src.path, line, col)))
        pages.append(DocPage(slug=p.stem, title=v["title"], body=body, span=Span(src.path),
                             revision=rev, source=v.get("source", ""), body_line=body_line,
                             digest=hashlib.sha256(src.text.encode()).hexdigest()))
    return tuple(pages)


@dataclass
class _Body:
    text: str
    span: Span
    heading: str


def _split_body(src: SourceFile, body: str, body_line: int,
                diags: list[Diagnostic]) -> dict[str, _Body]:
    """Cut a Markdown body into the sections headed `## label {#id}`."""
    sections: dict[str, _Body] = {}
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
                sections[anchor] = _Body("", span, m.group(2))
                current = anchor
            buf = []
        elif current is None:
            if line.strip():
                diags.append(error("E107", "本文は「## 項目名 {#項目ID}」の見出しの下に書いてください",
                                   Span(src.path, lineno, 1)))
                # one diagnostic per stray block is enough
                current = "\0stray"
                sections[current] = _Body("", Span(src.path, lineno, 1), "")
        else:
            buf.append(line)
    flush()
    sections.pop("\0stray", None)
    return sections


_REVISIONS: dict[tuple, tuple[Revision | None, tuple[Diagnostic, ...]]] = {}
"""Versions loaded before, by the bytes of their files: the preview reloads the whole site on
every save, and binding a long 全項目 version to its form is most of that time."""
_REVISIONS_KEPT = 64


def _version_files(rev_id: str, index: Path, folder: Path | None) -> list[Path]:
    """Every file a version is read from; the last is its 変更箇所 file (which may not exist)."""
    if folder is not None:
        return [index, *sorted(p for p in folder.glob("*.md") if p.name != "index.md"),
                folder / "changes.toml"]
    return [index, index.with_name(f"{rev_id}.changes.toml")]


def _version_digest(root: Path, files: list[Path]) -> str:
    """Hash of a version's files: equal digests render equal pages (and reuse a loaded version)."""
    digest = hashlib.sha256()
    for p in files:
        if p.is_file() and not escapes(root, _rel(root, p)):
            digest.update(p.name.encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


def _load_revision_cached(root: Path, muni: str, affair: str, rev_id: str, index: Path,
                          folder: Path | None, kind: str, forms: Mapping[str, Form],
                          diags: list[Diagnostic]) -> Revision | None:
    """`_load_revision`, reused while none of the files it reads has changed."""
    files = _version_files(rev_id, index, folder)
    digest = _version_digest(root, files)
    args = (root, muni, affair, rev_id, index, folder, kind, forms)
    if any(f.is_symlink() for f in files):  # a link's target can change without its bytes
        return _load_revision(*args, files, digest, diags)
    key = (str(root), muni, affair, rev_id, kind, str(index), str(folder), tuple(sorted(forms)),
           digest)
    hit = _REVISIONS.get(key)
    if hit is None:
        own: list[Diagnostic] = []
        hit = (_load_revision(*args, files, digest, own), tuple(own))
        _REVISIONS[key] = hit
        while len(_REVISIONS) > _REVISIONS_KEPT:
            del _REVISIONS[next(iter(_REVISIONS))]
    diags.extend(hit[1])
    return hit[0]


def _load_revision(root: Path, muni: str, affair: str, rev_id: str, index: Path,
                   folder: Path | None, kind: str, forms: Mapping[str, Form],
                   files: list[Path], digest: str, diags: list[Diagnostic]) -> Revision | None:
    """One version from its `files` (see `_version_files`); `digest` is their hash."""
    src, ds = read_source(root, _rel(root, index))
    diags.extend(ds)
    if src is None:
        return None
    parsed = _front_matter(src, "版", diags)
    if parsed is None:
        return None
    doc, body, body_line = parsed
    data = doc.data
    path = src.path

    def span_of(keypath: tuple) -> Span:
        line, col = doc.pos(keypath)
        return Span(path, line, col)

    form_id = data.get("form")
    if not isinstance(form_id, str) or form_id not in forms:
        hint = suggest(str(form_id), forms) if isinstance(form_id, str) else None
        diags.append(error("E105", f"様式「{form_id}」は定義されていません（{', '.join(forms)}）",
                           span_of(("form",)), hint=hint))
        return None
    form = forms[form_id]
    if form.kind != kind:
        diags.append(error("E105", f"様式「{form_id}」は{FORM_KINDS[form.kind]}の様式ですが、"
                           f"_affair.toml の kind は「{kind}」です", span_of(("form",))))
    status = data.get("status", "published")
    if status not in _STATUSES:
        diags.append(error("E104", f"「status」は {' / '.join(_STATUSES)} のいずれかです: 「{status}」",
                           span_of(("status",))))
        status = "published"
    for k in ("source", "form_tag"):
        if k in data and not isinstance(data[k], str):
            diags.append(error("E102", f"「{k}」は文字列でなければなりません", span_of((k,))))

    labels = data.get("labels", {})
    if not isinstance(labels, dict):
        diags.append(error("E102", "「labels」は表（テーブル）でなければなりません", span_of(("labels",))))
        labels = {}

    # Body: the main file's sections plus any parts in the revision folder.
    bodies = _split_body(src, body, body_line, diags)
    if folder is not None:
        for part in files[1:-1]:
            psrc, pds = read_source(root, _rel(root, part))
            diags.extend(pds)
            if psrc is None:
                continue
            for anchor, b in _split_body(psrc, psrc.text, 1, diags).items():
                if anchor in bodies:
                    diags.append(error("E106", f"本文の項目「#{anchor}」が2回書かれています",
                                       b.span, related=(bodies[anchor].span,)))
                else:
                    bodies[anchor] = b

    lost = data.get("lost", {})
    if not isinstance(lost, dict):
        diags.append(error("E102", "「lost」は表（テーブル）でなければなりません", span_of(("lost",))))
        lost = {}
    for a, why in lost.items():
        if why not in LOST_REASONS:
            diags.append(error("E104", f"「lost」の理由「{why}」は {' / '.join(LOST_REASONS)} のいずれかです",
                               span_of(("lost", a))))
    own_readings, item_readings = _readings(data, span_of, diags)
    recon = _reconstruction(data, span_of, diags)
    absent = set(recon[1]) if recon else set()
    unknown = set(recon[2]) if recon else set()
    binder = _Binder(form, data, span_of, bodies, labels, absent | unknown | set(lost), path,
                     diags)
    items = [_mark(i, unknown, lost, item_readings) for i in binder.bind()]
    by_anchor = {i.anchor: i for it in items for i in it.walk()}  # walked once, used below
    for a in sorted(set(lost) - set(by_anchor)):
        diags.append(error("E101", f"「lost」の「{a}」は様式「{form.id}」の項目ではありません",
                           span_of(("lost", a))))
    for a in sorted(set(item_readings) - set(by_anchor)):
        diags.append(error("E101", f"「readings」の「{a}」は様式「{form.id}」の項目でも、"
                           f"{' / '.join(VERSION_READINGS)} / changes でもありません",
                           span_of(("readings", a)),
                           hint=suggest(a, [*by_anchor, *VERSION_READINGS, "changes"])))
    for a in sorted((absent | unknown) - set(by_anchor)):
        diags.append(error("E101", f"「reconstructed」の「{a}」は様式「{form.id}」の項目ではありません",
                           span_of(("reconstructed",))))
    for anchor, b in bodies.items():
        if anchor not in binder.used_bodies:
            known = [a for a, i in by_anchor.items() if i.node.kind == "text"]
            diags.append(error("E106", f"本文の項目「#{anchor}」は様式「{form.id}」にありません",
                               b.span, hint=suggest(anchor, known)))
    for a in sorted(set(labels) - set(by_anchor)):
        diags.append(error("E101", f"「labels」の「{a}」は様式「{form.id}」の項目ではありません",
                           span_of(("labels", a))))

    published_item = next((i for i in by_anchor.values() if i.node.key == "published"), None)
    published = None
    if published_item is not None and isinstance(published_item.value, str) and published_item.value:
        published, _ = parse_date(published_item.value)
        if published is not None and status == "published" and published.iso() != rev_id:
            diags.append(warning("W204", f"公表日「{published_item.value}」がファイル名の版「{rev_id}」と一致しません",
                                 published_item.span or Span(path)))

    changes, changes_span = _load_changes(root, files[-1], diags)
    unpublished = data.get("unpublished", False)
    if not isinstance(unpublished, bool):
        diags.append(error("E102", "「unpublished」は true か false です", span_of(("unpublished",))))
        unpublished = False
    reconstruction = None
    if recon:
        reconstruction = recon[0]
    return Revision(id=rev_id, muni=muni, affair=affair, form=form, status=status,
                    published=published, items=tuple(items), changes=changes,
                    span=Span(path), source=str(data.get("source", "")),
                    reconstructed=reconstruction, changes_span=changes_span,
                    digest=digest, unpublished=unpublished,
                    form_tag=data["form_tag"] if isinstance(data.get("form_tag"), str) else None,
                    title=data["title"] if isinstance(data.get("title"), str) else "",
                    comment=_comment(data, span_of, diags),
                    anchors=MappingProxyType(by_anchor),
                    readings=MappingProxyType(own_readings))


def _mark(item: Item, unknown: set[str], lost: dict, readings: Mapping[str, Reading]) -> Item:
    """Flag items a reconstructed version cannot know, values the source lost, and values
    that are readings of the source.

    Neither of the first two is "absent": the item exists in this version, its value just
    cannot be shown.
    """
    children = tuple(_mark(c, unknown, lost, readings) for c in item.children)
    if item.anchor in readings:
        item = dataclasses.replace(item, reading=readings[item.anchor])
    if item.anchor in unknown:
        return dataclasses.replace(item, children=children, absent_in_version=False,
                                   unknown_in_version=True)
    if item.anchor in lost and lost[item.anchor] in LOST_REASONS:
        return dataclasses.replace(item, children=children, absent_in_version=False,
                                   lost=lost[item.anchor])
    return dataclasses.replace(item, children=children) if children != item.children else item


def _readings(data: dict, span_of,
              diags: list[Diagnostic]) -> tuple[dict[str, Reading], dict[str, Reading]]:
    """A version's [readings]: (readings of the version itself, readings by item id).

    Keys are item ids, `status`, `form` (VERSION_READINGS) or `changes`, a table of
    変更箇所 cells whose reading holds for every row. Item ids are checked once the
    form is bound (E101 there).
    """
    raw = data.get("readings")
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        diags.append(error("E102", "「readings」は表（テーブル）でなければなりません",
                           span_of(("readings",))))
        return {}, {}
    own: dict[str, Reading] = {}
    items: dict[str, Reading] = {}
    for key, value in raw.items():
        if key == "changes":
            cells = _cell_readings(value, "「readings.changes」",
                                   lambda *sub: span_of(("readings", "changes", *sub)), diags)
            own.update({f"changes.{c}": dataclasses.replace(r, key=f"changes.{c}")
                        for c, r in (cells or {}).items()})
            continue
        reading = _reading(value, key, span_of(("readings", key)), f"「readings」の「{key}」",
                           diags)
        if reading is not None:
            (own if key in VERSION_READINGS else items)[key] = reading
    return own, items


def _cell_readings(value: object, what: str, span_at,
                   diags: list[Diagnostic]) -> dict[str, Reading] | None:
    """`{ date = "…", after = "…" }`: readings of 変更箇所 cells; None when it is malformed."""
    if not isinstance(value, dict):
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
    lines: list = []
    if isinstance(value, dict):
        for k in value:
            if k not in ("reason", "lines"):
                diags.append(error("E101", f"{what}の不明なキー「{k}」です", span,
                                   hint=suggest(k, ("reason", "lines"))))
                return None
        lines = value.get("lines", [])
        if not (isinstance(lines, list) and all(isinstance(x, int) and not isinstance(x, bool)
                                                and x > 0 for x in lines)):
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


_COMMENT_KEYS = {"start": str, "end": str, "period": str, "theme": str, "contact": list,
                 "how": str, "language": str, "without_form": str, "required": list,
                 "results_handling": str, "personal_data": str, "channels": list, "notice": str,
                 "summary": str, "short_reason": str, "results": dict}
_CHANNEL_KINDS = {"post", "fax", "email", "online", "box", "other"}


def _subtable(data: dict, name: str, schema: Mapping[str, type | tuple], span_of,
              diags: list[Diagnostic]) -> tuple[dict | None, bool]:
    """A version's [name] table checked against {key: type}: (the table, or None when it is
    absent or not a table; whether every value has its type). Each unknown key (E101) and
    wrong type (E102) is reported at the key itself, named name.key."""
    raw = data.get(name)
    if raw is None:
        return None, True
    if not isinstance(raw, dict):
        diags.append(error("E102", f"「{name}」は表（テーブル）でなければなりません", span_of((name,))))
        return None, False
    ok = True
    for k, v in raw.items():
        if k not in schema:
            diags.append(error("E101", f"不明なキー「{name}.{k}」です", span_of((name, k)),
                               hint=suggest(k, schema)))
        elif not isinstance(v, schema[k]) or (isinstance(v, bool) and schema[k] is int):
            diags.append(error("E102", f"「{name}.{k}」の型が違います（{_type_name(schema[k])}が必要です）",
                               span_of((name, k))))
            ok = False
    return raw, ok


def _comment(data: dict, span_of, diags: list[Diagnostic]) -> CommentPeriod | None:
    """A draft's [comment] table: the パブリックコメント period and how to take part."""
    raw, ok = _subtable(data, "comment", _COMMENT_KEYS, span_of, diags)
    if raw is None:
        return None
    span = span_of(("comment",))
    dates = {}
    for k in ("start", "end"):
        if k not in raw:
            diags.append(error("E103", f"必須のキー「comment.{k}」がありません", span))
            ok = False
        elif isinstance(raw[k], str):
            jd, problems = parse_date(raw[k])
            for p in problems:
                make = error if p.severity == "error" else warning
                diags.append(make(p.code, f"「comment.{k}」: {p.message}", span_of(("comment", k))))
            if jd is None or jd.day is None:
                if jd is not None:
                    diags.append(error("E301", f"「comment.{k}」は日まで書いてください",
                                       span_of(("comment", k))))
                ok = False
            dates[k] = jd
    channels = []
    for i, ch in enumerate(raw.get("channels", []) if isinstance(raw.get("channels"), list) else []):
        cspan = span_of(("comment", "channels", i))
        if not isinstance(ch, dict) or not isinstance(ch.get("label"), str):
            diags.append(error("E102", "「comment.channels」の各要素は kind と label を持つ表です", cspan))
            continue
        kind = ch.get("kind", "other")
        if kind not in _CHANNEL_KINDS:
            diags.append(error("E104", f"提出方法の kind「{kind}」は {' / '.join(sorted(_CHANNEL_KINDS))} のいずれかです",
                               span_of(("comment", "channels", i, "kind"))))
            continue
        for k in ch:
            if k not in ("kind", "label", "text", "email", "url"):
                diags.append(error("E101", f"不明なキー「comment.channels.{k}」です",
                                   span_of(("comment", "channels", i, k))))
        channels.append(Channel(kind=kind, label=ch["label"], text=str(ch.get("text", "")),
                                email=str(ch.get("email", "")), url=str(ch.get("url", ""))))
    results = raw.get("results") if isinstance(raw.get("results"), dict) else {}
    published = None
    opinions = []
    if results:
        if isinstance(results.get("published"), str):
            published, _ = parse_date(results["published"])
        for i, op in enumerate(results.get("opinions", [])):
            if isinstance(op, dict) and isinstance(op.get("summary"), str) and isinstance(
                    op.get("response"), str):
                opinions.append(Opinion(op["summary"], op["response"], str(op.get("reflected", ""))))
            else:
                diags.append(error("E102", "意見の各要素は summary と response を持つ表です",
                                   span_of(("comment", "results", "opinions", i))))
    if not ok:
        return None

    def strs(k: str) -> tuple[str, ...]:
        return tuple(str(x) for x in raw.get(k, []))

    return CommentPeriod(
        start=dates["start"], end=dates["end"], span=span, period_text=raw.get("period", ""),
        theme=raw.get("theme", ""), contact=strs("contact"), how=raw.get("how", ""),
        language=raw.get("language", ""), without_form=raw.get("without_form", ""),
        required=strs("required"), results_handling=raw.get("results_handling", ""),
        personal_data=raw.get("personal_data", ""), channels=tuple(channels),
        notice=raw.get("notice", ""), summary=raw.get("summary", ""),
        short_reason=raw.get("short_reason", ""), results_published=published,
        opinions=tuple(opinions))


def _reconstruction(data: dict, span_of, diags: list[Diagnostic]):
    schema = {"basis": str, "applied": list, "not_applied": list, "absent": list,
              "unknown": list}
    raw, ok = _subtable(data, "reconstructed", schema, span_of, diags)
    if raw is None or not ok:
        return None
    span = span_of(("reconstructed",))
    if not isinstance(raw.get("basis"), str):
        diags.append(error("E103", "必須のキー「reconstructed.basis」がありません", span))
        return None
    applied = tuple(x for x in raw.get("applied", []) if isinstance(x, int))
    not_applied = []
    for i, x in enumerate(raw.get("not_applied", [])):
        if isinstance(x, dict) and isinstance(x.get("row"), int) and isinstance(x.get("reason"), str):
            not_applied.append((x["row"], x["reason"]))
        else:
            diags.append(error("E102", "「not_applied」の各要素は { row = 番号, reason = \"理由\" } です",
                               span_of(("reconstructed", "not_applied", i))))
    absent = tuple(x for x in raw.get("absent", []) if isinstance(x, str))
    unknown = tuple(x for x in raw.get("unknown", []) if isinstance(x, str))
    return Reconstruction(raw["basis"], applied, tuple(not_applied), span), absent, unknown


class _Binder:
    """Bind a form tree to one revision's values, collecting type diagnostics."""

    def __init__(self, form: Form, data: dict, span_of, bodies: dict[str, _Body],
                 labels: dict, absent: set[str], path: PurePosixPath, diags: list[Diagnostic]):
        self.form, self.data, self.span_of, self.bodies = form, data, span_of, bodies
        self.labels, self.absent, self.path, self.diags = labels, absent, path, diags
        self.used_bodies: set[str] = set()
        self.known_paths: set[tuple] = set()

    def bind(self) -> list[Item]:
        items = [self._node(n, n.id, self.data, ()) for n in self.form.nodes]
        self._unknown_keys(self.data, ())
        return items

    def _lookup(self, ctx: dict, key: str) -> tuple[bool, object, tuple]:
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
        for k, v in table.items():
            path = (*prefix, k)
            if not prefix and k in _REVISION_META:
                continue
            if path not in self.known_paths:
                siblings = [str(p[-1]) for p in self.known_paths
                            if len(p) == len(path) and p[:-1] == prefix]
                if not prefix:
                    siblings += sorted(_REVISION_META)
                self.diags.append(error("E101", f"不明なキー「{'.'.join(map(str, path))}」です",
                                        self.span_of(path), hint=suggest(k, siblings)))
            elif isinstance(v, dict):
                self._unknown_keys(v, path)
            elif isinstance(v, list):
                for i, el in enumerate(v):
                    if isinstance(el, dict) and (*path, i) in self.known_paths:
                        self._unknown_keys(el, (*path, i))

    def _node(self, node: FormNode, anchor: str, ctx: dict, prefix: tuple) -> Item:
        label = self.labels.get(anchor, node.label)
        if isinstance(label, str) is False:
            label = node.label
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
        span = self.span_of((*prefix, *parts))
        if not found:
            if node.required and anchor not in self.absent:
                self.diags.append(error("E103", f"必須の項目「{node.title}」（{node.key}）がありません",
                                        span))
            return Item(node=node, anchor=anchor, label=label, span=span,
                        absent_in_version=anchor in self.absent)
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.diags.append(error("E102", f"「{node.key}」は [[{node.key}]] の表の配列で書いてください",
                                    span))
            return Item(node=node, anchor=anchor, label=label, span=span, present=True)
        instances = []
        seen: dict[str, Span] = {}
        for i, inst in enumerate(value):
            ipath = (*prefix, *parts, i)
            ispan = self.span_of(ipath)
            self.known_paths.add((*ipath, "id"))
            if node.systems:
                self.known_paths.add((*ipath, "system"))
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
            ianchor = f"{anchor}-{key}"
            children = tuple(self._node(c, ianchor + c.id[len(node.id):], inst, ipath)
                             for c in node.children)
            ref = inst.get("system", "") if node.systems else ""
            if not isinstance(ref, str):
                self.diags.append(error("E102", "「system」は登録簿のスラッグ（文字列）です",
                                        self.span_of((*ipath, "system"))))
                ref = ""
            instances.append(Item(node=node, anchor=ianchor, label=f"{node.item_label}{i + 1}",
                                  value=key, present=True, span=ispan, children=children,
                                  explicit_system=ref))
        return Item(node=node, anchor=anchor, label=label, span=span, present=True,
                    children=tuple(instances))

    def _value(self, node: FormNode, anchor: str, label: str, ctx: dict, prefix: tuple) -> Item:
        found, value, parts = self._lookup(ctx, node.key)
        self._register(prefix, parts)
        span = self.span_of((*prefix, *parts))
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
                found, value, span = True, body.text, body.span
        note = ""
        if node.note_key:
            nfound, nvalue, nparts = self._lookup(ctx, node.note_key)
            self._register(prefix, nparts)
            if nfound:
                if isinstance(nvalue, str):
                    note = nvalue
                else:
                    self.diags.append(error("E102", f"「{node.note_key}」は文字列でなければなりません",
                                            self.span_of((*prefix, *nparts))))
        absent = anchor in self.absent
        if not found:
            if node.required and not absent:
                self.diags.append(error(
                    "E103", f"必須の項目「{node.title}」（{node.key}）がありません", span,
                    hint="原本で空欄の項目は空の文字列 \"\" で書いてください"))
            return Item(node=node, anchor=anchor, label=label, span=span, note=note,
                        absent_in_version=absent)
        value = self._typed(node, value, span, prefix, parts)
        return Item(node=node, anchor=anchor, label=label, value=value, present=True, span=span,
                    note=note, absent_in_version=absent)

    def _typed(self, node: FormNode, value: object, span: Span, prefix: tuple, parts: tuple):
        """Check the value's type for its kind; returns the value (or None if unusable)."""
        kind = node.kind

        def bad(expected: str):
            self.diags.append(error("E102", f"「{node.title}」（{node.key}）は{expected}で書いてください",
                                    span))
            return None

        if kind in ("text", "date", "select"):
            if not isinstance(value, str):
                return bad("文字列")
        elif kind == "check":
            if not isinstance(value, bool):
                return bad("true か false")
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | str):
                return bad("整数")
        elif kind == "table":
            rows = value.get("rows") if isinstance(value, dict) else None
            if not isinstance(value, dict) or not isinstance(rows, list) or not all(
                isinstance(r, list) and all(isinstance(c, str) for c in r) for r in rows
            ):
                return bad("{ columns = [...], rows = [[...], ...] } の表")
            cols = value.get("columns", list(node.columns))
            if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
                return bad("columns が文字列の配列の表")
            for k in ("columns", "rows", "caption", "note"):
                self.known_paths.add((*prefix, *parts, k))
            widths = {len(r) for r in rows}
            if cols and widths - {len(cols)}:
                self.diags.append(error("E102", f"「{node.title}」の行の列数が見出し（{len(cols)}列）と合いません",
                                        span))
        elif kind in ("checks", "list"):
            if not isinstance(value, list):
                return bad("配列")
            for i, el in enumerate(value):
                if isinstance(el, dict):
                    self.known_paths.add((*prefix, *parts, i))
                    for k in ("label", "system", "detail"):
                        self.known_paths.add((*prefix, *parts, i, k))
                    if not isinstance(el.get("label"), str):
                        return bad("文字列、または label を持つ表の配列")
                elif not isinstance(el, str):
                    return bad("文字列の配列")
        return value


def _load_changes(root: Path, path: Path,
                  diags: list[Diagnostic]) -> tuple[tuple[ChangeRow, ...], Span | None]:
    """Read a 変更箇所 file: one [[changes]] table per row, as the document prints it."""
    if not path.is_file():
        return (), None
    doc, src = _read_toml(root, path, diags)
    if doc is None:
        return (), None
    for k in doc.data:
        if k != "changes":
            line, col = doc.pos((k,))
            diags.append(error("E101", f"不明なキー「{k}」です（[[changes]] だけを書きます）",
                               Span(src.path, line, col)))
    raw_rows = doc.data.get("changes", [])
    if not isinstance(raw_rows, list):
        line, col = doc.pos(("changes",))
        diags.append(error("E102", "変更箇所は [[changes]] の表の配列で書いてください",
                           Span(src.path, line, col)))
        return (), Span(src.path)
    rows = []
    str_keys = ("date", "item", "before", "after", "timing", "reason", "field", "layout")
    for i, raw in enumerate(raw_rows):
        line, col = doc.pos(("changes", i))
        span = Span(src.path, line, col)
        if not isinstance(raw, dict):
            diags.append(error("E102", "変更箇所の各行は表で書いてください", span))
            continue
        ok = True
        key_spans = {}
        row_readings: dict[str, Reading] | None = {}
        for k, v in raw.items():
            kl, kc = doc.pos(("changes", i, k))
            kspan = key_spans[k] = Span(src.path, kl, kc)
            if k not in _CHANGE_KEYS:
                diags.append(error("E101", f"不明なキー「{k}」です", kspan, hint=suggest(k, _CHANGE_KEYS)))
            elif k == "source_lines":
                if not (isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool)
                                                    for x in v)):
                    diags.append(error("E102", "「source_lines」は行番号（整数）の配列です", kspan))
                    ok = False
            elif k == "clipped":
                if not (isinstance(v, list) and all(x in CLIPPABLE_CELLS for x in v)):
                    diags.append(error("E102", "「clipped」は原本で切れている列名の配列です",
                                       kspan, hint="使える列名: " + " / ".join(CLIPPABLE_CELLS)))
                    ok = False
            elif k == "readings":
                row_readings = _cell_readings(
                    v, f"変更箇所 {i + 1} 行目の「readings」",
                    lambda *sub, i=i: Span(src.path, *doc.pos(("changes", i, "readings", *sub))),
                    diags)
                ok = ok and row_readings is not None
            elif not isinstance(v, str):
                diags.append(error("E102", f"「{k}」は文字列でなければなりません", kspan))
                ok = False
        for k in ("date", "item", "before", "after"):
            if k not in raw:
                diags.append(error("E103", f"変更箇所 {i + 1} 行目に必須のキー「{k}」がありません", span))
                ok = False
        if not ok:
            continue
        vals = {k: raw.get(k, "") for k in str_keys}
        jd, _ = parse_date(vals["date"]) if vals["date"] else (None, [])
        rows.append(ChangeRow(
            index=i + 1, date_text=vals["date"], date=jd, item=vals["item"], before=vals["before"],
            after=vals["after"], timing=vals["timing"], reason=vals["reason"], span=span,
            field=vals["field"], source_lines=tuple(raw.get("source_lines", ())),
            layout=vals["layout"], clipped=tuple(raw.get("clipped", ())),
            key_spans=MappingProxyType(key_spans), readings=MappingProxyType(row_readings or {}),
        ))
    return tuple(rows), Span(src.path)
