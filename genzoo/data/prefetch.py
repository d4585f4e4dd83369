"""Training batches made ahead of the step that needs them, by background worker processes.

`Prefetcher(make_batch, steps, workers, depth)` gives `make_batch(step)` for each of `steps`, in
order. With `workers` = 0 it makes each batch in this thread when asked for it. With `workers` > 0
that many worker processes make the batches (reading, decoding, cropping and binarising them off
the training thread), at most `depth` steps ahead of the one asked for. A batch is a pure function
of its step, so which worker made it changes nothing: resumed and multi-process runs see the
batches a single uninterrupted process does.

The workers are spawned (not forked: the training process runs JAX's threads) and receive
`make_batch` once, pickled: an in-memory split travels whole, a streamed one as its file paths.
`wait_seconds` is the time the caller has spent waiting for batches (making them itself, with no
workers): the input pipeline's share of a training interval.
"""

import collections
import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable

from genzoo.errors import UserError

_worker_make_batch: Callable | None = None  # a worker process's `make_batch`
_PARENT_POLL_SECONDS = 0.5


def _install(make_batch: Callable, parent: int) -> None:
  """A worker's initialiser: keeps `make_batch`, and exits when the parent process is gone (a
  killed training process leaves no workers behind)."""
  global _worker_make_batch
  _worker_make_batch = make_batch
  threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
  while os.getppid() == parent:
    time.sleep(_PARENT_POLL_SECONDS)
  os._exit(0)


def _make(step: int):
  return _worker_make_batch(step)


class Prefetcher:
  """An iterator over `make_batch(step)` for `steps` (see the module docstring); close it (or use
  it as a context manager) to stop its workers."""

  def __init__(self, make_batch: Callable[[int], dict], steps: Iterable[int], workers: int = 0, depth: int = 2):
    if workers < 0 or depth < 1:
      raise UserError(f"data.workers={workers} and data.prefetch={depth}: workers must be >= 0 (0 makes the batches "
                      "in the training process) and prefetch >= 1 batch")
    self._make_batch, self._steps, self._depth = make_batch, iter(steps), max(depth, workers)
    self._pending = collections.deque()
    self._pool = None
    if workers:
      self._pool = concurrent.futures.ProcessPoolExecutor(
          workers, mp_context=multiprocessing.get_context("spawn"), initializer=_install,
          initargs=(make_batch, os.getpid()))
    self.wait_seconds = 0.0

  def __iter__(self):
    return self

  def __next__(self) -> dict:
    start = time.perf_counter()
    try:
      if self._pool is None:
        return self._make_batch(next(self._steps))
      for step in self._steps:  # keep `depth` batches in flight
        self._pending.append(self._pool.submit(_make, step))
        if len(self._pending) >= self._depth:
          break
      if not self._pending:
        raise StopIteration
      return self._pending.popleft().result()
    finally:
      self.wait_seconds += time.perf_counter() - start

  def pop_wait_seconds(self) -> float:
    """The seconds spent waiting since the last call."""
    waited, self.wait_seconds = self.wait_seconds, 0.0
    return waited

  def close(self) -> None:
    if self._pool is not None:
      self._pool.shutdown(wait=True, cancel_futures=True)
      self._pool = None

  def __enter__(self) -> "Prefetcher":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()
