"""A diagram of one version's systems and the connections that version states, as SVG.

Generated at build time, no JavaScript. National and shared systems are drawn with rounded
corners and a text label in the right column, each municipality's own systems as square
boxes in the left column; the page also gives the same information as a table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .feeds import escape
from .link import LinkIndex, system_items
from .model import Revision

_SPLIT = re.compile(r"[、，,・]\s*|\s+")


@dataclass(frozen=True, slots=True)
class Node:
    slug: str
    name: str
    label: str
    """As the document writes it."""
    number: str
    scope: str
    anchor: str
    url: str

    @property
    def national(self) -> bool:
        return self.scope in ("national", "shared")


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    """Pairs of slugs the document states as connected (③他のシステムとの接続)."""

    def neighbours(self, slug: str) -> list[Node]:
        other = {b if a == slug else a for a, b in self.edges if slug in (a, b)}
        return [n for n in self.nodes if n.slug in other]


def graph(rev: Revision, links: LinkIndex) -> Graph:
    nodes: dict[str, Node] = {}
    for key, number, label, _, _item in system_items(rev):
        slug = links.resolved.get((rev.muni, rev.affair, rev.id, key))
        if slug and slug not in nodes:
            s = links.systems[slug]
            nodes[slug] = Node(slug, s.name, label, number, s.scope, key.split("#")[0], s.url)
    edges: set[tuple[str, str]] = set()
    for key, _, _, _, item in system_items(rev):
        src = links.resolved.get((rev.muni, rev.affair, rev.id, key))
        if not src or item.node.kind != "repeat":
            continue
        for child in item.walk():
            if child.node.kind != "checks" or not isinstance(child.value, tuple):
                continue
            for el in child.value:
                words = [el["label"], el.get("detail", "")] if isinstance(el, Mapping) else [el]
                for w in words:
                    for part in [w, *_SPLIT.split(w)]:
                        dst = links.resolve_label(part) if part else None
                        if dst and dst != src and dst in nodes:
                            edges.add(tuple(sorted((src, dst))))  # type: ignore[arg-type]
    return Graph(tuple(nodes.values()), tuple(sorted(edges)))


_W, _H, _GAP, _COLX = 300, 40, 14, (10, 390)


def svg(g: Graph, title: str, desc: str) -> str:
    """Inline SVG: own systems on the left, national/shared on the right, lines for edges."""
    cols: dict[bool, list[Node]] = {False: [], True: []}
    for n in g.nodes:
        cols[n.national].append(n)
    pos: dict[str, tuple[int, int]] = {}
    for national, items in cols.items():
        for i, n in enumerate(items):
            pos[n.slug] = (_COLX[national], 40 + i * (_H + _GAP))
    height = 40 + max(len(cols[False]), len(cols[True]), 1) * (_H + _GAP)
    width = _COLX[1] + _W + 10
    out = [f'<svg class="system-diagram" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-labelledby="sysdiag-title sysdiag-desc" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<title id="sysdiag-title">{escape(title)}</title>',
           f'<desc id="sysdiag-desc">{escape(desc)}</desc>',
           f'<text x="{_COLX[0]}" y="24" class="col-head">この団体のシステム</text>',
           f'<text x="{_COLX[1]}" y="24" class="col-head">国・全国共通のシステム</text>']
    for a, b in g.edges:
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, x2 = (ax + _W, bx) if ax < bx else ((ax, bx + _W) if ax > bx else (ax + _W, bx + _W))
        out.append(f'<line x1="{x1}" y1="{ay + _H // 2}" x2="{x2}" y2="{by + _H // 2}" '
                   f'class="edge"/>')
    for n in g.nodes:
        x, y = pos[n.slug]
        rx = 14 if n.national else 0
        kind = "国・共通" if n.national else "団体"
        # No links inside: the picture is one image (role="img"); the table beside it links.
        out.append(f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" '
                   f'rx="{rx}" class="node {"national" if n.national else "local"}"/>'
                   f'<text x="{x + 10}" y="{y + 26}" class="node-label">'
                   f'[{kind}] {escape(n.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
