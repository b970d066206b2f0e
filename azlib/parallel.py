"""One way to run independent jobs side by side: a process pool with a text progress bar.

Workers are started with ``spawn`` (a fresh interpreter each): forking a process that already
holds torch's thread pools can deadlock. With one worker, or one job, everything runs in this
process, in order. Jobs must be module-level functions; a job that raises stops the map with
its exception, so a job whose failures are expected returns them as values instead. A worker
whose parent process is gone (killed with ``kill PID``, which reaches the parent only) exits
within a second instead of running on unseen: the records it would write are then written by
the next run, from its last checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Sequence

from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets


PARENT_POLL_S = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # the parent is gone: nobody reads this worker's results


def _start_worker(parent_pid: int, initializer: Callable | None, initargs: tuple) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True,
                     name="exit-with-parent").start()
    if initializer is not None:
        initializer(*initargs)


def parallel_map(fn: Callable, jobs: Sequence[tuple], *, workers: int = 1, desc: str = "",
                 unit: str = "job", progress: bool = True, labels: Sequence[str] | None = None,
                 initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Yield ``(job, fn(*job))`` for every job, in the order they finish.

    ``labels`` (one per job) is shown beside the bar as each job finishes. ``initializer`` runs
    once in each worker process (not in the serial case).
    """
    jobs = list(jobs)
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress or not jobs)
    try:
        if workers <= 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                if labels:
                    bar.set_postfix_str(labels[index])
                result = fn(*job)
                bar.update()
                yield job, result
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                                 initializer=_start_worker,
                                 initargs=(os.getpid(), initializer, initargs)) as pool:
            futures = {pool.submit(fn, *job): index for index, job in enumerate(jobs)}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    result = future.result()
                    if labels:
                        bar.set_postfix_str(labels[index])
                    bar.update()
                    yield jobs[index], result
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # jobs not started never start
                raise
    finally:
        bar.close()
