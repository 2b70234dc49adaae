"""The one runner for many-task jobs (a population of models, POLCA over checkpoints): Dask tasks with progress.

Each :class:`Task` has a key, a function and its arguments; the function writes its own result somewhere durable
and atomically (a netCDF file, a checkpoint folder) and the caller tells the runner, through ``is_done(key)``, which
tasks are already finished, so a rerun skips them (and a worker never runs a finished task twice). A task that raises,
or whose Dask worker dies (killed, out of memory) before writing its result, is reported through
``on_failure(key, text)`` with a one-sentence message, and the other tasks go on. A ``LocalCluster`` of
``workers`` single-threaded processes is made (and closed) when no ``client=`` is given; pass any
``distributed.Client`` to run on an existing cluster.

>>> from workbench.runner import Task, run_tasks
>>> run_tasks([Task("a", print, ("hello",))], is_done=lambda k: False, on_failure=print)   # doctest: +SKIP
{'a': 'done'}
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args, **kwargs)`` run on a Dask worker, known by ``key``."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def default_client(workers: int = 1) -> Any:
    """A ``distributed.Client`` on a new ``LocalCluster`` of ``workers`` single-threaded processes (one BLAS thread
    each, so ``workers`` tasks use ``workers`` cores).

    >>> client = default_client(1)       # doctest: +SKIP
    """
    from distributed import Client, LocalCluster

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}.")
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return Client(cluster)


def error_text(exc: BaseException, key: str, what: str = "task", rerun_hint: str | None = None) -> str:
    """The one-sentence failure message of a task; a killed worker says so and names the rerun call.

    >>> error_text(ValueError("bad shape."), "step_10")
    'ValueError: bad shape.'
    """
    from distributed import KilledWorker

    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, KilledWorker):
        hint = f"; re-run this one with {rerun_hint}" if rerun_hint else "; re-run this one alone"
        text = (f"the Dask worker running {what} {key} died mid-run (killed, or out of memory); finished {what}s are "
                f"kept{hint}. Dask said: {text}")
    return text


def _unless_done(is_done: Callable[[str], bool], key: str, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: Mapping[str, Any]) -> Any:
    """Run a task on its worker unless its result is already written. Dask recomputes a finished task whose result
    was lost with its worker; this keeps that recompute from running the work again and rewriting the result."""
    if is_done(key):
        return None
    return fn(*args, **kwargs)


def run_tasks(tasks: Sequence[Task], *, is_done: Callable[[str], bool], on_failure: Callable[[str, str], None],
              on_success: Callable[[str], None] | None = None, client: Any = None, workers: int = 1,
              progress: bool = True, desc: str = "tasks", what: str = "task",
              rerun_hint: Callable[[str], str] | None = None) -> dict[str, str]:
    """Run every task not yet done as a Dask task, in the given order; return ``{key: "done"|"skipped"|"failed"}``.

    ``is_done(key)`` says which tasks finished in an earlier run (they are skipped); ``on_failure(key, text)`` records a
    failure (an exception raised by the task, or its worker dying: :func:`error_text`); ``on_success(key)`` runs after
    each finished task (e.g. to clear an old failure record). ``what`` names a task in messages ("member",
    "checkpoint") and ``rerun_hint(key)`` gives the call that re-runs one.

    >>> run_tasks([Task("x", sum, ([1, 2],))], is_done=lambda k: False, on_failure=print, progress=False)  # doctest: +SKIP
    {'x': 'done'}
    """
    from distributed import KilledWorker, as_completed

    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"tasks must have distinct keys, got duplicates {dup}.")
    status = {t.key: SKIPPED for t in tasks if is_done(t.key)}
    todo = [t for t in tasks if t.key not in status]
    if not todo:
        return status
    own = client is None
    client = default_client(workers) if own else client
    try:
        futures = {client.submit(_unless_done, is_done, t.key, t.fn, t.args, dict(t.kwargs),
                                 key=f"{desc}-{t.key}-{time.time_ns()}", pure=False): t for t in todo}
        bar = tqdm(total=len(todo), desc=desc, disable=not progress)
        try:
            for fut in as_completed(list(futures)):
                t = futures.pop(fut)
                try:
                    fut.result()
                    ok = True
                except Exception as e:  # noqa: BLE001 - any failure of a task is recorded, the others go on
                    # a worker that died after writing its task's result (atomically) still finished that task
                    ok = isinstance(e, KilledWorker) and is_done(t.key)
                    if not ok:
                        status[t.key] = FAILED
                        on_failure(t.key, error_text(e, t.key, what, rerun_hint(t.key) if rerun_hint else None))
                finally:
                    # let the scheduler forget a read result: one still held when its worker dies is recomputed
                    # (and then skipped on the worker by _unless_done, its result being written)
                    fut.release()
                if ok:
                    status[t.key] = DONE
                    if on_success is not None:
                        on_success(t.key)
                bar.update()
                bar.set_postfix(failed=sum(v == FAILED for v in status.values()), refresh=False)
        finally:
            bar.close()
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    return {t.key: status[t.key] for t in tasks}


__all__ = ["Task", "run_tasks", "default_client", "error_text", "DONE", "SKIPPED", "FAILED"]
