"""Worker processes that own a slice of a batched env: the loop they run and how the copies are split.

Used by :class:`envs.task_vector_adapter.AsyncTaskVectorEnv` and by the samplers' worker processes
(:class:`metarl.rl.sampler.MultiprocessVectorStepper`).  A :class:`WorkerPool` worker builds one object and runs
its methods as the parent asks over a ``multiprocessing`` pipe (:func:`serve`); only method names, arguments and
results cross it, so it works under the ``spawn`` start method (the object is built in the worker from picklable
arguments).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["WorkerDied", "WorkerPool", "serve", "slice_bounds"]


class WorkerDied(RuntimeError):
    """A worker process of a :class:`WorkerPool` is gone (killed, out of memory, a crash): its pipe is closed."""

    def __init__(self, worker: int, pid: int | None, how: str) -> None:
        super().__init__(f"worker process {worker} (pid {pid}) {how}")
        self.worker, self.pid, self.how = worker, pid, how


def slice_bounds(num_envs: int, workers: int) -> list[tuple[int, int]]:
    """``workers`` contiguous ``(start, stop)`` slices of ``num_envs`` copies, as even as possible."""
    bounds = np.linspace(0, num_envs, workers + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def serve(conn: Any, factory: Callable[..., Any], *args: Any) -> None:
    """The loop of a worker process: build ``factory(*args)``, then answer every ``(method, arguments)`` message
    with ``("ok", getattr(obj, method)(*arguments))`` or ``("error", exception)`` until ``("close", ())``, which
    is answered ``("ok", None)``.  The first answer says whether building worked.  At the end the object's
    ``close()`` (if it has one) and the pipe are closed.  An exception that cannot be pickled is sent as a
    ``RuntimeError`` naming its type."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    served = None
    try:
        served = factory(*args)
        conn.send(("ok", None))
        while True:
            method, arguments = conn.recv()
            if method == "close":
                conn.send(("ok", None))
                break
            try:
                conn.send(("ok", getattr(served, method)(*arguments)))
            except Exception as exc:  # the parent decides what to raise
                _send_error(conn, exc)
    except (EOFError, BrokenPipeError):  # the parent went away
        pass
    except Exception as exc:
        _send_error(conn, exc)
    finally:
        close = getattr(served, "close", None)
        if callable(close):
            close()
        conn.close()


def _send_error(conn: Any, exc: Exception) -> None:
    try:
        conn.send(("error", exc))
    except (EOFError, BrokenPipeError):
        pass
    except Exception:  # not picklable
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class WorkerPool:
    """Processes that each :func:`serve` one object, worker ``w`` built as ``factory(*worker_args[w])``.

    :param start_method: ``multiprocessing`` start method (``spawn``: safe with torch and MuJoCo).
    :raises: the first worker's build error, as :meth:`request` returns it (the pool is closed then).
    """

    def __init__(self, factory: Callable[..., Any], worker_args: Sequence[tuple], start_method: str = "spawn") -> None:
        ctx = mp.get_context(start_method)
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for args in worker_args:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(child, factory, *args), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        try:
            answers = self.answers(range(len(self.conns)))
        except WorkerDied:
            self.close()
            raise
        for status, payload in answers:
            if status == "error":
                self.close()
                raise payload

    def __len__(self) -> int:
        return len(self.conns)

    def request(self, calls: Sequence[tuple[int, str, tuple]]) -> list[tuple[str, Any]]:
        """Send every ``(worker, method, arguments)`` first, so the workers run in parallel, then gather their
        ``(status, payload)`` answers in the same order."""
        for worker, method, arguments in calls:
            try:
                self.conns[worker].send((method, arguments))
            except (BrokenPipeError, ConnectionResetError):
                raise self._died(worker) from None
        return self.answers([worker for worker, _, _ in calls])

    def answers(self, workers: Sequence[int]) -> list[tuple[str, Any]]:
        """The next answer of each of ``workers``.

        :raises WorkerDied: naming the first worker found dead, its pid and exit status or signal.
        """
        out = []
        for w in workers:
            try:
                out.append(self.conns[w].recv())
            except (EOFError, ConnectionResetError):
                raise self._died(w) from None
        return out

    def _died(self, worker: int) -> WorkerDied:
        proc = self.procs[worker]
        proc.join(timeout=1.0)
        code = proc.exitcode
        how = (f"was killed by signal {-code}" if code is not None and code < 0
               else f"exited with status {code}" if code is not None else "closed its pipe")
        return WorkerDied(worker, proc.pid, how)

    def close(self) -> None:
        """Ask every worker to close its object, then join (or terminate) the processes."""
        for conn in self.conns:
            try:
                conn.send(("close", ()))
                conn.recv()
            except (BrokenPipeError, EOFError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self.conns, self.procs = [], []
