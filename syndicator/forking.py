"""Worker processes for bulk work (a large import, an export): how many, and how started."""

from __future__ import annotations

import os
import threading


def usable_cpus() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def fork_is_safe() -> bool:
    """A fork copies the locks other threads hold, and a child could wait on one forever:
    it is safe only while this process runs no other thread."""
    return threading.active_count() == 1
