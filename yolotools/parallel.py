"""The one process pool of the data tools: map a worker over items in chunks,
in order, with a progress bar.

Small inputs run in this process (a pool costs ~50-100 ms to start); larger ones
use one process per *free* core, at most 8 (fork where the platform has it: our
workers start no threads before the fork).  Free: the cores this process may
use minus the other processes running right now (Linux's instantaneous count in
``/proc/loadavg``, else the 1-minute load average): on a 2-core machine whose
other core is busy, two workers would fight over one core and one process is
faster.  Workers exit when their parent dies (a
``kill -9`` of ``yolotools convert`` leaves no orphans): each one checks its
parent between items and, on Linux, asks the kernel for SIGTERM on the
parent's death.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Iterator, Sequence, TypeVar

__all__ = ["map_chunks", "pool_size", "free_cores", "usable_cores", "POOL_MIN_ITEMS", "progress_bar"]

T = TypeVar("T")
R = TypeVar("R")

POOL_MIN_ITEMS = 2000  # below this a pool costs more than it saves


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _others_running() -> int:
    """Processes running or runnable now besides this one."""
    try:
        with open("/proc/loadavg") as f:
            return max(0, int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        try:
            return max(0, int(os.getloadavg()[0] + 0.5))
        except (AttributeError, OSError):
            return 0


def free_cores() -> int:
    """Cores this process may use that no other process is running on now (at least 1)."""
    return max(1, usable_cores() - _others_running())


def pool_size(n_items: int, workers: int | None = None, min_items: int = POOL_MIN_ITEMS) -> int:
    """Processes for ``n_items``: 1 below ``min_items``, else ``workers`` or
    one per free core (:func:`free_cores`), at most 8."""
    if n_items < min_items:
        return 1
    if workers is not None:
        return max(1, int(workers))
    return max(1, min(free_cores(), 8))


def _mp_context():
    import multiprocessing as mp

    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


def _die_with_parent(parent: int) -> None:
    """Pool initialiser: SIGTERM on the parent's death (Linux), and remember the
    parent so that long chunks can check it."""
    global _PARENT
    _PARENT = parent
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the per-chunk check below still holds
        pass
    if os.getppid() != parent:  # died before we set the signal
        os._exit(1)


_PARENT: int | None = None


def _run(fn, chunk):
    if _PARENT is not None and os.getppid() != _PARENT:
        os._exit(1)
    return fn(chunk)


class _NoBar:
    """What :func:`progress_bar` gives when there is no bar to show."""

    def __init__(self, iterable=None):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(show: bool, iterable=None, **kw):
    """A tqdm bar when ``show``, else a stand-in with the same use (iteration,
    ``update``, ``with``) that does not import tqdm (~25 ms of a quiet command's start)."""
    if not show:
        return _NoBar(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kw)


def map_chunks(fn: Callable[[Sequence[T]], R], items: Sequence[T], *, workers: int | None = None, chunk_size: int | None = None,
               progress: bool = False, desc: str = "", unit: str = "item", min_items: int = POOL_MIN_ITEMS) -> Iterator[R]:
    """Yield ``fn(chunk)`` for consecutive chunks of ``items``, in order.

    ``fn`` must be a module-level function (it is pickled to the workers) that
    takes a list of items and returns a picklable result; errors inside it are
    the worker's to collect (return them) — an exception ends the whole map.
    ``chunk_size`` default: 512 in one process, else ~8 chunks per process
    (at least 128 items)."""
    n = len(items)
    procs = pool_size(n, workers, min_items)
    if chunk_size is None:
        chunk_size = 512 if procs == 1 else max(128, math.ceil(n / (procs * 8)))
    chunks = [list(items[s : s + chunk_size]) for s in range(0, n, chunk_size)]
    with progress_bar(progress, total=n, desc=desc, unit=unit, leave=False) as bar:
        if procs == 1 or len(chunks) <= 1:
            for c in chunks:
                yield fn(c)
                bar.update(len(c))
            return
        import functools
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=procs, mp_context=_mp_context(), initializer=_die_with_parent,
                                 initargs=(os.getpid(),)) as ex:
            for c, res in zip(chunks, ex.map(functools.partial(_run, fn), chunks)):
                yield res
                bar.update(len(c))
