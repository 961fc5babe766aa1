"""What a build can take from the last one: assessments whose inputs did not change.

An assessment's result (its diagnostics, page list and summary) is stored under
`.piasite-cache/build/` (the preview's under `.piasite-cache/preview/build/`), keyed by a
digest of everything its pages are made from: its own files, its municipality's settings,
site.toml, the forms, the systems registry, the theme, piasite's own code and — for an
assessment with a comment period — "today". When the key
matches and the pages it wrote are still in output/ as they were written, the next build
leaves those files where they are instead of rendering them again: an unchanged page is
neither rendered nor rewritten. Anything that does not match is simply built again.
`piasite check` keeps what it found in each assessment the same way (`CheckCache`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from . import linkcheck
from .assessment import AffairResult, Task
from .diagnostics import Block
from .discover import Listing, Stamp, stat_stamp
from .pickling import quick_pickle
from .routes import PAGEFIND as BUNDLE
from .write import keep_pickle, load_pickle, save_pickle, stamped_files

T = TypeVar("T")

FORMAT = 4
"""Part of every key: a change to what is stored must not read old entries."""


@functools.cache
def code_digest() -> str:
    """piasite's own code and shipped data: a new piasite renders pages anew."""
    h = hashlib.sha256(str(FORMAT).encode())
    pkg = Path(__file__).parent
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".toml", ".json"):
            h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def files_digest(folder: Path, digests: FileDigests | None = None,
                 listing: Listing | None = None) -> str:
    """Every file under `folder` (names and bytes), symlinks included as what they point to;
    from `listing` (this build's) where it has the folder."""
    h = hashlib.sha256()
    for name, full, stamp in _files_under(folder, listing):
        h.update(name.encode() + b"\0")
        try:
            h.update(digests.of(full, stamp) if digests is not None else _read(full))
        except OSError:
            h.update(b"\0unreadable")
    return h.hexdigest()


def _files_under(folder: Path, listing: Listing | None
                 ) -> Iterator[tuple[str, str, Stamp | None]]:
    """(path relative to `folder`, full path, stamp if known) of every file under it, in
    the order of a sorted `os.walk`. Paths as strings: every build asks for every file."""
    listed = listing.under(folder) if listing is not None else None
    if listing is not None and listed is not None:
        cut = len(listing.name(folder)) + 1
        for name, stamp in listed:
            yield name[cut:], os.path.join(listing.root, name), stamp
        return
    top = str(folder)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        prefix = dirpath[len(top) + 1:].replace(os.sep, "/")
        for name in sorted(filenames):
            yield (f"{prefix}/{name}" if prefix else name), os.path.join(dirpath, name), None


class FileMemo:
    """What was read from each of the site's files, kept by the file's stat
    (`discover.stat_stamp`) and piasite's code: a rebuild reads again only the files that
    changed. The survey keeps each _municipality.toml and _affair.toml (reading and parsing
    the 1,428 of a 1,000-version site was about 0.25 s of every rebuild)."""

    def __init__(self, path: Path | None):
        self.path = path
        saved = load_pickle(path) if path else None
        ok = isinstance(saved, tuple) and len(saved) == 2 and saved[0] == code_digest()
        self.before: dict[tuple[str, str], tuple[Stamp, object]] = saved[1] if ok else {}
        self.after: dict[tuple[str, str], tuple[Stamp, object]] = {}
        self.listing: Listing | None = None
        """content/ as this build found it (`_survey` sets it): the stats `get` checks by."""

    def get(self, what: str, file: Path | str, read: Callable[[], T],
            stamp: Stamp | None = None) -> T:
        """`read()`'s result for `file`, from the last build if the file is unchanged (by
        `stamp` when the caller has it; else by `listing`'s, else by its own stat)."""
        key = (what, str(file))
        if stamp is None and self.listing is not None:
            stamp = self.listing.stamp(file)
        if stamp is None:
            try:
                stamp = stat_stamp(os.stat(file))
            except OSError:
                return read()  # the reader reports it
        hit = self.before.get(key)
        if hit is None or hit[0] != stamp:
            hit = (stamp, read())
        self.after[key] = hit
        return hit[1]  # type: ignore[return-value]

    def save(self, every: bool = True) -> None:
        """Keep what this run read, and what the last one read of a kind this one did not
        ask for: `piasite check` reads no assessment's kind, and the build after it would
        otherwise read every _affair.toml again (checked by its stamp when asked, an entry
        kept that way is never stale). A run that did not look at `every` file (a check of
        some folders) keeps all the last one read besides."""
        if not self.path:
            return
        asked = {what for what, _ in self.after}
        kept = {**{k: v for k, v in self.before.items() if not every or k[0] not in asked},
                **self.after}
        if kept != self.before:
            keep_pickle(self.path, (code_digest(), kept))


