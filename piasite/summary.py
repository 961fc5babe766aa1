"""What the site-wide pages need from each assessment: small, plain, picklable.

A large site is built one assessment at a time (each in a worker process); the home page,
the municipality pages, the systems registry, the comments list, the feed and the comparison
pages are then made from these summaries, so no stage needs every assessment in memory.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from . import compare
from .feeds import FeedEntry
from .link import LinkIndex, SystemUse, with_uses
from .model import Family, Form, Municipality, System
from .pickling import quick_pickle


@quick_pickle
@dataclass(frozen=True, slots=True)
class AffairSummary:
    muni: str
    slug: str
    title: str
    """評価書名, as the registry pages name the assessment."""
    index: dict
    """The assessment as the home and municipality pages list it (views.affair_index)."""
    consultations: tuple[dict, ...]
    """views.consultation_view of every version with a comment period (for /comments/)."""
    feed: tuple[FeedEntry, ...]
    uses: Mapping[str, tuple[SystemUse, ...]]
    """System slug → where this assessment's versions list it."""
    mentions: Mapping[str, str]
    """System slug → the digest of the items naming it, as its page lists them
    (views.mention_views, pickled). The items wait in the store (compare.EntryStore) until
    that page is made, which is seldom in a rebuild: at 1,000 versions they were a third of
    what the parent held of the assessments (130 KB each)."""
    blobs: Mapping[str, bytes]
    """Digest → those items, until they are in the store (`stored`)."""
    labels: Mapping[str, str]
    """Version id → its label (令和7年12月12日公表版)."""
    kind: str
    has_versions: bool
    compare: compare.Record | None = None
    """Its row of the overview and its part of every item comparison."""
    uses_fp: str = ""
    """A digest of its slug, title, labels and uses: what the registry pages show of it
    besides its municipality. They are fingerprinted by these rather than by what they list
    (every use of a system, as text: 0.1 s of every rebuild at 1,000 versions)."""

    def to_store(self) -> dict[str, bytes]:
        """Its mentions and comparison entries by digest, for the store: put there where the
        assessment was built (assessment.AffairResult.stored), they never travel to the
        parent nor wait there for the site-wide pages; else `assemble` adds them."""
        blobs = dict(self.blobs)
        if self.compare is not None:
            blobs.update((self.compare.digests[item], blob)
                         for item, blob in self.compare.entries.items())
        return blobs

    def stripped(self) -> AffairSummary:
        """As the build cache keeps it: what it put into the store is there, by digest."""
        if not self.blobs and (self.compare is None or not self.compare.entries):
            return self
        return replace(self, blobs=MappingProxyType({}),
                       compare=self.compare and self.compare.stripped())


@dataclass(frozen=True, slots=True)
class SiteSummary:
    munis: tuple[tuple[Municipality, tuple[AffairSummary, ...]], ...]
    """Each municipality (without its assessments) with its assessments' summaries, in order."""
    systems: tuple[System, ...]
    links: LinkIndex
    """The registry with every assessment's uses."""
    mentions: Mapping[str, list[tuple[str, str, str]]]
    """System slug → (municipality, assessment, digest of its items naming it) of each
    assessment that names it, in order; `mention_items` reads the digests."""
    comparisons: Mapping[str, compare.FamilyComparison]
    store: compare.EntryStore

    def mention_items(self, digests: Iterable[str]) -> list[dict]:
        """The items naming a system, from the store: the assessments' parts in order."""
        digests = list(digests)
        found = self.store.blobs(digests)
        return [m for d in digests for m in pickle.loads(found[d])]

    @classmethod
    def assemble(cls, munis: Iterable[Municipality], summaries: Iterable[AffairSummary],
                 systems: tuple[System, ...], registry: LinkIndex,
                 families: Mapping[str, Family], forms: Mapping[str, Form],
                 compared: frozenset[str], store: compare.EntryStore) -> SiteSummary:
        """The summaries in the site's order; their comparison entries go into `store`, which
        the item pages read one item at a time."""
        by_muni: dict[str, list[AffairSummary]] = {}
        uses: dict[str, list[SystemUse]] = {}
        mentions: dict[str, list[tuple[str, str, str]]] = {}
        records = []
        for s in summaries:
            by_muni.setdefault(s.muni, []).append(s)
            for slug, us in s.uses.items():
                uses.setdefault(slug, []).extend(us)
            for slug, digest in s.mentions.items():
                mentions.setdefault(slug, []).append((s.muni, s.slug, digest))
            store.put(s.blobs)  # none when a worker stored them (`AffairSummary.stored`)
            store.refer(s.mentions.values())
            if s.compare is not None:
                seq = len(records)
                if s.compare.assessment.kind in compared:
                    store.add(s.compare.assessment.kind, seq, s.compare)
                records.append((seq, s.compare))
        # A municipality is listed once it has at least one assessment to show.
        rows = tuple((m, tuple(by_muni[m.slug])) for m in munis if by_muni.get(m.slug))
        return cls(rows, systems, with_uses(registry, uses, {}), mentions,
                   compare.comparisons(records, families, forms, compared, store), store)
