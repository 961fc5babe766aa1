"""write.commit: a rebuild's changed files reach output/ whole, and an interrupted commit is
finished by the next build (write.recover); a build stopped by a signal, or killed, leaves no
worker working on and no staging folder behind (processes.let_go, write.new_stage)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import copy_site

from piasite import write
from piasite.pickling import quick_pickle


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _site(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")


def test_a_commit_moves_changed_files_in_and_removes_the_others(tmp_path):
    out = tmp_path / "output"
    _site(out, {"index.html": "old", "a/b/index.html": "gone", "keep.css": "same",
                "page": "a file where a folder goes", "folder/x.html": "a folder that goes"})
    kept = (out / "keep.css").stat().st_ino
    tmp = write.new_stage(out)
    _site(tmp, {"index.html": "new", "c/index.html": "added", "page/index.html": "folder now",
                "folder": "a file now"})
    write.commit(tmp, out, ["index.html", "c/index.html", "page/index.html", "folder"],
                 ["a/b/index.html", "page", "folder/x.html"])
    assert _tree(out) == {"c/index.html": "added", "folder": "a file now", "index.html": "new",
                          "keep.css": "same", "page/index.html": "folder now"}
    assert (out / "keep.css").stat().st_ino == kept  # untouched
    assert not (out / "a").exists()  # emptied folders go too
    assert [p.name for p in tmp_path.iterdir()] == ["output"]  # nothing left beside it


def test_an_interrupted_commit_is_finished_by_recover(tmp_path, monkeypatch):
    out = tmp_path / "output"
    _site(out, {"one.html": "1", "two.html": "2", "three.html": "3", "old.html": "x"})
    tmp = write.new_stage(out)
    _site(tmp, {"one.html": "1'", "two.html": "2'", "three.html": "3'"})
    real = write._place
    moved = []

    def cut(src, dst, top):
        if len(moved) == 1:
            raise KeyboardInterrupt
        moved.append(dst)
        real(src, dst, top)

    monkeypatch.setattr(write, "_place", cut)
    with pytest.raises(KeyboardInterrupt):
        write.commit(tmp, out, ["one.html", "two.html", "three.html"], ["old.html"])
    monkeypatch.setattr(write, "_place", real)
    write.discard(tmp)  # what a build's error handling does: the commit's folder stays
    assert _tree(out) == {"one.html": "1'", "two.html": "2", "three.html": "3", "old.html": "x"}
    write.recover(out)
    assert _tree(out) == {"one.html": "1'", "two.html": "2'", "three.html": "3'"}
    assert [p.name for p in tmp_path.iterdir()] == ["output"]
    write.recover(out)  # nothing left to do
    assert _tree(out) == {"one.html": "1'", "two.html": "2'", "three.html": "3'"}


def test_a_first_build_becomes_output_whole(tmp_path):
    out = tmp_path / "output"
    tmp = write.new_stage(out)
    _site(tmp, {"index.html": "first"})
    write.commit(tmp, out, ["index.html"], [])
    assert _tree(out) == {"index.html": "first"}
    assert [p.name for p in tmp_path.iterdir()] == ["output"]


def test_a_delta_index_moves_in_before_the_manifests_that_name_it(tmp_path):
    from piasite.index import DELTA, IndexResult, bundle_changes

    staged, published = tmp_path / "staged", tmp_path / "output" / "pagefind"
    _site(staged, {f"pagefind/{DELTA}/{rel}": "new" for rel in (
        "pagefind-entry.json", "pagefind.zxx_1.pf_meta", "index/zxx_1.pf_index", "piasite.json")})
    _site(staged, {"pagefind/piasite.json": "new"})
    _site(published, {f"{DELTA}/pagefind.zxx_0.pf_meta": "old", "pagefind-entry.json": "base"})
    moved, removed = bundle_changes(staged, published, IndexResult(scope=DELTA))
    # Each entry file after the files it names; the bundle's manifest, naming the delta, last.
    assert moved == ["pagefind/delta/index/zxx_1.pf_index", "pagefind/delta/pagefind.zxx_1.pf_meta",
                     "pagefind/delta/pagefind-entry.json", "pagefind/delta/piasite.json",
                     "pagefind/piasite.json"]
    assert removed == ["pagefind/delta/pagefind.zxx_0.pf_meta"]  # the base stays


def test_the_output_walk_lists_every_file_with_its_stamp_but_the_skipped_folder(tmp_path):
    # What a rebuild compares its caches with: one walk, each file's size and mtime. The
    # search index's folder is left out at the top only; a linked folder is not walked into.
    out = tmp_path / "out"
    for rel, data in {"index.html": b"a", "pagefind/x.pf": b"bb", "a/pagefind/y.html": b"ccc",
                      "a/b/c/index.html": b"dddd"}.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    (out / "linked").symlink_to(out / "a", target_is_directory=True)
    found = write.stamped_files(out, "pagefind")
    assert found.keys() == {"index.html", "a/pagefind/y.html", "a/b/c/index.html"}
    st = (out / "a/b/c/index.html").stat()
    assert found["a/b/c/index.html"] == (4, st.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert sorted(found) == sorted(write.files_in(out, "pagefind"))
    assert write.stamped_files(tmp_path / "missing") == {}


@quick_pickle
@dataclass(frozen=True, slots=True)
class Kept:
    name: str
    line: int = 1


@quick_pickle
@dataclass(slots=True)
class Open:
    name: str
    line: int = 1


def test_a_quick_pickle_class_reads_back_frozen_or_not(tmp_path):
    """A frozen class is restored through object.__setattr__ and stays frozen; another (a
    FieldView) by plain assignment; both read back equal."""
    import dataclasses

    path = tmp_path / "entry.pickle"
    write.save_pickle(path, (Kept("a", 3), Open("b", 4)))
    kept, open_ = write.load_pickle(path)
    assert (kept, open_) == (Kept("a", 3), Open("b", 4))
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept.line = 5  # type: ignore[misc]
    open_.line = 5
    assert open_ == Open("b", 5)


def test_a_cache_entry_of_another_shape_reads_as_none(tmp_path, monkeypatch):
    # The build caches hold quick_pickle classes: the same class reads back equal; a class
    # that gained a field since (a new piasite) finds the old entry unreadable, and the build
    # only makes it again.
    path = tmp_path / "entry.pickle"
    write.save_pickle(path, [Kept("a", 3), Kept("b")])
    assert write.load_pickle(path) == [Kept("a", 3), Kept("b")]

    @quick_pickle
    @dataclass(frozen=True, slots=True)
    class Grown:
        name: str
        line: int = 1
        col: int = 1

    monkeypatch.setattr(sys.modules[__name__], "Kept", Grown)
    assert write.load_pickle(path) is None


def test_a_diagnostic_restored_shares_its_message_with_the_others():
    # Each assessment's result comes back from its worker as a pickle of its own; the same
    # message restored from two of them is one string, not two (a large site's diagnostics
    # repeat a few hundred texts tens of thousands of times).
    from pathlib import PurePosixPath

    from piasite.diagnostics import Span, warning

    def restored(i: int):
        d = warning("W404", "変更箇所 3 行目の変更前が一致しません", Span(PurePosixPath(f"{i}.toml")))
        return pickle.loads(pickle.dumps(d))

    a, b = restored(1), restored(2)
    assert a.message == "変更箇所 3 行目の変更前が一致しません"
    assert a.message is b.message
    assert a.span.path != b.span.path


def _descendants(pid: int) -> set[int]:
    """The processes under `pid` (Linux's /proc): the build's workers and their server."""
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; its parent may be gone


def _still_running(pids: set[int], wait: float = 10) -> list[int]:
    """Those of `pids` still running after up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if _running(pid)]


