"""Resolve the systems each assessment names against the registry, and build back-links.

A system item links to a registry entry by an explicit reference (`system = "slug"`) or by
its label matching the entry's name or an alias (width, spacing and look-alike marks folded).
Back-references list, for every system, each assessment and version that uses it, under
the number and label that document gives it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .diagnostics import Diagnostic, did_you_mean, error, warning
from .model import Item, Revision, Site, System
from .normalize import match_key

# Remarks a document appends to a system name: "(※)", "（予定）".
_TRAILING_REMARK = re.compile(r"[（(](?:※\d*|予定)[)）]$")
# A trailing explanation in brackets: 証明発行システム（コンビニ等の…）.
_TRAILING_PAREN = re.compile(r"\s*[（(][^（()）]*[)）]$")


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
        pattern = _prose_pattern(self.prose)
        lookup = dict(self.prose)
        for m in pattern.finditer(text):
            slug = lookup[m.group()]
            if slug not in seen:
                seen.add(slug)
                yield m.start(), m.end(), slug


_PATTERNS: dict[tuple, re.Pattern] = {}


def _prose_pattern(prose: tuple[tuple[str, str], ...]) -> re.Pattern:
    pat = _PATTERNS.get(prose)
    if pat is None:
        # Longest first, so 中間サーバー・プラットフォーム wins over 中間サーバー.
        pat = re.compile("|".join(re.escape(w) for w, _ in prose))
        _PATTERNS[prose] = pat
    return pat


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
                name = next((c for c in inst.children if c.node.kind == "text"), None)
                if name is None or not isinstance(name.value, str) or not name.value.strip():
                    continue
                ref = inst.explicit_system
                # The name is the first line; a ※ note may follow it in the same cell.
                yield inst.anchor, inst.label, name.value.strip().split("\n")[0], ref, inst


def link(site: Site) -> tuple[LinkIndex, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    systems = {s.slug: s for s in site.systems}
    by_key: dict[str, str] = {}
    for s in site.systems:
        for written in (s.name, *s.aliases):
            k = _key(written)
            other = by_key.get(k)
            if other is not None and other != s.slug:
                diags.append(error("E503", f"表記「{written}」が「{other}」と「{s.slug}」の両方に登録されています",
                                   s.span, related=(systems[other].span,)))
            by_key.setdefault(k, s.slug)
        for r in s.related:
            if r not in systems:
                diags.append(error("E501", f"「related」のシステム「{r}」は登録簿にありません", s.span))

    resolved: dict[tuple[str, str, str, str], str] = {}
    uses: dict[str, list[SystemUse]] = {}
    for affair in site.affairs():
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
    prose = sorted(((w, s.slug) for s in site.systems if s.link_prose
                    for w in {s.name, *s.aliases} if len(w) >= 3),
                   key=lambda x: (-len(x[0]), x[0]))
    index = LinkIndex(
        systems=MappingProxyType(systems),
        uses=MappingProxyType({k: tuple(sorted(v, key=lambda u: (not u.current, u.muni, u.affair,
                                                                  u.revision)))
                               for k, v in uses.items()}),
        resolved=MappingProxyType(resolved),
        prose=tuple(prose),
        keys=MappingProxyType(by_key))
    return index, diags

