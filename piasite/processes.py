"""Worker processes: the pools the build's stages start (the assessments and comparison
item pages in assessment.py, the pages' search records in index.py, the files the privacy
scan reads in privacy.py)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator


def pool(workers: int, initializer: Callable[..., object] | None = None,
         initargs: tuple = ()) -> concurrent.futures.ProcessPoolExecutor:
    # forkserver: each worker starts from a clean process, copying no thread or state of the
    # caller (an embedding program, the preview's server threads).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method), initializer=initializer,
        initargs=initargs)


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
