"""Where independent tasks run: threads of this process, or the workers of a Dask cluster.

The tiled methods cut their work into tasks (the statistics of a band of
tiles over a range of frames, the solve of one tile, a batch of frames to
localize) and hand them to a :class:`Scheduler`, which returns the results
in the order of the tasks. Every task runs with one torch thread and one
BLAS thread (threadpoolctl), here and on a worker, so a result does not depend on where it was
computed nor on the number of cores: a run on a cluster gives the same bytes as a run in
this process. Scheduling, retries and data transfer on a cluster are
``dask.distributed``'s.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import torch

from .errors import InputError

__all__ = ["Scheduler", "open_scheduler", "default_threads", "TASK_RETRIES"]

#: a task that raises is run again this many times on a cluster before the run fails
TASK_RETRIES = 2


def default_threads() -> int:
    """The cores this process may use (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: heap bytes glibc keeps (trim) and serves without mmap on a Dask worker (see ``_heap_for_arrays``)
WORKER_HEAP_THRESHOLD = 256 * 2**20
_HEAP_SET = False


def _heap_for_arrays() -> None:
    """Undo, on a Dask worker, the ``MALLOC_TRIM_THRESHOLD_`` its nanny sets (65536 by default).

    An explicit trim threshold also freezes glibc's mmap threshold at 128 KiB, so every tensor of a
    tile (a 256 x 256 float64 map is 512 KiB) is mapped, faulted in and unmapped again: the solvers
    ran 2-10 times slower on workers than in this process. Larger thresholds keep such arrays on
    the heap, as in a plain process.
    """
    global _HEAP_SET
    if _HEAP_SET or "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
        libc.mallopt(m_trim_threshold, WORKER_HEAP_THRESHOLD)
        libc.mallopt(m_mmap_threshold, WORKER_HEAP_THRESHOLD)
    _HEAP_SET = True


def _one_thread(fn):
    """``fn`` run with one torch thread and one BLAS thread (on a worker process, which runs nothing else of
    ours)."""

    def task(item):
        from threadpoolctl import threadpool_limits

        _heap_for_arrays()
        torch.set_num_threads(1)
        with threadpool_limits(limits=1):
            return fn(item)

    return task


class Scheduler:
    """Run tasks in threads of this process or on a Dask cluster; results come back in task order.

    Parameters
    ----------
    threads : int, optional
        Tasks run at once in this process (default: the cores it may use);
        ignored with ``client``.
    client : distributed.Client, optional
        Run the tasks on this cluster instead.

    Examples
    --------
    >>> Scheduler(threads=2).map(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """

    def __init__(self, *, threads: int | None = None, client=None):
        if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
            raise InputError(f"threads must be a positive whole number, got {threads!r}")
        self.threads = default_threads() if threads is None else int(threads)
        self.client = client

    @property
    def distributed(self) -> bool:
        """True when the tasks run on a Dask cluster."""
        return self.client is not None

    @property
    def workers(self) -> int:
        """Tasks that can run at once: the cluster's worker threads, or this process's threads."""
        if self.client is None:
            return self.threads
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> dict:
        """What the run record says of where the tasks ran."""
        if self.client is None:
            return {"scheduler": "threads", "threads": self.threads}
        return {"scheduler": "dask", "address": self.client.scheduler.address, "workers": self.workers}

    def map(self, fn, items, *, threads: int | None = None, desc: str | None = None, progress: bool = False,
            keep: bool = False) -> list:
        """``[fn(item) for item in items]``, run concurrently.

        ``threads`` caps the threads of this process for this call (1 for
        work on one GPU); on a cluster each task is retried
        ``TASK_RETRIES`` times when it raises, and a task lost with its
        worker is run again elsewhere (Dask's own recovery, from the tasks
        that made its inputs). With ``keep`` the results stay where they
        were made (futures on a cluster) for a later ``map`` to take as
        items, or inside items (tuples and lists); :meth:`gather` fetches
        them.
        """
        items = list(items)
        bar = None
        if progress and items:
            from .progress import progress_bar

            bar = progress_bar(total=len(items), desc=desc, unit="task")
        try:
            if self.client is not None:
                futures = self.client.map(_one_thread(fn), items, pure=False, retries=TASK_RETRIES)
                if bar is not None:
                    from distributed import as_completed

                    for _ in as_completed(futures):
                        bar.update(1)
                return futures if keep else self.client.gather(futures)
            return self._map_threads(fn, items, bar, self.threads if threads is None else min(threads, self.threads))
        finally:
            if bar is not None:
                bar.close()

    def gather(self, results) -> list:
        """The values of results kept by ``map(..., keep=True)``."""
        return self.client.gather(results) if self.client is not None else list(results)

    def _map_threads(self, fn, items, bar, threads):
        from threadpoolctl import threadpool_limits

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        # NumPy's and SciPy's BLAS too: an eigenvalue solve on two threads rounds differently, and
        # the solvers carry that difference into the iterates
        limits = threadpool_limits(limits=1)
        try:
            if threads <= 1 or len(items) <= 1:
                out = []
                for item in items:
                    out.append(fn(item))
                    if bar is not None:
                        bar.update(1)
                return out
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(fn, item) for item in items]
                out = []
                for f in futures:
                    out.append(f.result())
                    if bar is not None:
                        bar.update(1)
                return out
        finally:
            limits.restore_original_limits()
            torch.set_num_threads(before)


@contextmanager
def open_scheduler(*, workers: int | None = None, scheduler: str | None = None, threads: int | None = None):
    """A :class:`Scheduler` for the run, closed (with any cluster it started) at the end.

    Parameters
    ----------
    workers : int, optional
        Start a Dask ``LocalCluster`` of this many worker processes (one
        thread each) on this machine.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``), for
        example one started by dask-jobqueue on a SLURM cluster.
    threads : int, optional
        Without ``workers`` or ``scheduler``: tasks run at once in this
        process (default: the cores it may use).

    Examples
    --------
    >>> with open_scheduler(threads=1) as sched:
    ...     sched.describe()
    {'scheduler': 'threads', 'threads': 1}
    """
    if workers is not None and scheduler is not None:
        raise InputError("give either --workers (a cluster on this machine) or --scheduler (a running one), "
                         "not both")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise InputError(f"workers must be a positive whole number, got {workers!r}")
    if workers is None and scheduler is None:
        yield Scheduler(threads=threads)
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield Scheduler(client=client)
        finally:
            client.close()
        return
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            yield Scheduler(client=client)