def _stopped_build(tmp_path: Path, sig: int) -> tuple[subprocess.Popen, set[int], Path]:
    """The bundled site's build on two workers, sent `sig` once its workers are at work."""
    site = copy_site(tmp_path / "site", ("midori", "yatsushiro", "asahikawa", "okayama",
                                         "toyonaka"))
    # Into a file, not a pipe: workers left behind would hold a pipe open.
    with open(tmp_path / "stderr.txt", "wb") as err:
        build = subprocess.Popen(
            [sys.executable, "-m", "piasite", "build", "--site", str(site), "-j", "2"],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 3 and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        workers = _descendants(build.pid)  # the forkserver and the two workers
    assert len(workers) >= 3, "the build ended before its workers were seen"
    time.sleep(0.5)
    os.kill(build.pid, sig)
    build.wait(timeout=60)
    return build, workers, site


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_build_stopped_by_sigterm_leaves_no_process_and_no_staging_folder(tmp_path):
    # A CI job's timeout or `kill` sends SIGTERM to piasite alone: it must end as Ctrl+C
    # ends it, its workers with it (they went on building a site nobody would publish).
    build, workers, site = _stopped_build(tmp_path, signal.SIGTERM)
    err = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert build.returncode == 143, err
    assert "停止の指示（SIGTERM）を受けて終了しました。" in err
    assert "Traceback" not in err and "leaked" not in err, err
    assert _still_running(workers) == []
    assert sorted(p.name for p in site.iterdir()) == [".piasite-cache", "content", "site.toml",
                                                        "themes"]  # no output/, no stage


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_end_with_a_build_that_is_killed_and_the_next_build_clears_its_stage(
        tmp_path):
    # SIGKILL leaves piasite no way to clean up; its workers must still not work on, and
    # the next build removes the folder it was staging into.
    build, workers, site = _stopped_build(tmp_path, signal.SIGKILL)
    assert build.returncode == -signal.SIGKILL
    assert _still_running(workers) == []
    assert [p.name for p in site.glob(".output.new-*")] != []
    assert write.new_stage(site / "output").name.startswith(f".output.new-{os.getpid()}-")
    assert [p.name for p in site.glob(".output.new-*")] == [
        p.name for p in site.glob(f".output.new-{os.getpid()}-*")]


@pytest.mark.skipif(os.name != "posix", reason="process ids asked with os.kill(pid, 0)")
def test_a_stage_is_kept_while_its_build_runs_or_its_commit_is_unfinished(tmp_path):
    out = tmp_path / "output"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    gone = int(ended.stdout)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _site(tmp_path, {f".output.new-{gone}-abc/index.html": "killed",
                         f".output.new-{running.pid}-def/index.html": "building",
                         ".output.new-older/index.html": "no process id: not ours to judge",
                         "output/index.html": "published"})
        mine = write.new_stage(out)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
            f".output.new-{running.pid}-def", ".output.new-older", "output", mine.name])
        # A commit cut short: its stage waits for `recover`, whoever staged it.
        _site(tmp_path, {f".output.new-{gone}-ghi/index.html": "half committed"})
        (tmp_path / ".output.commit.json").write_text("{}", encoding="utf-8")
        write.new_stage(out)
        assert (tmp_path / f".output.new-{gone}-ghi").is_dir()
    finally:
        running.kill()
        running.wait()
