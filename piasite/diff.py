"""Compare two versions of an assessment item by item: the data behind a 新旧対照表.

Items are aligned by their stable ids (never by lines), so a renumbered system still lines up
with its old self. Inside a changed item the text is compared in 字句 a reader would underline:
dates and numbers stay whole, the rest is split into words by Sudachi (compiled, its dictionary
in the sudachidict_core wheel) in its middle split mode B, so 又は → 若しくは is one change, not
three, and a term that was replaced (通知カード → 個人番号通知書) is marked whole instead of
around a shared character. Results are cached by content, so an unchanged pair costs nothing on
a rebuild (research/anchors.md §4 and docs/benchmarks.md, "新旧対照表 tokenizer", measured the
options).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import routes
from .model import Affair, Item, Revision, Site
from .normalize import PLACEHOLDERS, item_text

try:  # difflib's algorithm compiled: the same opcodes, 3-5x quicker (docs/benchmarks.md)
    from cydifflib import SequenceMatcher
except ImportError:  # no wheel for this Python (pyproject.toml): the standard library's
    from difflib import SequenceMatcher

# A 和暦/西暦 date, a number with its unit-less digits, or a run of spaces: kept whole.
_ATOM = re.compile(
    r"(?:明治|大正|昭和|平成|令和)\s*(?:元|[0-9０-９]{1,2})\s*年(?:\s*[0-9０-９]{1,2}\s*月(?:\s*[0-9０-９]{1,2}\s*日)?)?"
    r"|[0-9]{4}[/-][0-9]{1,2}(?:[/-][0-9]{1,2})?"
    r"|[0-9０-９]+(?:[.,．，][0-9０-９]+)*"
    r"|\s+"
)
# Below this similarity a changed text is shown as replaced whole, not as confetti.
_MIN_RATIO = 0.3
# An unchanged run this short between two changes is marked with them (see _absorb_islands).
_ISLAND = 1
# Part of every cache key: a change to how texts are compared must not reuse old results.
ALGORITHM = "3"
# Texts are cut after each 。 (_words), and a sentence longer than _MAX_CHARS every _MAX_CHARS:
# Sudachi refuses an input over 49,149 bytes (rarely needed: what is tokenized is the text
# between two dates, numbers or spaces).
_MAX_CHARS = 10_000
_SENTENCE = re.compile(r"[^。]*。|[^。]+")


@dataclass(frozen=True, slots=True)
class Segment:
    op: str
    """``equal``, ``insert`` or ``delete``."""
    text: str


@dataclass(frozen=True, slots=True)
class FieldDiff:
    anchor: str
    title: str
    """Where the item sits: ``II しきい値判断項目 › 1. 対象人数 › いつ時点の計数か``."""
    status: str
    """``changed``, ``added`` (新設), ``removed`` (削る), ``unchanged`` or ``unknown``."""
    old_text: str
    new_text: str
    old: tuple[Segment, ...] = ()
    new: tuple[Segment, ...] = ()
    in_new: bool = True
    """Whether the newer version has this item at all (where a link to it can point)."""


@dataclass(frozen=True, slots=True)
class RevisionDiff:
    muni: str
    affair: str
    old_id: str
    new_id: str
    fields: tuple[FieldDiff, ...]

    @property
    def url(self) -> str:
        return routes.diff(self.muni, self.affair, self.old_id, self.new_id)

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.fields)

    @property
    def changed(self) -> tuple[FieldDiff, ...]:
        return tuple(f for f in self.fields if f.status not in ("unchanged",))


@functools.cache
def _tokenizer():
    # Loaded only when a text actually changed (the dictionary is memory-mapped, about 0.1 s).
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").tokenizer(SplitMode.B)


def _words(text: str) -> list[str]:
    # Sentence by sentence: a text and its edited self share most of their sentences, and
    # each is cut once (the cut is the same: Sudachi's over the whole text matched its
    # sentences' on every text of the bundled site and of a 100-version corpus).
    return [w for s in _SENTENCE.findall(text) for w in _sentence_words(s)]


@functools.lru_cache(maxsize=16384)
def _sentence_words(sentence: str) -> tuple[str, ...]:
    tok = _tokenizer()
    return tuple(m.surface() for i in range(0, len(sentence), _MAX_CHARS)
                 for m in tok.tokenize(sentence[i:i + _MAX_CHARS]))


def tokens(text: str, split: Callable[[str], list[str]] = _words) -> list[str]:
    """Split text into 字句: whole dates and numbers, words (`split`) for the rest."""
    out: list[str] = []
    pos = 0
    for m in _ATOM.finditer(text):
        if m.start() > pos:
            out.extend(split(text[pos:m.start()]))
        out.append(m.group())
        pos = m.end()
    if pos < len(text):
        out.extend(split(text[pos:]))
    return [t for t in out if t]


@functools.lru_cache(maxsize=4096)
def _tokens_of(text: str) -> tuple[str, ...]:
    # A version's text is the new side of one pair and the old side of the next (and of
    # the draft's pair): 23 % of what a build tokenized it had tokenized before, in the
    # same assessment.
    return tuple(tokens(text))


def forget() -> None:
    """Empty the texts' 字句 caches (a build, between assessments: the next one is other
    text)."""
    _tokens_of.cache_clear()
    _sentence_words.cache_clear()


def inline_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Return (old side, new side) segments marking what changed between two texts.

    Lines are aligned first, so only changed paragraphs are cut into morphemes (a one-word
    edit in a long text stays cheap); within them the comparison is by 字句.
    """
    if old == new or "\n" not in old + new:
        return _inline(old, new)
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(Segment("equal", "".join(a[i1:i2])))
            right.append(Segment("equal", "".join(b[j1:j2])))
        else:
            lft, rgt = _inline("".join(a[i1:i2]), "".join(b[j1:j2]))
            left.extend(lft)
            right.extend(rgt)
    return _merge(left), _merge(right)