class FileDigests(FileMemo):
    """Each source file's digest: hashing every file of a 1,000-version site was 0.4 s of
    every build."""

    def of(self, path: str, stamp: Stamp | None = None) -> bytes:
        return self.get("digest", path, functools.partial(_digest, path), stamp)


def _digest(path: str) -> bytes:
    return hashlib.sha256(_read(path)).digest()


def _read(path: str) -> bytes:
    # Not blocking: a named pipe left in content/ reads as empty instead of stopping the
    # build (discover reports it as a file it does not use, W012).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as f:
        return f.read()


@quick_pickle
@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    today: str
    """The day the result was made for, when its pages show a comment period's status."""
    out: str
    """The output folder its pages were published to."""
    result: AffairResult
    """Its links, mentions and comparison entries in the blob store, by digest; without its
    task (None), which the key covers: `reuse` puts the one looked up back (unpickling 714
    copies of the municipality's settings was a tenth of a second of every rebuild)."""
    stamps: tuple[tuple[int, int], ...]
    """(size, mtime in ns) of each page as written, in the order of `result.pages`."""
    check_key: str = ""
    """The key `piasite check` keeps this assessment's findings under (`CheckCache`): a check
    after a build (or the preview's) takes them from `result.report`, which holds exactly
    those (a result with a broken link, or any error, stops the build and is never stored)."""


Published = Mapping[str, tuple[int, int]]
"""output/ as a build found it: each file but the search index ('/'-separated, relative) and
its (size, mtime in ns) (`published`)."""


def entry_file(cache: Path, task: Task) -> Path:
    """Where the build cache in `cache` keeps an assessment's result."""
    return _assessment_file(cache / "build", task)


def _assessment_file(folder: Path, task: Task) -> Path:
    """An assessment's file in a cache of one file per assessment."""
    return folder / task.muni.slug / f"{task.folder.name}.pickle"


def _forget_but(folder: Path, keep: set[Path]) -> None:
    """Remove the files of a cache of one file per assessment that are not in `keep`."""
    if folder.is_dir():
        for p in folder.rglob("*.pickle"):
            if p not in keep:
                p.unlink(missing_ok=True)


