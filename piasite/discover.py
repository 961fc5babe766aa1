"""Find the files a site is made of: walk content/ (and forms/) without reading any file.

    content/<muni>/_municipality.toml
    content/<muni>/<affair>/_affair.toml
    content/<muni>/<affair>/<rev>.md              TOML front matter (+++) + Markdown body
    content/<muni>/<affair>/<rev>.changes.toml    its 変更箇所 rows (optional)
    content/<muni>/<affair>/<rev>/index.md        …or a folder: index.md, changes.toml and
                                                  further body-only *.md parts
    content/<muni>/<affair>/_pages/<slug>.md      documents that came with the assessment
    content/systems/<slug>.toml                   the systems registry
    forms/<form-id>.toml                          the site's own form definitions

Names become URLs, so they are checked here: a slug (E011), a version id that is a date
(E201), one file per version (E202), and no name the site itself uses at that place
(E013: a municipality called `search` would overwrite the search page; the names come from
`routes`). Symlinks out of their top folder are refused (E007).
"""

from __future__ import annotations

import datetime
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import routes
from .diagnostics import Diagnostic, Span, error, warning
from .pickling import quick_pickle
from .routes import REV_ID, SLUG
from .source import escapes, symlink_error
from .wareki import parse_date

REGISTRY = "systems"
"""content/systems/ is the systems registry, not a municipality."""
_FIRST_ERA_DAY = datetime.date(1868, 1, 1)  # 明治: a version's date must be printable in 和暦


@quick_pickle
@dataclass(frozen=True, slots=True)
class VersionFiles:
    """The files one version is read from."""

    id: str
    index: Path
    """The Markdown file with the front matter."""
    parts: tuple[Path, ...] = ()
    """Body-only Markdown parts of a version folder, in name order."""
    changes: Path | None = None
    """Its 変更箇所 file (which may not exist)."""

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.index, *self.parts, *((self.changes,) if self.changes else ()))


@quick_pickle
@dataclass(frozen=True, slots=True)
class AffairFiles:
    slug: str
    meta: Path
    """_affair.toml."""
    versions: tuple[VersionFiles, ...]
    pages: tuple[Path, ...]
    """_pages/<slug>.md."""


@dataclass(frozen=True, slots=True)
class MunicipalityFiles:
    slug: str
    meta: Path
    """_municipality.toml."""
    affairs: tuple[AffairFiles, ...]


@dataclass(frozen=True, slots=True)
class SiteFiles:
    municipalities: tuple[MunicipalityFiles, ...]
    systems: tuple[Path, ...]
    forms: tuple[Path, ...]
    """The site's own form definitions (forms/*.toml)."""


Stamp = tuple[int, int, int, int]


def stat_stamp(st: os.stat_result) -> Stamp:
    """What tells a source file unchanged: size, modification and change times, inode. The
    change time too: a tool can set a file's mtime back, not its ctime."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


class Listing:
    """Every regular file under content/ with its stamp (`stat_stamp`, not following
    symlinks), from one walk, in `os.walk`'s top-down order with the names sorted: what the
    privacy scan reads and what a build digests for each assessment's cache key and checks
    each memo's file by. Each had walked and stat-ed content/ for itself (three walks, 0.25 s
    of every rebuild at 1,000 versions). Good for one build: it is what content/ held when
    the build began. Stamps, not stat results: a site's 7,000 of these were 6.8 MB, held in
    the build's two processes while it runs."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.files: list[tuple[str, Stamp]] = []
        """('/'-separated path from the site's root, stamp)."""
        self._spans: dict[str, tuple[int, int]] = {}
        """Folder -> the range of `files` under it, for a folder that holds nothing but
        regular files and folders (no symlink, no pipe, nothing unreadable)."""
        self._walk("content", os.path.join(self.root, "content"))
        self._stamps = dict(self.files)

    def _walk(self, name: str, path: str) -> bool:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:  # gone or unreadable: as if empty (os.walk's way), and not plain
            return False
        start = len(self.files)
        plain = True
        folders = []
        for e in entries:
            try:
                if e.is_symlink():
                    plain = False
                elif e.is_dir(follow_symlinks=False):
                    folders.append(e)
                elif stat.S_ISREG((st := e.stat(follow_symlinks=False)).st_mode):
                    self.files.append((f"{name}/{e.name}", stat_stamp(st)))
                else:
                    plain = False
            except OSError:
                plain = False
        for e in folders:
            plain = self._walk(f"{name}/{e.name}", e.path) and plain
        if plain:
            self._spans[name] = (start, len(self.files))
        return plain

    def name(self, path: Path | str) -> str:
        """A path under the site's root as `files` names it."""
        path = str(path)
        if path.startswith(self.root) and path[len(self.root):len(self.root) + 1] == os.sep:
            path = path[len(self.root) + 1:]  # the usual case, without relpath's work
        else:
            path = os.path.relpath(path, self.root)
        return path.replace(os.sep, "/")

    def under(self, folder: Path) -> Sequence[tuple[str, Stamp]] | None:
        """The files under `folder` (in content/), in the walk's order; None unless it holds
        nothing but regular files and folders (then walk it yourself)."""
        span = self._spans.get(self.name(folder))
        return None if span is None else self.files[span[0]:span[1]]

    def stamp(self, path: Path | str) -> Stamp | None:
        """A regular file's stamp, by its path; None if unlisted."""
        return self._stamps.get(self.name(path))


