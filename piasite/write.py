"""Write a rendered site into the output folder, all or nothing.

Pages go into a fresh sibling folder first (`stage`); steps such as the search index may add
files there; only then is it swapped into place (`commit`), so a failed or interrupted build
leaves the previous output exactly as it was (`discard` drops the staged folder).
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath


def new_stage(out: Path) -> Path:
    """A new empty folder beside `out`, for a build to write into before it is swapped in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))


def put(folder: Path, rel: PurePosixPath, data: bytes) -> None:
    """Write one file into a staging folder (no reader sees it before `commit`)."""
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"refusing to write outside the output folder: {rel}")
    target = folder.joinpath(*rel.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def stage(files: Mapping[PurePosixPath, bytes], out: Path) -> Path:
    """Write every file into a new temp folder beside `out`; return that folder."""
    tmp = new_stage(out)
    try:
        for rel in sorted(files, key=str):
            put(tmp, rel, files[rel])
    except BaseException:
        discard(tmp)
        raise
    return tmp


def commit(tmp: Path, out: Path) -> None:
    """Swap the staged folder `tmp` into place as `out`."""
    out = out.resolve()
    try:
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        discard(tmp)
        raise


_UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError)


def save_pickle(path: Path, obj: object) -> None:
    """Write a cache file whole or not at all: another build or the preview, reading it at the
    same moment, sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_pickle(path: Path) -> object | None:
    """What `save_pickle` wrote; None when there is none or it cannot be read (a damaged cache
    only makes a slower build).

    Unpickling makes only live objects, by the hundred thousand at 1,000 versions: the cyclic
    collector is kept off while it runs, and what it made is frozen out of later collections,
    which otherwise rescanned the loaded caches again and again (1.2 s of a 4.6-s rebuild).
    Reference counting still frees them."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    except _UNREADABLE:
        return None
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def link_or_copy(src: Path | str, dst: Path | str) -> None:
    """`dst` as a hard link to `src` (an unchanged file is never rewritten), or a copy where
    the file system has no links."""
    try:
        os.link(src, dst)
        return
    except FileNotFoundError:  # its folder is not made yet (made once, not tried per file)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
    except OSError:
        shutil.copy2(src, dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link_all(pairs: Iterable[tuple[Path, Path]]) -> None:
    for src, dst in pairs:
        link_or_copy(src, dst)


Stamp = tuple[int, int, int, int]


def stat_stamp(st: os.stat_result) -> Stamp:
    """What tells a source file unchanged: size, modification and change times, inode. The
    change time too: a tool can set a file's mtime back, not its ctime."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def files_in(folder: Path, skip: str = "") -> list[str]:
    """Every file under `folder` as a path relative to it ('/'-separated), leaving out the
    top-level folder `skip`. String arithmetic: output/ holds tens of thousands of files."""
    found: list[str] = []
    top = str(folder)
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top:
            dirnames[:] = [d for d in dirnames if d != skip]
            found.extend(filenames)
            continue
        prefix = Path(dirpath).relative_to(folder).as_posix() + "/"
        found.extend(prefix + name for name in filenames)
    return found


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def write(files: Mapping[PurePosixPath, bytes], out: Path) -> None:
    commit(stage(files, out), out)