class BuildCache:
    """Results of the last build, one file per assessment."""

    def __init__(self, cache: Path, out: Path, site_key: str, today: str, found: Published,
                 check_shared: str = ""):
        self.folder = cache / "build"
        self.out = out
        self.found = found
        """output/ as this build found it: what `lookup` compares an entry's pages with."""
        self.site_key = site_key
        """Digest of what every assessment depends on (settings, forms, registry, theme, code)."""
        self.today = today
        self.reused = 0
        self.digests = FileDigests(cache / "file-digests.pickle")
        self.check_shared = check_shared
        """`check_key` of the build's shared files ("" for none): what each entry's
        `check_key` is made with."""
        self.files: dict[Path, str] = {}
        """Each assessment's files' digest, as `key` found them."""

    def key(self, task: Task, listing: Listing | None = None) -> str:
        """What the assessment is made of; its files by `listing` when this build's."""
        files = self.files[task.folder] = files_digest(task.folder, self.digests, listing)
        return _task_key(self.site_key, task, files)

    def _file(self, task: Task) -> Path:
        return entry_file(self.folder.parent, task)

    def lookup(self, task: Task, key: str) -> Entry | None:
        """The stored result, if its key matches and every page it wrote is still in output/."""
        entry = self.previous(task)
        if entry is None or entry.key != key or (entry.today and entry.today != self.today):
            return None
        if not _as_stamped(self.found, (p.path for p in entry.result.pages), entry.stamps):
            return None
        return entry

    def previous(self, task: Task) -> Entry | None:
        """What the last build stored of this assessment, whatever its key."""
        entry = load_pickle(self._file(task))
        return entry if isinstance(entry, Entry) and entry.out == str(self.out) else None

    def published_ids(self, task: Task) -> dict[PurePosixPath, bytes] | None:
        """The ids of the assessment's pages as output/ holds them (path -> ids_blob), or None
        when output/ may not hold what the last build stored of it."""
        entry = self.previous(task)
        if entry is None or not _as_stamped(self.found, (p.path for p in entry.result.pages),
                                            entry.stamps):
            return None
        return {p.path: p.ids for p in entry.result.pages}

    def reuse(self, entry: Entry, task: Task) -> AffairResult:
        """The entry's result for `task` (the one its key was made of), its pages left in
        output/ as they are."""
        self.reused += 1
        return dataclasses.replace(entry.result, task=task, diffs_computed=0, reused=True)

    def store(self, task: Task, key: str, result: AffairResult,
              where: Callable[[PurePosixPath], Path | str], today_matters: bool) -> None:
        """Keep the result, stamped by its pages as they will stand in output/ (`where`
        tells where each is now: staged, or already in output/)."""
        stamps = tuple(stamp(where(page.path)) for page in result.pages)
        kept = dataclasses.replace(result, task=None, diagnostics=(),
                                   report=Block.of(result.diagnostics))
        check = ""
        if self.check_shared:
            files = self.files.get(task.folder) or files_digest(task.folder, self.digests)
            check = _task_key(self.check_shared, task, files)
        entry = Entry(key, self.today if today_matters else "", str(self.out), kept, stamps,
                      check)
        save_pickle(self._file(task), entry)

    def forget_others(self, tasks: Iterable[Task]) -> None:
        """Drop entries of assessments that no longer exist."""
        _forget_but(self.folder, {self._file(t) for t in tasks})


def _task_key(shared: str, task: Task, files: str) -> str:
    """`shared` (what every assessment depends on) with the assessment's own settings and
    its files' digest."""
    h = hashlib.sha256()
    for part in (shared, repr(task.muni), task.folder.name, files):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


class CheckCache:
    """What `piasite check` found in each assessment, kept for the next check: an assessment
    whose files (and municipality settings, site.toml, forms, registry and piasite itself) did
    not change is reported from here instead of being read and checked again. One file per
    assessment under `.piasite-cache/check/`, as the build's entries: a check reads those it
    looks at and writes those it checked, so neither a scoped check nor an edit pays for the
    whole site (one file for all held 13.5 MB at 1,000 versions, read and written whole by
    every check that changed anything: about 1.3 GB at 100,000).

    What a check finds in an assessment does not depend on the theme, on "today" or on the
    other assessments (those are the build's pages, and the survey's checks run every time),
    so the key is `BuildCache`'s without the theme and the comparison settings. A build
    keeps it in each entry it stores (`Entry.check_key`), so what the last build or the
    preview found serves a check too."""

    def __init__(self, cache: Path, shared) -> None:
        self.cache = cache
        self.folder = cache / "check"
        self.digests = FileDigests(cache / "file-digests.pickle")
        self.shared = check_key(shared)
        self.seen: set[Path] = set()
        """The files of the assessments this check looked at."""
        self.reused = 0

    def key(self, task: Task, listing: Listing | None = None) -> str:
        return _task_key(self.shared, task, files_digest(task.folder, self.digests, listing))

    def _file(self, task: Task) -> Path:
        return _assessment_file(self.folder, task)

    def lookup(self, task: Task, key: str) -> tuple[Block | None] | None:
        """(the block of the assessment's diagnostics the last check found, or else the last
        build or preview; None for none) when its key matches; None when it must be
        checked."""
        path = self._file(task)
        self.seen.add(path)
        saved = load_pickle(path)
        if isinstance(saved, tuple) and len(saved) == 2 and saved[0] == key:
            found = (saved[1],)
        else:
            found = self._built(task, key)
            if found is None:
                return None
            self.store(task, key, found[0])  # the next check reads this small file
        self.reused += 1
        return found

    def _built(self, task: Task, key: str) -> tuple[Block | None] | None:
        for cache in (self.cache, self.cache / "preview"):
            entry = load_pickle(entry_file(cache, task))
            if isinstance(entry, Entry) and entry.check_key == key:
                return (entry.result.report,)
        return None

    def store(self, task: Task, key: str, block: Block | None) -> None:
        path = self._file(task)
        self.seen.add(path)
        keep_pickle(path, (key, block))

    def save(self, every: bool = True) -> None:
        """Forget the assessments no longer in the site when `every` one was looked at (a
        check of some paths keeps the others as they were)."""
        with contextlib.suppress(OSError):  # as keep_pickle: a cache that only spares work
            if every:
                _forget_but(self.folder, self.seen)
            (self.cache / "check.pickle").unlink(missing_ok=True)  # one file for all, before
        self.digests.save(every)