def rel(root: Path, p: Path) -> PurePosixPath:
    return PurePosixPath(p.relative_to(root).as_posix())


def discover(root: Path) -> tuple[SiteFiles, list[Diagnostic]]:
    """Every content file of the site under `root`; never raises for bad content."""
    diags: list[Diagnostic] = []
    content = root / "content"
    munis = []
    if not content.is_dir():
        diags.append(error("E010", "content/ フォルダがありません", Span(PurePosixPath("content"))))
    else:
        for d in sorted(p for p in content.iterdir() if p.is_dir()):
            if _refused(root, d, diags) or d.name == REGISTRY or d.name.startswith((".", "_")):
                continue
            m = _municipality(root, d, diags)
            if m is not None:
                munis.append(m)
    registry = content / REGISTRY
    if (registry / "_municipality.toml").exists():  # a municipality in the registry's folder
        diags.append(error("E013", f"団体のフォルダ名「{REGISTRY}」は使えません（システム登録簿のフォルダです）",
                           Span(rel(root, registry)), hint="別の名前にしてください。使えない名前: "
                           + "、".join(_reserved_names((), "muni"))))
    systems = tuple(sorted(p for p in registry.glob("*.toml") if not p.name.startswith((".", "_")))
                    ) if registry.is_dir() else ()
    for p in systems:
        if not SLUG.match(p.stem):
            diags.append(error("E011", f"システムのファイル名「{p.stem}」は英小文字・数字・ハイフンで書いてください",
                               Span(rel(root, p))))
    systems = tuple(p for p in systems if SLUG.match(p.stem))
    local = root / "forms"
    forms = tuple(sorted(local.glob("*.toml"))) if local.is_dir() else ()
    return SiteFiles(tuple(munis), systems, forms), diags


def _refused(root: Path, p: Path, diags: list[Diagnostic]) -> bool:
    """A symlink out of content/ is reported (E007) and neither listed nor read."""
    if p.is_symlink() and escapes(root, rel(root, p)):
        diags.append(symlink_error(rel(root, p)))
        return True
    return False


def _name_problem(root: Path, p: Path, name: str, what: str, level: tuple[str, ...],
                  placeholder: str) -> Diagnostic | None:
    """E011 for a name that is not a slug, E013 for one the site's own pages use there."""
    if not SLUG.match(name):
        return error("E011", f"{what}「{name}」は英小文字・数字・ハイフンで書いてください",
                     Span(rel(root, p)))
    taken = routes.collides(level, placeholder, name)
    if taken is not None:
        return error("E013", f"{what}「{name}」は使えません（サイトの同じ場所に「{taken}」を置くため）",
                     Span(rel(root, p)),
                     hint="別の名前にしてください。使えない名前: "
                          + "、".join(_reserved_names(level, placeholder)))
    return None


def _reserved_names(level: tuple[str, ...], placeholder: str) -> list[str]:
    names = [n for n in routes.reserved(level, placeholder) if SLUG.match(n)]
    if placeholder == "doc":
        names.append("日付の形の名前（YYYY-MM-DD）")
    return names


