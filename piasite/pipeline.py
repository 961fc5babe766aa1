"""Run the stages in order: load → check → link → diff → render → write → index.

The only module importing all. A build runs the stages one assessment at a time, in worker
processes (assessment.py), then makes the site-wide pages from the assessments' summaries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from . import diagnostics, export, linkcheck, privacy, processes, routes
from .assessment import (
    AffairResult,
    Context,
    ItemBatch,
    ItemScan,
    Settings,
    Task,
    build_all,
    build_one,
    ids_blob,
    items_in_workers,
    page_ids,
    page_ids_of,
    worker_count,
)
from .cache import (
    BuildCache,
    CheckCache,
    FileMemo,
    Row,
    SiteCache,
    SitePage,
    check_key,
    entry_file,
    published,
    reuse_index,
    row_ids,
    row_links,
    row_reaches,
    settle,
    site_key,
    stamp,
    where,
)
from .check import MUNICIPALITY_RULES
from .check import check as check_site
from .compare import STORE, EntryStore, compared_kinds, prune_entries
from .diagnostics import Block, Diagnostic, Report
from .diff import DiffCache
from .diff import diff as diff_site
from .discover import Listing, MunicipalityFiles, affair_files
from .index import bundle_changes, index_site
from .link import LinkIndex, link, registry
from .load import Shared, affair_kind, load, load_shared, municipality
from .model import Municipality, Site, SiteConfig
from .pickling import Packed
from .processes import InOrder
from .render import (
    Job,
    Jobs,
    Rendered,
    find_theme,
    render,
    renderer,
    site_jobs,
    sitemaps,
    static_files,
)
from .summary import SiteSummary
from .write import (
    commit,
    discard,
    freeze_kept,
    frozen_loads,
    give_back_memory,
    new_stage,
    put,
    recover,
)

ENTRIES = STORE
"""The comparisons' entries, the system mentions and the site-wide pages' links, kept from
build to build (compare.EntryStore)."""
STAGES = ("load", "check", "link", "diff", "render", "write")


@dataclass
class BuildResult:
    report: Report
    """Every diagnostic, in order (`diagnostics`)."""
    site: Site | None = None
    """The whole model (`check`); a build reads one assessment at a time and keeps none."""
    files: list[str] = field(default_factory=list)
    """Every file written (`build`), '/'-separated, relative to the output folder."""
    wrote: bool = False
    diffs_computed: int = 0
    """Inline diffs computed in this build (the rest came from the cache)."""
    links: LinkIndex | None = None
    reused: int = 0
    """Assessments taken whole from the last build (their inputs had not changed)."""
    unchanged: bool = False
    """Nothing differed from output/, which was left exactly as it was."""
    changed: frozenset[str] = frozenset()
    """Files that differ from the last build's, or that it had and this one has not."""
    live: Live | None = None
    """What the preview needs to rebuild one assessment without a whole build (`refresh`)."""
    errors_outside: int = 0
    """A check of some files or folders only: errors it found elsewhere (the site's shared
    files, the privacy scan of every file), not in `report`."""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.report.diagnostics()

    @property
    def ok(self) -> bool:
        return not self.report.has_errors()


def today_for(config: SiteConfig, now: str | None) -> datetime.date:
    """"Today" for the build: --now, else site.toml's now, else the real date."""
    fixed = now or config.now
    return datetime.date.fromisoformat(fixed) if fixed else datetime.date.today()


def check(root: Path, jobs: int | None = None, progress: Progress | None = None,
          only: Sequence[Path] = ()) -> BuildResult:
    """Load, check and link every assessment, one at a time: every mistake in the content,
    with nothing rendered and no assessment kept in memory after its turn. An assessment
    that did not change since the last check is reported from what that check found, or
    else the last build or preview (`cache.CheckCache`); `BuildResult.reused` counts them.
    `progress` is told of each assessment as it is done ("assessments").

    `only` (files and folders inside the site): read only the assessments they touch, and
    report only what is about a file inside them; the site-wide checks still run, and the
    errors they find elsewhere are counted in `BuildResult.errors_outside`."""
    root = Path(os.path.abspath(root))  # as `build` keys what it keeps (by its paths)
    scope = _Scope(root, only)
    cache = root / ".piasite-cache"
    memo = FileMemo(cache / "survey.pickle")
    shared, base, munis, diags = _survey(root, memo, jobs)
    settings = Settings(root, today_for(shared.config, None), None)
    store = CheckCache(cache, shared)
    found: list[Diagnostic | Block] = []
    scope.add(diags, found)
    todo: list[tuple[Task, str]] = []
    for task in _tasks(munis):
        if not scope.touches(task.folder):
            continue
        key = store.key(task, memo.listing)
        hit = store.lookup(task, key)
        if hit is None:
            todo.append((task, key))
        elif hit[0] is not None:
            scope.add_block(hit[0], task.folder, found)
    total = store.reused + len(todo)
    built: Iterable[AffairResult] = ()
    if todo:  # none at all when every assessment is as the last check found it
        # The workers take the shared files as this check read them.
        context = Context(settings, shared, base, find_theme(root, shared.config.theme))
        built = build_all(settings, [t for t, _ in todo], jobs, context)
    for n, ((task, key), r) in enumerate(zip(todo, built, strict=True), 1):
        block = Block.of(r.diagnostics)
        store.store(task, key, block)
        if block is not None:
            scope.add_block(block, task.folder, found)
        if progress:
            progress("assessments", store.reused + n, total)
    store.save(every=not only)
    memo.save()
    return BuildResult(Report(found), reused=store.reused, errors_outside=scope.errors_outside)


