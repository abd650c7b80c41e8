"""Best-of-repeats wall time and the thread settings the benchmark scripts measure under.

Thread counts are set here, inside the benchmark process only (numba.set_num_threads and threadpoolctl for
numpy's BLAS / OpenMP pools), never by library code.
"""
import contextlib
import time

import numba as nb


def best_time(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls after one warm-up call (JIT compile, caches)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def thread_counts(wanted=(1, 2)) -> list[int]:
    """The counts of ``wanted`` this process can use (Numba's pool is sized at start by NUMBA_NUM_THREADS)."""
    return [n for n in wanted if n <= nb.config.NUMBA_NUM_THREADS]


@contextlib.contextmanager
def threads(n: int):
    """Numba, BLAS and OpenMP pools limited to n threads for the duration of the block."""
    from threadpoolctl import threadpool_limits
    old = nb.get_num_threads()
    nb.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        nb.set_num_threads(old)