def check_key(shared) -> str:
    """Digest of what every assessment's diagnostics depend on besides its own files."""
    h = hashlib.sha256()
    for part in (code_digest(), repr(shared.config), repr(sorted(shared.forms.items())),
                 repr(sorted(shared.families.items())), repr(shared.systems)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class SitePage:
    """A site-wide page as the last build published it: enough to link it again unrendered.
    The cache keeps it as a `Row`."""

    fingerprint: str
    stamp: tuple[int, int]
    ids: bytes
    """zlib of its HTML ids, one per line."""
    links: str
    """The digest of its links, pickled, in the build's blob store (compare.EntryStore):
    read only when `reach` says one may lead to a file that moved. Kept in this cache they
    were 35 of its 45 MB at 1,000 versions, read and written again by every rebuild."""
    reach: linkcheck.Reach
    """What its links can lead to, told without resolving them (`linkcheck.reach`)."""

    def row(self) -> Row:
        return (self.fingerprint, *self.stamp, self.ids, self.links, self.reach.paths,
                self.reach.odd)

    @classmethod
    def of_row(cls, row: Row) -> SitePage:
        return cls(row[0], (row[1], row[2]), row[3], row[4], linkcheck.Reach(row[5], row[6]))


Row = tuple[str, int, int, bytes, str, str, bool]
"""A SitePage as the cache keeps it and a rebuild passes it on: plain values, which unpickle
ten times as fast as the dataclasses (40,000 site-wide pages with the comparisons split by
prefecture: 0.48 s to read and 0.38 s to write as SitePages, 0.04 and 0.06 s as rows)."""


def row_ids(row: Row) -> bytes:
    """The row's page's ids (`SitePage.ids`)."""
    return row[3]


def row_links(row: Row) -> str:
    """The digest of the row's page's links in the store (`SitePage.links`)."""
    return row[4]


def row_reaches(row: Row, urls: set[str]) -> bool:
    """`Reach.touches` of a row's page, without making the Reach."""
    return linkcheck.Reach(row[5], row[6]).touches(urls) if urls or row[6] else False


class SiteCache:
    """The site-wide pages (home, registry, comments, comparisons …) of the last build, by
    name ('/'-separated, relative to output/): a page whose fingerprint did not change is
    left in output/, not rendered; a group of them (`render.Group`) whose fingerprint did not
    change is not even planned."""

    def __init__(self, cache: Path, out: Path, key: str, found: Published):
        self.path = cache / "site.pickle"
        self.out = out
        self.key = key
        self.found = found
        """output/ as this build found it (`published`)."""
        self.rows: dict[str, Row] = {}
        self.groups: dict[str, tuple[str, ...]] = {}
        """A group's fingerprint -> the names of its files."""
        self.reused = 0
        saved = load_pickle(self.path)
        if isinstance(saved, tuple) and len(saved) == 4 and saved[:2] == (key, str(out)):
            self.rows, self.groups = saved[2], saved[3]

    def reuse(self, name: str, fingerprint: str) -> Row | None:
        """The published page, if nothing it shows changed and output/ still holds it."""
        row = self._published(name)
        if row is None or row[0] != fingerprint:
            return None
        self.reused += 1
        return row

    def reuse_group(self, fingerprint: str) -> dict[str, Row] | None:
        """Every file of the group, if its fingerprint did not change and output/ still holds
        them all as published."""
        names = self.groups.get(fingerprint)
        if names is None:
            return None
        rows = {}
        for name in names:
            row = self._published(name)
            if row is None:
                return None
            rows[name] = row
        self.reused += len(rows)
        return rows

    def published_ids(self, name: str) -> bytes | None:
        """The ids of the page as output/ holds it, or None when unknown."""
        row = self._published(name)
        return None if row is None else row_ids(row)

    def _published(self, name: str) -> Row | None:
        """The last build's row of the page, if output/ still holds the file it stamped."""
        row = self.rows.get(name)
        if row is None or self.found.get(name) != (row[1], row[2]):
            return None
        return row

    def save(self, rows: dict[str, Row], groups: dict[str, tuple[str, ...]]) -> None:
        if rows != self.rows or groups != self.groups:  # 22 MB at 1,000 versions
            save_pickle(self.path, (self.key, str(self.out), rows, groups))


def _as_stamped(found: Published, paths: Iterable[PurePosixPath],
                stamps: Iterable[tuple[int, int]]) -> bool:
    """Every file of `paths` was in output/ with the (size, mtime) it was stored with."""
    return all(found.get(rel.as_posix()) == expected
               for rel, expected in zip(paths, stamps, strict=True))


def stamp(path: Path | str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def site_key(root: Path, shared, theme, compared: frozenset[str], entries: str = "") -> str:
    """Digest of what every assessment's pages depend on besides its own files: what its
    diagnostics depend on (`check_key`: settings, forms and their families, the registry,
    piasite), the theme, which kinds are compared, and the store holding the comparisons'
    entries (`entries`, its token). Made from the check's key, so that a shared input added
    to one is in both."""
    h = hashlib.sha256()
    for part in (check_key(shared), theme.digest, repr(sorted(compared)), entries):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def settle(staged: Path, out: Path, paths: Iterable[PurePosixPath]) -> set[str]:
    """The files of `paths` that differ from output/; each one that does not is dropped from
    the staging folder, so the published file is never rewritten."""
    changed = set()
    for rel in paths:
        new, old = staged.joinpath(*rel.parts), out.joinpath(*rel.parts)
        try:
            same = old.stat().st_size == new.stat().st_size and old.read_bytes() == new.read_bytes()
        except OSError:
            same = False
        if same:
            new.unlink()
        else:
            changed.add(rel.as_posix())
    return changed


def where(staged: Path, out: Path, changed: set[str]
          ) -> Callable[[PurePosixPath | str], str]:
    """Where a file of the new site is until the commit: staged when it changed, else the
    published one in output/ (the staging folder holds only what changed). As a string:
    asked for every page of the site by a rebuild, which pathlib made slow."""
    s, o = str(staged), str(out)

    def locate(rel: PurePosixPath | str) -> str:
        name = str(rel)
        return os.path.join(s if name in changed else o, name)
    return locate


def published(out: Path) -> Published:
    """Every file in output/ but the search index, with its stamp, from one walk."""
    return stamped_files(out, BUNDLE) if out.is_dir() else {}


_INDEXED = b"data-search="


def reuse_index(out: Path, staged: Path, changed: set[str], removed: set[str]) -> bool:
    """Whether output/'s search index stays as it is: no page it indexes (or indexed) has
    changed."""
    if not (out / BUNDLE).is_dir():
        return False
    for rel in sorted(changed | removed):
        if not rel.endswith(".html"):
            continue
        for path in (staged / rel, out / rel):
            try:
                if _INDEXED in path.read_bytes():
                    return False
            except OSError:
                pass
    return True