class _Scope:
    """The files and folders a check was asked about (all of the site for none)."""

    def __init__(self, root: Path, only: Sequence[Path]) -> None:
        self.paths = [Path(os.path.abspath(p)) for p in only]
        self.rels = [p.relative_to(root).as_posix() if p != root else "" for p in self.paths]
        self.errors_outside = 0

    def touches(self, folder: Path) -> bool:
        """Whether an assessment's folder is inside one of the paths, or holds one."""
        return self.covers(folder) or any(folder in p.parents for p in self.paths)

    def covers(self, folder: Path) -> bool:
        """Whether all of an assessment's folder is inside one of the paths."""
        return not self.paths or any(p == folder or p in folder.parents for p in self.paths)

    def inside(self, d: Diagnostic) -> bool:
        path = d.span.path.as_posix()
        return any(r == "" or path == r or path.startswith(r + "/") for r in self.rels)

    def add(self, diags: Iterable[Diagnostic], found: list[Diagnostic | Block]) -> None:
        for d in diags:
            if not self.paths or self.inside(d):
                found.append(d)
            elif d.severity is diagnostics.Severity.ERROR:
                self.errors_outside += 1

    def add_block(self, block: Block, folder: Path, found: list[Diagnostic | Block]) -> None:
        if self.covers(folder):
            found.append(block)  # whole: an assessment's own are about its own files
        else:
            self.add(block.diagnostics(), found)


def load_checked(root: Path) -> BuildResult:
    """The whole site as one model, with every diagnostic (the preview server, tests)."""
    site, diags = load(root)
    diags += check_site(site) + privacy.scan(root)
    links, link_diags = link(site)
    diags += link_diags
    return BuildResult(Report(diags), site, links=links)


Munis = list[tuple[Municipality, MunicipalityFiles]]


def _tasks(munis: Munis) -> list[Task]:
    """Every assessment of the survey, in the site's order: what check and build work through."""
    return [Task(m, af) for m, mf in munis for af in mf.affairs]


def _survey(root: Path, memo: FileMemo | None = None, jobs: int | None = None
            ) -> tuple[Shared, LinkIndex, Munis, list[Diagnostic]]:
    """What the whole site shares (settings, forms, registry), its municipalities with their
    assessment folders, and the diagnostics of all of these and of the privacy scan (each
    municipality.toml read again only if it changed, with a `memo`; the files the scan has
    not seen read by as many worker processes as will build the assessments)."""
    shared, files, diags = load_shared(root)
    base, more = registry(shared.systems)
    diags += more
    memo = memo or FileMemo(None)
    # content/ walked once, for the privacy scan, the memo and the build cache's keys.
    memo.listing = Listing(root)
    munis = []
    for mf in files.municipalities:
        m, found = memo.get("municipality", mf.meta, functools.partial(_municipality, root, mf))
        diags += found
        if m is not None:
            munis.append((m, mf))
    skeleton = Site(config=shared.config, municipalities=tuple(m for m, _ in munis))
    diags += check_site(skeleton, MUNICIPALITY_RULES)
    diags += privacy.scan(root, root / ".piasite-cache" / "privacy.pickle",
                          worker_count(jobs, sum(len(mf.affairs) for _, mf in munis)),
                          memo.listing)
    return shared, base, munis, diags


def _municipality(root: Path, mf: MunicipalityFiles
                  ) -> tuple[Municipality | None, tuple[Diagnostic, ...]]:
    found: list[Diagnostic] = []
    return municipality(root, mf, found), tuple(found)


Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as a build goes: "assessments", "pages" (site-wide), "index"."""
PROGRESS_STAGES = MappingProxyType({"assessments": "評価書", "pages": "サイト全体のページ",
                                   "index": "検索の索引"})
"""The stages `Progress` is told of, as staff read them."""


@dataclass(frozen=True, slots=True)
class Dest:
    """Where a build publishes, keeps its caches and reports how far it is."""

    out: Path
    cache: Path
    preview: bool = False
    """The preview's build: unpublished versions too, the preview banner, no search index."""
    progress: Progress | None = None


def preview_folder(root: Path) -> Path:
    """Where `piasite serve` builds: never output/, so a preview that shows unpublished
    versions cannot be deployed by mistake; its caches beside it, apart from the build's."""
    return root / ".piasite-cache" / "preview"


