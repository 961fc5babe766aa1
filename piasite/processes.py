"""Worker processes: the pools the build's stages start (the assessments and comparison
item pages in assessment.py, the pages' search records in index.py, the files the privacy
scan reads in privacy.py), and the process of its own a large build writes its pages in
(`apart`, pipeline.py); and how they stop with the build that started them, whether it is
stopped (`let_go`) or killed (`_lifeline`)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import signal
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import TypeVar

T = TypeVar("T")


def pool(workers: int, initializer: Callable[..., object] | None = None,
         initargs: tuple = ()) -> concurrent.futures.ProcessPoolExecutor:
    # forkserver: each worker starts from a clean process, copying no thread or state of the
    # caller (an embedding program, the preview's server threads).
    _start_server()
    made = _Pool(workers, mp_context=_context(), initializer=_start,
                 initargs=(_lifeline(), initializer, initargs))
    _pools.add(made)
    return made


class _Pool(concurrent.futures.ProcessPoolExecutor):
    """Its workers know when they are at a task (`_at_work`): SIGTERM interrupts a task, but
    not a worker waiting for one, which ends when the pool is shut down. A worker ended while
    it waits breaks the pool, and Python 3.11 then fails on the futures the caller cancelled
    (InvalidStateError in the pool's own thread, printed as a traceback)."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_at_work, fn, *args, **kwargs)


_working = False


def _at_work(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    global _working
    _working = True
    try:
        return fn(*args, **kwargs)
    finally:
        _working = False


def _start_server() -> None:
    """The fork server started with SIGTERM ignored, as its workers then are until `_start`
    handles it: a worker that the signal found starting would end, which breaks its pool
    (`_Pool`). A SIGTERM sent in the milliseconds the server takes to start is lost."""
    if (_context().get_start_method() != "forkserver"
            or threading.current_thread() is not threading.main_thread()):
        return
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGTERM, before)


_pools: weakref.WeakSet[concurrent.futures.ProcessPoolExecutor] = weakref.WeakSet()
_line: tuple[Connection, Connection] | None = None
"""A pipe nothing is sent on: the workers this process starts hold its reading end and end
when it is closed, that is when this process ends, however it ends (a SIGKILL too)."""


def _lifeline() -> Connection:
    global _line
    if _line is None:
        _line = _context().Pipe(duplex=False)
    return _line[0]


def let_go() -> None:
    """Stop the worker processes this one started (SIGTERM): each tells its own, and
    interrupts the task it is at, as Ctrl+C would; one waiting for a task ends with its
    pool's shutdown. A build stopped by a signal then leaves no process working on, nor
    writing into the folder it drops. Left alone, they would go on: they wait on queues whose
    other end they hold themselves."""
    global _excepthook
    if threading.excepthook is not _quiet_when_stopped:
        _excepthook, threading.excepthook = threading.excepthook, _quiet_when_stopped
    for made in list(_pools):
        for pid in list(getattr(made, "_processes", None) or ()):  # None once shut down
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)


_excepthook = threading.excepthook


def _quiet_when_stopped(args: threading.ExceptHookArgs) -> None:
    # Should a pool break anyway (a worker ended by other means), Python 3.11's pool sets an
    # error on the futures the caller has cancelled and fails in its own thread (3.12
    # ignores that error too).
    if not isinstance(args.exc_value, concurrent.futures.InvalidStateError):
        _excepthook(args)


def _start(line: Connection, initializer: Callable[..., object] | None,
           initargs: tuple) -> None:
    signal.signal(signal.SIGTERM, _stop)
    threading.Thread(target=_watch, args=(line,), name="piasite-lifeline", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _stop(signum: int, frame: object) -> None:
    let_go()
    if _working:
        raise KeyboardInterrupt


def _watch(line: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        line.recv_bytes()  # nothing is ever sent: returns when the other end is closed
    os._exit(1)  # the process that started this one is gone: so is its work


def _context() -> multiprocessing.context.BaseContext:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def apart(fn: Callable[..., T], *args: object,
          told: Callable[..., object] | None = None) -> T:
    """`fn(*args)` in a process of its own, its result sent back; what it passes to `tell`
    there is passed to `told` here as it goes (how far it is: what is still on its way when
    `fn` returns is dropped). What that process allocated goes back to the system when it
    ends, however its heap was left: a long-lived Python process keeps the memory it freed
    (the allocator returns an arena only once every object in it is gone, and a few
    survivors pin many)."""
    events = _context().Queue()  # the pool's context: get_context gives the same one
    with pool(1, _hear, (events,)) as one:
        future = one.submit(fn, *args)
        while not future.done():
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if told is not None:
                told(*event)
        return future.result()


_events = None


def _hear(events) -> None:
    global _events
    _events = events


def tell(*event: object) -> None:
    """To the caller of `apart`, which passes it on to its `told`."""
    if _events is not None:
        _events.put(event)


def map_in_order(fn: Callable, work: list, jobs: int, fewest: int = 0) -> list:
    """`fn` over `work`, in order, by `jobs` worker processes; several batches per worker, so
    that none waits on the slowest. In this process for one job or fewer than `fewest` items
    (starting workers costs about a second)."""
    if jobs <= 1 or len(work) < fewest:
        return list(map(fn, work))
    with pool(jobs) as workers:
        return list(workers.map(fn, work, chunksize=max(1, len(work) // (jobs * 8))))


class InOrder:
    """The results of futures in the order they were submitted, each let go once taken: a
    list of the futures would hold every result until the last is taken (all the comparison
    item pages' links, at 1,000 versions split by prefecture, while the parent made the other
    site-wide pages)."""

    def __init__(self, futures: Iterable[concurrent.futures.Future]) -> None:
        self.pending = deque(futures)

    def ready(self) -> Iterator:
        """Those done already, up to the first that is not."""
        while self.pending and self.pending[0].done():
            yield self.pending.popleft().result()

    def __iter__(self) -> Iterator:
        """All the others, waiting for each."""
        while self.pending:
            yield self.pending.popleft().result()