def _inline(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    if old == new:
        return (Segment("equal", old),), (Segment("equal", new),)
    if not old or old.strip() in PLACEHOLDERS:
        return (Segment("equal", old),) if old else (), (Segment("insert", new),)
    if not new or new.strip() in PLACEHOLDERS:
        return (Segment("delete", old),), (Segment("equal", new),) if new else ()
    a, b = _tokens_of(old), _tokens_of(new)
    sm = SequenceMatcher(None, a, b, autojunk=False)
    if sm.ratio() < _MIN_RATIO:
        return (Segment("delete", old),), (Segment("insert", new),)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in _absorb_islands(sm.get_opcodes(), a):
        if op == "equal":
            left.append(Segment("equal", "".join(a[i1:i2])))
            right.append(Segment("equal", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            left.append(Segment("delete", "".join(a[i1:i2])))
        if j2 > j1:
            right.append(Segment("insert", "".join(b[j1:j2])))
    return _merge(left), _merge(right)


def _absorb_islands(opcodes: list[tuple], a: tuple[str, ...]) -> list[tuple]:
    """Join two changes separated by one character that did not change (a particle, a comma):
    [-厳重-]に[-管理する-] reads as confetti; [-厳重に管理する-] is what a reader underlines."""
    out: list[list] = []
    for op, i1, i2, j1, j2 in opcodes:
        if (out and op != "equal" and len(out) >= 2 and out[-1][0] == "equal"
                and out[-2][0] != "equal" and len("".join(a[out[-1][1]:out[-1][2]]).strip()) <= _ISLAND):
            out.pop()  # the island
            first = out.pop()
            out.append(["replace", first[1], i2, first[3], j2])
            continue
        out.append([op, i1, i2, j1, j2])
    return [tuple(o) for o in out]


def _merge(segs: list[Segment]) -> tuple[Segment, ...]:
    """Join neighbours of one kind; a lone space between two changes joins the change."""
    out: list[Segment] = []
    for s in segs:
        if out and out[-1].op == s.op:
            out[-1] = Segment(s.op, out[-1].text + s.text)
        else:
            out.append(s)
    merged: list[Segment] = []
    i = 0
    while i < len(out):
        s = out[i]
        if (s.op == "equal" and not s.text.strip() and merged and i + 1 < len(out)
                and merged[-1].op != "equal" and out[i + 1].op == merged[-1].op):
            merged[-1] = Segment(merged[-1].op, merged[-1].text + s.text + out[i + 1].text)
            i += 2
            continue
        merged.append(s)
        i += 1
    return tuple(merged)


class DiffCache:
    """Inline diffs keyed by a hash of both texts, kept on disk between builds."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.data: dict[str, list] = {}
        self.computed = 0
        # In-memory layers for the preview server: texts and whole version pairs seen before.
        self.mem: dict[tuple[str, str], tuple] = {}
        self.pairs: dict[tuple, RevisionDiff] = {}
        if path and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                self.data = {}  # a damaged cache is only a slower build

    def get(self, old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
        mem = self.mem.get((old, new))
        if mem is not None:
            return mem
        key = hashlib.sha256(f"{ALGORITHM}\0{old}\0{new}".encode()).hexdigest()
        hit = self.data.get(key)
        if hit is not None:
            result = tuple(Segment(*s) for s in hit[0]), tuple(Segment(*s) for s in hit[1])
        else:
            self.computed += 1
            result = inline_diff(old, new)
            self.data[key] = [[[s.op, s.text] for s in result[0]],
                              [[s.op, s.text] for s in result[1]]]
        self.mem[(old, new)] = result
        return result

    def save(self) -> None:
        if self.path is None or not self.computed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def _leaves(items: tuple[Item, ...], trail: tuple[str, ...] = ()) -> Iterator[tuple[Item, str]]:
    for it in items:
        title = f"{it.node.no} {it.label}".strip() if it.node.kind != "repeat" or not it.value else it.label
        here = (*trail, title) if it.node.kind != "cover" else trail
        if it.children:
            yield from _leaves(it.children, here)
        elif it.node.kind not in ("section", "cover", "repeat"):
            yield it, " › ".join(here)


def _has(item: Item | None) -> bool:
    return item is not None and item.present and not item.absent_in_version


def diff_revisions(old: Revision, new: Revision, cache: DiffCache) -> RevisionDiff:
    """Align two versions by item id and compare each item's text as printed."""
    old_items = {it.anchor: (it, t) for it, t in _leaves(old.items)}
    new_leaves = list(_leaves(new.items))
    new_ids = {it.anchor for it, _ in new_leaves}
    # Items only the old version has are placed after their predecessor in the old order.
    order: list[tuple[str, str]] = [(it.anchor, t) for it, t in new_leaves]
    prev = None
    for anchor, (_, t) in old_items.items():
        if anchor not in new_ids:
            at = next((i + 1 for i, (a, _) in enumerate(order) if a == prev), len(order))
            order.insert(at, (anchor, t))
        prev = anchor
    new_map = {it.anchor: it for it, _ in new_leaves}
    fields = []
    for anchor, title in order:
        o = old_items.get(anchor, (None, ""))[0]
        n = new_map.get(anchor)
        if (o is not None and (o.unknown_in_version or o.lost)) or (n is not None and n.lost):
            fields.append(FieldDiff(anchor, title, "unknown", "", item_text(n) if n else "",
                                    in_new=n is not None))
            continue
        ot = item_text(o) if _has(o) else ""
        nt = item_text(n) if _has(n) else ""
        if _has(o) and not _has(n):
            fields.append(FieldDiff(anchor, title, "removed", ot, "", (Segment("delete", ot),), (),
                                    in_new=n is not None))
        elif _has(n) and not _has(o):
            fields.append(FieldDiff(anchor, title, "added", "", nt, (), (Segment("insert", nt),)))
        elif ot == nt:
            fields.append(FieldDiff(anchor, title, "unchanged", ot, nt))
        else:
            left, right = cache.get(ot, nt)
            fields.append(FieldDiff(anchor, title, "changed", ot, nt, left, right))
    return RevisionDiff(new.muni, new.affair, old.id, new.id, tuple(fields))


def pairs(affair: Affair) -> list[tuple[Revision, Revision]]:
    """Every two versions of an assessment, older first: any pair can be chosen without JS."""
    revs = list(affair.revisions)
    return [(a, b) for i, a in enumerate(revs) for b in revs[i + 1:]]


@dataclass(frozen=True, slots=True)
class Diffs:
    """What the diff stage hands to render."""

    pairs: Mapping[tuple[str, str, str, str], RevisionDiff]
    """Every 新旧対照表, keyed by (muni, affair, old id, new id)."""
    rows: Mapping[tuple[str, str, str], tuple[tuple[tuple[Segment, ...], tuple[Segment, ...]], ...]]
    """Inline marks of each version's 変更箇所 rows (変更前, 変更後), keyed by (muni, affair, id)."""


def diff(site: Site, cache: DiffCache) -> Diffs:
    """Every diff the site shows: version pairs, and the 変更箇所 rows' own 変更前/変更後."""
    out = {}
    rows = {}
    for affair in site.affairs():
        for old, new in pairs(affair):
            key = (affair.muni, affair.slug, old.id, new.id)
            memo = (key, old.digest, new.digest)
            if memo not in cache.pairs:  # same sources, same diff: skip the whole alignment
                cache.pairs[memo] = diff_revisions(old, new, cache)
            out[key] = cache.pairs[memo]
        for rev in affair.revisions:
            rows[(affair.muni, affair.slug, rev.id)] = tuple(
                cache.get(r.before, r.after) for r in rev.changes)
    return Diffs(out, rows)