def build(root: Path, out: Path | None = None, now: str | None = None,
          strict: bool = False, jobs: int | None = None, preview: bool = False,
          progress: Progress | None = None) -> BuildResult:
    """Build the site under `root` into `out` (default root/output); write nothing on errors.

    `jobs` worker processes build the assessments (default: one per core); the output is the
    same for any number. `preview` builds what `piasite serve` shows, into
    `preview_folder(root)/site` unless `out` is given. `progress` is told how far it is.
    """
    # Absolute, as the caches key what they read of each file by its path: `piasite build`
    # in the site's folder and `piasite build --site /path/to/site` then find each other's.
    root = Path(os.path.abspath(root))
    if preview:
        folder = preview_folder(root)
        dest = Dest((out or folder / "site").resolve(), folder, True, progress)
    else:
        dest = Dest((out or root / "output").resolve(), root / ".piasite-cache", False,
                    progress)
    return _build(root, dest, now, strict, jobs)


def _build(root: Path, dest: Dest, now: str | None, strict: bool,
           jobs: int | None) -> BuildResult:
    # A commit an interrupted build left half done is finished first: output/ is then what
    # the caches say was published.
    recover(dest.out)
    memo = FileMemo(dest.cache / "survey.pickle")
    shared, base, munis, diags = _survey(root, memo, jobs)
    today = today_for(shared.config, now)
    # Pages stream into a fresh folder beside output/; they reach output/ only at the end,
    # when the whole site is written, linked and indexed (write.py).
    staged = new_stage(dest.out)
    try:
        return _build_into(staged, dest, root, shared, base, munis, diags, today, strict, jobs,
                           memo)
    except BaseException:
        discard(staged)
        raise


def _build_into(staged: Path, dest: Dest, root: Path, shared: Shared, base: LinkIndex,
                munis: Munis, diags: list[Diagnostic], today: datetime.date,
                strict: bool, jobs: int | None, memo: FileMemo) -> BuildResult:
    # Everything of the assessments and the site-wide pages is dropped before the search
    # index is made: Pagefind's memory then adds to little of piasite's. A large new build
    # makes them in a process of its own, which gives all its memory back when it ends.
    write = _write_apart if _apart(dest, munis, jobs) else _write
    if write is _write_apart:
        # Neither process holds content/'s listing (3 MB at 1,000 versions) while the pages
        # are written: there each assessment's key walks its own folder, as it did before
        # the listing (0.1 s of a build that makes a hundred assessments or more).
        memo.listing = None
    result, done = write(staged, dest, root, shared, base, munis, diags, today, strict, jobs,
                         memo)
    if done is None:
        return result
    # The search index is built inside the fresh folder, so a failed index leaves output/ as
    # it was; output/'s stays as it is when no page it indexes changed.
    moved, gone = sorted(done.changed), sorted(done.removed)
    if not dest.preview and not reuse_index(dest.out, staged, done.changed, done.removed):
        if dest.progress:
            dest.progress("index", 0, 1)
        previous = dest.out / routes.PAGEFIND
        give_back_memory()
        indexed = index_site(staged, previous, dest.cache, done.pages,
                             worker_count(jobs, len(done.pages)))
        if indexed.diagnostics:
            discard(staged)
            result.report = result.report.plus(indexed.diagnostics)
            return result
        more, less = bundle_changes(staged, previous, indexed)
        moved += more
        gone += less
    commit(staged, dest.out, moved, gone)
    # Only now: an entry of the build cache that output/ still matches may refer to them.
    done.cache.forget_others(done.tasks)
    prune_entries(dest.cache / ENTRIES, done.entries)
    result.wrote = True
    result.changed = frozenset(done.changed | done.removed)
    return result


APART_MIN_NEW = 100
"""Assessments without a stored result (built anew, at least) from which a build writes its
pages in a process of its own (`_write_apart`)."""


def _apart(dest: Dest, munis: Munis, jobs: int | None) -> bool:
    """Whether to write the pages in a process of its own: a build that makes many
    assessments anew, with worker processes; not the preview, which keeps what it built."""
    tasks = _tasks(munis)
    if dest.preview or worker_count(jobs, len(tasks)) <= 1:
        return False
    return sum(not entry_file(dest.cache, t).exists() for t in tasks) >= APART_MIN_NEW


def _write_apart(staged: Path, dest: Dest, *args) -> tuple[BuildResult, _Staged | None]:
    """`_write` in a process of its own, which tells this one how far it is. The Python
    process that writes a large site keeps the memory it freed on the way (fragmented: the
    assessments' results, the site summary, the site-wide jobs): at 3,000 versions 465 MB,
    of which 43 MB was live, beside which the search index's processes then ran. Here only
    what `_write` returns comes back. The price: this process waits beside it, holding the
    survey (by PSS +61 MiB at 3,000 versions in the site-wide stage; docs/benchmarks.md)."""
    there = dataclasses.replace(dest, progress=processes.tell if dest.progress else None)
    return processes.apart(_write_once, staged, there, *args, told=dest.progress)


