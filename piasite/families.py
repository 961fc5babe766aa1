"""Which items of different editions of a form ask the same question: the key of a comparison.

One file per form kind, ``piasite/forms/families/<kind>.toml`` (a site's own
``forms/families/<kind>.toml`` replaces piasite's):

    [family]
    canonical = "zenkoumoku-r6-10"   # its item ids, labels and order name the comparison pages

    [map."zenkoumoku-h30-05"]        # an older edition's items whose id differs
    A3 = ""                          # "" = no counterpart: the item is not compared

An item of another edition of the kind corresponds to the canonical item with the same id (item
ids are stable across editions, docs/forms.md) unless its form's [map] says otherwise. A kind with
a single form needs no file. Mistakes are positioned diagnostics (E121, E122, W123).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from . import schema
from .diagnostics import Diagnostic, Span, error, warning
from .model import VALUE_KINDS, Family, Form
from .source import parse_toml, read_source

SHIPPED_DIR = Path(__file__).resolve().parent / "forms" / "families"
_PACKAGE_ROOT = SHIPPED_DIR.parents[2]


def load_families(root: Path, forms: Mapping[str, Form]) -> tuple[dict[str, Family], list[Diagnostic]]:
    """Every form kind's family: from its file (the site's, else piasite's) or by default."""
    diags: list[Diagnostic] = []
    files: dict[str, tuple[Path, PurePosixPath]] = {}
    for p in sorted(SHIPPED_DIR.glob("*.toml")):
        files[p.stem] = (_PACKAGE_ROOT, PurePosixPath(p.relative_to(_PACKAGE_ROOT).as_posix()))
    local = root / "forms" / "families"
    if local.is_dir():
        for p in sorted(local.glob("*.toml")):
            files[p.stem] = (root, PurePosixPath(p.relative_to(root).as_posix()))
    by_kind: dict[str, list[str]] = {}
    for fid in sorted(forms):
        by_kind.setdefault(forms[fid].kind, []).append(fid)
    families: dict[str, Family] = {}
    for kind, (base, rel) in sorted(files.items()):
        if kind not in by_kind:
            diags.append(error("E121", f"比較の対応表「{kind}」の名前に当たる種類の様式がありません"
                                       f"（{' / '.join(by_kind)}）", Span(rel)))
            continue
        fam = _read(base, rel, kind, forms, by_kind[kind], diags)
        if fam is not None:
            families[kind] = fam
    for kind, ids in by_kind.items():
        if kind in families:
            continue
        if len(ids) > 1:
            diags.append(warning(
                "W123", f"種類「{kind}」の様式が複数あります（{', '.join(ids)}）が、比較の対応表がありません。"
                f"forms/families/{kind}.toml で基準の様式（canonical）を決めてください",
                Span(PurePosixPath(forms[ids[-1]].path or f"forms/{ids[-1]}.toml")),
                hint=f"それまでは「{ids[-1]}」を基準にします"))
        families[kind] = _family(kind, ids[-1], forms, ids, {}, None, None, diags)
    return families, diags


def _read(base: Path, rel: PurePosixPath, kind: str, forms: Mapping[str, Form], ids: list[str],
          diags: list[Diagnostic]) -> Family | None:
    src, ds = read_source(base, rel)
    diags.extend(ds)
    if src is None:
        return None
    doc, err = parse_toml(src.text)
    if doc is None:
        assert err is not None
        diags.append(error("E001", f"TOML の構文エラー: {err.message}", Span(rel, err.line, err.col)))
        return None

    def at(*path) -> Span:
        line, col = doc.pos(path)
        return Span(rel, line, col)

    checked = schema.validate_doc(doc, rel, schema.FAMILY)
    diags.extend(checked.diagnostics)
    data = checked.value if isinstance(checked.value, Mapping) else {}
    canonical = data.get("family", {}).get("canonical")
    if canonical is None:  # missing or not a string: reported by the schema
        return None
    if canonical not in ids:
        diags.append(error("E121", f"基準の様式「{canonical}」は種類「{kind}」の様式にありません"
                                   f"（{', '.join(ids)}）", at("family", "canonical")))
        return None
    explicit: dict[str, dict[str, str]] = {}
    spans: dict[str, Span] = {}
    canon_values = _value_ids(forms[canonical])
    for fid, table in data.get("map", {}).items():
        if fid not in ids or fid == canonical:
            why = "基準の様式そのもの" if fid == canonical else f"種類「{kind}」の様式ではありません"
            diags.append(error("E121", f"対応表の様式「{fid}」は{why}です", at("map", fid)))
            continue
        own = _value_ids(forms[fid])
        spans[fid] = at("map", fid)
        pairs = explicit.setdefault(fid, {})
        for item, target in table.items():
            if item not in own:
                diags.append(error("E122", f"様式「{fid}」に値の項目「{item}」はありません",
                                   at("map", fid, item)))
            elif target and target not in canon_values:
                diags.append(error("E122", f"基準の様式「{canonical}」に値の項目「{target}」はありません",
                                   at("map", fid, item)))
            else:
                pairs[item] = target
    return _family(kind, canonical, forms, ids, explicit, Span(rel), spans, diags)


def _value_ids(form: Form) -> set[str]:
    return {n.id for n in form.walk() if n.kind in VALUE_KINDS}


def _family(kind: str, canonical: str, forms: Mapping[str, Form], ids: list[str],
            explicit: Mapping[str, Mapping[str, str]], span: Span | None,
            spans: Mapping[str, Span] | None, diags: list[Diagnostic]) -> Family:
    canon = _value_ids(forms[canonical])
    items: dict[str, Mapping[str, str]] = {}
    for fid in ids:
        own = [n.id for n in forms[fid].walk() if n.kind in VALUE_KINDS]
        pairs = explicit.get(fid, {})
        out: dict[str, str] = {}
        unmatched = []
        for nid in own:
            target = pairs.get(nid, nid if nid in canon else None)
            if target is None:
                unmatched.append(nid)
            elif target:
                out[nid] = target
        if unmatched and span is not None:
            diags.append(warning(
                "W123", f"様式「{fid}」の項目 {', '.join(unmatched)} は、基準の様式「{canonical}」に同じ id の項目がなく、"
                "対応表にもありません（比較しません）",
                (spans or {}).get(fid, span),
                hint=f"[map.\"{fid}\"] に「項目のid = \"基準の様式の項目のid\"」、対応する項目がなければ \"\" と書いてください"))
        items[fid] = MappingProxyType(out)
    return Family(kind, canonical, MappingProxyType(items), span)