def _municipality(root: Path, d: Path, diags: list[Diagnostic]) -> MunicipalityFiles | None:
    problem = _name_problem(root, d, d.name, "団体のフォルダ名", (), "muni")
    if problem is not None:
        diags.append(problem)
        return None
    meta = d / "_municipality.toml"
    if not meta.is_file():
        diags.append(error("E010", f"{rel(root, d)}/_municipality.toml がありません", Span(rel(root, d))))
        return None
    affairs = []
    with os.scandir(d) as it:
        folders = sorted(e.name for e in it if e.is_dir())
    for name in folders:
        a = d / name
        if _refused(root, a, diags) or name.startswith((".", "_")):
            continue
        af = affair_files(root, a, diags)
        if af is not None:
            affairs.append(af)
    return MunicipalityFiles(d.name, meta, tuple(affairs))


def affair_files(root: Path, d: Path, diags: list[Diagnostic]) -> AffairFiles | None:
    """The files of the assessment in folder `d` (content/<muni>/<affair>/)."""
    problem = _name_problem(root, d, d.name, "事務のフォルダ名", ("muni",), "affair")
    if problem is not None:
        diags.append(problem)
        return None
    meta = d / "_affair.toml"
    if not meta.is_file():
        diags.append(error("E010", f"{rel(root, d)}/_affair.toml がありません", Span(rel(root, d))))
        return None
    return AffairFiles(d.name, meta, _versions(root, d, diags), _pages(root, d / "_pages", diags))


def _versions(root: Path, d: Path, diags: list[Diagnostic]) -> tuple[VersionFiles, ...]:
    """An assessment's versions: <rev>.md (+ .changes.toml), or a <rev>/ folder of parts."""
    # os.scandir, names as strings: a folder's entries tell file from folder without a stat
    # each, and 3.11's pathlib is slow to build and sort paths (every build walks them all).
    entries = []
    with os.scandir(d) as it:
        listing = sorted(it, key=lambda e: e.name)
    for e in listing:
        name = e.name
        if e.is_symlink() and _refused(root, d / name, diags):
            continue
        if name.startswith((".", "_")) or name.endswith(".changes.toml"):
            continue
        if e.is_file() and name.endswith(".md"):
            p = d / name
            stem = name[:-3]
            entries.append((VersionFiles(stem, p, (), p.with_name(f"{stem}.changes.toml")), True))
        elif e.is_dir():
            p = d / name
            with os.scandir(p) as inner:
                found = {f.name: f for f in inner if f.name.endswith(".md")}
            index = found.get("index.md")
            parts = tuple(p / n for n in sorted(found) if n != "index.md")
            entries.append((VersionFiles(name, p / "index.md", parts, p / "changes.toml"),
                            index is not None and index.is_file()))
        else:
            diags.append(warning("W012", f"使われないファイルです: 「{name}」", Span(rel(root, d / name))))
    seen: dict[str, Path] = {}
    versions = []
    for v, exists in entries:
        date = parse_date(v.id)[0] if REV_ID.match(v.id) else None
        if date is None:
            diags.append(error("E201", f"版のファイル名「{v.id}」は公表日の YYYY-MM-DD にしてください",
                               Span(rel(root, v.index))))
            continue
        if date.date() < _FIRST_ERA_DAY:  # type: ignore[operator]
            diags.append(error("E201", f"版の日付「{v.id}」は明治より前で、和暦で示せません",
                               Span(rel(root, v.index))))
            continue
        if v.id in seen:
            diags.append(error("E202", f"版「{v.id}」が2つあります", Span(rel(root, v.index)),
                               related=(Span(rel(root, seen[v.id])),)))
            continue
        if not exists:
            where = rel(root, v.index)
            diags.append(error("E010", f"{where} がありません", Span(where)))
            continue
        seen[v.id] = v.index
        versions.append(v)
    return tuple(versions)


def _pages(root: Path, folder: Path, diags: list[Diagnostic]) -> tuple[Path, ...]:
    """Documents that accompany an assessment: content/<muni>/<affair>/_pages/<slug>.md."""
    try:
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it if e.name.endswith(".md"))
    except OSError:  # no _pages/ (or not a folder, or unreadable: pathlib's glob saw nothing)
        return ()
    pages = []
    for p in (folder / n for n in names):
        problem = _name_problem(root, p, p.stem, "資料のファイル名", ("muni", "affair"), "doc")
        if problem is not None:
            diags.append(problem)
            continue
        pages.append(p)
    return tuple(pages)