def _write_once(*args) -> tuple[BuildResult, _Staged | None]:
    with frozen_loads():  # the process ends with it
        return _write(*args)


@dataclass(frozen=True, slots=True)
class _Staged:
    """What the index and the commit need of a staged build."""

    changed: set[str]
    """Files that differ from output/."""
    removed: set[str]
    """Files of output/ the new build does not have."""
    cache: BuildCache
    tasks: list[Task]
    entries: set[str]
    """Digests of the comparisons' entries the build's records refer to."""
    pages: list[tuple[str, str]]
    """Every HTML page of the new site ('/'-separated path) and where it is now: staged if it
    changed, else in output/."""


def _write(staged: Path, dest: Dest, root: Path, shared: Shared, base: LinkIndex,
           munis: Munis, diags: list[Diagnostic], today: datetime.date, strict: bool,
           jobs: int | None, memo: FileMemo) -> tuple[BuildResult, _Staged | None]:
    """Every page into the staging folder, linked and checked; None beside the result when
    the build stops here (errors, or nothing changed)."""
    dest.cache.mkdir(parents=True, exist_ok=True)
    # The comparisons' entries wait on disk until their item page is made, and stay there,
    # by digest, for the next build (compare.EntryStore).
    entries = EntryStore(dest.cache / ENTRIES)
    try:
        return _write_with(entries, staged, dest, root, shared, base, munis, diags, today,
                           strict, jobs, memo)
    finally:
        entries.close()


def _write_with(entries: EntryStore, staged: Path, dest: Dest, root: Path, shared: Shared,
                base: LinkIndex, munis: Munis, diags: list[Diagnostic], today: datetime.date,
                strict: bool, jobs: int | None, memo: FileMemo
                ) -> tuple[BuildResult, _Staged | None]:
    render = not diagnostics.has_errors(diags)
    tasks = _tasks(munis)
    # Which form kinds are compared decides the links on every version page of them: known
    # before any assessment is built, from the kinds their _affair.toml declare.
    compared = compared_kinds(
        {m.slug: {k for af in mf.affairs if af.versions
                  if (k := memo.get("kind", af.meta, functools.partial(affair_kind, root, af)))}
         for m, mf in munis}, shared.families)
    memo.save()
    target = dest.out
    settings = Settings(root, today, staged if render else None, compared, dest.preview,
                        dest.cache)
    theme = find_theme(root, shared.config.theme, dest.cache)
    # output/ as this build finds it (its files and their stamps), walked once: what the
    # caches compare with what they stored, and what the commit will replace.
    before = published(target)
    store = BuildCache(dest.cache, target,
                       site_key(root, shared, theme, compared, entries.token), today.isoformat(),
                       before, check_key(shared))
    # What the workers each make for themselves; an assessment built here uses it as it is.
    context = Context(settings, shared, base, theme)
    results, keys = _assessments(context, tasks, jobs, store if render else None,
                                 dest.progress, memo.listing)
    found: list[Diagnostic | Block] = [*diags]
    for r in results:
        found += r.diagnostics
        if r.report is not None:  # taken from the last build: printed, counted, not unpickled
            found.append(r.report)
        entries.put(r.blobs)  # none when the worker stored them (`AffairResult.stored`)
        entries.refer(d for d in (r.outbound, r.targets) if d)
    result = BuildResult(Report(found))
    if not result.ok or (strict and result.report.has_warnings()):
        discard(staged)
        return result, None
    if dest.preview:
        result.live = Live(dataclasses.replace(context, settings=dataclasses.replace(
            settings, out=None)), {t.folder: t for t in tasks}, store)
    # The site-wide pages, from the assessments' summaries.
    summary = SiteSummary.assemble([m for m, _ in munis],
                                   [r.summary for r in results if r.summary], shared.systems,
                                   base, shared.families, shared.forms, compared, entries)
    freeze_kept()
    site_renderer = renderer(shared.config, theme, today, dest.preview, shared.families,
                             shared.forms, compared, summary.links)
    out = Jobs(site_renderer, theme, (repr(shared.families), sorted(compared)))
    site_jobs(out, summary, export.accessibility_results(root))
    site_cache = SiteCache(dest.cache, target, store.site_key, before)
    planned, hits, groups = _plan(out, site_cache)
    paths = [routes.output_path(job.url) for job in planned]
    todo = _to_make(planned, paths, site_cache, hits)
    statics = static_files(theme)
    made = _SiteLinks(results, hits, [*(p for p, _ in todo), *statics], shared.config,
                      [m for m, _ in munis], entries, staged)
    rendered = _site_pages(todo, made, staged, summary, entries, settings, shared,
                           worker_count(jobs, len(tasks)), dest.progress)
    for path, data in statics.items():
        _put(staged, path, data, made)
        rendered.append(path)
    written = [p.path for r in results for p in r.pages]
    for path, data in sitemaps(shared.config.base_url, [*written, *made.files, *hits]).items():
        _put(staged, path, data, made, checked=_same_as(target / path, data))
        rendered.append(path)
    made.flush()
    moved = _moved_targets(before.keys(), [*written, *hits], made.files, rendered, tasks,
                           results, store, site_cache)
    dangling = _check_links(made, results, moved, target)
    if dangling:  # E701 stops before anything reaches output/
        discard(staged)
        result.report = result.report.plus(dangling)
        return result, None
    result.files = sorted(map(str, [*written, *made.files, *hits]))
    result.diffs_computed = sum(r.diffs_computed for r in results)
    result.reused = store.reused
    # A file equal to the one already published is dropped from the staging folder, not
    # rewritten; when nothing differs at all, output/ is left exactly as it is.
    fresh = [p.path for r in results if not r.reused for p in r.pages] + rendered
    changed = settle(staged, target, fresh)
    removed = before.keys() - set(result.files)
    locate = where(staged, target, changed)
    # Stamped as they will stand in output/ (a move keeps a file's stamp); an entry whose
    # pages do not reach output/ (the index fails) will not match them next time. Stored
    # even when no file changed: a new piasite or theme that renders the same pages must
    # still find them next time.
    for task, key, res in zip(tasks, keys, results, strict=True):
        if not res.reused and res.summary is not None:
            store.store(task, key, res.without_entries(), locate,
                        today_matters=bool(res.summary.consultations))
    store.digests.save()
    rows = dict(hits)
    rows.update((str(p), made.row(p, job.fingerprint, stamp(locate(p))))
                for p, job in zip(paths, planned, strict=True) if p in made.files)
    entries.refer(map(row_links, rows.values()))
    site_cache.save(rows, groups)
    if not changed and not removed:
        discard(staged)
        result.wrote = result.unchanged = True
        return result, None
    pages = [(name, locate(name)) for name in result.files if name.endswith(".html")]
    return result, _Staged(changed, removed, store, tasks, entries.referred(), pages)


