"""One assessment through the stages — load → check → link → diff → render → write — in a
worker process of its own.

A national site holds tens of thousands of assessments. Built one at a time, memory is
bounded by the largest assessment, not by the site, and several worker processes build
assessments at once. Each run writes its pages straight into the staging folder and returns
an `AffairResult`: its diagnostics, what it wrote, and the small summary the site-wide pages
are made from. The output does not depend on the number of workers: every page is a function
of its own assessment, and results are used in the order of the content folders.

The same workers then make the site-wide stage's comparison item pages (`items_in_workers`),
most of that stage's work, from the entries the parent stored.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime
import functools
import gc
import os
import sys
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from . import (
    compare,
    diagnostics,
    diff,
    link,
    linkcheck,
    load,
    markdown,
    normalize,
    processes,
    routes,
    source,
    views,
    write,
)
from .check import ASSESSMENT_RULES
from .check import check as check_site
from .diagnostics import Block, Diagnostic
from .diff import DiffCache
from .diff import diff as diff_site
from .discover import AffairFiles
from .link import LinkIndex, registry, resolve, with_uses
from .load import Shared, load_affair, load_shared
from .model import Municipality, Site
from .pickling import Packed, members_interned, quick_pickle
from .render import (
    ItemSpec,
    Jobs,
    Renderer,
    Theme,
    affair_jobs,
    find_theme,
    make_items,
    renderer,
    summarise,
)
from .summary import AffairSummary


@quick_pickle
@dataclass(frozen=True, slots=True)
class Task:
    muni: Municipality
    """The municipality's own settings (its `affairs` is empty)."""
    files: AffairFiles
    """The assessment's files under content/<muni>/<affair>/."""

    @property
    def folder(self) -> Path:
        return self.files.meta.parent


@quick_pickle
@dataclass(frozen=True, slots=True)
class Page:
    path: PurePosixPath
    fingerprint: str
    ids: bytes = b""
    """zlib of the page's HTML ids, one per line (for links into it from site-wide pages)."""


