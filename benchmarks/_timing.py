"""Best-of-repeats wall time, shared by the benchmark scripts."""
import time


def best_time(fn, repeat: int = 3) -> float:
    fn()                                     # warm-up (JIT compile, caches)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best