def _assessments(context: Context, tasks: list[Task], jobs: int | None,
                 store: BuildCache | None, progress: Progress | None = None,
                 listing: Listing | None = None) -> tuple[list[AffairResult], list[str]]:
    """Every assessment's result: taken from the last build where its inputs are unchanged
    (its pages left in output/), built anew otherwise; and each task's cache key (its files
    by `listing`, content/ as this build found it)."""
    results: list[AffairResult | None] = [None] * len(tasks)
    keys = [""] * len(tasks)
    todo = []
    for i, task in enumerate(tasks):
        if store is not None:
            keys[i] = store.key(task, listing)
            entry = store.lookup(task, keys[i])
            if entry is not None:
                results[i] = store.reuse(entry, task)
                continue
        todo.append(i)
    built = build_all(context.settings, [tasks[i] for i in todo], jobs, context)
    for n, (i, res) in enumerate(zip(todo, built, strict=True), 1):
        # A worker's result brings its own copy of the task (2.5 MiB at 1,000 versions).
        results[i] = res if res.task is tasks[i] else dataclasses.replace(res, task=tasks[i])
        freeze_kept()
        if progress:
            progress("assessments", len(tasks) - len(todo) + n, len(tasks))
    return [r for r in results if r is not None], keys


@dataclass
class Live:
    """What `piasite serve` keeps of its last whole build, to rebuild one assessment in place
    when nothing but its own files changed (`refresh`)."""

    ctx: Context
    tasks: dict[Path, Task]
    """The assessments of that build, by folder."""
    store: BuildCache


def refresh(live: Live, folders: Iterable[Path]) -> tuple[list[Diagnostic], frozenset[str]] | None:
    """Rebuild the assessments in `folders` straight into the preview's output, so the page
    being edited shows at once; the whole build that follows remakes the site-wide pages and
    takes these assessments from the cache. Returns their diagnostics and the files that
    changed (nothing is written if there are errors); None when a folder is not an assessment
    of the last build, or is no longer one (only a whole build will do)."""
    settings = live.ctx.settings
    out = live.store.out
    tasks = []
    for folder in folders:
        old = live.tasks.get(folder)
        found: list[Diagnostic] = []
        files = affair_files(settings.root, folder, found) if old is not None else None
        if old is None or files is None or found:
            return None
        tasks.append(Task(old.muni, files))
    stage = new_stage(out)
    try:
        ctx = dataclasses.replace(live.ctx, settings=dataclasses.replace(settings, out=stage))
        results = [build_one(ctx, t) for t in tasks]
        diags = diagnostics.sort([d for r in results for d in r.diagnostics])
        if diagnostics.has_errors(diags):
            return diags, frozenset()
        changed: set[str] = set()
        for task, res in zip(tasks, results, strict=True):
            before = live.store.previous(task)
            gone = {p.path for p in before.result.pages} if before else set()
            for page in res.pages:
                gone.discard(page.path)
                new, old = stage / page.path, out / page.path
                try:
                    same = old.read_bytes() == new.read_bytes()
                except OSError:
                    same = False
                if not same:
                    old.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(new, old)  # a new file: never rewrite one a link may share
                    changed.add(page.path.as_posix())
            for path in gone:
                (out / path).unlink(missing_ok=True)
                changed.add(path.as_posix())
            # Stored only if no page's ids changed: the whole build that follows then checks
            # every link again (a site-wide page may link to an id that is gone), as it does
            # when the output differs from what the cache says was published.
            same_ids = before is not None and (
                {p.path: p.ids for p in before.result.pages} == {p.path: p.ids for p in res.pages})
            if res.summary is not None and same_ids:
                live.store.store(task, live.store.key(task), res,
                                 lambda rel: out.joinpath(*rel.parts),
                                 today_matters=bool(res.summary.consultations))
            live.tasks[task.folder] = task
        return diags, frozenset(changed)
    finally:
        discard(stage)


