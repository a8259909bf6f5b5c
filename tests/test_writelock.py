"""The SQLite writers' queue: first come, first served, and safe to re-enter."""

from __future__ import annotations

import threading
import time

from syndicator.writelock import FifoLock


def test_waiting_threads_get_the_lock_in_the_order_they_asked():
    lock = FifoLock()
    order: list[int] = []
    threads = [threading.Thread(target=lambda n=n: _take(lock, order, n)) for n in range(5)]
    with lock:
        for thread in threads:
            thread.start()
            time.sleep(0.02)  # each asks after the one before
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4]


def test_the_holder_may_take_it_again():
    lock = FifoLock()
    with lock, lock:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: _take(lock, [], 0, done)).start()
    assert done.wait(timeout=5)


def _take(lock: FifoLock, order: list[int], number: int, done: threading.Event | None = None):
    with lock:
        order.append(number)
    if done is not None:
        done.set()