@quick_pickle(restore={"target_folders": members_interned})
@dataclass(frozen=True, slots=True)
class AffairResult:
    task: Task
    diagnostics: tuple[Diagnostic, ...]
    summary: AffairSummary | None = None
    """None when the assessment was not rendered (it has errors, or this is a check only)."""
    pages: tuple[Page, ...] = ()
    outbound: str = ""
    """The digest of its links to files outside this assessment (linkcheck.Outbound, pickled),
    checked once the whole site is written; "" for none. They wait in the build's blob store
    (compare.EntryStore): as objects they were 140 KB an assessment the parent held."""
    targets: str = ""
    """The digest of the set of files they may lead to: a rebuild reads the links only if one
    of these moved."""
    target_folders: frozenset[str] = frozenset()
    """The folders of those files (`linkcheck.folder`): a rebuild reads `targets` only if a
    file moved in one of them. After an edit, what moved is mostly the edited assessment's
    own pages; reading every other assessment's targets to learn that none leads there was
    0.4 s at 1,000 versions."""
    blobs: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    """Digest -> those two, until they are in the store (`stored`)."""
    diffs_computed: int = 0
    reused: bool = False
    """Taken from the last build (cache.py): its pages were linked, not written."""
    report: Block | None = None
    """When taken from the last build, its diagnostics (`diagnostics` then empty), as the
    build cache keeps them."""

    def stored(self, path: Path) -> AffairResult:
        """Put its links, mentions and comparison entries into the store at `path`, which
        the build opened, and return it without them. Called where the assessment was built:
        they then never travel to the parent."""
        blobs = {**self.blobs, **(self.summary.to_store() if self.summary else {})}
        if not blobs or not compare.put_blobs(path, blobs):
            return self  # nothing to put, or no store opened: the parent adds them
        return self.without_entries()

    def without_entries(self) -> AffairResult:
        """As the build cache keeps it: the links, the comparisons' entries and the system
        mentions are in their own store."""
        s = self.summary
        if not self.blobs and (s is None or s.stripped() is s):
            return self
        return dataclasses.replace(self, summary=s.stripped() if s is not None else None,
                                   blobs=MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a worker needs to rebuild its context: all of it plain and picklable."""

    root: Path
    today: datetime.date
    out: Path | None
    """The staging folder; None for a check that renders nothing."""
    compared: frozenset[str] = frozenset()
    """The form kinds whose items are compared across assessments (compare.compared_kinds)."""
    preview: bool = False
    """Render unpublished versions too, under the preview banner (`piasite serve`)."""
    cache: Path | None = None
    """Where the diffs are cached (default root/.piasite-cache): the preview keeps its own."""


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    shared: Shared
    registry: LinkIndex
    theme: Theme


def make_context(settings: Settings, shared: Shared | None = None) -> Context:
    """The settings, forms, registry and theme every assessment of one build is made with;
    `shared` as the build read it (else read again)."""
    if shared is None:
        # The site-wide files' own diagnostics are the parent's to report, once.
        shared, _, _ = load_shared(settings.root)
    base, _ = registry(shared.systems)
    return Context(settings, shared, base,
                   find_theme(settings.root, shared.config.theme, settings.cache))


_WORKER: Context | None = None
"""A worker process's context, made once when the worker starts (its pool lives one build)."""


def build_one(ctx: Context, task: Task) -> AffairResult:
    """Load, check and link one assessment; if it has no errors and `settings.out` is set,
    diff and render it too, writing its pages into the staging folder."""
    try:
        return _build_one(ctx, task)
    finally:
        _forget()


def _forget() -> None:
    """Empty the per-process caches of text. They serve the preview, which renders the same
    text again on every save; in a build the next assessment is other text, and what one
    assessment left there would only add up."""
    markdown.render.cache_clear()
    normalize.match_key.cache_clear()
    source.forget()
    load.forget()
    link.forget()
    diff.forget()
    views.forget()


def _build_one(ctx: Context, task: Task) -> AffairResult:
    settings = ctx.settings
    diags: list[Diagnostic] = []
    affair = load_affair(settings.root, task.muni.slug, task.files, ctx.shared.forms, diags)
    if affair is None:
        return AffairResult(task, tuple(diags))
    muni = dataclasses.replace(task.muni, affairs=(affair,))
    site = Site(config=ctx.shared.config, municipalities=(muni,), forms=ctx.shared.forms,
                systems=ctx.shared.systems, families=ctx.shared.families)
    diags += check_site(site, ASSESSMENT_RULES)
    resolved, uses, mentions, found = resolve([affair], ctx.registry)
    diags += found
    if settings.out is None or diagnostics.has_errors(diags):
        return AffairResult(task, tuple(diags))
    public = site if settings.preview else site.public()
    if not public.municipalities:  # every version is unpublished: nothing to publish
        return AffairResult(task, tuple(diags))
    pm = public.municipalities[0]
    pa = pm.affairs[0]
    if len(pa.revisions) < len(affair.revisions):
        # Unpublished versions must not appear among a system's users or mentions.
        resolved, uses, mentions, _ = resolve([pa], ctx.registry)
    links = with_uses(ctx.registry, uses, mentions, resolved)
    cache_dir = settings.cache or settings.root / ".piasite-cache"
    cache = DiffCache(cache_dir / "diff" / pm.slug / f"{pa.slug}.json")
    diffs = diff_site(public, cache)
    cache.save()
    shared = ctx.shared
    r = renderer(shared.config, ctx.theme, settings.today, settings.preview, shared.families,
                 shared.forms, settings.compared, links)
    out = Jobs(r, ctx.theme, (repr(shared.families), sorted(settings.compared)))
    affair_jobs(out, pm, pa, diffs, links, shared.systems)
    pages, scans = [], {}
    for job in out.out:
        data = job.make()
        path = routes.output_path(job.url)
        write.put(settings.out, path, data)
        sc = scans[path] = linkcheck.scan(path, data)
        pages.append(Page(path, job.fingerprint, ids_blob(sc.ids)))
    names = {str(p): p for p in scans}
    base = ctx.shared.config.base_url.rstrip("/")
    broken, outbound = linkcheck.check_scans(scans, names, lambda t: scans[t].ids, base,
                                             linkcheck.sources(public), local=True)
    summary = summarise(pm, pa, links, settings.today, shared.families, shared.forms,
                        settings.compared)
    leads = frozenset(t for o in outbound for t in o.targets)
    links, targets = Packed.of(tuple(outbound)), Packed.of(leads)
    result = AffairResult(task, tuple(diags + broken), summary, tuple(pages), links.digest,
                          targets.digest, frozenset(map(linkcheck.folder, leads)),
                          MappingProxyType({links.digest: links.blob,
                                            targets.digest: targets.blob}),
                          cache.computed)
    return result.stored(settings.cache / compare.STORE) if settings.cache else result


def _worker_init(settings: Settings, shared: Shared | None) -> None:
    global _WORKER
    # The build's own reading of site.toml, the forms and the registry: read again here it
    # would also list the whole site (0.1 s a worker at 1,000 versions, growing with it),
    # and a site.toml saved meanwhile would give one build two settings.
    _WORKER = make_context(settings, shared)
    # What the worker keeps for every task (forms, registry, templates) is never garbage:
    # frozen, the cyclic collector's full passes stop walking it after each assessment
    # (4 % of a 100-version build's CPU, median of six paired runs).
    gc.freeze()


def _run(task: Task) -> AffairResult:
    assert _WORKER is not None
    _collect_before_task()
    return build_one(_WORKER, task)


_TASKS_RUN = 0
FULL_PASS_EVERY = 64
"""Tasks between the full passes of an assessment worker's cyclic collector."""


def _collect_before_task() -> None:
    """An assessment worker runs the cyclic collector itself, once before each assessment,
    and leaves it off otherwise. On, it ran every 700 new objects and walked again and
    again what an assessment holds to its end (its versions' items, the pages' views); and
    a pass when the assessment ends walks its result too, which is still being sent. Before
    the next one, what is young is the last assessment's garbage (some 14,000 objects in
    cycles: views, diff segments): the collector's CPU in a cold 1,000-version build 11.8 →
    7.8 s, the workers' peak memory the same. A full pass now and then for what outlived
    an assessment before it became garbage. (Not for the comparison item pages: garbage
    left for a whole batch raised the build's peak by 40 MiB.)"""
    global _TASKS_RUN
    gc.collect(2 if _TASKS_RUN % FULL_PASS_EVERY == FULL_PASS_EVERY - 1 else 1)
    gc.disable()
    _TASKS_RUN += 1


ItemBatch = tuple[compare.FamilyComparison, list[ItemSpec],
                  dict[str, tuple[tuple[int, str], ...]], Path]
"""Comparison item files to make in a worker: the family's comparison (without its store and
digests), the files, each item's rows in the store, and the store's path."""


@functools.cache
def _site_renderer() -> Renderer:
    assert _WORKER is not None
    ctx, s = _WORKER, _WORKER.settings
    return renderer(ctx.shared.config, ctx.theme, s.today, s.preview, ctx.shared.families,
                    ctx.shared.forms, s.compared, ctx.registry)


ItemScan = tuple[frozenset[str], tuple[tuple[int, str], ...]]
"""What the link check needs of a file a worker wrote: its ids and its links."""


def _make_items(batch: ItemBatch) -> list[ItemScan]:
    """Make the batch's files and write them into the staging folder. Only their ids and
    links go back: the files themselves (620 MB at 1,000 versions) would otherwise wait in
    the parent, which makes other pages meanwhile, until it got to them."""
    assert _WORKER is not None and _WORKER.settings.out is not None
    comp, specs, rows, store = batch
    found = []
    for spec, data in zip(specs, make_items(_site_renderer(), comp, specs, rows, store),
                          strict=True):
        path = routes.output_path(spec.url)
        write.put(_WORKER.settings.out, path, data)
        sc = linkcheck.scan(path, data)
        found.append((sc.ids, sc.links))
        del data, sc  # not held while the next file is made
    return found


@contextlib.contextmanager
def items_in_workers(settings: Settings, batches: list[ItemBatch], jobs: int,
                     shared: Shared | None = None) -> Iterator[processes.InOrder]:
    """Each batch's files, made and written into `settings.out` by `jobs` worker processes;
    yields their ids and links (a list of `ItemScan` a batch), batch by batch in order. The
    batches are sent on entering, so the caller can make other pages meanwhile, and take
    what is ready between them."""
    with _pool(settings, min(jobs, len(batches)), shared) as pool:
        yield processes.InOrder(pool.submit(_make_items, b) for b in batches)


MIN_TASKS_FOR_WORKERS = 8
"""With `jobs` unset, fewer assessments than this are built in this process."""


def _workers_can_start() -> bool:
    """Whether worker processes can be started: they import the main module again (as every
    `multiprocessing` program does), which a program read from standard input does not have."""
    path = getattr(sys.modules["__main__"], "__file__", None)
    return path is None or Path(path).is_file()


def worker_count(jobs: int | None, tasks: int) -> int:
    """How many worker processes build a site of `tasks` assessments: `jobs`, or by default
    one per core (1, this process, for fewer than MIN_TASKS_FOR_WORKERS: starting workers
    costs about a second); 1 where workers cannot start."""
    if jobs is None:
        jobs = (os.cpu_count() or 1) if tasks >= MIN_TASKS_FOR_WORKERS else 1
    return jobs if jobs > 1 and tasks > 1 and _workers_can_start() else 1


def build_all(settings: Settings, tasks: Sequence[Task], jobs: int | None = None,
              context: Context | None = None) -> Iterator[AffairResult]:
    """Every task's result, in the order of `tasks`, built by `jobs` worker processes
    (default: one per core for a site of MIN_TASKS_FOR_WORKERS assessments or more, else
    this process).

    As with any `multiprocessing` code, a script that calls this (through `pipeline.build`)
    keeps its own work under `if __name__ == "__main__":`. `context`, the caller's own (made
    from `settings`), spares this process making it again, and the workers reading the
    site's shared files again.
    """
    jobs = worker_count(jobs, len(tasks))
    if jobs <= 1:
        ctx = context or make_context(settings)
        for t in tasks:
            yield build_one(ctx, t)
        return
    with _pool(settings, min(jobs, len(tasks)), context.shared if context else None) as pool:
        yield from pool.map(_run, tasks, chunksize=1)


def _pool(settings: Settings, workers: int, shared: Shared | None) -> ProcessPoolExecutor:
    return processes.pool(workers, _worker_init, (settings, shared))


def ids_blob(ids: frozenset[str]) -> bytes:
    """A page's ids, kept small (a long version has thousands)."""
    return zlib.compress("\n".join(sorted(ids)).encode()) if ids else b""


class Ids(tuple):
    """A page's ids in order, as `ids_blob` keeps them; `in` looks one up by bisection.

    The link check holds the ids of every page a link leads into: at 1,000 versions about
    2.5 million ids of some 2,000 names, 250 MB as a frozenset of its own strings per page.
    Sorted in a tuple of shared (interned) names they take 8 bytes an id."""

    __slots__ = ()

    def __contains__(self, name: object) -> bool:
        i = bisect.bisect_left(self, name)
        return i < len(self) and self[i] == name


def page_ids_of(blob: bytes) -> Ids:
    if not blob:
        return Ids()
    return Ids(map(sys.intern, zlib.decompress(blob).decode().split("\n")))


def page_ids(page: Page) -> Ids:
    return page_ids_of(page.ids)