MIN_ITEM_FILES_FOR_WORKERS = 16
"""Fewer comparison item files to make than this (a rebuild after an edit) are made here."""
ITEMS_PER_BATCH = 8


def _plan(out: Jobs, site_cache: SiteCache
          ) -> tuple[list[Job], dict[str, Row], dict[str, tuple[str, ...]]]:
    """The site-wide files to look at one by one: every job but those of the groups whose
    files are all as the last build published them (`render.Group`), which are taken whole.
    Also returns those taken and each group's files, for the site cache."""
    planned = list(out.out)
    taken: dict[str, Row] = {}
    groups: dict[str, tuple[str, ...]] = {}
    for g in out.groups:
        rows = site_cache.reuse_group(g.fingerprint)
        if rows is not None:
            taken.update(rows)
            groups[g.fingerprint] = tuple(rows)
        else:
            jobs = g.plan()
            planned += jobs
            groups[g.fingerprint] = tuple(routes.output_name(job.url) for job in jobs)
    return planned, taken, groups


def _to_make(jobs: list[Job], paths: list[PurePosixPath], site_cache: SiteCache,
             hits: dict[str, Row]) -> list[tuple[PurePosixPath, Job]]:
    """The site-wide files to make (`paths`: each job's file); those whose fingerprint did not
    change are taken from output/ as they are and added to `hits` (as the last build
    published them: read again only by the link check, if at all)."""
    todo = []
    for job, path in zip(jobs, paths, strict=True):
        name = str(path)
        hit = site_cache.reuse(name, job.fingerprint)
        if hit is not None:
            hits[name] = hit
        else:
            todo.append((path, job))
    return todo


def _site_pages(todo: list[tuple[PurePosixPath, Job]], made: _SiteLinks, staged: Path,
                summary: SiteSummary, entries: EntryStore, settings: Settings, shared: Shared,
                workers: int, progress: Progress | None) -> list[PurePosixPath]:
    """Every site-wide file of `todo` in the staging folder, its links checked as it is made
    (`made`); returns them as made. The comparison item pages, most of the work, are made by
    `workers` worker processes while this one makes the others."""
    rendered: list[PurePosixPath] = []
    here = [(path, job) for path, job in todo if job.spec is None]
    items = [(path, job) for path, job in todo if job.spec is not None]
    if workers <= 1 or len(items) < MIN_ITEM_FILES_FOR_WORKERS:
        here, items = todo, []
    total, done = len(here) + len(items), 0
    if progress and total:
        progress("pages", 0, total)

    def count(path: PurePosixPath) -> None:
        nonlocal done
        rendered.append(path)
        done += 1
        if progress and done % 50 == 0:
            progress("pages", done, total)

    batches = _item_batches(items, summary, entries)
    entries.commit()  # the workers read the entries the summaries stored
    sent = iter(batches)

    def take(written: Iterable[list[ItemScan]]) -> None:
        # The workers wrote these files themselves: only their ids and links come back,
        # checked and let go at once.
        for found in written:
            paths_, _ = next(sent)
            for path, (ids, links) in zip(paths_, found, strict=True):
                made.add(linkcheck.Scan(path, ids, links, "", staged.joinpath(*path.parts)),
                         keep=True)
                count(path)
            made.flush()

    with (items_in_workers(settings, [b for _, b in batches], workers, shared) if batches
          else contextlib.nullcontext(InOrder(()))) as written:
        for path, job in here:
            _put(staged, path, job.make(), made, keep=True)
            count(path)
            take(written.ready())
        take(written)
    assert next(sent, None) is None
    return rendered


