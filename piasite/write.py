"""Write a rendered site into the output folder, all or nothing.

Pages go into a fresh sibling folder first (`stage`); steps such as the search index may add
files there; only then does it reach output/ (`commit`), so a failed or interrupted build
leaves the previous output exactly as it was (`discard` drops the staged folder).

A first build's folder simply becomes output/. A rebuild stages only the files that differ
from output/ and moves them in one by one, each with an atomic rename (new files first,
removals last), under a journal beside output/: a commit cut short is finished by the next
build (`recover`) from the staged files it left. Swapping a whole new tree in instead meant
linking every unchanged file into it and deleting the old tree: about 1 s of a one-sentence
edit at 1,000 versions (15,700 files, 5,100 folders).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath


def new_stage(out: Path) -> Path:
    """A new empty folder beside `out`, for a build to write into before it is swapped in;
    named with the building process's id, so that the folders of builds that were killed are
    removed here (`_sweep`)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep(out)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))


def _sweep(out: Path) -> None:
    """Remove the staging folders beside `out` whose build is no longer running: a build
    stopped by SIGKILL (or a power cut) cannot remove its own, 2.3 GB at 1,000 versions.
    Not one a half-done commit still needs (`recover` runs first, and takes it), nor one of
    another build running now. Only where a process's id can be asked about without harm
    (POSIX: on Windows os.kill would end the process)."""
    if os.name != "posix" or _journal(out).exists():
        return
    prefix = f".{out.name}.new-"
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for e in entries:
        pid = e.name[len(prefix):].partition("-")[0]
        if (e.name.startswith(prefix) and pid.isdigit() and e.is_dir(follow_symlinks=False)
                and not _running(int(pid))):
            shutil.rmtree(e.path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True


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


def commit(tmp: Path, out: Path, changed: Iterable[str] | None = None,
           removed: Iterable[str] = ()) -> None:
    """Put the staged folder `tmp` in place as `out`: whole when `changed` is None or there
    is no `out` yet, else by moving the `changed` files ('/'-separated, relative; in the
    order given) into `out` and deleting the `removed` ones."""
    out = out.resolve()
    try:
        if changed is None or not out.is_dir():
            _swap(tmp, out)
            return
        journal = _journal(out)
        changed, removed = list(changed), list(removed)
        (tmp / _COMMITTING).touch()
        _save_json(journal, {"staged": str(tmp), "changed": changed, "removed": removed})
    except BaseException:
        _journal(out).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _apply(tmp, out, changed, removed)
    journal.unlink()
    shutil.rmtree(tmp, ignore_errors=True)


def recover(out: Path) -> None:
    """Finish the commit an interrupted build left half done, if any: output/ is then the
    site that build published, whole."""
    out = out.resolve()
    journal = _journal(out)
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
        tmp = Path(plan["staged"])
        changed, removed = plan["changed"], plan["removed"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # written whole or not at all: never half of one
        return
    if tmp.is_dir():
        _apply(tmp, out, changed, removed)
    journal.unlink(missing_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)


_COMMITTING = ".piasite-committing"
"""Put in a staged folder once its commit begins: `discard` then leaves it to `recover`."""


def _journal(out: Path) -> Path:
    return out.parent / f".{out.name}.commit.json"


def _save_json(path: Path, obj: object) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _swap(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _apply(tmp: Path, out: Path, changed: list[str], removed: list[str]) -> None:
    """Move each staged file of `changed` over its place in `out`, then delete `removed` and
    the folders they leave empty. Done again after an interruption, it finishes the job: a
    file already moved is no longer in `tmp`."""
    top = str(out)
    for rel in changed:
        src = os.path.join(tmp, rel)
        if os.path.lexists(src):
            _place(src, os.path.join(top, rel), top)
    for rel in removed:
        path = os.path.join(top, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            continue  # the new site's folder now stands where that file was
        # Gone already (an interrupted commit), or its folder is a file now.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(path)
        parent = os.path.dirname(path)
        while parent != top and len(parent) > len(top):
            try:
                os.rmdir(parent)
            except OSError:  # not empty (or gone): the folders above are not empty either
                break
            parent = os.path.dirname(parent)


def _place(src: str, dst: str, top: str) -> None:
    """os.replace, making the folders it needs; a file where a folder must go (or the other
    way round, when the site's shape changed) gives way."""
    try:
        os.replace(src, dst)
        return
    except OSError:  # the errors differ between systems: look at what stands in the way
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)  # a folder of the old site where a file goes
        else:  # no folder yet, or a file where one goes
            _make_folders(os.path.dirname(dst), top)
    os.replace(src, dst)


def _make_folders(folder: str, top: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        # A file stands where a folder of the new site goes: the file is in `removed`.
        parent = folder
        while parent != top and not os.path.isdir(parent):
            if os.path.lexists(parent):
                os.unlink(parent)
                break
            parent = os.path.dirname(parent)
        os.makedirs(folder, exist_ok=True)


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


def keep_pickle(path: Path, obj: object) -> None:
    """`save_pickle` for a cache that only spares work (what a file held when last read):
    where it cannot be written (a read-only site folder, a full disk, a file in the way)
    it stays as it was, and the next run reads those files again."""
    with contextlib.suppress(OSError):
        save_pickle(path, obj)


def load_pickle(path: Path) -> object | None:
    """What `save_pickle` wrote; None when there is none or it cannot be read (a damaged cache
    only makes a slower build).

    Unpickling makes only live objects, by the hundred thousand at 1,000 versions: the cyclic
    collector is kept off while it runs. Inside `frozen_loads` what it made is also frozen out
    of later collections, which otherwise rescanned the loaded caches again and again (1.2 s
    of a 4.6-s rebuild); reference counting still frees them."""
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
        if _freezing:
            gc.freeze()


_freezing = False


def freeze_kept() -> None:
    """Inside `frozen_loads`: freeze what is alive now out of later collections — what the
    build keeps to its end (a result a worker just sent, the site's summary). Without it,
    the full passes over every result kept so far were 1.4 s of the writing process's CPU
    in a cold build of 1,000 versions."""
    if _freezing:
        gc.freeze()


@contextlib.contextmanager
def frozen_loads() -> Iterator[None]:
    """For a one-shot process (`piasite build`): the caches `load_pickle` reads are frozen out
    of the cyclic collector until the block ends. Not for the preview server, which lives on:
    cyclic garbage frozen along with them would wait for the end of each build (500 MB more
    at 1,000 versions)."""
    global _freezing
    _freezing = True
    try:
        yield
    finally:
        _freezing = False
        gc.unfreeze()


def give_back_memory() -> None:
    """Return to the system the memory this process freed (the C library keeps it for reuse
    otherwise): before the search index, whose Pagefind runs beside this process, and once
    the index has dropped the records it read. At 300 versions the build falls from 308 to
    193 MB. Only where the C library is glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and others: no malloc_trim
        return
    trim(0)


def files_in(folder: Path, skip: str = "") -> list[str]:
    """Every file under `folder` as a path relative to it ('/'-separated), leaving out the
    top-level folder `skip`. String arithmetic: output/ holds tens of thousands of files."""
    found: list[str] = []
    top = str(folder)
    cut = len(os.path.join(top, ""))
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top:
            dirnames[:] = [d for d in dirnames if d != skip]
            found.extend(filenames)
            continue
        prefix = dirpath[cut:].replace(os.sep, "/") + "/"
        found.extend(prefix + name for name in filenames)
    return found


def stamped_files(folder: Path, skip: str = "") -> dict[str, tuple[int, int]]:
    """`files_in` with each file's (size, mtime in ns): what the build caches compare with what
    they stored. One walk that stats as it lists (a directory entry's own stat, not a path
    joined and looked up again): at 45,000 files, the walk alone cost as much, and the stats
    one by one twice that again."""
    found: dict[str, tuple[int, int]] = {}
    todo = [("", str(folder))]
    while todo:
        prefix, here = todo.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:  # gone or unreadable: as if empty (os.walk's way)
            continue
        for e in entries:
            try:
                if e.is_dir():
                    if not e.is_symlink() and (prefix or e.name != skip):
                        todo.append((f"{prefix}{e.name}/", e.path))
                    continue
                st = e.stat()
            except OSError:
                continue
            found[prefix + e.name] = (st.st_size, st.st_mtime_ns)
    return found


def discard(tmp: Path) -> None:
    """Drop a staged folder, unless its commit has begun (an interrupt in the middle of it):
    the next build finishes that commit from it (`recover`)."""
    if not (tmp / _COMMITTING).exists():
        shutil.rmtree(tmp, ignore_errors=True)


def write(files: Mapping[PurePosixPath, bytes], out: Path) -> None:
    commit(stage(files, out), out)
