"""Resolve the systems each assessment names against the registry, and build back-links.

A system item links to a registry entry by an explicit reference (`system = "slug"`) or by
its label matching the entry's name or an alias (width, spacing and look-alike marks folded).
Back-references list, for every system, each assessment and version that uses it, under
the number and label that document gives it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .diagnostics import Diagnostic, did_you_mean, error, warning
from .model import Affair, Item, Revision, Site, System
from .normalize import item_text, match_key
from .pickling import quick_pickle

# Remarks a document appends to a system name: "(※)", "（予定）".
_TRAILING_REMARK = re.compile(r"[（(](?:※\d*|予定)[)）]$")
# A trailing explanation in brackets: 証明発行システム（コンビニ等の…）.
_TRAILING_PAREN = re.compile(r"\s*[（(][^（()）]*[)）]$")


@quick_pickle
@dataclass(frozen=True, slots=True)
class SystemUse:
    slug: str
    muni: str
    affair: str
    revision: str
    anchor: str
    """Item anchor in that version (the list, or the system's own group)."""
    number: str
    """As the document numbers it: ``3.`` or ``システム3``."""
    label: str
    """As the document writes it."""
    current: bool


@quick_pickle
@dataclass(frozen=True, slots=True)
class Mention:
    """An item of a current version or open draft that names a system in its own words."""

    slug: str
    muni: str
    affair: str
    revision: str
    anchor: str
    before: str
    written: str
    """The name as the document writes it."""
    after: str
    current: bool
    """The version in force (else an open draft)."""


@dataclass(frozen=True, slots=True)
class LinkIndex:
    systems: Mapping[str, System]
    uses: Mapping[str, tuple[SystemUse, ...]]
    """System slug -> every use, current versions first."""
    resolved: Mapping[tuple[str, str, str, str], str]
    """(muni, affair, revision, item anchor or anchor#index) -> system slug."""
    prose: tuple[tuple[str, str], ...]
    """(written form, slug) for linking mentions in free text, longest first."""
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Folded name or alias -> slug."""
    unlinked: tuple[str, ...] = ()
    """Names of systems never linked in free text (link_prose = false): a mention of one is
    not a mention of a shorter name inside it (中間サーバコネクタ is not 中間サーバ)."""
    mentions: Mapping[str, tuple[Mention, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    """System slug -> every item naming it in the current versions and open drafts."""

    def resolve_label(self, label: str) -> str | None:
        return self.keys.get(_key(label))

    def system_for(self, rev: Revision, key: str) -> System | None:
        slug = self.resolved.get((rev.muni, rev.affair, rev.id, key))
        return self.systems.get(slug) if slug else None

    def find_mentions(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, slug) of the first mention of each system in `text`, longest match first."""
        if not self.prose:
            return
        seen: set[str] = set()
        pattern, lookup = _prose_matcher(self.prose, self.unlinked)
        for m in pattern.finditer(text):
            slug = lookup.get(m.group())
            if slug is not None and slug not in seen:
                seen.add(slug)
                yield m.start(), m.end(), slug


_MATCHERS: dict[tuple, tuple[re.Pattern, dict[str, str]]] = {}


def _prose_matcher(prose: tuple[tuple[str, str], ...], unlinked: tuple[str, ...] = ()
                   ) -> tuple[re.Pattern, dict[str, str]]:
    """The pattern of every written name, and written name -> slug (made once: free text is
    searched item by item, thousands of times a version)."""
    hit = _MATCHERS.get((prose, unlinked))
    if hit is None:
        # Longest first, so 中間サーバー・プラットフォーム wins over 中間サーバー, and an unlinked
        # 中間サーバコネクタ over the 中間サーバ inside it.
        words = sorted({w for w, _ in prose} | set(unlinked), key=lambda w: (-len(w), w))
        hit = _MATCHERS[(prose, unlinked)] = (
            re.compile("|".join(re.escape(w) for w in words)), dict(prose))
    return hit


def _key(label: str) -> str:
    return match_key(_TRAILING_REMARK.sub("", label.strip()))


def system_items(rev: Revision) -> Iterator[tuple[str, str, str, str, Item]]:
    """(key, number, label, explicit ref, item) for every system a version names."""
    for item in rev.walk():
        node = item.node
        if not node.systems:
            continue
        if node.kind == "list" and isinstance(item.value, tuple):
            for i, el in enumerate(item.value):
                label = el["label"] if isinstance(el, Mapping) else str(el)
                ref = el.get("system", "") if isinstance(el, Mapping) else ""
                yield f"{item.anchor}#{i}", f"{i + 1}.", label, ref, item
        elif node.kind == "repeat":
            for inst in item.children:
                name = _name_item(inst)
                if name is None or not isinstance(name.value, str) or not name.value.strip():
                    continue
                ref = inst.explicit_system
                # The name is the first line; a ※ note may follow it in the same cell.
                yield inst.anchor, inst.label, name.value.strip().split("\n")[0], ref, inst


def _name_item(inst: Item) -> Item | None:
    """The item naming a system instance: its first free-text item (① システムの名称)."""
    return next((c for c in inst.children if c.node.kind == "text"), None)


def link(site: Site) -> tuple[LinkIndex, list[Diagnostic]]:
    """Resolve every system the site's versions name against the registry."""
    base, diags = registry(site.systems)
    resolved, uses, mentions, more = resolve(site.affairs(), base)
    return with_uses(base, uses, mentions, resolved), diags + more


def registry(systems: tuple[System, ...]) -> tuple[LinkIndex, list[Diagnostic]]:
    """The registry alone (no version resolved yet): names and aliases by key, prose patterns.

    Its own mistakes (one written form for two systems, an unknown related system) are
    reported here once, however many assessments are resolved against it afterwards.
    """
    diags: list[Diagnostic] = []
    by_slug = {s.slug: s for s in systems}
    by_key: dict[str, str] = {}
    for s in systems:
        for written in (s.name, *s.aliases):
            k = _key(written)
            other = by_key.get(k)
            if other is not None and other != s.slug:
                diags.append(error("E503", f"表記「{written}」が「{other}」と「{s.slug}」の両方に登録されています",
                                   s.span, related=(by_slug[other].span,)))
            by_key.setdefault(k, s.slug)
        for r in s.related:
            if r not in by_slug:
                diags.append(error("E501", f"「related」のシステム「{r}」は登録簿にありません", s.span))
    prose = sorted(((w, s.slug) for s in systems if s.link_prose
                    for w in {s.name, *s.aliases} if len(w) >= 3),
                   key=lambda x: (-len(x[0]), x[0]))
    linked = {w for w, _ in prose}
    unlinked = tuple(sorted({w for s in systems if not s.link_prose
                             for w in (s.name, *s.aliases) if len(w) >= 3} - linked))
    return LinkIndex(systems=MappingProxyType(by_slug), uses=MappingProxyType({}),
                     resolved=MappingProxyType({}), prose=tuple(prose),
                     keys=MappingProxyType(by_key), unlinked=unlinked), diags


Resolved = dict[tuple[str, str, str, str], str]


def resolve(affairs: Iterable[Affair], base: LinkIndex
            ) -> tuple[Resolved, dict[str, list[SystemUse]], dict[str, list[Mention]],
                       list[Diagnostic]]:
    """Each system the versions of `affairs` name → its registry slug; the uses of each
    system; and the items of current versions and open drafts that mention one."""
    diags: list[Diagnostic] = []
    systems, by_key = base.systems, base.keys
    resolved: Resolved = {}
    uses: dict[str, list[SystemUse]] = {}
    affairs = list(affairs)
    for affair in affairs:
        current = affair.current
        for rev in affair.revisions:
            for key, number, label, ref, item in system_items(rev):
                span = item.span or rev.span
                if ref:
                    if ref not in systems:
                        diags.append(error("E501", f"システム「{ref}」は登録簿（content/systems/）にありません",
                                           span, hint=did_you_mean(ref, systems)))
                        continue
                    slug = ref
                else:
                    slug = by_key.get(_key(label))
                    if slug is None and _TRAILING_PAREN.search(label.strip()):
                        # 共通基盤システム（庁内連携…） is named by what precedes the brackets
                        slug = by_key.get(_key(_TRAILING_PAREN.sub("", label.strip())))
                    if slug is None:
                        close = difflib.get_close_matches(_key(label), list(by_key), n=1, cutoff=0.5)
                        hint = (f"「{systems[by_key[close[0]]].name}」（{by_key[close[0]]}）ではありませんか"
                                if close else "content/systems/ に登録するか、別名（aliases）に加えてください")
                        diags.append(warning("W502", f"システム名「{label}」は登録簿のどの名称・別名とも一致しません",
                                             span, hint=hint))
                        continue
                resolved[(rev.muni, rev.affair, rev.id, key)] = slug
                uses.setdefault(slug, []).append(SystemUse(
                    slug, rev.muni, rev.affair, rev.id, key.split("#")[0], number, label,
                    rev is current))
    return resolved, uses, _mentions(affairs, base), diags


def with_uses(base: LinkIndex, uses: Mapping[str, Iterable[SystemUse]],
              mentions: Mapping[str, Iterable[Mention]],
              resolved: Resolved | None = None) -> LinkIndex:
    """The registry with the uses and mentions found in some or all assessments."""
    return dataclasses.replace(
        base,
        uses=MappingProxyType({k: tuple(sorted(v, key=lambda u: (not u.current, u.muni, u.affair,
                                                                  u.revision)))
                               for k, v in uses.items()}),
        mentions=MappingProxyType({k: tuple(v) for k, v in mentions.items()}),
        resolved=MappingProxyType(dict(resolved or {})))


_EXCERPT = 30
"""Characters of context on each side of a mention."""
_WS = re.compile(r"\s+")


def _mentions(affairs: Iterable[Affair], scan: LinkIndex) -> dict[str, list[Mention]]:
    """Every item of the current versions and open drafts that names a registry system in the
    document's own words: free text, list notes, table cells and the details written beside a
    ticked box. Not the form's own labels and choices, and not the system lists themselves
    (those are the uses)."""
    out: dict[str, list[Mention]] = {}
    if not scan.prose:
        return {}
    pattern, _ = _prose_matcher(scan.prose, scan.unlinked)
    for affair in affairs:
        current = affair.current
        revs = [current, *(r for r in affair.open_drafts if r is not current)]
        for rev in revs:
            if rev is None:
                continue
            # The preview rebuilds on every save: an unchanged version is not scanned again.
            key = (scan.prose, scan.unlinked, rev.muni, rev.affair, rev.id, rev.digest)
            found = _SCANNED.get(key) if rev.digest else None
            if found is None:
                found = tuple(_scan(rev, scan, pattern))
                if rev.digest:
                    if len(_SCANNED) > 4096:
                        _SCANNED.clear()
                    _SCANNED[key] = found
            for slug, anchor, before, written, after in found:
                out.setdefault(slug, []).append(Mention(slug, rev.muni, rev.affair, rev.id, anchor,
                                                        before, written, after, rev is current))
    return out


_SCANNED: dict[tuple, tuple[tuple[str, str, str, str, str], ...]] = {}


def forget() -> None:
    """Empty the cache above (a build, between assessments)."""
    _SCANNED.clear()


def _scan(rev: Revision, scan: LinkIndex, pattern: re.Pattern) -> Iterator[tuple[str, str, str, str, str]]:
    """(slug, item anchor, text before, name as written, text after) of one version."""
    names = {_name_item(inst).anchor for _, _, _, _, inst in system_items(rev)
             if inst.node.kind == "repeat"}
    for item in rev.walk():
        if item.anchor in names:
            continue
        text = _own_words(item)
        if not text or not pattern.search(text):
            continue
        text = _WS.sub(" ", text).strip()
        for start, end, slug in scan.find_mentions(text):
            before = text[max(0, start - _EXCERPT):start]
            after = text[end:end + _EXCERPT]
            yield (slug, item.anchor, ("…" if start > _EXCERPT else "") + before, text[start:end],
                   after + ("…" if end + _EXCERPT < len(text) else ""))


def _own_words(item: Item) -> str:
    """What the document itself wrote in an item, as one string ('' for the form's words)."""
    node, v = item.node, item.value
    if v is None or item.absent_in_version or item.unknown_in_version:
        return ""
    if node.kind == "text":
        return item_text(item)
    if node.kind == "list":
        labels = "" if node.systems else " ".join(
            el["label"] if isinstance(el, Mapping) else str(el) for el in v)  # type: ignore[union-attr]
        return f"{labels} {item.note}".strip()
    if node.kind == "checks":
        return " ".join(str(el["detail"]) for el in v  # type: ignore[union-attr]
                        if isinstance(el, Mapping) and el.get("detail"))
    if node.kind == "table" and isinstance(v, Mapping):
        cells = [str(c) for r in v.get("rows", ()) for c in r]
        return " ".join([str(v.get("caption", "")), *cells, str(v.get("note", ""))]).strip()
    return ""