def _item_batches(items: list[tuple[PurePosixPath, Job]], summary: SiteSummary,
                  entries: EntryStore) -> list[tuple[list[PurePosixPath], ItemBatch]]:
    """The item files in batches of ITEMS_PER_BATCH items of one family, with what a worker
    needs to make them (the family's comparison without its store and digests)."""
    by_item: dict[tuple[str, str], list[tuple[PurePosixPath, Job]]] = {}
    for path, job in items:
        assert job.spec is not None
        by_item.setdefault((job.spec.kind, job.spec.item), []).append((path, job))
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for key in by_item:
        by_kind.setdefault(key[0], []).append(key)
    out = []
    for kind, keys in by_kind.items():
        comp = dataclasses.replace(summary.comparisons[kind], digests=MappingProxyType({}),
                                   store=None)
        for i in range(0, len(keys), ITEMS_PER_BATCH):
            part = [x for key in keys[i:i + ITEMS_PER_BATCH] for x in by_item[key]]
            rows = {item: entries.rows(k, item) for k, item in keys[i:i + ITEMS_PER_BATCH]}
            out.append(([p for p, _ in part], (comp, [j.spec for _, j in part], rows,
                                              entries.path)))
    return out


def _put(staged: Path, path: PurePosixPath, data: bytes, made: _SiteLinks,
         keep: bool = False, checked: bool = False) -> None:
    """Write a site-wide file and check its links (`made`); `keep`: a page the site cache
    keeps. `checked`: its links need no check again — a sitemap the same as the one
    published, whose links were checked then and which lists only pages of this build
    (16,000 links at 1,000 versions split by prefecture: half of the link check of a
    rebuild)."""
    put(staged, path, data)
    made.add(linkcheck.scan(path, b"" if checked else data), keep)


def _same_as(published: Path, data: bytes) -> bool:
    """Whether output/ holds `data` at `published` already."""
    try:
        return published.stat().st_size == len(data) and published.read_bytes() == data
    except OSError:
        return False


def _moved_targets(before: AbstractSet[str], written: list[PurePosixPath | str],
                   made: Mapping[PurePosixPath, _Made], rendered: list[PurePosixPath],
                   tasks: list[Task], results: list[AffairResult], store: BuildCache,
                   site_cache: SiteCache) -> set[str]:
    """The files a link could find otherwise than when they were published: added, removed,
    or a page whose ids are not those output/ holds (or whose published ids are unknown).
    `written`: the assessments' files and the site-wide pages taken as published; `made`:
    the site-wide files made now."""
    moved = before ^ {str(p) for p in (*written, *made)}
    for task, r in zip(tasks, results, strict=True):
        if r.reused:
            continue
        old = store.published_ids(task)
        moved.update(str(p.path) for p in r.pages if old is None or old.get(p.path) != p.ids)
    moved.update(str(p) for p in rendered if p.suffix == ".html"
                 and site_cache.published_ids(str(p)) != made[p].ids)
    return moved


@dataclass(slots=True)
class _Made:
    """What the build keeps of a site-wide file it made, once its links are checked."""

    ids: bytes
    """`ids_blob` of its HTML ids."""
    links: str = ""
    """For a page the site cache keeps: the digest of its links in the store."""
    reach: linkcheck.Reach | None = None
    """And what they can lead to (`linkcheck.reach`)."""


class _SiteLinks:
    """The site-wide files of this build, their links checked as each one is made (`add`):
    a file then keeps only its ids, and a page the site cache keeps the digest of its links
    (put into the store) and what they reach. Held until one check at the end, the links of
    every site-wide page grew with the site: 114 of the 406 MB the build held at 1,000
    versions split by prefecture (each item page links to every assessment's item). A link
    to a file not known yet (a sitemap), or into a page not made yet, waits for `later`.

    `unchanged`: the site-wide pages taken as published (by name); `expected`: the files
    still to make; the assessments' pages come with `results`."""

    def __init__(self, results: list[AffairResult], unchanged: Mapping[str, Row],
                 expected: Iterable[PurePosixPath], config: SiteConfig,
                 munis: list[Municipality], entries: EntryStore, staged: Path) -> None:
        self.affair_pages = {p.path: p for r in results for p in r.pages}
        self.unchanged = unchanged
        # A page taken from the last build is known by its name alone: no path is made for it.
        self.names: dict[str, PurePosixPath | str] = {name: name for name in unchanged}
        self.names.update((str(p), p) for p in self.affair_pages)
        self.waiting: set[str] = set()
        for p in expected:
            self.names[str(p)] = p
            if p.suffix == ".html":
                self.waiting.add(str(p))
        self.files: dict[PurePosixPath, _Made] = {}
        self.base = config.base_url.rstrip("/")
        self.sources = linkcheck.sources(Site(config=config, municipalities=tuple(munis)))
        self.entries = entries
        self.staged = staged
        self.diagnostics: list[Diagnostic] = []
        self.later: list[tuple[PurePosixPath, int, str]] = []
        self.memo: dict[tuple[str, str], tuple | None] = {}
        self.blobs: dict[str, bytes] = {}
        # Every page a link leads into is decoded once (a version page is linked from each
        # of its items' comparisons).
        self.ids_of = functools.cache(self._ids)

    def _ids(self, target: PurePosixPath | str) -> Sequence[str]:
        if isinstance(target, str):
            return page_ids_of(row_ids(self.unchanged[target]))
        made = self.files.get(target)
        if made is not None:
            return page_ids_of(made.ids)
        return page_ids(self.affair_pages[target])

    def add(self, sc: linkcheck.Scan, keep: bool = False) -> None:
        """A file just made: its links checked (but those that must wait), its ids kept;
        `keep`: its links too, in the store (`flush`), for the site cache."""
        name = str(sc.path)
        self.names[name] = sc.path
        self.waiting.discard(name)
        made = self.files[sc.path] = _Made(ids_blob(sc.ids))
        if keep:
            packed = Packed.of(sc.links)
            self.blobs[packed.digest] = packed.blob
            made.links, made.reach = packed.digest, linkcheck.reach(sc.links, self.base)
        if sc.links and sc.path.suffix in (".html", ".xml"):
            found, _ = linkcheck.check_scans({sc.path: sc}, self.names, self.ids_of, self.base,
                                             self.sources, memo=self.memo,
                                             waiting=self.waiting, later=self.later)
            self.diagnostics += found

    def flush(self) -> None:
        """The kept links into the store, where the workers can read on (a short write)."""
        if self.blobs:
            self.entries.put(self.blobs)
            self.entries.commit()
            self.blobs = {}

    def row(self, path: PurePosixPath, fingerprint: str, stamp: tuple[int, int]) -> Row:
        made = self.files[path]
        assert made.reach is not None, path
        return SitePage(fingerprint, stamp, made.ids, made.links, made.reach).row()

    def waited(self) -> dict[PurePosixPath, linkcheck.Scan]:
        """The links that waited, by page, to check now that every file and its ids are
        known."""
        pages: dict[PurePosixPath, list[tuple[int, str]]] = {}
        for path, offset, raw in self.later:
            pages.setdefault(path, []).append((offset, raw))
        return {p: linkcheck.Scan(p, frozenset(), tuple(links), "",
                                  self.staged.joinpath(*p.parts))
                for p, links in pages.items()}


def _check_links(made: _SiteLinks, results: list[AffairResult], moved: set[str],
                 out: Path) -> list[Diagnostic]:
    """E701 for the site-wide pages' links and for the assessments' links to other files.

    The links of the site-wide pages made now were checked as they were made (`made`), but
    those that waited for a file. The site-wide pages taken as published (`made.unchanged`,
    left in `out`, by name: their SitePage rows tell what they reach) and the assessments
    taken from the last build have only their links that may reach a file of `moved`
    (`_moved_targets`) checked, read from the store only if one of them may: the others were
    whole when published and still are (at 1,000 versions checking every link was 4 s of a
    build that changed one sentence)."""
    blobs = made.entries
    urls = linkcheck.urls_of(moved)
    pages = made.waited()
    for name, row in made.unchanged.items():
        if not name.endswith((".html", ".xml")) or not row_reaches(row, urls):
            continue
        page, p = SitePage.of_row(row), PurePosixPath(name)
        # The published file is read only to place a broken link: the same bytes.
        sc = linkcheck.reaching(linkcheck.Scan(p, page_ids_of(page.ids),
                                               blobs.unpack(page.links),  # type: ignore[arg-type]
                                               "", out.joinpath(*p.parts)), urls, made.base)
        if sc is not None:
            pages[p] = sc
    found, _ = linkcheck.check_scans(pages, made.names, made.ids_of, made.base, made.sources,
                                     memo=made.memo)
    diags = made.diagnostics + found
    folders = {linkcheck.folder(m) for m in moved}
    for r in results:
        for o in _outbound(r, moved, folders, blobs):
            target = next((made.names[t] for t in o.targets if t in made.names), None)
            problem = linkcheck.judge(target, o.fragment, made.ids_of)
            if problem is not None:
                diags.append(linkcheck.broken(o.here, o.raw, problem, o.span))
    return diags


def _outbound(r: AffairResult, moved: set[str], folders: set[str], blobs: EntryStore
              ) -> Iterable[linkcheck.Outbound]:
    """An assessment's links to files outside it that the link check must judge: all of them
    if it was built now, else those that may lead to a file of `moved` (in `folders`)."""
    if not r.outbound:
        return ()
    if not r.reused:
        return blobs.unpack(r.outbound)  # type: ignore[return-value]
    if (not moved or folders.isdisjoint(r.target_folders)
            or moved.isdisjoint(blobs.unpack(r.targets))):  # type: ignore[arg-type]
        return ()
    return [o for o in blobs.unpack(r.outbound)  # type: ignore[attr-defined]
            if not moved.isdisjoint(o.targets)]


def render_site(root: Path, site: Site, now: str | None, cache: DiffCache, links: LinkIndex,
                previous: Rendered | None = None, preview: bool = False) -> Rendered:
    """The diff and render stages of a site held whole in memory (the preview server)."""
    theme = find_theme(root, site.config.theme)
    diffs = diff_site(site, cache)
    cache.save()
    return render(site, theme, today_for(site.config, now), diffs, links, previous=previous,
                  preview=preview, a11y=export.accessibility_results(root))
